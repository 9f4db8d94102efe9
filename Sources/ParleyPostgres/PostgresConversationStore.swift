import Foundation
public import Logging
import NIOCore
public import Parley
public import PostgresNIO

/// Parley's stores in PostgreSQL, for several instances behind a load balancer: sessions, the
/// record of answered MessageSids, opt-outs and their audit trail, with the same semantics as
/// the SQLite store (the same conformance suite runs on both).
///
/// Every turn commits in one transaction; a session write names the version it replaces, so two
/// instances racing on one conversation cannot both win (the loser's turn runs again); a
/// MessageSid's primary key makes it count once, whichever instance gets it; opt-outs are read
/// at the start of every turn, so one recorded by any instance is honoured by all at once. Only
/// bound parameters reach SQL.
///
/// Run the `PostgresClient` in the app's `ServiceGroup` (it is a `Service`), then call
/// ``prepare(allowUnsafeDurability:)`` once before serving.
public struct PostgresConversationStore: ConversationStore {
  /// The client.
  public let client: PostgresClient
  /// Where queries log (at debug: SQL never carries a phone number in clear above that).
  public let logger: Logger
  /// How long a turn waits for a connection before failing (Twilio waits 15 s in all).
  public let connectionWaitTimeout: Duration
  /// The turn's statements each connection has prepared.
  let statements = PostgresPreparedStatements()

  /// Creates a store on a client.
  public init(client: PostgresClient, logger: Logger, connectionWaitTimeout: Duration = .seconds(5))
  {
    self.client = client
    self.logger = logger
    self.connectionWaitTimeout = connectionWaitTimeout
  }

  /// Checks that the server commits durably and applies the migrations (safe when several
  /// instances start at once: an advisory lock serializes them).
  ///
  /// - Throws: ``PostgresStoreError`` when the server runs with `fsync=off` or
  ///   `synchronous_commit=off` and `allowUnsafeDurability` is false: an acknowledged opt-out
  ///   could then be lost.
  public func prepare(allowUnsafeDurability: Bool = false) async throws {
    var settings: [String: String] = [:]
    for name in ["fsync", "synchronous_commit"] {
      let rows = try await client.query(PostgresQuery(unsafeSQL: "SHOW \(name)"), logger: logger)
      for try await value in rows.decode(String.self) { settings[name] = value }
    }
    if settings["fsync"] == "off" || settings["synchronous_commit"] == "off", !allowUnsafeDurability
    {
      throw PostgresStoreError(
        "the server runs with fsync=\(settings["fsync"] ?? "?") and synchronous_commit=\(settings["synchronous_commit"] ?? "?"): acknowledged writes could be lost; fix the server or pass allowUnsafeDurability"
      )
    }
    try await PostgresMigrations.apply(client: client, logger: logger)
  }

  // MARK: Turns

  public func snapshot(_ request: SnapshotRequest) async throws -> TurnSnapshot {
    let logger = self.logger
    let statements = self.statements
    return try await withLeasedConnection { connection in
      try await Self.snapshot(
        request, connection: connection, statements: statements, logger: logger)
    }
  }

