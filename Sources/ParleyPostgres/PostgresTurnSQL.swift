import Parley
import PostgresNIO

/// The SQL states `parley_turn_outcome` (migration v4) raises when the parts of a turn's write
/// statement disagree.
enum PostgresTurnOutcome {
  /// The MessageSid has a dedupe record that has not expired: the turn is a duplicate.
  static let duplicateMessage = "PRL01"
  /// The session changed since the turn read it.
  static let conflict = "PRL02"
  /// The sender's opt-out records changed since the turn read them (migration v5).
  static let optOutsChanged = "PRL03"
}

/// A turn's write statement (``writes(dedupe:session:now:)``), built from parts that each return
/// one row when they changed their row. Each part binds its values as it is written, numbering
/// its placeholders after those bound before it, so the parts join into one statement. Each shape
/// of it (which parts, which session write) is one prepared statement per connection.
struct PostgresTurnSQL {
  private var binds: [PostgresData] = []

  private init() {
    binds.reserveCapacity(16)
  }

  /// The statement `write` returns, with the values its parts bound. (Only here are the text and
  /// its values put together, once the text is whole: a statement made from the values while a
  /// part was still being written would miss that part's.)
  static func statement(_ write: (inout PostgresTurnSQL) -> String) -> PreparedSQL {
    var sql = PostgresTurnSQL()
    let text = write(&sql)
    return PreparedSQL(text, binds: sql.binds)
  }

  /// Binds `value` and returns its placeholder.
  private mutating func bind(_ value: PostgresData) -> String {
    binds.append(value)
    return "$\(binds.count)"
  }

  private mutating func bind(_ value: String) -> String { bind(PreparedValue.text(value)) }
  private mutating func bind(_ value: Int64) -> String { bind(PreparedValue.int8(value)) }
  private mutating func bind(_ value: [UInt8]) -> String { bind(PreparedValue.bytea(value)) }

  /// The turn's dedupe record and session write as one statement, which `parley_turn_outcome`
  /// makes fail, undoing both, unless each part given changed its row and none of the sender's
  /// opt-out records `check` names changed since the snapshot. A part not given counts as
  /// changed. At least one part must be given.
  mutating func writes(
    dedupe record: DedupeRecord?, session write: SessionWrite?, check: OptOutCheck?,
    now: WallInstant
  ) -> String {
    var parts: [String] = []
    var dedupeChanged = "1"
    var sessionChanged = "1"
    var optOutsChanged = "0"
    if let check, !check.scopes.isEmpty {
      parts.append("opt_outs AS (\(optOuts(check)))")
      optOutsChanged = "(SELECT count(*) FROM opt_outs)"
    }
    if let record {
      parts.append("dedupe AS (\(dedupe(record, now: now)))")
      dedupeChanged = "(SELECT count(*) FROM dedupe)"
    }
    if let write {
      parts.append("session AS (\(session(write)))")
      sessionChanged = "(SELECT count(*) FROM session)"
    }
    precondition(!parts.isEmpty, "a turn's write statement needs a part")
    return "WITH \(parts.joined(separator: ", "))\n"
      + "SELECT parley_turn_outcome(\(dedupeChanged), \(sessionChanged), \(optOutsChanged))"
  }

  /// A row when a record of the sender in the scopes was set by an event later than the snapshot
  /// saw (``OptOutCheck``).
  private mutating func optOuts(_ check: OptOutCheck) -> String {
    let scopes = check.scopes.map { bind($0.rawValue) }.joined(separator: ", ")
    return """
      SELECT 1 FROM parley_opt_out WHERE subscriber = \(bind(check.subscriber)) \
      AND scope IN (\(scopes)) AND event_sequence > \(bind(check.seenThrough)) LIMIT 1
      """
  }

  /// Inserts the dedupe record, or replaces a record of its MessageSid that has expired (one
  /// statement where a delete of the expired record and an insert took two). No row: the
  /// MessageSid has a live record.
  private mutating func dedupe(_ record: DedupeRecord, now: WallInstant) -> String {
    """
    INSERT INTO parley_processed_message AS p
      (message_sid, conversation_key, content_type, body, header_fields, created_at, expires_at)
    VALUES (\(bind(record.messageSid)), \(bind(record.key.rawValue)), \
    \(bind(record.reply.contentType)), \(bind(record.reply.body)), \
    \(bind(record.reply.headerFieldsJSON)), \(bind(record.createdAt.millisecondsSince1970)), \
    \(bind(record.expiresAt.millisecondsSince1970)))
    ON CONFLICT (message_sid) DO UPDATE SET conversation_key = EXCLUDED.conversation_key,
      content_type = EXCLUDED.content_type, body = EXCLUDED.body,
      header_fields = EXCLUDED.header_fields, created_at = EXCLUDED.created_at,
      expires_at = EXCLUDED.expires_at
    WHERE p.expires_at <= \(bind(now.millisecondsSince1970))
    RETURNING 1
    """
  }

  /// The session's insert, update, touch or delete, each of the version the turn read. No row:
  /// the session changed since (or, for an insert, one already exists).
  private mutating func session(_ write: SessionWrite) -> String {
    switch write {
    case .save(let record, expected: nil):
      """
      INSERT INTO parley_session
        (conversation_key, session_id, generation, data, created_at, updated_at, expires_at)
      VALUES (\(bind(record.key.rawValue)), \(bind(record.id)), \(bind(record.generation)), \
      \(bind(record.data)), \(bind(record.createdAt.millisecondsSince1970)), \
      \(bind(record.updatedAt.millisecondsSince1970)), \
      \(bind(record.expiresAt.millisecondsSince1970)))
      ON CONFLICT (conversation_key) DO NOTHING RETURNING 1
      """
    case .save(let record, expected: let expected?):
      """
      UPDATE parley_session SET session_id = \(bind(record.id)), \
      generation = \(bind(record.generation)), data = \(bind(record.data)), \
      created_at = \(bind(record.createdAt.millisecondsSince1970)), \
      updated_at = \(bind(record.updatedAt.millisecondsSince1970)), \
      expires_at = \(bind(record.expiresAt.millisecondsSince1970))
      WHERE \(version(record.key, expected))
      RETURNING 1
      """
    case .touch(let key, let expected, let updatedAt, let expiresAt):
      """
      UPDATE parley_session SET updated_at = \(bind(updatedAt.millisecondsSince1970)), \
      expires_at = \(bind(expiresAt.millisecondsSince1970))
      WHERE \(version(key, expected))
      RETURNING 1
      """
    case .delete(let key, let expected):
      "DELETE FROM parley_session WHERE \(version(key, expected)) RETURNING 1"
    }
  }

  /// The condition that the stored session is the version the turn read.
  private mutating func version(_ key: ConversationKey, _ expected: SessionVersion) -> String {
    "conversation_key = \(bind(key.rawValue)) AND session_id = \(bind(expected.id)) "
      + "AND generation = \(bind(expected.generation))"
  }
}
