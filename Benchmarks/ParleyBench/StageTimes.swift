import Parley
import Synchronization

/// When a turn called into its store and got its answers: `pipeline --stages` splits each
/// turn's wall time at them, to show which part of a turn its latency's spread is in.
final class TurnStamps: Sendable {
  struct Stamps {
    var snapshotCalled: ContinuousClock.Instant?
    var snapshotAnswered: ContinuousClock.Instant?
    var commitCalled: ContinuousClock.Instant?
    var commitAnswered: ContinuousClock.Instant?
  }

  /// The stamps of the turn the current task runs (set by `pipeline` around each call).
  @TaskLocal static var current: TurnStamps?

  private let stamps = Mutex(Stamps())

  var value: Stamps { stamps.withLock { $0 } }

  /// The first call of a turn's snapshot and the last answer of its commit are kept: a turn
  /// run again after a conflict counts its retry in the middle stages.
  func snapshot(called: ContinuousClock.Instant, answered: ContinuousClock.Instant) {
    stamps.withLock {
      if $0.snapshotCalled == nil { $0.snapshotCalled = called }
      $0.snapshotAnswered = answered
    }
  }

  func commit(called: ContinuousClock.Instant, answered: ContinuousClock.Instant) {
    stamps.withLock {
      if $0.commitCalled == nil { $0.commitCalled = called }
      $0.commitAnswered = answered
    }
  }
}

/// A store that stamps, for the turn calling it (``TurnStamps/current``), when its snapshot and
/// its commit were called and answered; everything else goes straight to the store it wraps.
struct StampingStore: ConversationStore {
  let base: any ConversationStore

  func snapshot(_ request: SnapshotRequest) async throws -> TurnSnapshot {
    let clock = ContinuousClock()
    let called = clock.now
    let snapshot = try await base.snapshot(request)
    TurnStamps.current?.snapshot(called: called, answered: clock.now)
    return snapshot
  }

  func commit(_ writes: TurnWrites) async throws {
    let clock = ContinuousClock()
    let called = clock.now
    defer { TurnStamps.current?.commit(called: called, answered: clock.now) }
    try await base.commit(writes)
  }

  func withTurn<T: Sendable>(
    for key: ConversationKey, _ body: @Sendable (any ConversationStore) async throws -> T
  ) async throws -> T {
    // The store the turn is given (PostgreSQL's is bound to the turn's lease) is stamped too.
    try await base.withTurn(for: key) { store in try await body(StampingStore(base: store)) }
  }

  func sweep(now: WallInstant, limit: Int) async throws -> SweepResult {
    try await base.sweep(now: now, limit: limit)
  }

  func session(for key: ConversationKey) async throws -> SessionRecord? {
    try await base.session(for: key)
  }

  func sessions(after key: ConversationKey?, limit: Int) async throws -> [SessionRecord] {
    try await base.sessions(after: key, limit: limit)
  }

  func deleteSession(for key: ConversationKey) async throws -> Bool {
    try await base.deleteSession(for: key)
  }

  func optOutRecords(subscriber: String, scopes: [OptOutScope]) async throws -> [OptOutRecord] {
    try await base.optOutRecords(subscriber: subscriber, scopes: scopes)
  }

  func recordOptOutEvents(_ events: [OptOutEventDraft], now: WallInstant) async throws
    -> [OptOutEvent]
  {
    try await base.recordOptOutEvents(events, now: now)
  }

  func optOutRecords(optedOutOnly: Bool, after cursor: OptOutRecord?, limit: Int) async throws
    -> [OptOutRecord]
  {
    try await base.optOutRecords(optedOutOnly: optedOutOnly, after: cursor, limit: limit)
  }

  func auditEvents(after sequence: Int64, limit: Int) async throws -> [OptOutEvent] {
    try await base.auditEvents(after: sequence, limit: limit)
  }

  func auditHead() async throws -> OptOutAuditChain.Head {
    try await base.auditHead()
  }
}

/// A turn's wall time in five parts, in seconds: in the app before its snapshot was called,
/// waiting for the snapshot, in the app between the snapshot and the commit (the dialog step and
/// the session's encoding), waiting for the commit, and after the commit until the turn's answer.
struct TurnStages {
  static let names = ["before snapshot", "snapshot", "between", "commit", "after commit"]

  var parts: [Double]
  var total: Double { parts.reduce(0, +) }

  init?(sent: ContinuousClock.Instant, answered: ContinuousClock.Instant, _ stamps: TurnStamps) {
    let value = stamps.value
    guard let snapshotCalled = value.snapshotCalled, let snapshotAnswered = value.snapshotAnswered,
      let commitCalled = value.commitCalled, let commitAnswered = value.commitAnswered
    else { return nil }
    parts = [
      (snapshotCalled - sent), (snapshotAnswered - snapshotCalled),
      (commitCalled - snapshotAnswered), (commitAnswered - commitCalled),
      (answered - commitAnswered),
    ].map(\.timeInterval)
  }
}