  /// Reads what a turn needs in one round trip: the session, the dedupe record of the
  /// MessageSid if it has not expired, and the subscriber's opt-out records in the scopes asked
  /// for. The opt-out records are left-joined, so the query returns one row per record, or one
  /// row when there is none; the session and the dedupe record repeat on each.
  ///
  /// Three queries before, each a round trip through the connection's event loop and the server:
  /// a turn on this store is held by its round trips more than by either side's work.
  static func snapshot(
    _ request: SnapshotRequest, connection: PostgresConnection,
    statements: PostgresPreparedStatements, logger: Logger
  ) async throws -> TurnSnapshot {
    // One placeholder per scope asked for (one NULL, which matches nothing, when none is): each
    // count of scopes is a statement of its own.
    let scopes = request.scopes.isEmpty ? [nil] : request.scopes.map(\.rawValue)
    let scopePlaceholders = (0..<scopes.count).map { "$\($0 + 5)" }.joined(separator: ", ")
    let rows = try await connection.checkedExecute(
      PreparedSQL(
        """
        SELECT s.session_id, s.generation, s.data, s.created_at, s.updated_at, s.expires_at,
          d.content_type, d.body, d.header_fields,
          o.scope, o.subscriber, o.opted_out, o.updated_at, o.event_sequence
        FROM (SELECT 1) AS turn
        LEFT JOIN parley_session AS s ON s.conversation_key = $1
        LEFT JOIN parley_processed_message AS d ON d.message_sid = $2 AND d.expires_at > $3
        LEFT JOIN parley_opt_out AS o ON o.subscriber = $4 AND o.scope IN (\(scopePlaceholders))
        """,
        binds: [
          PreparedValue.text(request.key.rawValue), PreparedValue.text(request.messageSid),
          PreparedValue.int8(request.now.millisecondsSince1970),
          PreparedValue.text(request.subscriber),
        ] + scopes.map(PreparedValue.text)),
      statements: statements, logger: logger)
    var snapshot = TurnSnapshot()
    for (index, row) in rows.enumerated() {
      let (
        id, generation, data, created, updated, expires, contentType, body, fields, scope,
        subscriber, optedOut, optOutUpdated, sequence
      ) = try row.decode(
        (
          String?, Int64?, ByteBuffer?, Int64?, Int64?, Int64?, String?, String?, String?,
          String?, String?, Bool?, Int64?, Int64?
        ).self)
      if index == 0, let id, let generation, let data, let created, let updated, let expires {
        snapshot.session = SessionRecord(
          key: request.key, id: id, generation: generation, data: Array(data.readableBytesView),
          createdAt: WallInstant(millisecondsSince1970: created),
          updatedAt: WallInstant(millisecondsSince1970: updated),
          expiresAt: WallInstant(millisecondsSince1970: expires))
      }
      if index == 0, let contentType, let body, let fields {
        snapshot.replay = StoredReply(
          contentType: contentType, body: body,
          headerFields: StoredReply.headerFields(fromJSON: fields))
      }
      if let scope, let subscriber, let optedOut, let optOutUpdated, let sequence,
        let record = record(
          scope: scope, subscriber: subscriber, optedOut: optedOut, updated: optOutUpdated,
          sequence: sequence)
      {
        snapshot.optOuts.append(record)
      }
    }
    return snapshot
  }

  public func commit(_ writes: TurnWrites) async throws {
    let logger = self.logger
    let statements = self.statements
    try await withLeasedConnection { connection in
      try await Self.commit(
        writes, connection: connection, statements: statements, logger: logger)
    }
  }

  /// Commits a turn's writes on `connection`: its dedupe record and session write in one
  /// statement, atomic by itself; a turn that records opt-out events runs that statement in a
  /// transaction after them (the events lock and read their chain's head).
  static func commit(
    _ writes: TurnWrites, connection: PostgresConnection, statements: PostgresPreparedStatements,
    logger: Logger
  ) async throws {
    if writes.optOutEvents.isEmpty {
      try await write(writes, connection: connection, statements: statements, logger: logger)
      return
    }
    try await transaction(on: connection, logger: logger) { connection in
      // The check sees the records as they were before this turn's own events.
      var rest = writes
      if let check = writes.optOutCheck {
        rest.optOutCheck = nil
        try await write(
          TurnWrites(key: writes.key, now: writes.now, optOutCheck: check),
          connection: connection, statements: statements, logger: logger)
      }
      _ = try await appendOptOutEvents(
        writes.optOutEvents, now: writes.now, connection: connection, logger: logger)
      try await write(rest, connection: connection, statements: statements, logger: logger)
    }
  }

  /// Writes the dedupe record and the session in one statement
  /// (``PostgresTurnSQL/writes(dedupe:session:now:)``). Either part changing no row throws (a
  /// duplicate first, as the turn checks it first), and nothing is written.
  private static func write(
    _ writes: TurnWrites, connection: PostgresConnection, statements: PostgresPreparedStatements,
    logger: Logger
  ) async throws {
    guard
      writes.dedupe != nil || writes.session != nil || writes.optOutCheck?.scopes.isEmpty == false
    else { return }
    let statement = PostgresTurnSQL.statement {
      $0.writes(
        dedupe: writes.dedupe, session: writes.session, check: writes.optOutCheck, now: writes.now)
    }
    do {
      _ = try await connection.checkedExecute(statement, statements: statements, logger: logger)
    } catch let error as PostgresStoreError {
      switch error.sqlState {
      case PostgresTurnOutcome.duplicateMessage: throw ConversationStoreError(.duplicateMessage)
      case PostgresTurnOutcome.conflict: throw sessionConflict
      case PostgresTurnOutcome.optOutsChanged: throw OptOutCheck.conflict
      default: throw error
      }
    }
  }

