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
    case insert([SQLiteArgument])
    /// Updates, touches or deletes the session read before the turn: one statement whose `WHERE`
    /// names that version, and which must change exactly one row.
    case change(sql: String, arguments: [SQLiteArgument])
  }

  static let insertSessionSQL = """
    INSERT INTO parley_session (\(SessionRow.columns)) VALUES (?, ?, ?, ?, ?, ?, ?)
    """
  /// The insert's seven arguments (``SessionRow/arguments(_:)``), then the version replaced.
  static let updateSessionSQL = """
    UPDATE parley_session
    SET session_id = ?2, generation = ?3, data = ?4, created_at = ?5, updated_at = ?6,
      expires_at = ?7
    WHERE conversation_key = ?1 AND session_id = ?8 AND generation = ?9
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
  var dedupe: [SQLiteArgument]?
  /// The session's statement.
  var session: SessionStatement?

  init(_ writes: TurnWrites) {
    now = writes.now
    optOutEvents = writes.optOutEvents
    dedupe = writes.dedupe.map {
      ProcessedMessageRow.upsertArguments($0, replacingExpiredBy: writes.now)
    }
    switch writes.session {
    case .save(let record, expected: nil):
      session = .insert(SessionRow.arguments(record))
    case .save(let record, expected: let expected?):
      session = .change(
        sql: Self.updateSessionSQL,
        arguments: SessionRow.arguments(record) + [
          .text(expected.id), .integer(expected.generation),
        ])
    case .touch(let key, let expected, let updatedAt, let expiresAt):
      session = .change(
        sql: Self.touchSessionSQL,
        arguments: [
          .integer(updatedAt.millisecondsSince1970), .integer(expiresAt.millisecondsSince1970),
          .text(key.rawValue), .text(expected.id), .integer(expected.generation),
        ])
    case .delete(let key, let expected):
      session = .change(
        sql: Self.deleteSessionSQL,
        arguments: [.text(key.rawValue), .text(expected.id), .integer(expected.generation)])
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
      // No change: the MessageSid has a record that has not expired.
      if try db.run(ProcessedMessageRow.upsertSQL, dedupe) != 1 {
        throw ConversationStoreError(.duplicateMessage)
      }
    }
    switch session {
    case .insert(let arguments):
      do {
        _ = try db.run(Self.insertSessionSQL, arguments)
      } catch let error as DatabaseError
        where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
      {
        throw ConversationStoreError(.conflict, "a session already exists")
      }
    case .change(let sql, let arguments):
      if try db.run(sql, arguments) != 1 {
        throw ConversationStoreError(.conflict, "session changed since it was read")
      }
    case nil:
      break
    }
  }
}
