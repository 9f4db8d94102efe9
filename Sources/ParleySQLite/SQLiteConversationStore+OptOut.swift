import GRDB
public import Parley

extension SQLiteConversationStore {
  public func optOutRecords(subscriber: String, scopes: [OptOutScope]) async throws
    -> [OptOutRecord]
  {
    try await database.pool.read { db in
      try Self.optOutRecords(subscriber: subscriber, scopes: scopes, in: db)
    }
  }

  static func optOutRecords(subscriber: String, scopes: [OptOutScope], in db: Database) throws
    -> [OptOutRecord]
  {
    guard !scopes.isEmpty else { return [] }
    // Every turn runs this, with one or two scopes: a cached statement per count, read without
    // GRDB's records (`allRows`).
    var arguments: [SQLiteArgument] = []
    arguments.reserveCapacity(scopes.count + 1)
    arguments.append(.text(subscriber))
    for scope in scopes { arguments.append(.text(scope.rawValue)) }
    return try db.allRows(OptOutRow.selectSQL(scopes: scopes.count), arguments, OptOutRow.record)
  }

  @discardableResult
  public func recordOptOutEvents(_ events: [OptOutEventDraft], now: WallInstant) async throws
    -> [OptOutEvent]
  {
    try OptOutEventDraft.check(events)
    return try await write(durable: true) { db in
      try Self.appendOptOutEvents(events, now: now, in: db)
    }
  }

  /// Seals `drafts` after the stored head, appends them, updates the records and the head.
  static func appendOptOutEvents(_ drafts: [OptOutEventDraft], now: WallInstant, in db: Database)
    throws
    -> [OptOutEvent]
  {
    let head = try AuditHeadRow.fetchOne(db, key: 1)
    var ledger = OptOutLedger(
      head: head.map { OptOutAuditChain.Head(sequence: $0.sequence, hash: $0.hash) } ?? .empty)
    var sealed: [OptOutEvent] = []
    for draft in drafts {
      let event = ledger.append(draft, committedAt: now)
      try OptOutEventRow(event).insert(db)
      if let record = OptOutLedger.record(after: event) {
        // Plain SQL: GRDB's upsert asks for a rowid, which a WITHOUT ROWID table lacks.
        try db.execute(
          sql: """
            INSERT INTO parley_opt_out (scope, subscriber, opted_out, updated_at, event_sequence)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (scope, subscriber) DO UPDATE SET
              opted_out = excluded.opted_out, updated_at = excluded.updated_at,
              event_sequence = excluded.event_sequence
            """,
          arguments: [
            record.scope.rawValue, record.subscriber, record.optedOut,
            record.updatedAt.millisecondsSince1970, record.eventSequence,
          ])
      }
      sealed.append(event)
    }
    try AuditHeadRow(id: 1, sequence: ledger.head.sequence, hash: ledger.head.hash).upsert(db)
    return sealed
  }

  public func optOutRecords(optedOutOnly: Bool, after cursor: OptOutRecord?, limit: Int)
    async throws
    -> [OptOutRecord]
  {
    try await database.pool.read { db in
      var conditions: [String] = []
      var arguments: [SQLiteArgument] = []
      if optedOutOnly { conditions.append("opted_out = 1") }
      if let cursor {
        conditions.append("(scope, subscriber) > (?, ?)")
        arguments += [.text(cursor.scope.rawValue), .text(cursor.subscriber)]
      }
      arguments.append(.integer(Int64(limit)))
      let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
      return try db.allRows(
        "SELECT \(OptOutRow.columns) FROM parley_opt_out \(filter) ORDER BY scope, subscriber LIMIT ?",
        arguments, OptOutRow.record)
    }
  }

  public func auditEvents(after sequence: Int64, limit: Int) async throws -> [OptOutEvent] {
    try await database.pool.read { db in
      try OptOutEventRow.filter(Column("sequence") > sequence).order(Column("sequence")).limit(
        limit
      )
      .fetchAll(db).compactMap(\.event)
    }
  }

