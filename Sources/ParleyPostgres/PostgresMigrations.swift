import Logging
import Parley
import PostgresNIO

/// Parley's schema in PostgreSQL, as named, append-only migrations, applied in one transaction
/// under an advisory lock so that instances starting together apply each exactly once.
enum PostgresMigrations {
  /// An arbitrary constant: the advisory lock Parley's migrations take.
  static let lockID: Int64 = 0x5041_524C_4559  // "PARLEY"

  static var all: [(name: String, sql: [String])] {
    let actions = OptOutAction.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
    let sources = OptOutSource.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
    return [
      (
        "v1 sessions and processed messages",
        [
          """
          CREATE TABLE parley_session (
            conversation_key TEXT PRIMARY KEY,
            session_id TEXT NOT NULL CHECK (length(session_id) > 0),
            generation BIGINT NOT NULL CHECK (generation >= 0),
            data BYTEA NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL CHECK (updated_at >= created_at),
            expires_at BIGINT NOT NULL
          )
          """,
          "CREATE INDEX parley_session_expiry ON parley_session (expires_at)",
          """
          CREATE TABLE parley_processed_message (
            message_sid TEXT PRIMARY KEY CHECK (length(message_sid) > 0),
            conversation_key TEXT NOT NULL,
            content_type TEXT NOT NULL,
            body TEXT NOT NULL,
            header_fields TEXT NOT NULL CHECK (header_fields::jsonb IS NOT NULL),
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
          )
          """,
          "CREATE INDEX parley_processed_message_expiry ON parley_processed_message (expires_at)",
        ]
      ),
      (
        "v2 opt-outs and their audit trail",
        [
          """
          CREATE TABLE parley_opt_out_event (
            sequence BIGINT PRIMARY KEY CHECK (sequence > 0),
            subscriber TEXT NOT NULL CHECK (length(subscriber) > 0),
            scope TEXT NOT NULL CHECK (scope LIKE 'number:_%' OR scope LIKE 'service:_%'),
            action TEXT NOT NULL CHECK (action IN (\(actions))),
            source TEXT NOT NULL CHECK (source IN (\(sources))),
            keyword TEXT,
            body TEXT,
            message_sid TEXT,
            account_sid TEXT,
            received_at BIGINT NOT NULL,
            committed_at BIGINT NOT NULL,
            previous_hash TEXT NOT NULL CHECK (length(previous_hash) = 64),
            hash TEXT NOT NULL UNIQUE CHECK (length(hash) = 64)
          )
          """,
          """
          CREATE FUNCTION parley_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'the opt-out audit trail is append-only'; END $$
          """,
          """
          CREATE TRIGGER parley_opt_out_event_append_only BEFORE UPDATE OR DELETE ON parley_opt_out_event
          FOR EACH ROW EXECUTE FUNCTION parley_append_only()
          """,
          """
          CREATE TABLE parley_opt_out_audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            sequence BIGINT NOT NULL,
            hash TEXT NOT NULL CHECK (length(hash) = 64)
          )
          """,
          "INSERT INTO parley_opt_out_audit_head (id, sequence, hash) VALUES (1, 0, '\(OptOutEvent.genesisHash)')",
          """
          CREATE TABLE parley_opt_out (
            scope TEXT NOT NULL,
            subscriber TEXT NOT NULL,
            opted_out BOOLEAN NOT NULL,
            updated_at BIGINT NOT NULL,
            event_sequence BIGINT NOT NULL REFERENCES parley_opt_out_event (sequence),
            PRIMARY KEY (scope, subscriber)
          )
          """,
          "CREATE INDEX parley_opt_out_subscriber ON parley_opt_out (subscriber)",
        ]
      ),
      (
        // Every turn slides its session's expiry. With `expires_at` indexed, no such update could
        // be a heap-only (HOT) update: each wrote a new entry into both of the table's indexes.
        // The bucket (`SessionExpiryBucket`) is derived from the expiry by PostgreSQL itself, and
        // changes only when the expiry moves into a later ten minutes; PostgreSQL compares the
        // indexed values, so an update within the bucket stays HOT. The free tenth of each page
        // leaves room for the new row version beside the old one.
        "v3 sessions found for sweeping by ten-minute expiry buckets",
        [
          """
          ALTER TABLE parley_session
            ADD COLUMN expiry_bucket BIGINT GENERATED ALWAYS AS (expires_at / 600000) STORED
          """,
          "DROP INDEX parley_session_expiry",
          "CREATE INDEX parley_session_expiry_bucket ON parley_session (expiry_bucket)",
          "ALTER TABLE parley_session SET (fillfactor = 90)",
        ]
      ),
      (
        // A turn's dedupe record and session write go to the server as one statement, which is
        // atomic by itself: unless each part changed its row, this function raises, and the
        // statement's changes are undone with it. Without it the turn took BEGIN, two
        // statements and COMMIT: four round trips for one.
        "v4 a turn's writes in one statement",
        [
          """
          CREATE FUNCTION parley_turn_outcome(dedupe BIGINT, session BIGINT) RETURNS INTEGER
          LANGUAGE plpgsql AS $$
          BEGIN
            IF dedupe <> 1 THEN
              RAISE EXCEPTION 'the MessageSid has a live dedupe record'
                USING ERRCODE = '\(PostgresTurnOutcome.duplicateMessage)';
            END IF;
            IF session <> 1 THEN
              RAISE EXCEPTION 'the session changed since it was read'
                USING ERRCODE = '\(PostgresTurnOutcome.conflict)';
            END IF;
            RETURN 1;
          END $$
          """
        ]
      ),
      (
        // The same, with a third part: the sender's opt-out records the turn's reply was decided
        // on, of which none may have changed since the turn read them (`OptOutCheck`).
        "v5 a turn's writes check the sender's opt-outs",
        [
          """
          CREATE FUNCTION parley_turn_outcome(dedupe BIGINT, session BIGINT, opt_outs BIGINT)
          RETURNS INTEGER LANGUAGE plpgsql AS $$
          BEGIN
            IF opt_outs <> 0 THEN
              RAISE EXCEPTION 'the sender''s opt-out records changed since they were read'
                USING ERRCODE = '\(PostgresTurnOutcome.optOutsChanged)';
            END IF;
            RETURN parley_turn_outcome(dedupe, session);
          END $$
          """
        ]
      ),
    ]
  }

  static func apply(client: PostgresClient, logger: Logger) async throws {
    try await client.withTransaction(logger: logger) { connection in
      try await connection.query("SELECT pg_advisory_xact_lock(\(lockID))", logger: logger)
      try await connection.query(
        """
        CREATE TABLE IF NOT EXISTS parley_migrations (
          name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
        """, logger: logger)
      var applied: Set<String> = []
      for try await name in try await connection.query(
        "SELECT name FROM parley_migrations", logger: logger
      )
      .decode(String.self) {
        applied.insert(name)
      }
      for migration in all where !applied.contains(migration.name) {
        for statement in migration.sql {
          try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
        try await connection.query(
          "INSERT INTO parley_migrations (name) VALUES (\(migration.name))", logger: logger)
        logger.info("migration applied", metadata: ["parley.migration": "\(migration.name)"])
      }
    }
  }

  /// The names of the migrations applied, in order.
  static func applied(client: PostgresClient, logger: Logger) async throws -> [String] {
    var names: [String] = []
    for try await name in try await client.query(
      "SELECT name FROM parley_migrations ORDER BY applied_at, name", logger: logger
    ).decode(String.self) {
      names.append(name)
    }
    return names
  }
}
