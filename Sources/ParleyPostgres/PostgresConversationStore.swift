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
    return try await withLeasedConnection { connection in
      try await Self.snapshot(request, connection: connection, logger: logger)
    }
  }

  static func snapshot(_ request: SnapshotRequest, connection: PostgresConnection, logger: Logger)
    async throws
    -> TurnSnapshot
  {
    var snapshot = TurnSnapshot()
    let key = request.key.rawValue
    let sessions = try await connection.checkedQuery(
      """
      SELECT session_id, generation, data, created_at, updated_at, expires_at
      FROM parley_session WHERE conversation_key = \(key)
      """, logger: logger)
    for (id, generation, data, created, updated, expires) in try sessions.decode(
      (String, Int64, ByteBuffer, Int64, Int64, Int64).self)
    {
      snapshot.session = SessionRecord(
        key: request.key, id: id, generation: generation, data: Array(data.readableBytesView),
        createdAt: WallInstant(millisecondsSince1970: created),
        updatedAt: WallInstant(millisecondsSince1970: updated),
        expiresAt: WallInstant(millisecondsSince1970: expires))
    }
    if let sid = request.messageSid {
      let now = request.now.millisecondsSince1970
      let replies = try await connection.checkedQuery(
        """
        SELECT content_type, body, header_fields FROM parley_processed_message
        WHERE message_sid = \(sid) AND expires_at > \(now)
        """, logger: logger)
      for (contentType, body, fields) in try replies.decode((String, String, String).self) {
        snapshot.replay = StoredReply(
          contentType: contentType, body: body,
          headerFields: StoredReply.headerFields(fromJSON: fields))
      }
    }
    if let subscriber = request.subscriber, !request.scopes.isEmpty {
      snapshot.optOuts = try await Self.optOutRecords(
        subscriber: subscriber, scopes: request.scopes, connection: connection, logger: logger)
    }
    return snapshot
  }

  public func commit(_ writes: TurnWrites) async throws {
    let logger = self.logger
    try await withLeasedTransaction { connection in
      try await Self.apply(writes, connection: connection, logger: logger)
    }
  }

  static func apply(_ writes: TurnWrites, connection: PostgresConnection, logger: Logger)
    async throws
  {
    if !writes.optOutEvents.isEmpty {
      _ = try await appendOptOutEvents(
        writes.optOutEvents, now: writes.now, connection: connection, logger: logger)
    }
    if let dedupe = writes.dedupe {
      let now = writes.now.millisecondsSince1970
      try await connection.checkedQuery(
        "DELETE FROM parley_processed_message WHERE message_sid = \(dedupe.messageSid) AND expires_at <= \(now)",
        logger: logger)
      let fields = dedupe.reply.headerFieldsJSON
      let created = dedupe.createdAt.millisecondsSince1970
      let expires = dedupe.expiresAt.millisecondsSince1970
      let inserted = try await connection.checkedQuery(
        """
        INSERT INTO parley_processed_message
          (message_sid, conversation_key, content_type, body, header_fields, created_at, expires_at)
        VALUES (\(dedupe.messageSid), \(dedupe.key.rawValue), \(dedupe.reply.contentType), \(dedupe.reply.body),
          \(fields), \(created), \(expires))
        ON CONFLICT (message_sid) DO NOTHING RETURNING 1
        """, logger: logger
      )
      guard inserted.count == 1 else { throw ConversationStoreError(.duplicateMessage) }
    }
    let changed: Int
    switch writes.session {
    case nil:
      return
    case .save(let record, expected: nil):
      changed = try await connection.checkedQuery(
        """
        INSERT INTO parley_session
          (conversation_key, session_id, generation, data, created_at, updated_at, expires_at)
        VALUES (\(record.key.rawValue), \(record.id), \(record.generation), \(ByteBuffer(bytes: record.data)),
          \(record.createdAt.millisecondsSince1970), \(record.updatedAt.millisecondsSince1970),
          \(record.expiresAt.millisecondsSince1970))
        ON CONFLICT (conversation_key) DO NOTHING RETURNING 1
        """, logger: logger
      ).count
    case .save(let record, expected: let expected?):
      changed = try await connection.checkedQuery(
        """
        UPDATE parley_session SET session_id = \(record.id), generation = \(record.generation),
          data = \(ByteBuffer(bytes: record.data)), created_at = \(record.createdAt.millisecondsSince1970),
          updated_at = \(record.updatedAt.millisecondsSince1970), expires_at = \(record.expiresAt.millisecondsSince1970)
        WHERE conversation_key = \(record.key.rawValue) AND session_id = \(expected.id)
          AND generation = \(expected.generation)
        RETURNING 1
        """, logger: logger
      ).count
    case .touch(let key, let expected, let updatedAt, let expiresAt):
      changed = try await connection.checkedQuery(
        """
        UPDATE parley_session SET updated_at = \(updatedAt.millisecondsSince1970),
          expires_at = \(expiresAt.millisecondsSince1970)
        WHERE conversation_key = \(key.rawValue) AND session_id = \(expected.id) AND generation = \(expected.generation)
        RETURNING 1
        """, logger: logger
      ).count
    case .delete(let key, let expected):
      changed = try await connection.checkedQuery(
        """
        DELETE FROM parley_session
        WHERE conversation_key = \(key.rawValue) AND session_id = \(expected.id) AND generation = \(expected.generation)
        RETURNING 1
        """, logger: logger
      ).count
    }
    if changed != 1 { throw ConversationStoreError(.conflict, "session changed since it was read") }
  }

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

/// Why the PostgreSQL store refuses to run.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }

  /// No connection could be leased within `timeout` (the server is down or the pool exhausted).
  static func connectionWait(_ timeout: Duration) -> Self {
    Self("no connection to PostgreSQL within \(timeout)")
  }

  /// The connection closed under the turn (the server went away).
  static let connectionClosed = Self("the connection to PostgreSQL closed")
}