  public func auditHead() async throws -> OptOutAuditChain.Head {
    try await database.pool.read { db in
      try AuditHeadRow.fetchOne(db, key: 1).map {
        OptOutAuditChain.Head(sequence: $0.sequence, hash: $0.hash)
      }
        ?? .empty
    }
  }
}

/// A row of `parley_opt_out`: the current state of one subscriber in one scope.
enum OptOutRow {
  /// The columns ``record(_:)`` reads, in its order.
  static let columns = "scope, subscriber, opted_out, updated_at, event_sequence"

  /// The records of one subscriber in `scopes` scopes. A turn asks for one or two, whose SQL is
  /// made once.
  static func selectSQL(scopes: Int) -> String {
    scopes < usualSelects.count ? usualSelects[scopes] : select(scopes)
  }

  private static let usualSelects = (0...2).map(select)

  private static func select(_ scopes: Int) -> String {
    let placeholders = Array(repeating: "?", count: scopes).joined(separator: ", ")
    return
      "SELECT \(columns) FROM parley_opt_out WHERE subscriber = ? AND scope IN (\(placeholders))"
  }

  /// The record in a row of ``columns``; nil for a scope this version does not know.
  static func record(_ row: SQLiteRow) throws -> OptOutRecord? {
    let optedOut = try row.integer(2)
    guard optedOut == 0 || optedOut == 1 else {
      throw DatabaseError(resultCode: .SQLITE_MISMATCH, message: "opted_out is \(optedOut)")
    }
    return try OptOutScope(rawValue: try row.text(0)).map {
      OptOutRecord(
        subscriber: try row.text(1), scope: $0, optedOut: optedOut == 1,
        updatedAt: WallInstant(millisecondsSince1970: try row.integer(3)),
        eventSequence: try row.integer(4))
    }
  }
}

/// A row of `parley_opt_out_event`: one event of the append-only audit trail.
struct OptOutEventRow: Codable, FetchableRecord, PersistableRecord {
  static let databaseTableName = "parley_opt_out_event"

  var sequence: Int64
  var subscriber: String
  var scope: String
  var action: String
  var source: String
  var keyword: String?
  var body: String?
  var messageSid: String?
  var accountSid: String?
  var receivedAt: Int64
  var committedAt: Int64
  var previousHash: String
  var hash: String

  enum CodingKeys: String, CodingKey {
    case sequence, subscriber, scope, action, source, keyword, body, hash
    case messageSid = "message_sid"
    case accountSid = "account_sid"
    case receivedAt = "received_at"
    case committedAt = "committed_at"
    case previousHash = "previous_hash"
  }

  init(_ event: OptOutEvent) {
    sequence = event.sequence
    subscriber = event.subscriber
    scope = event.scope.rawValue
    action = event.action.rawValue
    source = event.source.rawValue
    keyword = event.keyword
    body = event.body
    messageSid = event.messageSid
    accountSid = event.accountSid
    receivedAt = event.receivedAt.millisecondsSince1970
    committedAt = event.committedAt.millisecondsSince1970
    previousHash = event.previousHash
    hash = event.hash
  }

  /// The event; nil only if a row holds values the schema's checks should have refused.
  var event: OptOutEvent? {
    guard let scope = OptOutScope(rawValue: scope), let action = OptOutAction(rawValue: action),
      let source = OptOutSource(rawValue: source)
    else { return nil }
    return OptOutEvent(
      sequence: sequence, subscriber: subscriber, scope: scope, action: action, source: source,
      keyword: keyword, body: body, messageSid: messageSid, accountSid: accountSid,
      receivedAt: WallInstant(millisecondsSince1970: receivedAt),
      committedAt: WallInstant(millisecondsSince1970: committedAt), previousHash: previousHash,
      hash: hash)
  }
}

/// The single row of `parley_opt_out_audit_head`.
struct AuditHeadRow: Codable, FetchableRecord, PersistableRecord {
  static let databaseTableName = "parley_opt_out_audit_head"

  var id: Int64
  var sequence: Int64
  var hash: String
}