  private static let sessionConflict = ConversationStoreError(
    .conflict, "session changed since it was read")

  /// Deletes up to `limit` expired sessions and dedupe records, oldest first, through indexes.
  ///
  /// Sessions are found by the ten minutes their expiry falls in (``SessionExpiryBucket``), so a
  /// session is deleted by the first sweep after those ten minutes have passed: at most ten
  /// minutes after it expired. Until then it is never resumed: a turn treats a session past its
  /// `expiresAt` as gone, whether or not it was swept.
  public func sweep(now: WallInstant, limit: Int) async throws -> SweepResult {
    let cutoff = now.millisecondsSince1970
    let batch = Int64(limit)
    let logger = self.logger
    return try await withLeasedTransaction { connection in
      let sessions = try await connection.checkedQuery(
        """
        DELETE FROM parley_session WHERE conversation_key IN (
          SELECT conversation_key FROM parley_session WHERE expiry_bucket < \(SessionExpiryBucket.of(now))
          ORDER BY expiry_bucket LIMIT \(batch) FOR UPDATE SKIP LOCKED)
        RETURNING 1
        """, logger: logger
      ).count
      let dedupe = try await connection.checkedQuery(
        """
        DELETE FROM parley_processed_message WHERE message_sid IN (
          SELECT message_sid FROM parley_processed_message WHERE expires_at <= \(cutoff)
          ORDER BY expires_at LIMIT \(batch) FOR UPDATE SKIP LOCKED)
        RETURNING 1
        """, logger: logger
      ).count
      return SweepResult(sessions: sessions, dedupeRecords: dedupe)
    }
  }

  public func session(for key: ConversationKey) async throws -> SessionRecord? {
    try await snapshot(
      SnapshotRequest(key: key, messageSid: nil, now: WallInstant(millisecondsSince1970: 0))
    ).session
  }

  public func sessions(after key: ConversationKey?, limit: Int) async throws -> [SessionRecord] {
    let after = key?.rawValue ?? ""
    let logger = self.logger
    return try await withLeasedConnection { connection in
      let rows = try await connection.checkedQuery(
        """
        SELECT conversation_key, session_id, generation, data, created_at, updated_at, expires_at
        FROM parley_session WHERE conversation_key > \(after) ORDER BY conversation_key COLLATE "C" LIMIT \(Int64(limit))
        """, logger: logger)
      var records: [SessionRecord] = []
      for (key, id, generation, data, created, updated, expires) in try rows.decode(
        (String, String, Int64, ByteBuffer, Int64, Int64, Int64).self)
      {
        records.append(
          SessionRecord(
            key: ConversationKey(rawValue: key), id: id, generation: generation,
            data: Array(data.readableBytesView),
            createdAt: WallInstant(millisecondsSince1970: created),
            updatedAt: WallInstant(millisecondsSince1970: updated),
            expiresAt: WallInstant(millisecondsSince1970: expires)))
      }
      return records
    }
  }

  public func deleteSession(for key: ConversationKey) async throws -> Bool {
    let logger = self.logger
    return try await withLeasedConnection { connection in
      try await connection.checkedQuery(
        "DELETE FROM parley_session WHERE conversation_key = \(key.rawValue) RETURNING 1",
        logger: logger
      ).count == 1
    }
  }
}

/// Why the PostgreSQL store failed: it refused to run, found no connection, lost one, or the
/// server refused a statement (``sqlState``).
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
  public let description: String
  /// The SQLSTATE of the statement the server refused (`23505`, or Parley's own `PRL01` and
  /// `PRL02`); nil for every other failure.
  public let sqlState: String?

  public init(_ description: String) {
    self.description = description
    sqlState = nil
  }

  /// The server refused a statement. The description never carries the server's message, which
  /// can quote a value (a phone number) from the statement.
  static func refused(sqlState: String?) -> Self {
    Self(sqlState: sqlState)
  }

  private init(sqlState: String?) {
    description = "PostgreSQL refused the statement (SQLSTATE \(sqlState ?? "unknown"))"
    self.sqlState = sqlState
  }

  /// No connection could be leased within `timeout` (the server is down or the pool exhausted).
  static func connectionWait(_ timeout: Duration) -> Self {
    Self("no connection to PostgreSQL within \(timeout)")
  }

  /// The connection closed under the turn (the server went away).
  static let connectionClosed = Self("the connection to PostgreSQL closed")
}
