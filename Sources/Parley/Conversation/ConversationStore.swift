/// Where conversations live: sessions and the record of messages already answered.
///
/// A store reads a snapshot before a turn and commits the turn's writes in **one transaction**
/// afterwards: the dedupe record, the session change (and, with opt-out, the opt-out change and its
/// audit row) succeed or fail together. Writes carry the version they expect, so two instances
/// racing on one conversation cannot both win: the loser gets ``ConversationStoreError/Code/conflict``
/// and its turn is run again.
///
/// Every store passes the conformance suite in `ParleyTesting` (`ConversationStoreConformance`).
public protocol ConversationStore: OptOutStore {
  /// Reads what a turn needs: a reply already given to the MessageSid (if not expired), the
  /// stored session of the conversation (even if expired: the caller decides), and the sender's
  /// opt-out records in the scopes asked for.
  ///
  /// A store may look the MessageSid up within the request's conversation (the SQLite store
  /// does) or among all: Twilio's MessageSids are unique, and a retry of one comes from the same
  /// number to the same number, so both find the same reply.
  func snapshot(_ request: SnapshotRequest) async throws -> TurnSnapshot

  /// Commits a turn's writes atomically and durably before returning.
  ///
  /// - Throws: ``ConversationStoreError`` with `.conflict` when a session write's expected version
  ///   does not match or the writes' ``TurnWrites/optOutCheck`` finds a record changed (checked
  ///   before the writes' own opt-out events are applied), or `.duplicateMessage` when the message
  ///   was committed by someone else.
  func commit(_ writes: TurnWrites) async throws

  /// Deletes up to `limit` expired sessions and dedupe records, oldest first, through an index.
  ///
  /// A store may keep an expired session for a bounded while before a sweep deletes it (the
  /// SQLite and PostgreSQL stores: up to ten minutes), since a turn treats an expired session as
  /// gone whether or not it was swept.
  func sweep(now: WallInstant, limit: Int) async throws -> SweepResult

  /// The stored session of `key`, expired or not.
  func session(for key: ConversationKey) async throws -> SessionRecord?

  /// Stored sessions ordered by key, after `key` (for paging), at most `limit`.
  func sessions(after key: ConversationKey?, limit: Int) async throws -> [SessionRecord]

  /// Deletes the session of `key`; returns whether there was one.
  func deleteSession(for key: ConversationKey) async throws -> Bool

  /// Runs one turn of the conversation `key`, serialized with the same conversation's turns on
  /// every instance sharing the store; `body` reads and commits through the store it is given.
  /// The default runs `body` with this store (a single process serializes in memory).
  func withTurn<T: Sendable>(
    for key: ConversationKey, _ body: @Sendable (any ConversationStore) async throws -> T
  ) async throws -> T
}

/// A stored conversation session.
public struct SessionRecord: Sendable, Hashable, Codable {
  /// The conversation.
  public var key: ConversationKey
  /// The session's random id, carried by the cookie.
  public var id: String
  /// Increments whenever the state changes; the cookie carries it to detect stale cookies.
  public var generation: Int64
  /// The encoded state.
  public var data: [UInt8]
  /// When the session began.
  public var createdAt: WallInstant
  /// The last turn.
  public var updatedAt: WallInstant
  /// When it expires unless another turn comes first.
  public var expiresAt: WallInstant

  /// Creates a record.
  public init(
    key: ConversationKey, id: String, generation: Int64, data: [UInt8], createdAt: WallInstant,
    updatedAt: WallInstant, expiresAt: WallInstant
  ) {
    self.key = key
    self.id = id
    self.generation = generation
    self.data = data
    self.createdAt = createdAt
    self.updatedAt = updatedAt
    self.expiresAt = expiresAt
  }

  /// The version a write expects to replace.
  public var version: SessionVersion { SessionVersion(id: id, generation: generation) }

  /// Whether the session has expired at `now`.
  public func isExpired(at now: WallInstant) -> Bool { expiresAt <= now }
}

