import GRDB
import Parley

/// A turn's writes as the statements' arguments, bound in the turn's own task before it joins a
/// group: the writer, which every turn queues for, then only runs the statements. (Bound on the
/// writer, the dedupe record's header-field JSON and the rows' conversions took its time from
/// every turn queued behind.)
struct SQLiteTurnWrites: Sendable {
  /// What the turn does to its session.
  enum SessionStatement: Sendable {
    /// Inserts a new session (``SQLiteTurnWrites/insertSessionSQL``).
    case insert(StatementArguments)
    /// Updates, touches or deletes the session read before the turn: one statement whose `WHERE`
    /// names that version, and which must change exactly one row.
    case change(sql: String, arguments: StatementArguments)
  }

  static let insertSessionSQL = """
    INSERT INTO parley_session
      (conversation_key, session_id, generation, data, created_at, updated_at, expires_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    """
  static let updateSessionSQL = """
    UPDATE parley_session
    SET session_id = ?, generation = ?, data = ?, created_at = ?, updated_at = ?, expires_at = ?
    WHERE conversation_key = ? AND session_id = ? AND generation = ?
    """
  static let touchSessionSQL = """
    UPDATE parley_session SET updated_at = ?, expires_at = ?
    WHERE conversation_key = ? AND session_id = ? AND generation = ?
    """
  static let deleteSessionSQL =
    "DELETE FROM parley_session WHERE conversation_key = ? AND session_id = ? AND generation = ?"

  /// When the turn committed.
  var now: WallInstant
  /// Opt-out events, sealed on the writer (each event's hash chains to the stored head).
  var optOutEvents: [OptOutEventDraft]
  /// ``ProcessedMessageRow/upsertSQL``'s arguments.
  var dedupe: StatementArguments?
  /// The session's statement.
  var session: SessionStatement?

  init(_ writes: TurnWrites) {
    now = writes.now
    optOutEvents = writes.optOutEvents
    dedupe = writes.dedupe.map {
      ProcessedMessageRow($0).upsertArguments(replacingExpiredBy: writes.now.millisecondsSince1970)
    }
    switch writes.session {
    case .save(let record, expected: nil):
      let row = SessionRow(record)
      session = .insert([
        row.conversationKey, row.sessionID, row.generation, row.data, row.createdAt,
        row.updatedAt, row.expiresAt,
      ])
    case .save(let record, expected: let expected?):
      let row = SessionRow(record)
      session = .change(
        sql: Self.updateSessionSQL,
        arguments: [
          row.sessionID, row.generation, row.data, row.createdAt, row.updatedAt, row.expiresAt,
          row.conversationKey, expected.id, expected.generation,
        ])
    case .touch(let key, let expected, let updatedAt, let expiresAt):
      session = .change(
        sql: Self.touchSessionSQL,
        arguments: [
          updatedAt.millisecondsSince1970, expiresAt.millisecondsSince1970, key.rawValue,
          expected.id, expected.generation,
        ])
    case .delete(let key, let expected):
      session = .change(
        sql: Self.deleteSessionSQL, arguments: [key.rawValue, expected.id, expected.generation])
    case nil:
      session = nil
    }
  }

  /// Runs the statements inside an open transaction (the caller commits).
  func apply(in db: Database) throws {
    if !optOutEvents.isEmpty {
      _ = try SQLiteConversationStore.appendOptOutEvents(optOutEvents, now: now, in: db)
    }
    if let dedupe {
      try db.cachedStatement(sql: ProcessedMessageRow.upsertSQL).execute(arguments: dedupe)
      // No change: the MessageSid has a record that has not expired.
      if db.changesCount != 1 { throw ConversationStoreError(.duplicateMessage) }
    }
    switch session {
    case .insert(let arguments):
      do {
        try db.cachedStatement(sql: Self.insertSessionSQL).execute(arguments: arguments)
      } catch let error as DatabaseError
        where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
      {
        throw ConversationStoreError(.conflict, "a session already exists")
      }
    case .change(let sql, let arguments):
      try db.cachedStatement(sql: sql).execute(arguments: arguments)
      if db.changesCount != 1 {
        throw ConversationStoreError(.conflict, "session changed since it was read")
      }
    case nil:
      break
    }
  }
}
