import Parley
import Synchronization

/// When a turn called into its store and got its answers: `pipeline --stages` splits each
/// turn's wall time at them, to show which part of a turn its latency's spread is in.
final class TurnStamps: Sendable {
  /// The two calls a turn makes into its store.
  enum Call {
    case snapshot
    case commit
  }

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

  /// Records one call. The first call and the last answer of each are kept: a turn run again
  /// after a conflict counts its retry in the middle stages.
  func record(_ call: Call, called: ContinuousClock.Instant, answered: ContinuousClock.Instant) {
    typealias Stamp = WritableKeyPath<Stamps, ContinuousClock.Instant?>
    let (calledAt, answeredAt): (Stamp, Stamp) =
      switch call {
      case .snapshot: (\.snapshotCalled, \.snapshotAnswered)
      case .commit: (\.commitCalled, \.commitAnswered)
      }
    stamps.withLock {
      if $0[keyPath: calledAt] == nil { $0[keyPath: calledAt] = called }
      $0[keyPath: answeredAt] = answered
    }
  }
}

/// A store that stamps, for the turn calling it (``TurnStamps/current``), when its snapshot and
/// its commit were called and answered; everything else goes straight to the store it wraps.
struct StampingStore: ConversationStore {
  let base: any ConversationStore

  func snapshot(_ request: SnapshotRequest) async throws -> TurnSnapshot {
    try await stamped(.snapshot) { try await base.snapshot(request) }
  }

  func commit(_ writes: TurnWrites) async throws {
    try await stamped(.commit) { try await base.commit(writes) }
  }

  /// Runs `call`'s body and records when it began and when it returned or threw.
  private func stamped<T>(_ call: TurnStamps.Call, _ body: () async throws -> T) async throws -> T {
    let clock = ContinuousClock()
    let called = clock.now
    defer { TurnStamps.current?.record(call, called: called, answered: clock.now) }
    return try await body()
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
  /// The parts' names, then the whole's: the columns of ``figures``.
  static let columns = [
    "before snapshot", "snapshot", "between", "commit", "after commit", "total",
  ]

  /// The five parts, then the whole (from the call to the answer, their sum).
  let figures: [Double]
  var total: Double { figures[figures.count - 1] }

  init?(sent: ContinuousClock.Instant, answered: ContinuousClock.Instant, _ stamps: TurnStamps) {
    let value = stamps.value
    guard let snapshotCalled = value.snapshotCalled, let snapshotAnswered = value.snapshotAnswered,
      let commitCalled = value.commitCalled, let commitAnswered = value.commitAnswered
    else { return nil }
    figures = [
      (snapshotCalled - sent), (snapshotAnswered - snapshotCalled),
      (commitCalled - snapshotAnswered), (commitAnswered - commitCalled),
      (answered - commitAnswered), (answered - sent),
    ].map(\.timeInterval)
  }
}