/// Identifies one state of one session: a write that expects it fails if it changed meanwhile.
public struct SessionVersion: Sendable, Hashable, Codable {
  public var id: String
  public var generation: Int64

  public init(id: String, generation: Int64) {
    self.id = id
    self.generation = generation
  }
}

/// A change to a conversation's session, committed with the rest of its turn.
public enum SessionWrite: Sendable, Hashable {
  /// Store `record`, replacing the version `expected` (nil: there must be no session yet).
  case save(SessionRecord, expected: SessionVersion?)
  /// Slide the expiry of an unchanged session.
  case touch(
    key: ConversationKey, expected: SessionVersion, updatedAt: WallInstant, expiresAt: WallInstant)
  /// Delete the session.
  case delete(key: ConversationKey, expected: SessionVersion)
}

/// A reply exactly as it was sent, kept to answer a retried MessageSid byte for byte.
public struct StoredReply: Sendable, Hashable, Codable {
  /// The `Content-Type` sent.
  public var contentType: String
  /// The body sent.
  public var body: String
  /// Extra header fields sent (such as `Set-Cookie`), as name-value pairs in order.
  public var headerFields: [[String]]

  /// Creates a stored reply.
  public init(contentType: String, body: String, headerFields: [[String]]) {
    self.contentType = contentType
    self.body = body
    self.headerFields = headerFields
  }
}

/// The record that a message was handled, and what was answered.
public struct DedupeRecord: Sendable, Hashable {
  /// The message.
  public var messageSid: String
  /// Its conversation.
  public var key: ConversationKey
  /// The reply sent.
  public var reply: StoredReply
  /// When it was committed.
  public var createdAt: WallInstant
  /// When it may be forgotten.
  public var expiresAt: WallInstant

  /// Creates a record.
  public init(
    messageSid: String, key: ConversationKey, reply: StoredReply, createdAt: WallInstant,
    expiresAt: WallInstant
  ) {
    self.messageSid = messageSid
    self.key = key
    self.reply = reply
    self.createdAt = createdAt
    self.expiresAt = expiresAt
  }
}

/// What a turn asks the store for before it runs.
public struct SnapshotRequest: Sendable, Hashable {
  /// The conversation.
  public var key: ConversationKey
  /// The inbound message's id, to find an earlier reply.
  public var messageSid: String?
  /// The time the turn began.
  public var now: WallInstant
  /// The sender whose opt-out records are read.
  public var subscriber: String?
  /// The scopes to read them in.
  public var scopes: [OptOutScope]

  public init(
    key: ConversationKey, messageSid: String?, now: WallInstant, subscriber: String? = nil,
    scopes: [OptOutScope] = []
  ) {
    self.key = key
    self.messageSid = messageSid
    self.now = now
    self.subscriber = subscriber
    self.scopes = scopes
  }
}

/// What a store read before a turn.
public struct TurnSnapshot: Sendable, Hashable {
  /// The reply already given to this MessageSid, if any: the turn is a retry.
  public var replay: StoredReply?
  /// The stored session of the conversation, expired or not.
  public var session: SessionRecord?
  /// The sender's opt-out records in the scopes asked for (those that exist).
  public var optOuts: [OptOutRecord]

  /// Creates a snapshot.
  public init(
    replay: StoredReply? = nil, session: SessionRecord? = nil, optOuts: [OptOutRecord] = []
  ) {
    self.replay = replay
    self.session = session
    self.optOuts = optOuts
  }
}

/// Everything one turn writes, committed in one transaction.
public struct TurnWrites: Sendable, Hashable {
  /// The conversation.
  public var key: ConversationKey
  /// When the turn committed.
  public var now: WallInstant
  /// The message's dedupe record, when it has a MessageSid.
  public var dedupe: DedupeRecord?
  /// The session change, if any.
  public var session: SessionWrite?
  /// Opt-out events to append to the audit trail (and apply to the opt-out records).
  public var optOutEvents: [OptOutEventDraft]
  /// The opt-out records the turn's reply was decided on, which must not have changed: when one
  /// has, the commit throws ``ConversationStoreError/Code/conflict`` and writes nothing.
  public var optOutCheck: OptOutCheck?

