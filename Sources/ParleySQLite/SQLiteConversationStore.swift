import GRDB
public import Parley

/// The default conversation store: sessions and processed messages in SQLite (through GRDB).
///
/// A conversation's session and the MessageSids handled in it are rows of one table, keyed by
/// the conversation and then the MessageSid (the session's row has the MessageSid `''`), so a
/// turn's dedupe entry lands on the page of the session it changes, not on a random page of an
/// index of every MessageSid; the reply it points to is appended to a table of its own. A
/// MessageSid is therefore looked up within its conversation: Twilio's MessageSids are unique, and
/// a retry comes from the same number to the same number.
///
/// Turns that commit while the writer is busy share one SQLite transaction (group commit), each
/// in its own savepoint; with ``SQLiteDurability/full`` the transaction is fsync'd before any of
/// their ``commit(_:)`` calls returns. Likewise the snapshots asked for while the writer is busy
/// are read together, in one read transaction on the writer's connection. Expired rows are found
/// through indexes: dedupe entries through their replies' expiry, sessions by a sweep time that
/// trails theirs by up to ten minutes, so a turn that slides a session's expiry seldom writes an
/// index entry.
///
/// A turn's own queries and writes go straight through SQLite's C interface, and each value read
/// must have the type Parley wrote: a row damaged or written by another tool with a value of
/// another type fails its conversation's turns with `DatabaseError` (`SQLITE_MISMATCH`), where
/// GRDB's records would have converted it (a text `opted_out` read as "not opted out").
///
/// ```swift
/// let database = try SQLiteDatabase(path: "parley.sqlite")
/// let store = SQLiteConversationStore(database: database)
/// ```
public struct SQLiteConversationStore: ConversationStore {
  /// The database.
  public let database: SQLiteDatabase
  private let committer: GroupCommitter
  /// Reads the turns' snapshots in batches, on the writer's connection.
  private let snapshots: DatabaseBatcher<SnapshotRequest, TurnSnapshot>

  /// Creates a store on an open database.
  public init(database: SQLiteDatabase) {
    self.database = database
    self.committer = GroupCommitter(database: database)
    let pool = database.pool
    // The snapshots are read on the writer's connection, together: a snapshot read alone on the
    // reader pool took two hops through GRDB's dispatch queues, and its connection's page cache,
    // which every commit empties, had to be read again from the WAL. The writer's cache stays warm
    // (it made the changes), and in-process the fsync'd pipeline spends ~10% less CPU per turn.
    self.snapshots = DatabaseBatcher(
      access: { body in
        pool.asyncWriteWithoutTransaction { db in
          // One read transaction for the batch. Its requests are answered inside it: a BEGIN
          // that fails answers them with its error, a COMMIT that fails after them (a read has
          // nothing to undo) only ends the transaction.
          var answered = false
          do {
            try db.inCachedTransaction(.deferred) {
              answered = true
              body(.success(db))
            }
          } catch {
            if !answered { body(.failure(error)) }
          }
        }
      },
      process: { requests, db in
        requests.map { request in Result { try Self.read(request, in: db) } }
      })
  }

  /// How many turns this store has committed, in how many transactions.
  public var commitStatistics: SQLiteCommitStatistics { committer.statistics }

  /// Opens the database at `path` and creates a store on it.
  public init(path: String, durability: SQLiteDurability = .full) throws {
    self.init(database: try SQLiteDatabase(path: path, durability: durability))
  }

  public func snapshot(_ request: SnapshotRequest) async throws -> TurnSnapshot {
    try await snapshots.submit(request)
  }

  /// Reads one turn's snapshot inside an open read transaction.
  static func read(_ request: SnapshotRequest, in db: Database) throws -> TurnSnapshot {
    // Every turn runs these: cached statements, read without GRDB's records (`firstRow`).
    var snapshot = TurnSnapshot()
    snapshot.session = try SessionRow.read(request.key, in: db)
    if let messageSid = request.messageSid, !messageSid.isEmpty {
      snapshot.replay = try db.firstRow(
        DedupeEntryRow.selectReplySQL,
        [
          .text(request.key.rawValue), .text(messageSid),
          .integer(request.now.millisecondsSince1970),
        ],
        DedupeEntryRow.reply)
    }
    if let subscriber = request.subscriber {
      snapshot.optOuts = try optOutRecords(subscriber: subscriber, scopes: request.scopes, in: db)
    }
    return snapshot
  }

  public func commit(_ writes: TurnWrites) async throws {
    // The empty MessageSid names the session's row in the conversation's key space.
    if writes.dedupe?.messageSid.isEmpty == true {
      throw DatabaseError(
        resultCode: .SQLITE_CONSTRAINT_CHECK, message: "a dedupe record with no MessageSid")
    }
    // Bound here, in the turn's own task: the writer every turn queues for only runs statements.
    try await committer.commit(SQLiteTurnWrites(writes))
  }

