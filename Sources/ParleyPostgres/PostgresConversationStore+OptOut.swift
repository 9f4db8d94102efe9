import Logging
public import Parley
import PostgresNIO

extension PostgresConversationStore {
  public func optOutRecords(subscriber: String, scopes: [OptOutScope]) async throws
    -> [OptOutRecord]
  {
    guard !scopes.isEmpty else { return [] }
    let logger = self.logger
    return try await withLeasedConnection { connection in
      try await Self.optOutRecords(
        subscriber: subscriber, scopes: scopes, connection: connection, logger: logger)
    }
  }

  static func optOutRecords(
    subscriber: String, scopes: [OptOutScope], connection: PostgresConnection, logger: Logger
  ) async throws -> [OptOutRecord] {
    let rows = try await connection.checkedQuery(
      """
      SELECT scope, subscriber, opted_out, updated_at, event_sequence FROM parley_opt_out
      WHERE subscriber = \(subscriber) AND scope = ANY(\(scopes.map(\.rawValue)))
      """, logger: logger)
    return try records(rows)
  }

  /// Rows of `scope, subscriber, opted_out, updated_at, event_sequence` as records.
  static func records(_ rows: [PostgresRow]) throws -> [OptOutRecord] {
    try rows.decode((String, String, Bool, Int64, Int64).self).compactMap(record)
  }

  /// One stored opt-out row as a record; nil for a scope this version does not know.
  static func record(
    scope: String, subscriber: String, optedOut: Bool, updated: Int64, sequence: Int64
  ) -> OptOutRecord? {
    OptOutScope(rawValue: scope).map {
      OptOutRecord(
        subscriber: subscriber, scope: $0, optedOut: optedOut,
        updatedAt: WallInstant(millisecondsSince1970: updated), eventSequence: sequence)
    }
  }

  @discardableResult
  public func recordOptOutEvents(_ events: [OptOutEventDraft], now: WallInstant) async throws
    -> [OptOutEvent]
  {
    try OptOutEventDraft.check(events)
    let logger = self.logger
    return try await withLeasedTransaction { connection in
      try await Self.appendOptOutEvents(events, now: now, connection: connection, logger: logger)
    }
  }

  /// Seals `drafts` after the head (locked for the transaction, so appends from every instance
  /// form one chain), appends them, updates the records and the head.
  static func appendOptOutEvents(
    _ drafts: [OptOutEventDraft], now: WallInstant, connection: PostgresConnection, logger: Logger
  ) async throws -> [OptOutEvent] {
    var head = OptOutAuditChain.Head.empty
    let rows = try await connection.checkedQuery(
      "SELECT sequence, hash FROM parley_opt_out_audit_head WHERE id = 1 FOR UPDATE", logger: logger
    )
    for (sequence, hash) in try rows.decode((Int64, String).self) {
      head = OptOutAuditChain.Head(sequence: sequence, hash: hash)
    }
    var ledger = OptOutLedger(head: head)
    var sealed: [OptOutEvent] = []
    for draft in drafts {
      let event = ledger.append(draft, committedAt: now)
      try await connection.checkedQuery(
        """
        INSERT INTO parley_opt_out_event (sequence, subscriber, scope, action, source, keyword, body,
          message_sid, account_sid, received_at, committed_at, previous_hash, hash)
        VALUES (\(event.sequence), \(event.subscriber), \(event.scope.rawValue), \(event.action.rawValue),
          \(event.source.rawValue), \(event.keyword), \(event.body), \(event.messageSid), \(event.accountSid),
          \(event.receivedAt.millisecondsSince1970), \(event.committedAt.millisecondsSince1970),
          \(event.previousHash), \(event.hash))
        """, logger: logger)
      if let record = OptOutLedger.record(after: event) {
        try await connection.checkedQuery(
          """
          INSERT INTO parley_opt_out (scope, subscriber, opted_out, updated_at, event_sequence)
          VALUES (\(record.scope.rawValue), \(record.subscriber), \(record.optedOut),
            \(record.updatedAt.millisecondsSince1970), \(record.eventSequence))
          ON CONFLICT (scope, subscriber) DO UPDATE SET opted_out = excluded.opted_out,
            updated_at = excluded.updated_at, event_sequence = excluded.event_sequence
          """, logger: logger)
      }
      sealed.append(event)
    }
    try await connection.checkedQuery(
      "UPDATE parley_opt_out_audit_head SET sequence = \(ledger.head.sequence), hash = \(ledger.head.hash) WHERE id = 1",
      logger: logger)
    return sealed
  }

  public func optOutRecords(optedOutOnly: Bool, after cursor: OptOutRecord?, limit: Int)
    async throws
    -> [OptOutRecord]
  {
    let scope = cursor?.scope.rawValue ?? ""
    let subscriber = cursor?.subscriber ?? ""
    let logger = self.logger
    return try await withLeasedConnection { connection in
      let rows = try await connection.checkedQuery(
        """
        SELECT scope, subscriber, opted_out, updated_at, event_sequence FROM parley_opt_out
        WHERE (opted_out OR NOT \(optedOutOnly))
          AND (scope COLLATE "C", subscriber COLLATE "C") > (\(scope), \(subscriber))
        ORDER BY scope COLLATE "C", subscriber COLLATE "C" LIMIT \(Int64(limit))
        """, logger: logger)
      return try Self.records(rows)
    }
  }

  public func auditEvents(after sequence: Int64, limit: Int) async throws -> [OptOutEvent] {
    let logger = self.logger
    return try await withLeasedConnection { connection in
      try await Self.auditEvents(
        after: sequence, limit: limit, connection: connection, logger: logger)
    }
  }

  static func auditEvents(
    after sequence: Int64, limit: Int, connection: PostgresConnection, logger: Logger
  ) async throws -> [OptOutEvent] {
    let rows = try await connection.checkedQuery(
      """
      SELECT sequence, subscriber, scope, action, source, keyword, body, message_sid, account_sid,
        received_at, committed_at, previous_hash, hash
      FROM parley_opt_out_event WHERE sequence > \(sequence) ORDER BY sequence LIMIT \(Int64(limit))
      """, logger: logger)
    var events: [OptOutEvent] = []
    for (
      sequence, subscriber, scope, action, source, keyword, body, messageSid, accountSid, received,
      committed,
      previous, hash
    ) in try rows.decode(
      (
        Int64, String, String, String, String, String?, String?, String?, String?, Int64, Int64,
        String, String
      ).self)
    {
      guard let scope = OptOutScope(rawValue: scope), let action = OptOutAction(rawValue: action),
        let source = OptOutSource(rawValue: source)
      else { continue }
      events.append(
        OptOutEvent(
          sequence: sequence, subscriber: subscriber, scope: scope, action: action, source: source,
          keyword: keyword, body: body, messageSid: messageSid, accountSid: accountSid,
          receivedAt: WallInstant(millisecondsSince1970: received),
          committedAt: WallInstant(millisecondsSince1970: committed), previousHash: previous,
          hash: hash))
    }
    return events
  }

  public func auditHead() async throws -> OptOutAuditChain.Head {
    let logger = self.logger
    return try await withLeasedConnection { connection in
      let rows = try await connection.checkedQuery(
        "SELECT sequence, hash FROM parley_opt_out_audit_head WHERE id = 1", logger: logger)
      for (sequence, hash) in try rows.decode((Int64, String).self) {
        return OptOutAuditChain.Head(sequence: sequence, hash: hash)
      }
      return .empty
    }
  }
}
