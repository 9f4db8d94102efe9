public import Parley

/// The behaviour every ``ConversationStore`` must have, as named checks that a test target runs
/// against its store (each on a fresh, empty store):
///
/// ```swift
/// @Test(arguments: ConversationStoreConformance.checks)
/// func conforms(_ check: ConversationStoreConformance.Check) async throws {
///   try await check.run(on: MemoryConversationStore())
/// }
/// ```
public enum ConversationStoreConformance {
  /// One named check.
  public struct Check: Sendable, CustomStringConvertible {
    /// The check's name.
    public let name: String
    let body: @Sendable (any ConversationStore) async throws -> Void

    /// Runs the check; throws ``ConformanceFailure`` when the store misbehaves.
    public func run(on store: any ConversationStore) async throws {
      try await body(store)
    }

    public var description: String { name }
  }

  /// Every check.
  public static let checks: [Check] = [
    Check(name: "an empty store has nothing", body: emptyStore),
    Check(name: "a saved session reads back exactly", body: saveAndRead),
    Check(name: "a second first-save of one conversation conflicts", body: insertConflict),
    Check(name: "updates need the current version", body: versionedUpdate),
    Check(name: "touch slides the expiry and keeps the data", body: touch),
    Check(name: "delete needs the current version", body: delete),
    Check(name: "a committed MessageSid replays its reply until it expires", body: dedupe),
    Check(name: "a commit is all or nothing", body: atomicity),
    Check(name: "sweep deletes only what expired, in batches", body: sweep),
    Check(name: "sessions list in key order, page by page", body: listing),
    Check(name: "an expired session is still returned for the caller to judge", body: expiredRead),
    Check(name: "opt-out events are chained, applied and listed", body: optOutEvents),
    Check(name: "a turn's opt-out commits with the turn or not at all", body: optOutAtomicity),
    Check(
      name: "a turn whose sender's opt-outs changed since its snapshot conflicts",
      body: optOutCheck),
    Check(
      name: "a snapshot reads the session, the live reply and the opt-outs asked for, at once",
      body: wholeSnapshot),
    Check(name: "may-I-text honours the number and the service", body: mayText),
    Check(name: "an opt-out's free text with a NUL is kept whole, as U+FFFD", body: nulInOptOut),
    Check(name: "an opt-out whose keys hold a control character is refused", body: badOptOutKeys),
    Check(
      name: "a key with a NUL never finds another key's session, reply or opt-out",
      body: nulInReadKeys),
  ]

  static let t0 = WallInstant(millisecondsSince1970: 1_800_000_000_000)
  static let hour = Duration.seconds(3600)

  static func record(
    _ key: String, id: String = "s1", generation: Int64 = 1, data: [UInt8] = Array("{}".utf8),
    at now: WallInstant = t0, expiresIn: Duration = hour * 4
  ) -> SessionRecord {
    SessionRecord(
      key: ConversationKey(rawValue: key), id: id, generation: generation, data: data,
      createdAt: now, updatedAt: now, expiresAt: now.advanced(by: expiresIn))
  }

  static let emptyReply = StoredReply(
    contentType: "text/xml", body: "<Response/>", headerFields: [])

  /// Commits a dedupe record of ``emptyReply`` for `messageSid`, stored at ``t0``.
  static func commitDedupe(
    _ store: any ConversationStore, _ messageSid: String, key: ConversationKey, expiresIn: Duration
  ) async throws {
    try await store.commit(.recording(messageSid, in: key, at: t0, expiresIn: expiresIn))
  }

  static func save(
    _ store: any ConversationStore, _ record: SessionRecord, expected: SessionVersion?
  ) async throws {
    try await store.commit(
      TurnWrites(key: record.key, now: record.updatedAt, session: .save(record, expected: expected))
    )
  }

  static func expectFailure(
    _ code: ConversationStoreError.Code, _ what: String, _ body: () async throws -> Void
  ) async throws {
    do {
      try await body()
    } catch let error as ConversationStoreError where error.code == code {
      return
    } catch {
      throw ConformanceFailure("\(what): expected \(code), got \(error)")
    }
    throw ConformanceFailure("\(what): expected \(code), but it succeeded")
  }

