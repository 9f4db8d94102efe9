public import GRDB
import Parley

/// How durable each commit is.
public enum SQLiteDurability: String, Sendable, Hashable {
  /// `synchronous=FULL`: every commit is on disk before it returns (fsync). The default: an
  /// acknowledged turn, and above all an acknowledged opt-out, survives a power cut.
  case full
  /// `synchronous=NORMAL`: commits survive a crash of the process, but the last ones may be lost
  /// if the machine loses power. Faster.
  case normal
}

/// Opens Parley's SQLite database: WAL mode, the chosen durability, Parley's named migrations.
///
/// One file can hold every Parley store (sessions, opt-outs); open it once and share it.
public struct SQLiteDatabase: Sendable {
  /// The GRDB pool (WAL: readers never block the writer).
  public let pool: DatabasePool
  /// How durable commits are.
  public let durability: SQLiteDurability

  /// Opens (creating if needed) the database at `path` and migrates it.
  ///
  /// - Parameters:
  ///   - path: The database file.
  ///   - durability: How durable each commit is.
  ///   - walAutocheckpointPages: How large the write-ahead log grows, in pages (4 KiB), before a
  ///     commit copies it back into the database file (SQLite's `wal_autocheckpoint`; its own
  ///     default is 1,000). The copy runs inside that commit and stalls the turns waiting on the
  ///     writer, so fewer, larger checkpoints trade a longer stall now and then for less work
  ///     overall: a page changed by many turns is copied once. With 1,000,000 stored
  ///     conversations the benchmark's SQLite row served 22% more turns at 4,000 than at 1,000
  ///     (measured before 419008f, when the writer committed with `synchronous=NORMAL` whatever
  ///     the durability).
  ///     Run ``SQLiteCheckpointer`` beside the store and most of the copy is done before a commit
  ///     gets to it. 0 turns automatic checkpoints off: then the checkpointer (or your own
  ///     `PRAGMA wal_checkpoint`) is all that copies the log back.
  public init(
    path: String, durability: SQLiteDurability = .full, walAutocheckpointPages: Int = 4_000
  ) throws {
    let synchronous = "PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")"
    var configuration = Configuration()
    configuration.busyMode = .timeout(5)
    configuration.prepareDatabase { db in
      try db.execute(sql: synchronous)
      try db.execute(sql: "PRAGMA wal_autocheckpoint = \(max(0, walAutocheckpointPages))")
    }
    pool = try DatabasePool(path: path, configuration: configuration)
    // Again on the writer, which is the connection that commits: when `DatabasePool` puts a
    // database in WAL mode it sets `synchronous = NORMAL` on its writer, after `prepareDatabase`
    // ran. Until this line, a `.full` database committed without an fsync.
    try pool.writeWithoutTransaction { db in try db.execute(sql: synchronous) }
    self.durability = durability
    try Self.migrator.migrate(pool)
  }

  /// Parley's schema, as named, append-only migrations.
  static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1 sessions and processed messages") { db in
      try db.execute(
        sql: """
          CREATE TABLE parley_session (
            conversation_key TEXT PRIMARY KEY NOT NULL,
            session_id TEXT NOT NULL CHECK (length(session_id) > 0),
            generation INTEGER NOT NULL CHECK (generation >= 0),
            data BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL CHECK (updated_at >= created_at),
            expires_at INTEGER NOT NULL
          ) WITHOUT ROWID;
          CREATE INDEX parley_session_expiry ON parley_session (expires_at);
          CREATE TABLE parley_processed_message (
            message_sid TEXT PRIMARY KEY NOT NULL CHECK (length(message_sid) > 0),
            conversation_key TEXT NOT NULL,
            content_type TEXT NOT NULL,
            body TEXT NOT NULL,
            header_fields TEXT NOT NULL CHECK (json_valid(header_fields)),
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
          ) WITHOUT ROWID;
          CREATE INDEX parley_processed_message_expiry ON parley_processed_message (expires_at);
          """)
    }
    migrator.registerMigration("v2 opt-outs and their audit trail") { db in
      let actions = OptOutAction.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
      let sources = OptOutSource.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
      try db.execute(
        sql: """
          CREATE TABLE parley_opt_out_event (
            sequence INTEGER PRIMARY KEY CHECK (sequence > 0),
            subscriber TEXT NOT NULL CHECK (length(subscriber) > 0),
            scope TEXT NOT NULL CHECK (scope LIKE 'number:_%' OR scope LIKE 'service:_%'),
            action TEXT NOT NULL CHECK (action IN (\(actions))),
            source TEXT NOT NULL CHECK (source IN (\(sources))),
            keyword TEXT,
            body TEXT,
            message_sid TEXT,
            account_sid TEXT,
            received_at INTEGER NOT NULL,
            committed_at INTEGER NOT NULL,
            previous_hash TEXT NOT NULL CHECK (length(previous_hash) = 64),
            hash TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
          );
          CREATE TRIGGER parley_opt_out_event_append_only_update BEFORE UPDATE ON parley_opt_out_event
          BEGIN SELECT RAISE(ABORT, 'the opt-out audit trail is append-only'); END;
          CREATE TRIGGER parley_opt_out_event_append_only_delete BEFORE DELETE ON parley_opt_out_event
          BEGIN SELECT RAISE(ABORT, 'the opt-out audit trail is append-only'); END;
          CREATE TABLE parley_opt_out_audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            sequence INTEGER NOT NULL,
            hash TEXT NOT NULL CHECK (length(hash) = 64)
          );
          CREATE TABLE parley_opt_out (
            scope TEXT NOT NULL,
            subscriber TEXT NOT NULL,
            opted_out INTEGER NOT NULL CHECK (opted_out IN (0, 1)),
            updated_at INTEGER NOT NULL,
            event_sequence INTEGER NOT NULL REFERENCES parley_opt_out_event (sequence),
            PRIMARY KEY (scope, subscriber)
          ) WITHOUT ROWID;
          CREATE INDEX parley_opt_out_subscriber ON parley_opt_out (subscriber);
          """)
    }
    migrator.registerMigration("v3 processed messages in arrival order") { db in
      // Keyed by the random MessageSid, each dedupe record went into a random page of a big
      // table: a dirty page per turn, and with a million records a working set too large for any
      // cache. In arrival order the records of a group of turns share the last pages; only the
      // small MessageSid index takes a random page.
      try db.execute(
        sql: """
          CREATE TABLE parley_processed_message_v3 (
            sequence INTEGER PRIMARY KEY,
            message_sid TEXT NOT NULL UNIQUE CHECK (length(message_sid) > 0),
            conversation_key TEXT NOT NULL,
            content_type TEXT NOT NULL,
            body TEXT NOT NULL,
            header_fields TEXT NOT NULL CHECK (json_valid(header_fields)),
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
          );
          INSERT INTO parley_processed_message_v3
            (message_sid, conversation_key, content_type, body, header_fields, created_at, expires_at)
          SELECT message_sid, conversation_key, content_type, body, header_fields, created_at,
            expires_at
          FROM parley_processed_message ORDER BY created_at, message_sid;
          DROP TABLE parley_processed_message;
          ALTER TABLE parley_processed_message_v3 RENAME TO parley_processed_message;
          CREATE INDEX parley_processed_message_expiry ON parley_processed_message (expires_at);
          """)
    }
    migrator.registerMigration("v4 sessions found for sweeping by a trailing sweep time") { db in
      // Indexed on `expires_at`, every turn moved its session's index entry (`SessionSweepTime`).
      // The window (600,000 ms) must stay `SessionSweepTime.window`.
      try db.execute(
        sql: """
          CREATE TABLE parley_session_v4 (
            conversation_key TEXT PRIMARY KEY NOT NULL,
            session_id TEXT NOT NULL CHECK (length(session_id) > 0),
            generation INTEGER NOT NULL CHECK (generation >= 0),
            data BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL CHECK (updated_at >= created_at),
            expires_at INTEGER NOT NULL,
            sweep_at INTEGER NOT NULL
              CHECK (sweep_at <= expires_at AND expires_at - sweep_at <= 600000)
          ) WITHOUT ROWID;
          INSERT INTO parley_session_v4
            (conversation_key, session_id, generation, data, created_at, updated_at, expires_at,
             sweep_at)
          SELECT conversation_key, session_id, generation, data, created_at, updated_at,
            expires_at, expires_at
          FROM parley_session;
          DROP TABLE parley_session;
          ALTER TABLE parley_session_v4 RENAME TO parley_session;
          CREATE INDEX parley_session_sweep ON parley_session (sweep_at);
          """)
    }
    migrator.registerMigration("v5 dedupe entries beside their conversation's session") { db in
      // Keyed by the random MessageSid, each turn's dedupe record took a random page of a
      // million-entry index. Keyed by conversation, then MessageSid, in one table with the
      // session (whose row has the MessageSid ''), it takes the page the turn changes anyway. The
      // reply is appended to a table of its own, whose expiry index the sweep finds the expired
      // entries through (each reply names its entry): the entries need no index of their own.
      // See `SQLiteConversationStore`.
      // The window (600,000 ms) must stay `SessionSweepTime.window`.
      try db.execute(
        sql: """
          CREATE TABLE parley_reply (
            sequence INTEGER PRIMARY KEY,
            conversation_key TEXT NOT NULL,
            message_sid TEXT NOT NULL CHECK (length(message_sid) > 0),
            content_type TEXT NOT NULL,
            body TEXT NOT NULL,
            header_fields TEXT NOT NULL CHECK (json_valid(header_fields)),
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
          );
          INSERT INTO parley_reply
            (sequence, conversation_key, message_sid, content_type, body, header_fields,
             created_at, expires_at)
          SELECT sequence, conversation_key, message_sid, content_type, body, header_fields,
            created_at, expires_at
          FROM parley_processed_message ORDER BY sequence;
          CREATE INDEX parley_reply_expiry ON parley_reply (expires_at);
          CREATE TABLE parley_conversation (
            conversation_key TEXT NOT NULL,
            message_sid TEXT NOT NULL,
            session_id TEXT CHECK (length(session_id) > 0),
            generation INTEGER CHECK (generation >= 0),
            data BLOB,
            created_at INTEGER NOT NULL,
            updated_at INTEGER CHECK (updated_at >= created_at),
            expires_at INTEGER NOT NULL,
            sweep_at INTEGER
              CHECK (sweep_at <= expires_at AND expires_at - sweep_at <= 600000),
            reply_sequence INTEGER,
            PRIMARY KEY (conversation_key, message_sid),
            CHECK (
              CASE WHEN message_sid = '' THEN
                session_id IS NOT NULL AND generation IS NOT NULL AND data IS NOT NULL
                  AND updated_at IS NOT NULL AND sweep_at IS NOT NULL AND reply_sequence IS NULL
              ELSE
                session_id IS NULL AND generation IS NULL AND data IS NULL AND updated_at IS NULL
                  AND sweep_at IS NULL AND reply_sequence IS NOT NULL
              END)
          ) WITHOUT ROWID;
          INSERT INTO parley_conversation
            (conversation_key, message_sid, session_id, generation, data, created_at, updated_at,
             expires_at, sweep_at)
          SELECT conversation_key, '', session_id, generation, data, created_at, updated_at,
            expires_at, sweep_at
          FROM parley_session;
          INSERT INTO parley_conversation
            (conversation_key, message_sid, created_at, expires_at, reply_sequence)
          SELECT conversation_key, message_sid, created_at, expires_at, sequence
          FROM parley_processed_message;
          DROP TABLE parley_session;
          DROP TABLE parley_processed_message;
          CREATE INDEX parley_conversation_session_sweep ON parley_conversation (sweep_at)
            WHERE message_sid = '';
          """)
    }
    return migrator
  }
}