  /// Runs `body` in a write transaction. A `durable` one is fsync'd even when the database runs
  /// with `synchronous=NORMAL`: opt-outs are on disk before they are acknowledged.
  func write<T: Sendable>(durable: Bool, _ body: @escaping @Sendable (Database) throws -> T)
    async throws -> T
  {
    let forceFullSync = durable && database.durability == .normal
    return try await database.pool.writeWithoutTransaction { db in
      try db.withFullSync(if: forceFullSync) {
        var result: T?
        try db.inTransaction {
          result = try body(db)
          return .commit
        }
        return result!
      }
    }
  }

  /// Deletes up to a number of sessions whose sweep time is at or before a time
  /// (``SessionSweepTime/sweepable(at:)``), oldest first, through the sweep time's index.
  static let sweepSessionsSQL = """
    DELETE FROM parley_conversation WHERE \(SessionRow.isSession) AND conversation_key IN (
      SELECT conversation_key FROM parley_conversation
      WHERE \(SessionRow.isSession) AND sweep_at <= ? ORDER BY sweep_at LIMIT ?)
    """
  /// `columns` of the stored replies expired by a time, oldest first, up to a number: those the
  /// sweep deletes, with the dedupe entries that point to them.
  static func expiredReplies(_ columns: String) -> String {
    """
    SELECT \(columns) FROM parley_reply WHERE expires_at <= ?1
    ORDER BY expires_at, sequence LIMIT ?2
    """
  }
  /// Deletes the dedupe entries that point to the expired replies, through the replies' expiry
  /// index and the entries' key, which each reply names. (An expired entry recorded again for
  /// its MessageSid points to its new reply: the old one leaves it alone.)
  static let sweepDedupeEntriesSQL = """
    DELETE FROM parley_conversation WHERE (conversation_key, message_sid, reply_sequence) IN (
      \(expiredReplies("conversation_key, message_sid, sequence")))
    """
  /// Deletes the same expired replies, after their entries.
  static let sweepRepliesSQL = """
    DELETE FROM parley_reply WHERE sequence IN (\(expiredReplies("sequence")))
    """

  /// Deletes up to `limit` expired sessions and dedupe records, oldest first. A session is
  /// deleted at most ten minutes after it expired (``SessionSweepTime``); a dedupe record as soon
  /// as it has.
  public func sweep(now: WallInstant, limit: Int) async throws -> SweepResult {
    try await database.pool.write { db in
      try db.execute(
        sql: Self.sweepSessionsSQL,
        arguments: [SessionSweepTime.sweepable(at: now), limit])
      let sessions = db.changesCount
      try db.execute(
        sql: Self.sweepDedupeEntriesSQL, arguments: [now.millisecondsSince1970, limit])
      let dedupeRecords = db.changesCount
      try db.execute(sql: Self.sweepRepliesSQL, arguments: [now.millisecondsSince1970, limit])
      return SweepResult(sessions: sessions, dedupeRecords: dedupeRecords)
    }
  }

  public func session(for key: ConversationKey) async throws -> SessionRecord? {
    try await database.pool.read { db in try SessionRow.read(key, in: db) }
  }

  public func sessions(after key: ConversationKey?, limit: Int) async throws -> [SessionRecord] {
    try await database.pool.read { db in
      var arguments: [SQLiteArgument] = key.map { [.text($0.rawValue)] } ?? []
      arguments.append(.integer(Int64(limit)))
      return try db.allRows(
        """
        SELECT \(SessionRow.columns) FROM parley_conversation
        WHERE \(SessionRow.isSession) \(key == nil ? "" : "AND conversation_key > ?")
        ORDER BY conversation_key LIMIT ?
        """, arguments, SessionRow.record)
    }
  }

  public func deleteSession(for key: ConversationKey) async throws -> Bool {
    try await database.pool.write { db in
      try db.run(
        "DELETE FROM parley_conversation WHERE conversation_key = ? AND \(SessionRow.isSession)",
        [.text(key.rawValue)]) > 0
    }
  }
}

/// A session's row of `parley_conversation` (its MessageSid is `''`), read and inserted column by
/// column with cached statements: every turn does both, and with GRDB's `PersistableRecord.insert`
/// the benchmark's SQLite row served 12% fewer turns (3,925 against 4,473 req/s, side by side;
/// measured before 419008f, with the writer at `synchronous=NORMAL`).
enum SessionRow {
  /// The MessageSid of a session's row, as SQL: `''`, which no dedupe entry has (the store
  /// refuses an empty MessageSid).
  static let messageSid = "''"
  /// Picks the session's row among its conversation's rows. The sweep's partial index
  /// (migration v5) has the same condition, so that the sweep can use it.
  static let isSession = "message_sid = \(messageSid)"

  /// The columns ``record(_:)`` reads, in its order.
  static let columns =
    "conversation_key, session_id, generation, data, created_at, updated_at, expires_at"