  /// Creates a set of writes.
  public init(
    key: ConversationKey, now: WallInstant, dedupe: DedupeRecord? = nil,
    session: SessionWrite? = nil,
    optOutEvents: [OptOutEventDraft] = [], optOutCheck: OptOutCheck? = nil
  ) {
    self.key = key
    self.now = now
    self.dedupe = dedupe
    self.session = session
    self.optOutEvents = optOutEvents
    self.optOutCheck = optOutCheck
  }

  /// Whether there is nothing to write.
  public var isEmpty: Bool { dedupe == nil && session == nil && optOutEvents.isEmpty }
}

/// The opt-out records a turn read in its snapshot, checked again when it commits: a turn whose
/// sender opted out (of another number of the Messaging Service, through the API, by a status
/// callback) between its snapshot and its commit is run again, and answered as opted out.
///
/// The audit trail numbers its events in order, and every record names the event that set it.
/// So a record changed since the snapshot is one of `subscriber` in `scopes` whose
/// ``OptOutRecord/eventSequence`` is above `seenThrough`, the highest the snapshot held (0 for
/// none): a new record or a changed one is set by a later event than any that existed then.
public struct OptOutCheck: Sendable, Hashable {
  /// The sender.
  public var subscriber: String
  /// The scopes the snapshot read.
  public var scopes: [OptOutScope]
  /// The highest event sequence among the records read.
  public var seenThrough: Int64

  /// Creates a check.
  public init(subscriber: String, scopes: [OptOutScope], seenThrough: Int64) {
    self.subscriber = subscriber
    self.scopes = scopes
    self.seenThrough = seenThrough
  }

  /// The check of the opt-out records `snapshot` read for `request`; nil when it asked for none.
  public init?(_ request: SnapshotRequest, read snapshot: TurnSnapshot) {
    guard let subscriber = request.subscriber else { return nil }
    self.init(
      subscriber: subscriber, scopes: request.scopes,
      seenThrough: snapshot.optOuts.lazy.map(\.eventSequence).max() ?? 0)
  }

  /// Whether `record` (of the subscriber in one of the scopes, as stored now) is a change.
  public func isChange(_ record: OptOutRecord) -> Bool { record.eventSequence > seenThrough }

  /// The conflict a commit throws when the records changed.
  public static let conflict = ConversationStoreError(
    .conflict, "the sender's opt-out records changed since they were read")
}

/// How much a sweep deleted.
public struct SweepResult: Sendable, Hashable {
  public var sessions: Int
  public var dedupeRecords: Int

  public init(sessions: Int = 0, dedupeRecords: Int = 0) {
    self.sessions = sessions
    self.dedupeRecords = dedupeRecords
  }

  /// The total deleted.
  public var total: Int { sessions + dedupeRecords }
}

/// A store refused a commit.
public struct ConversationStoreError: Error, Sendable, Hashable, CustomStringConvertible {
  public enum Code: String, Sendable, Hashable {
    /// A session write's expected version did not match what is stored.
    case conflict
    /// The message was already committed (by another instance, or a retry that overtook this one).
    case duplicateMessage
  }

  public var code: Code
  public var detail: String

  public init(_ code: Code, _ detail: String = "") {
    self.code = code
    self.detail = detail
  }

  public var description: String { detail.isEmpty ? code.rawValue : "\(code.rawValue): \(detail)" }
}

extension ConversationStore {
  public func withTurn<T: Sendable>(
    for key: ConversationKey, _ body: @Sendable (any ConversationStore) async throws -> T
  ) async throws -> T {
    try await body(self)
  }

  /// Reads a snapshot without opt-out records.
  public func snapshot(for key: ConversationKey, messageSid: String?, now: WallInstant) async throws
    -> TurnSnapshot
  {
    try await snapshot(SnapshotRequest(key: key, messageSid: messageSid, now: now))
  }
}
