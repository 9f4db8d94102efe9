import ParleyTesting
import Testing

@testable import Parley

/// The memory store's expiry heap: one entry per session, however often its expiry slides, and
/// every session still swept once its latest expiry has passed.
struct MemoryStoreSweepTests {
  let t0 = WallInstant(millisecondsSince1970: 1_800_000_000_000)
  let timeout = Duration.seconds(4 * 3600)

  func session(_ key: String, at now: WallInstant) -> SessionRecord {
    SessionRecord(
      key: ConversationKey(rawValue: key), id: "s-\(key)", generation: 1, data: Array("{}".utf8),
      createdAt: now, updatedAt: now, expiresAt: now.advanced(by: timeout))
  }

  @Test func aSessionTouchedOnEveryTurnHoldsOneEntryAndIsSweptAtItsLastExpiry() async throws {
    let store = MemoryConversationStore()
    let record = session("+16175550123|+14155550199", at: t0)
    try await store.commit(
      TurnWrites(key: record.key, now: t0, session: .save(record, expected: nil)))
    // A turn a minute for three hours, each sliding the expiry: one entry, not 181.
    var last = t0
    for minute in 1...180 {
      last = t0.advanced(by: .seconds(60 * minute))
      try await store.commit(.touching(record, at: last, timeout: timeout))
    }
    #expect(store.sessionSweepEntries == 1)
    // Due at the first expiry, the entry finds the session alive: pushed again, nothing swept.
    let firstExpiry = t0.advanced(by: timeout)
    #expect(try await store.sweep(now: firstExpiry, limit: 10) == SweepResult())
    #expect(try await store.session(for: record.key) != nil)
    #expect(store.sessionSweepEntries == 1)
    #expect(try await store.sweep(now: firstExpiry, limit: 10) == SweepResult())
    // Past the last touch's expiry, it goes, and its entry with it.
    let lastExpiry = last.advanced(by: timeout)
    #expect(
      try await store.sweep(now: lastExpiry, limit: 10)
        == SweepResult(sessions: 1, dedupeRecords: 0))
    #expect(try await store.session(for: record.key) == nil)
    #expect(store.sessionSweepEntries == 0)
  }

  @Test func aSessionDeletedAndStartedAgainKeepsOneEntry() async throws {
    let store = MemoryConversationStore()
    let first = session("+16175550123|+14155550199", at: t0)
    try await store.commit(
      TurnWrites(key: first.key, now: t0, session: .save(first, expected: nil)))
    #expect(try await store.deleteSession(for: first.key))
    // Started again an hour later, before the deleted one's entry is due.
    let restart = t0.advanced(by: .seconds(3600))
    var second = session(first.key.rawValue, at: restart)
    second.id = "again"
    try await store.commit(
      TurnWrites(key: second.key, now: restart, session: .save(second, expected: nil)))
    #expect(store.sessionSweepEntries == 1)
    // The old entry falls due: the new session is alive and keeps it, at its own expiry.
    #expect(try await store.sweep(now: t0.advanced(by: timeout), limit: 10) == SweepResult())
    #expect(try await store.session(for: second.key) == second)
    #expect(store.sessionSweepEntries == 1)
    #expect(
      try await store.sweep(now: second.expiresAt, limit: 10)
        == SweepResult(sessions: 1, dedupeRecords: 0))
    #expect(store.sessionSweepEntries == 0)
  }

  @Test func aDeletedSessionsEntryLeavesWhenItFallsDue() async throws {
    let store = MemoryConversationStore()
    for index in 0..<50 {
      let record = session("+1617555\(index)|+14155550199", at: t0)
      try await store.commit(
        TurnWrites(key: record.key, now: t0, session: .save(record, expected: nil)))
      try await store.commit(
        TurnWrites(
          key: record.key, now: t0, session: .delete(key: record.key, expected: record.version)))
    }
    #expect(store.sessionSweepEntries == 50)
    #expect(try await store.sweep(now: t0.advanced(by: timeout), limit: 10) == SweepResult())
    #expect(store.sessionSweepEntries == 0)
  }
}
