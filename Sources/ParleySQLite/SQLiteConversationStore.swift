import GRDB
public import Parley

/// The default conversation store: sessions and processed messages in SQLite (through GRDB).
///
/// Turns that commit while the writer is busy share one SQLite transaction (group commit), each
/// in its own savepoint; with ``SQLiteDurability/full`` the transaction is fsync'd before any of
/// their ``commit(_:)`` calls returns. Likewise the snapshots asked for while the writer is busy
/// are read together, in one read transaction on the writer's connection. Expired rows are found
/// through indexes: dedupe records by their expiry, sessions by a sweep time that trails theirs by
/// up to ten minutes, so a turn that slides a session's expiry seldom writes an index entry.
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
          do {
            try db.beginTransaction(.deferred)
          } catch {
            body(.failure(error))
            return
          }
          body(.success(db))
          do { try db.commit() } catch { try? db.rollback() }
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
    if let messageSid = request.messageSid {
      snapshot.replay = try db.firstRow(
        ProcessedMessageRow.selectReplySQL,
        [.text(messageSid), .integer(request.now.millisecondsSince1970)], ProcessedMessageRow.reply)
    }
    if let subscriber = request.subscriber {
      snapshot.optOuts = try optOutRecords(subscriber: subscriber, scopes: request.scopes, in: db)
    }
    return snapshot
  }

  public func commit(_ writes: TurnWrites) async throws {
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
    DELETE FROM parley_session WHERE conversation_key IN (
      SELECT conversation_key FROM parley_session WHERE sweep_at <= ? ORDER BY sweep_at LIMIT ?)
    """
  /// Deletes up to a number of dedupe records expired by a time, oldest first, through their
  /// expiry's index.
  static let sweepDedupeRecordsSQL = """
    DELETE FROM parley_processed_message WHERE sequence IN (
      SELECT sequence FROM parley_processed_message WHERE expires_at <= ? ORDER BY expires_at
      LIMIT ?)
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
        sql: Self.sweepDedupeRecordsSQL, arguments: [now.millisecondsSince1970, limit])
      return SweepResult(sessions: sessions, dedupeRecords: db.changesCount)
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
        SELECT \(SessionRow.columns) FROM parley_session
        \(key == nil ? "" : "WHERE conversation_key > ?") ORDER BY conversation_key LIMIT ?
        """, arguments, SessionRow.record)
    }
  }

  public func deleteSession(for key: ConversationKey) async throws -> Bool {
    try await database.pool.write { db in
      try db.run("DELETE FROM parley_session WHERE conversation_key = ?", [.text(key.rawValue)]) > 0
    }
  }
}

/// A row of `parley_session`, read and inserted column by column with cached statements: every
/// turn does both, and with GRDB's `PersistableRecord.insert` the benchmark's SQLite row served
/// 12% fewer turns (3,925 against 4,473 req/s, side by side; measured before 419008f, with the
/// writer at `synchronous=NORMAL`).
enum SessionRow {
  /// The columns ``record(_:)`` reads, in its order.
  static let columns =
    "conversation_key, session_id, generation, data, created_at, updated_at, expires_at"

  /// The session of one conversation.
  static let selectSQL = "SELECT \(columns) FROM parley_session WHERE conversation_key = ?"

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

/// A row of `parley_processed_message`: a handled MessageSid and the reply it got (written, as
/// `SessionRow`, through ``SQLiteTurnWrites``).
enum ProcessedMessageRow {
  /// The reply stored for a MessageSid whose record has not expired by a time: the columns in the
  /// order ``reply(_:)`` reads.
  static let selectReplySQL = """
    SELECT content_type, body, header_fields FROM parley_processed_message
    WHERE message_sid = ? AND expires_at > ?
    """

  /// The reply in a row of ``selectReplySQL``.
  static func reply(_ row: SQLiteRow) throws -> StoredReply {
    StoredReply(
      contentType: try row.text(0), body: try row.text(1),
      headerFields: StoredReply.headerFields(fromJSON: try row.text(2)))
  }

  /// Inserts the record, or replaces one for the same MessageSid that expired by a time (the
  /// last argument): one statement (an upsert whose update only applies to an expired record),
  /// where a DELETE and an INSERT were two. A live record is left as it is, and no row changes.
  static let upsertSQL = """
    INSERT INTO parley_processed_message
      (message_sid, conversation_key, content_type, body, header_fields, created_at, expires_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (message_sid) DO UPDATE SET
      conversation_key = excluded.conversation_key, content_type = excluded.content_type,
      body = excluded.body, header_fields = excluded.header_fields,
      created_at = excluded.created_at, expires_at = excluded.expires_at
    WHERE parley_processed_message.expires_at <= ?
    """

  /// The arguments of ``upsertSQL`` for `record`, replacing a record that expired by `now`.
  static func upsertArguments(_ record: DedupeRecord, replacingExpiredBy now: WallInstant)
    -> [SQLiteArgument]
  {
    [
      .text(record.messageSid), .text(record.key.rawValue), .text(record.reply.contentType),
      .text(record.reply.body), .text(record.reply.headerFieldsJSON),
      .integer(record.createdAt.millisecondsSince1970),
      .integer(record.expiresAt.millisecondsSince1970), .integer(now.millisecondsSince1970),
    ]
  }
}