  static func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ConformanceFailure(message()) }
  }

  // MARK: Checks

  static func emptyStore(_ store: any ConversationStore) async throws {
    let key = ConversationKey(rawValue: "+16175550123|+14155550199")
    let snapshot = try await store.snapshot(for: key, messageSid: "SM1", now: t0)
    try expect(snapshot == TurnSnapshot(), "empty store returned \(snapshot)")
    try expect(try await store.session(for: key) == nil, "empty store has a session")
    try expect(
      try await store.sessions(after: nil, limit: 10).isEmpty, "empty store lists sessions")
    try expect(try await store.deleteSession(for: key) == false, "deleted a session that never was")
    try expect(
      try await store.sweep(now: t0, limit: 10) == SweepResult(), "swept something from nothing")
  }

  static func saveAndRead(_ store: any ConversationStore) async throws {
    let binary = (0...255).map { UInt8($0) }
    let saved = record("whatsapp:+447700900123|+14155550199", id: "Zm9vYmFy", data: binary)
    try await save(store, saved, expected: nil)
    let read = try await store.session(for: saved.key)
    try expect(read == saved, "read back \(String(describing: read)), saved \(saved)")
    let snapshot = try await store.snapshot(for: saved.key, messageSid: nil, now: t0)
    try expect(snapshot.session == saved, "snapshot did not return the session")
    try expect(snapshot.replay == nil, "snapshot without MessageSid returned a replay")
  }

  static func insertConflict(_ store: any ConversationStore) async throws {
    let first = record("+1|+2", id: "a")
    try await save(store, first, expected: nil)
    try await expectFailure(.conflict, "second insert") {
      try await save(store, record("+1|+2", id: "b"), expected: nil)
    }
    try expect(
      try await store.session(for: first.key) == first, "conflicting insert changed the row")
  }

  static func versionedUpdate(_ store: any ConversationStore) async throws {
    let first = record("+1|+2", id: "a", generation: 1)
    try await save(store, first, expected: nil)
    let second = record("+1|+2", id: "a", generation: 2, data: Array(#"{"n":2}"#.utf8))
    try await save(store, second, expected: first.version)
    try expect(try await store.session(for: first.key) == second, "update not applied")
    try await expectFailure(.conflict, "update from a stale generation") {
      try await save(store, record("+1|+2", id: "a", generation: 3), expected: first.version)
    }
    try await expectFailure(.conflict, "update of another session id") {
      try await save(
        store, record("+1|+2", id: "z", generation: 3),
        expected: SessionVersion(id: "z", generation: 2))
    }
    // Replacing a session by a new one (after expiry) names the old version.
    let replacement = record("+1|+2", id: "new", generation: 1)
    try await save(store, replacement, expected: second.version)
    try expect(try await store.session(for: first.key) == replacement, "replacement not applied")
    try await expectFailure(.conflict, "update of a missing session") {
      try await save(store, record("+9|+9"), expected: SessionVersion(id: "s1", generation: 1))
    }
  }

  static func touch(_ store: any ConversationStore) async throws {
    let first = record("+1|+2", id: "a")
    try await save(store, first, expected: nil)
    let later = t0.advanced(by: hour)
    try await store.commit(.touching(first, at: later, timeout: hour * 4))
    let read = try await store.session(for: first.key)
    try expect(
      read?.data == first.data && read?.generation == first.generation, "touch changed the data")
    try expect(read?.expiresAt == later.advanced(by: hour * 4), "touch did not slide the expiry")
    try expect(read?.updatedAt == later, "touch did not record the activity")
    try await expectFailure(.conflict, "touch of a stale version") {
      try await store.commit(
        TurnWrites(
          key: first.key, now: later,
          session: .touch(
            key: first.key, expected: SessionVersion(id: "a", generation: 9), updatedAt: later,
            expiresAt: later)))
    }
  }

  static func delete(_ store: any ConversationStore) async throws {
    let first = record("+1|+2", id: "a")
    try await save(store, first, expected: nil)
    try await expectFailure(.conflict, "delete of a stale version") {
      try await store.commit(
        TurnWrites(
          key: first.key, now: t0,
          session: .delete(key: first.key, expected: SessionVersion(id: "a", generation: 0))))
    }
    try await store.commit(
      TurnWrites(key: first.key, now: t0, session: .delete(key: first.key, expected: first.version))
    )
    try expect(try await store.session(for: first.key) == nil, "delete did not delete")
    try await save(store, first, expected: nil)
    try expect(try await store.deleteSession(for: first.key), "deleteSession found nothing")
    try expect(try await store.session(for: first.key) == nil, "deleteSession did not delete")
  }

  static func dedupe(_ store: any ConversationStore) async throws {
    let key = ConversationKey(rawValue: "+1|+2")
    let reply = StoredReply(
      contentType: "text/xml; charset=utf-8",
      body:
        #"<?xml version="1.0" encoding="UTF-8"?><Response><Message>héllo 👋</Message></Response>"#,
      headerFields: [["Set-Cookie", "parley_session=v1.a.1.b.c; Max-Age=14400; Path=/; HttpOnly"]])
    let record = DedupeRecord(
      messageSid: "SM1", key: key, reply: reply, createdAt: t0,
      expiresAt: t0.advanced(by: hour * 24))
    try await store.commit(TurnWrites(key: key, now: t0, dedupe: record))
    let hit = try await store.snapshot(for: key, messageSid: "SM1", now: t0.advanced(by: hour))
    try expect(hit.replay == reply, "replay differs: \(String(describing: hit.replay))")
    let miss = try await store.snapshot(for: key, messageSid: "SM2", now: t0)
    try expect(miss.replay == nil, "another MessageSid replayed")
    try await expectFailure(.duplicateMessage, "second commit of one MessageSid") {
      try await store.commit(TurnWrites(key: key, now: t0, dedupe: record))
    }
    let afterWindow = t0.advanced(by: hour * 25)
    let expired = try await store.snapshot(for: key, messageSid: "SM1", now: afterWindow)
    try expect(expired.replay == nil, "an expired dedupe record replayed")
    var again = record
    again.createdAt = afterWindow
    again.expiresAt = afterWindow.advanced(by: hour * 24)
    again.reply = StoredReply(contentType: "text/plain", body: "again", headerFields: [])
    try await store.commit(TurnWrites(key: key, now: afterWindow, dedupe: again))
    // The expired record was replaced: the new reply replays, and the window runs again.
    let replaced = try await store.snapshot(
      for: key, messageSid: "SM1", now: afterWindow.advanced(by: hour))
    try expect(replaced.replay == again.reply, "the expired record was not replaced")
    try await expectFailure(.duplicateMessage, "a commit in the renewed window") {
      try await store.commit(
        TurnWrites(key: key, now: afterWindow.advanced(by: hour), dedupe: again))
    }
  }

  static func atomicity(_ store: any ConversationStore) async throws {
    let first = record("+1|+2", id: "a")
    try await save(store, first, expected: nil)
    let reply = StoredReply(contentType: "text/xml", body: "<Response/>", headerFields: [])
    let dedupe = DedupeRecord(
      messageSid: "SMatomic", key: first.key, reply: reply, createdAt: t0,
      expiresAt: t0.advanced(by: hour))
    try await expectFailure(.conflict, "commit with a conflicting session write") {
      try await store.commit(
        TurnWrites(
          key: first.key, now: t0, dedupe: dedupe,
          session: .save(
            record("+1|+2", id: "a", generation: 5),
            expected: SessionVersion(id: "a", generation: 4))))
    }
    let snapshot = try await store.snapshot(for: first.key, messageSid: "SMatomic", now: t0)
    try expect(snapshot.replay == nil, "the dedupe record of a failed commit was kept")
    try expect(snapshot.session == first, "the session changed in a failed commit")
    // A duplicate MessageSid fails the turn whose session write would apply, and undoes it; with
    // both parts failing, the duplicate is what the turn is told.
    try await commitDedupe(store, "SMtaken", key: first.key, expiresIn: hour)
    let next = record("+1|+2", id: "a", generation: 2, data: Array("{\"n\":2}".utf8))
    for (expected, what) in [
      (SessionVersion(id: "a", generation: 1), "a duplicate whose session write is current"),
      (SessionVersion(id: "a", generation: 9), "a duplicate whose session write is stale"),
    ] {
      try await expectFailure(.duplicateMessage, what) {
        try await store.commit(
          TurnWrites(
            key: first.key, now: t0,
            dedupe: DedupeRecord(
              messageSid: "SMtaken", key: first.key, reply: reply, createdAt: t0,
              expiresAt: t0.advanced(by: hour)),
            session: .save(next, expected: expected)))
      }
    }
    let after = try await store.snapshot(for: first.key, messageSid: "SMtaken", now: t0)
    try expect(after.session == first, "a duplicate turn changed the session")
    try expect(after.replay == emptyReply, "a duplicate turn replaced the live record")
  }

  static func sweep(_ store: any ConversationStore) async throws {
    for index in 0..<5 {
      try await save(
        store, record("+1|expired\(index)", id: "e\(index)", expiresIn: hour), expected: nil)
    }
    let live = record("+1|live", id: "l", expiresIn: hour * 4)
    try await save(store, live, expected: nil)
    // A session whose expiry slid past the sweep time must survive.
    let slid = record("+1|slid", id: "s", expiresIn: hour)
    try await save(store, slid, expected: nil)
    let later = t0.advanced(by: hour * 0.5)
    try await store.commit(.touching(slid, at: later, timeout: hour * 4))
    for index in 0..<3 {
      try await commitDedupe(store, "SMold\(index)", key: live.key, expiresIn: hour)
    }
    try await commitDedupe(store, "SMnew", key: live.key, expiresIn: hour * 24)
    let sweepTime = t0.advanced(by: hour * 2)
    let first = try await store.sweep(now: sweepTime, limit: 2)
    try expect(
      first.sessions == 2 && first.dedupeRecords == 2,
      "first batch deleted \(first), expected 2 and 2")
    let second = try await store.sweep(now: sweepTime, limit: 10)
    try expect(
      second.sessions == 3 && second.dedupeRecords == 1,
      "second batch deleted \(second), expected 3 and 1")
    try expect(
      try await store.sweep(now: sweepTime, limit: 10) == SweepResult(), "a third sweep found more")
    try expect(try await store.session(for: live.key) == live, "a live session was swept")
    try expect(
      try await store.session(for: slid.key) != nil, "a session whose expiry slid was swept")
    try expect(
      try await store.snapshot(for: live.key, messageSid: "SMnew", now: sweepTime).replay
        == emptyReply,
      "a live dedupe record was swept")
  }

  static func listing(_ store: any ConversationStore) async throws {
    let keys = ["+3|a", "+1|a", "+2|b", "+1|b", "whatsapp:+4|a"]
    for key in keys { try await save(store, record(key, id: "x"), expected: nil) }
    let first = try await store.sessions(after: nil, limit: 2)
    try expect(
      first.map(\.key.rawValue) == ["+1|a", "+1|b"], "first page \(first.map(\.key.rawValue))")
    let rest = try await store.sessions(after: first.last!.key, limit: 10)
    try expect(
      rest.map(\.key.rawValue) == ["+2|b", "+3|a", "whatsapp:+4|a"],
      "second page \(rest.map(\.key.rawValue))")
  }

  static func expiredRead(_ store: any ConversationStore) async throws {
    let old = record("+1|+2", id: "a", expiresIn: hour)
    try await save(store, old, expected: nil)
    let snapshot = try await store.snapshot(
      for: old.key, messageSid: nil, now: t0.advanced(by: hour * 5))
    try expect(snapshot.session == old, "an expired session was hidden from the caller")
  }
}

extension ConversationStoreConformance {
  static func optOutDraft(
    _ subscriber: String, _ scope: OptOutScope, _ action: OptOutAction,
    source: OptOutSource = .keyword
  ) -> OptOutEventDraft {
    OptOutEventDraft(
      subscriber: subscriber, scope: scope, action: action, source: source, keyword: "STOP",
      body: "Stop, \"please\"\n👋", messageSid: "SM\(subscriber)", accountSid: "AC1", receivedAt: t0)
  }

  static func optOutEvents(_ store: any ConversationStore) async throws {
    try expect(try await store.auditHead() == .empty, "a new trail has a head")
    let number = OptOutScope.number("+14155550199")
    let service = OptOutScope.messagingService("MG1")
    let sealed = try await store.recordOptOutEvents(
      [
        optOutDraft("+1", number, .optOut), optOutDraft("+2", service, .optOut),
        optOutDraft("+1", number, .help), optOutDraft("+1", number, .optIn, source: .api),
      ], now: t0.advanced(by: .seconds(1)))
    try expect(sealed.map(\.sequence) == [1, 2, 3, 4], "sequences \(sealed.map(\.sequence))")
    try expect(
      sealed[0].previousHash == OptOutEvent.genesisHash, "the first event does not start the chain")
    try expect(sealed[1].previousHash == sealed[0].hash, "events are not chained")
    let read = try await store.auditEvents(after: 0, limit: 10)
    try expect(read == sealed, "events read back differ: \(read)")
    try expect(
      try await store.auditEvents(after: 2, limit: 1).map(\.sequence) == [3], "paging the trail")
    try expect(
      try await store.auditHead() == OptOutAuditChain.Head(sequence: 4, hash: sealed[3].hash),
      "the head does not follow the trail")
    try expect(try await store.verifyAuditTrail().isIntact, "a fresh trail does not verify")
    let one = try await store.optOutRecords(subscriber: "+1", scopes: [number, service])
    try expect(
      one == [
        OptOutRecord(
          subscriber: "+1", scope: number, optedOut: false, updatedAt: t0.advanced(by: .seconds(1)),
          eventSequence: 4)
      ],
      "records of +1: \(one)")
    let optedOut = try await store.optOutRecords(optedOutOnly: true, after: nil, limit: 10)
    try expect(optedOut.map(\.subscriber) == ["+2"], "opted-out listing \(optedOut)")
    let all = try await store.optOutRecords(optedOutOnly: false, after: nil, limit: 10)
    try expect(
      all.map(\.scope.rawValue) == ["number:+14155550199", "service:MG1"], "listing order \(all)")
    let rest = try await store.optOutRecords(optedOutOnly: false, after: all[0], limit: 10)
    try expect(rest.map(\.subscriber) == ["+2"], "listing after a cursor \(rest)")
    // Sweeping sessions never touches opt-outs.
    _ = try await store.sweep(now: t0.advanced(by: .seconds(86400 * 365 * 10)), limit: 1000)
    try expect(
      try await store.auditEvents(after: 0, limit: 10).count == 4, "a sweep removed audit events")
    try expect(
      try await !store.mayText("+2", from: nil, messagingService: "MG1"),
      "a sweep removed an opt-out")
  }

  static func optOutAtomicity(_ store: any ConversationStore) async throws {
    let key = ConversationKey(rawValue: "+1|+2")
    try await expectFailure(.conflict, "a turn whose session write conflicts") {
      try await store.commit(
        TurnWrites(
          key: key, now: t0,
          session: .touch(
            key: key, expected: SessionVersion(id: "x", generation: 1), updatedAt: t0, expiresAt: t0
          ),
          optOutEvents: [optOutDraft("+1", .number("+2"), .optOut)]))
    }
    try expect(try await store.auditHead() == .empty, "a failed turn left an audit event")
    try expect(try await store.mayText("+1", from: "+2"), "a failed turn left an opt-out")
    try await store.commit(
      TurnWrites(key: key, now: t0, optOutEvents: [optOutDraft("+1", .number("+2"), .optOut)]))
    let snapshot = try await store.snapshot(
      SnapshotRequest(
        key: key, messageSid: nil, now: t0, subscriber: "+1",
        scopes: [.number("+2"), .messagingService("MG9")]))
    try expect(snapshot.optOuts.map(\.optedOut) == [true], "the snapshot does not show the opt-out")
  }

  static func optOutCheck(_ store: any ConversationStore) async throws {
    let key = ConversationKey(rawValue: "+1|+2")
    let scopes: [OptOutScope] = [.messagingService("MG1"), .number("+2")]
    // Another subscriber's and another scope's opt-outs are not the sender's.
    try await store.recordOptOutEvents(
      [optOutDraft("+9", .number("+2"), .optOut), optOutDraft("+1", .number("+3"), .optOut)],
      now: t0)
    let request = SnapshotRequest(
      key: key, messageSid: nil, now: t0, subscriber: "+1", scopes: scopes)
    func snapshot() async throws -> TurnSnapshot { try await store.snapshot(request) }
    func turn(_ sid: String, _ before: TurnSnapshot, events: [OptOutEventDraft] = [])
      -> TurnWrites
    {
      var writes = TurnWrites.recording(sid, in: key, at: t0)
      writes.optOutEvents = events
      writes.optOutCheck = OptOutCheck(request, read: before)
      return writes
    }
    let first = try await snapshot()
    try await store.commit(turn("SMc1", first))
    // The sender's STOP to another number of the service commits between snapshot and commit.
    try await store.recordOptOutEvents(
      [optOutDraft("+1", .messagingService("MG1"), .optOut)], now: t0)
    try await expectFailure(.conflict, "a turn decided before its sender opted out") {
      try await store.commit(turn("SMc2", first))
    }
    try expect(
      try await store.snapshot(for: key, messageSid: "SMc2", now: t0).replay == nil,
      "a turn that failed its opt-out check left its dedupe record")
    // Run again on a fresh snapshot, it commits; so does one whose events are its own.
    let second = try await snapshot()
    try expect(second.optOuts.map(\.optedOut) == [true], "the snapshot misses the opt-out")
    try await store.commit(turn("SMc2", second))
    try await store.commit(
      turn("SMc3", second, events: [optOutDraft("+1", .messagingService("MG1"), .optIn)]))
    // An opt-in changes the records too: a turn decided before it runs again as well.
    try await expectFailure(.conflict, "a turn decided before its sender opted back in") {
      try await store.commit(turn("SMc4", second))
    }
    try await store.commit(turn("SMc4", try await snapshot()))
  }

  static func wholeSnapshot(_ store: any ConversationStore) async throws {
    let saved = record("+1|+2", id: "w", generation: 3)
    try await save(store, saved, expected: nil)
    try await commitDedupe(store, "SM7", key: saved.key, expiresIn: hour)
    let number = OptOutScope.number("+2")
    let service = OptOutScope.messagingService("MG1")
    let sealed = try await store.recordOptOutEvents(
      [
        optOutDraft("+1", number, .optOut), optOutDraft("+1", service, .optOut),
        optOutDraft("+1", service, .optIn), optOutDraft("+1", .number("+3"), .optOut),
        optOutDraft("+9", number, .optOut),
      ], now: t0)
    func snapshot(_ subscriber: String?, _ scopes: [OptOutScope], sid: String? = "SM7")
      async throws -> TurnSnapshot
    {
      try await store.snapshot(
        SnapshotRequest(
          key: saved.key, messageSid: sid, now: t0, subscriber: subscriber, scopes: scopes))
    }
    let whole = try await snapshot("+1", [service, number, .messagingService("MG9")])
    try expect(
      whole.session == saved, "the session with the opt-outs: \(String(describing: whole.session))")
    try expect(
      whole.replay == emptyReply, "the reply with the opt-outs: \(String(describing: whole.replay))"
    )
    let records = whole.optOuts.sorted { $0.scope.rawValue < $1.scope.rawValue }
    try expect(
      records == [
        OptOutRecord(
          subscriber: "+1", scope: number, optedOut: true, updatedAt: t0,
          eventSequence: sealed[0].sequence),
        OptOutRecord(
          subscriber: "+1", scope: service, optedOut: false, updatedAt: t0,
          eventSequence: sealed[2].sequence),
      ], "the opt-outs asked for: \(records)")
    try expect(try await snapshot("+1", []).optOuts.isEmpty, "opt-outs read for no scope")
    try expect(try await snapshot(nil, [number]).optOuts.isEmpty, "opt-outs read for no subscriber")
    try expect(try await snapshot("+5", [number]).optOuts.isEmpty, "another subscriber's opt-outs")
    let noReply = try await snapshot("+9", [number], sid: nil)
    try expect(
      noReply.replay == nil && noReply.session == saved
        && noReply.optOuts.map(\.optedOut) == [true],
      "without a MessageSid: \(noReply)")
    let elsewhere = try await store.snapshot(
      SnapshotRequest(
        key: ConversationKey(rawValue: "+7|+2"), messageSid: "SM7", now: t0.advanced(by: hour * 2),
        subscriber: "+1", scopes: [number]))
    try expect(
      elsewhere.session == nil && elsewhere.replay == nil && elsewhere.optOuts.count == 1,
      "no session, an expired reply: \(elsewhere)")
  }

  /// SQLite's text binding ends at a NUL (the stored event would no longer match its hash) and
  /// PostgreSQL's text refuses one (the opt-out would not be recorded).
  static func nulInOptOut(_ store: any ConversationStore) async throws {
    var draft = optOutDraft("+1", .number("+14155550199"), .optOut)
    draft.keyword = "STOP\u{0}NOW"
    draft.body = "STOP\u{0}now\u{0}"
    let sealed = try await store.recordOptOutEvents([draft], now: t0)
    let read = try await store.auditEvents(after: 0, limit: 10)
    try expect(read == sealed, "events read back differ: \(read)")
    try expect(
      read.first?.body == "STOP\u{FFFD}now\u{FFFD}" && read.first?.keyword == "STOP\u{FFFD}NOW",
      "the NUL was not kept as U+FFFD: \(read)")
    try expect(
      try await store.verifyAuditTrail() == .intact(events: 1), "the trail does not verify")
    try expect(try await !store.mayText("+1", from: "+14155550199"), "the opt-out was not applied")
  }

  /// A NUL in a subscriber would be cut by SQLite (recording another number's opt-out) and
  /// refused by PostgreSQL: the whole list is refused before anything is recorded.
  static func badOptOutKeys(_ store: any ConversationStore) async throws {
    let good = optOutDraft("+1", .number("+14155550199"), .optOut)
    var bad = optOutDraft("+16175550124\u{0}9", .number("+14155550199"), .optOut)
    do {
      try await store.recordOptOutEvents([good, bad], now: t0)
      throw ConformanceFailure("a subscriber with a NUL was recorded")
    } catch let error as InvalidOptOutEvent {
      try expect(error == InvalidOptOutEvent(index: 1, field: "subscriber"), "\(error)")
    }
    bad = optOutDraft("+2", .messagingService("MG\u{1B}1"), .optOut)
    do {
      try await store.recordOptOutEvents([bad], now: t0)
      throw ConformanceFailure("a scope with a control character was recorded")
    } catch let error as InvalidOptOutEvent {
      try expect(error == InvalidOptOutEvent(index: 0, field: "scope"), "\(error)")
    }
    try expect(try await store.auditHead() == .empty, "a refused list recorded something")
    try expect(try await store.mayText("+16175550124", from: "+14155550199"), "a number opted out")
  }

  /// SQLite's usual text binding ends at a NUL, so a read of "+1<NUL>9" would find "+1". No
  /// stored key holds one; a read with one finds nothing, or throws (PostgreSQL refuses a NUL).
  static func nulInReadKeys(_ store: any ConversationStore) async throws {
    let saved = record("+16175550123|+14155550199")
    try await save(store, saved, expected: nil)
    try await commitDedupe(store, "SM1", key: saved.key, expiresIn: hour)
    try await store.recordOptOutEvents(
      [optOutDraft("+16175550123", .number("+14155550199"), .optOut)], now: t0)
    // Nil when the read threw: finding nothing and refusing are both right.
    func read<T>(_ body: () async throws -> T) async -> T? { try? await body() }

    let nulKey = ConversationKey(rawValue: saved.key.rawValue + "\u{0}9")
    if let found = await read({ try await store.session(for: nulKey) }) {
      try expect(found == nil, "a key with a NUL read another key's session")
    }
    if let snapshot = await read({
      try await store.snapshot(for: nulKey, messageSid: "SM1\u{0}9", now: t0)
    }) {
      try expect(snapshot.session == nil, "a snapshot with a NUL read another key's session")
      try expect(snapshot.replay == nil, "a MessageSid with a NUL replayed another's reply")
    }
    if let records = await read({
      try await store.optOutRecords(
        subscriber: "+16175550123\u{0}9", scopes: [.number("+14155550199")])
    }) {
      try expect(records.isEmpty, "a subscriber with a NUL read another number's opt-out")
    }
    do {
      _ = try await store.mayText("+16175550123\u{0}9", from: "+14155550199")
      throw ConformanceFailure("may-I-text answered for a subscriber with a NUL")
    } catch let error as InvalidOptOutQuery {
      try expect(error == InvalidOptOutQuery(field: "subscriber"), "\(error)")
    }
    // The keys themselves are still found.
    try expect(try await store.session(for: saved.key) == saved, "the session was not found")
    try expect(
      try await !store.mayText("+16175550123", from: "+14155550199"), "the opt-out was not found")
  }

  static func mayText(_ store: any ConversationStore) async throws {
    try await store.recordOptOutEvents(
      [
        optOutDraft("+1", .messagingService("MG1"), .optOut),
        optOutDraft("+2", .number("+100"), .optOut),
      ], now: t0)
    try expect(
      try await !store.mayText("+1", from: "+100", messagingService: "MG1"),
      "service opt-out ignored")
    try expect(
      try await store.mayText("+1", from: "+100"), "a service opt-out leaked to a number outside it"
    )
    try expect(
      try await !store.mayText("+2", from: "+100", messagingService: "MG1"),
      "number opt-out ignored in a service")
    try expect(
      try await store.mayText("+2", from: "+200"), "a number opt-out leaked to another number")
    try expect(
      try await store.mayText("+3", from: "+100", messagingService: "MG1"),
      "a stranger cannot be texted")
  }
}

/// A store failed a conformance check.
public struct ConformanceFailure: Error, CustomStringConvertible {
  /// What went wrong.
  public let message: String

  init(_ message: String) { self.message = message }

  public var description: String { message }
}

extension Duration {
  fileprivate static func * (lhs: Duration, rhs: Double) -> Duration {
    .milliseconds(Int64(Double(lhs.components.seconds) * 1000 * rhs))
  }
}

extension TurnWrites {
  /// A turn that only records `messageSid` as handled in `key` at `now`, with an empty
  /// `<Response/>` as its reply, forgotten `expiresIn` later.
  package static func recording(
    _ messageSid: String, in key: ConversationKey, at now: WallInstant,
    expiresIn: Duration = .seconds(3600)
  ) -> TurnWrites {
    TurnWrites(
      key: key, now: now,
      dedupe: DedupeRecord(
        messageSid: messageSid, key: key, reply: ConversationStoreConformance.emptyReply,
        createdAt: now, expiresAt: now.advanced(by: expiresIn)))
  }

  /// A turn that only slides `record`'s expiry: touched at `now`, expiring `timeout` later, and
  /// expecting `record`'s version (or `expected`).
  package static func touching(
    _ record: SessionRecord, at now: WallInstant, expected: SessionVersion? = nil,
    timeout: Duration = .seconds(4 * 3600)
  ) -> TurnWrites {
    TurnWrites(
      key: record.key, now: now,
      session: .touch(
        key: record.key, expected: expected ?? record.version, updatedAt: now,
        expiresAt: now.advanced(by: timeout)))
  }
}