extension Database {
  /// Runs `body`, whose transactions commit with `synchronous=FULL` (fsync'd) when `enabled`,
  /// even on a database opened with ``SQLiteDurability/normal``: opt-outs are on disk before they
  /// are acknowledged.
  func withFullSync<T>(if enabled: Bool, _ body: () throws -> T) throws -> T {
    guard enabled else { return try body() }
    try execute(sql: "PRAGMA synchronous = FULL")
    defer { try? execute(sql: "PRAGMA synchronous = NORMAL") }
    return try body()
  }

  /// Begins a transaction through a cached statement. GRDB's `beginTransaction` and `commit`
  /// build their SQL and prepare it anew each time (five allocations and a parse for each
  /// statement); the group commit and the snapshots' batches begin and end one transaction per
  /// batch on the writer every turn waits for.
  private func beginCachedTransaction(_ kind: TransactionKind) throws {
    let sql =
      switch kind {
      case .deferred: "BEGIN DEFERRED TRANSACTION"
      case .immediate: "BEGIN IMMEDIATE TRANSACTION"
      case .exclusive: "BEGIN EXCLUSIVE TRANSACTION"
      }
    try cachedStatement(sql: sql).execute()
  }

  /// Commits the transaction begun by ``beginCachedTransaction(_:)`` through a cached statement.
  private func commitCachedTransaction() throws {
    try cachedStatement(sql: "COMMIT TRANSACTION").execute()
  }

  /// GRDB's `inTransaction(_:_:)` with cached statements to begin and commit: runs `body` in a
  /// transaction of `kind`, commits it and returns what `body` returned, or rolls it back and
  /// rethrows when `body` or the commit throws.
  func inCachedTransaction<T>(_ kind: TransactionKind, _ body: () throws -> T) throws -> T {
    try beginCachedTransaction(kind)
    do {
      let result = try body()
      try commitCachedTransaction()
      return result
    } catch {
      // GRDB's rollback runs only while a transaction is open (SQLite may have rolled it back
      // on an I/O error already); the error that ended the transaction is the one reported.
      try? rollback()
      throw error
    }
  }
}