  /// The session of one conversation.
  static let selectSQL = """
    SELECT \(columns) FROM parley_conversation WHERE conversation_key = ? AND \(isSession)
    """

  /// Reads the session of `key`, if any: for the turn's snapshot and for
  /// ``SQLiteConversationStore/session(for:)``.
  static func read(_ key: ConversationKey, in db: Database) throws -> SessionRecord? {
    try db.firstRow(selectSQL, [.text(key.rawValue)], record)
  }

  /// `record` as the values of ``columns``, in their order.
  static func arguments(_ record: SessionRecord) -> [SQLiteArgument] {
    [
      .text(record.key.rawValue), .text(record.id), .integer(record.generation),
      .blob(record.data), .integer(record.createdAt.millisecondsSince1970),
      .integer(record.updatedAt.millisecondsSince1970),
      .integer(record.expiresAt.millisecondsSince1970),
    ]
  }

  /// The session in a row of ``columns``.
  static func record(_ row: SQLiteRow) throws -> SessionRecord {
    SessionRecord(
      key: ConversationKey(rawValue: try row.text(0)), id: try row.text(1),
      generation: try row.integer(2), data: try row.bytes(3),
      createdAt: WallInstant(millisecondsSince1970: try row.integer(4)),
      updatedAt: WallInstant(millisecondsSince1970: try row.integer(5)),
      expiresAt: WallInstant(millisecondsSince1970: try row.integer(6)))
  }
}

/// A dedupe entry's row of `parley_conversation` (a MessageSid handled in the conversation) and
/// the row of `parley_reply` it points to, written, as `SessionRow`, through ``SQLiteTurnWrites``.
enum DedupeEntryRow {
  /// The reply stored for a MessageSid of a conversation whose entry has not expired by a time:
  /// the columns in the order ``reply(_:)`` reads. A live entry whose reply is missing (a damaged
  /// row) reads as NULLs, which ``reply(_:)`` refuses: its retries fail rather than run again.
  ///
  /// The MessageSid is bound as `+?`: SQLite weighs a bare `message_sid = ?` against the sweep's
  /// partial index (`message_sid = ''`) with the value bound, and so compiles the statement
  /// again whenever a new MessageSid is bound, each turn (with GRDB's authorizer, 20 µs of CPU per
  /// turn, 7%). The unary plus hides the value from that weighing, not from the primary key.
  static let selectReplySQL = """
    SELECT r.content_type, r.body, r.header_fields
    FROM parley_conversation AS e LEFT JOIN parley_reply AS r ON r.sequence = e.reply_sequence
    WHERE e.conversation_key = ? AND e.message_sid = +? AND e.expires_at > ?
    """

  /// The reply in a row of ``selectReplySQL``.
  static func reply(_ row: SQLiteRow) throws -> StoredReply {
    StoredReply(
      contentType: try row.text(0), body: try row.text(1),
      headerFields: StoredReply.headerFields(fromJSON: try row.text(2)))
  }

  /// Appends the reply, naming its entry; ``upsertEntrySQL`` then points to it
  /// (`last_insert_rowid()`).
  static let insertReplySQL = """
    INSERT INTO parley_reply
      (conversation_key, message_sid, content_type, body, header_fields, created_at, expires_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    """

  /// Inserts the entry, or replaces one for the same MessageSid in the conversation that expired
  /// by a time (the last argument): one statement (an upsert whose update only applies to an
  /// expired entry). A live entry is left as it is, and no row changes.
  static let upsertEntrySQL = """
    INSERT INTO parley_conversation
      (conversation_key, message_sid, created_at, expires_at, reply_sequence)
    VALUES (?, ?, ?, ?, last_insert_rowid())
    ON CONFLICT (conversation_key, message_sid) DO UPDATE SET
      created_at = excluded.created_at, expires_at = excluded.expires_at,
      reply_sequence = excluded.reply_sequence
    WHERE parley_conversation.expires_at <= ?
    """

  /// The arguments of ``insertReplySQL`` and ``upsertEntrySQL`` for `record`, replacing an entry
  /// that expired by `now`.
  static func arguments(_ record: DedupeRecord, replacingExpiredBy now: WallInstant)
    -> (reply: [SQLiteArgument], entry: [SQLiteArgument])
  {
    let key = SQLiteArgument.text(record.key.rawValue)
    let messageSid = SQLiteArgument.text(record.messageSid)
    let created = SQLiteArgument.integer(record.createdAt.millisecondsSince1970)
    let expires = SQLiteArgument.integer(record.expiresAt.millisecondsSince1970)
    return (
      reply: [
        key, messageSid, .text(record.reply.contentType), .text(record.reply.body),
        .text(record.reply.headerFieldsJSON), created, expires,
      ],
      entry: [key, messageSid, created, expires, .integer(now.millisecondsSince1970)]
    )
  }
}
