import Synchronization

/// The unit of work of one turn: what the store held when it began and what it will write.
///
/// ``ConversationMiddleware`` opens one per turn and commits it once the reply is ready; inner
/// middleware (sessions, opt-out) read its snapshot and add their writes to it, so everything a
/// turn changes commits together or not at all.
public final class TurnTransaction: Sendable {
  /// The conversation.
  public let key: ConversationKey
  /// When the turn began.
  public let now: WallInstant
  /// What the store held.
  public let snapshot: TurnSnapshot
  private let pendingSession = Mutex<SessionWrite?>(nil)
  private let pendingOptOuts = Mutex<[OptOutEventDraft]>([])

  init(key: ConversationKey, now: WallInstant, snapshot: TurnSnapshot) {
    self.key = key
    self.now = now
    self.snapshot = snapshot
  }

  /// The session change this turn will commit.
  public var sessionWrite: SessionWrite? {
    get { pendingSession.withLock { $0 } }
    set { pendingSession.withLock { $0 = newValue } }
  }

  /// The opt-out events this turn will append to the audit trail.
  public var optOutEvents: [OptOutEventDraft] { pendingOptOuts.withLock { $0 } }

  /// Adds an opt-out event to the turn's commit.
  public func append(_ event: OptOutEventDraft) {
    pendingOptOuts.withLock { $0.append(event) }
  }
}

enum TurnTransactionKey: TurnValueKey {
  typealias Value = TurnTransaction
}

extension Turn {
  /// The transaction ``ConversationMiddleware`` opened for this turn, if it runs in the chain.
  public var transaction: TurnTransaction? { values[TurnTransactionKey.self] }
}
