import HTTPTypes
import Logging

/// The outermost messaging middleware of a stateful app: one turn at a time per conversation,
/// a retried MessageSid answered from the record of the first answer, and every write of the turn
/// committed in one transaction before the reply leaves.
///
/// For each turn it
/// 1. waits for the conversation's previous turn to finish (an in-process keyed lock; across
///    instances the store's version checks serialize, and a conflict runs the turn again);
/// 2. reads a snapshot; if the MessageSid was already answered it returns that reply, byte for
///    byte, and changes nothing (a message of it to a number that has opted out since is dropped,
///    and then the rest is rendered anew);
/// 3. runs the rest of the chain with a ``TurnTransaction`` that inner middleware write into;
/// 4. commits the dedupe record and those writes together, then returns the reply. The commit
///    checks that the sender's opt-out records are those the snapshot read (``OptOutCheck``); when
///    they changed, as when the sender opted out of another number of the Messaging Service
///    meanwhile, nothing is written and the turn runs again.
///
/// A turn whose chain throws commits nothing, so Twilio's retry runs it afresh.
public struct ConversationMiddleware: MessagingMiddleware {
  /// Tuning.
  public struct Configuration: Sendable {
    /// How conversations are keyed.
    public var keyStrategy: ConversationKey.Strategy
    /// How long a handled MessageSid is remembered (Twilio retries within minutes; default 24 h).
    public var dedupeWindow: Duration
    /// How many times a turn is run again after a version conflict.
    public var maximumConflictRetries: Int

    /// Creates a configuration.
    public init(
      keyStrategy: ConversationKey.Strategy = .fromTo,
      dedupeWindow: Duration = .seconds(24 * 3600),
      maximumConflictRetries: Int = 10
    ) {
      self.keyStrategy = keyStrategy
      self.dedupeWindow = dedupeWindow
      self.maximumConflictRetries = maximumConflictRetries
    }
  }

  /// The store.
  public let store: any ConversationStore
  /// The clock.
  public let clock: any WallClock
  /// Tuning.
  public let configuration: Configuration
  private let locks = KeyedLock<ConversationKey>()

  /// Creates the middleware.
  public init(
    store: any ConversationStore, clock: any WallClock = SystemWallClock(),
    configuration: Configuration = .init()
  ) {
    self.store = store
    self.clock = clock
    self.configuration = configuration
  }

  public func handle(_ turn: Turn, next: NextResponder) async throws -> Reply {
    let key = configuration.keyStrategy.key(for: turn.message)
    let messageSid = turn.message.messageSid
    return try await locks.withLock(key) {
      var attempts = 0
      while true {
        let attempt = attempts
        if let reply = try await store.withTurn(
          for: key,
          { store in
            try await runTurn(
              turn, key: key, messageSid: messageSid, store: store, next: next, attempt: attempt)
          })
        {
          return reply
        }
        attempts += 1
        // Another turn (of another instance, or an opt-out of the sender) changed what this one
        // read: back off a little (jittered, growing) and run again.
        try await Task.sleep(for: .milliseconds(Int.random(in: 1...5) * attempts))
      }
    }
  }

  /// One attempt at a turn: nil when it lost a race and must run again.
  private func runTurn(
    _ turn: Turn, key: ConversationKey, messageSid: String?, store: any ConversationStore,
    next: NextResponder, attempt: Int
  ) async throws -> Reply? {
    let now = clock.now
    let request = SnapshotRequest(
      key: key, messageSid: messageSid, now: now, subscriber: turn.message.from,
      scopes: OptOutScope.all(for: turn.message))
    let snapshot = try await store.snapshot(request)
    if let replay = snapshot.replay {
      turn.logger.info("retried MessageSid answered from its first reply")
      return try await replaying(replay, of: turn, snapshot: snapshot)
    }
    let transaction = TurnTransaction(key: key, now: now, snapshot: snapshot)
    var inner = turn
    inner.values[TurnTransactionKey.self] = transaction
    var reply = try await next(inner)
    let committedAt = clock.now
    var writes = TurnWrites(
      key: key, now: committedAt, session: transaction.sessionWrite,
      optOutEvents: transaction.optOutEvents)
    // The reply was decided on the snapshot's opt-outs: if the sender's changed since (their STOP
    // to another number of the service, an API call), the turn runs again. A turn that records
    // opt-out events is ordered by them instead (its reply answers its own keyword).
    if writes.optOutEvents.isEmpty { writes.optOutCheck = OptOutCheck(request, read: snapshot) }
    if let messageSid {
      let stored = reply.stored
      writes.dedupe = DedupeRecord(
        messageSid: messageSid, key: key, reply: stored, createdAt: committedAt,
        expiresAt: committedAt.advanced(by: configuration.dedupeWindow))
      // The reply as recorded, rendered once: the first answer and a retry's are the same bytes.
      // (Its header fields are the ones just recorded, kept as they are rather than parsed back.)
      reply = Reply(stored.content, headerFields: reply.headerFields)
    }
    do {
      if !writes.isEmpty { try await store.commit(writes) }
      return reply
    } catch let error as ConversationStoreError
      where attempt < configuration.maximumConflictRetries
    {
      turn.logger.notice(
        "what the turn read changed before it committed; running it again",
        metadata: ["parley.conflict": "\(error.code.rawValue)", "parley.attempt": "\(attempt + 1)"])
      return nil
    }
  }
}

extension ConversationMiddleware {
  /// The first reply to a retried MessageSid, less any message to a number that opted out since.
  ///
  /// The sender counts as opted out when the snapshot says so, unless the opt-out is this very
  /// message's: a retried STOP gets its confirmation again, the one message allowed after it.
  /// (An opt-out older than the first reply changes nothing: that reply was checked against it.)
  /// The audit trail is read for that only when the reply texts the sender.
  private func replaying(_ stored: StoredReply, of turn: Turn, snapshot: TurnSnapshot)
    async throws -> Reply
  {
    func senderOptedOut() async throws -> Bool {
      var optedOut = false
      for record in snapshot.optOuts where record.optedOut {
        // The trail is numbered from 1 without gaps: the event after its predecessor set it.
        let event = try await store.auditEvents(after: record.eventSequence - 1, limit: 1).first
        if let event, event.sequence == record.eventSequence,
          let messageSid = turn.message.messageSid, event.messageSid == messageSid
        {
          return false
        }
        optedOut = true
      }
      return optedOut
    }
    return try await store.suppressingOptedOut(
      Reply(stored: stored), for: turn.message, senderOptedOut: senderOptedOut,
      logger: turn.logger)
  }
}

extension Reply {
  /// The reply as it will be sent, for the dedupe record.
  var stored: StoredReply {
    let sent = content.asSent
    return StoredReply(
      contentType: sent.contentType, body: sent.body,
      headerFields: headerFields.compactMap { Self.sends($0) ? [$0.name.rawName, $0.value] : nil })
  }

  /// A reply that sends `stored` again, byte for byte.
  init(stored: StoredReply) {
    var fields = HTTPFields()
    for pair in stored.headerFields where pair.count == 2 {
      if let name = HTTPField.Name(pair[0]) { fields.append(HTTPField(name: name, value: pair[1])) }
    }
    self.init(stored.content, headerFields: fields)
  }
}

extension StoredReply {
  /// The recorded body with its `Content-Type`, to be sent as it is.
  var content: Reply.Content { .rendered(contentType: contentType, body: body) }
}
