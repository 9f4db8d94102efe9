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
    /// Updates, touches or deletes the session read before the turn: statements whose `WHERE`
    /// names that version, with the same arguments, tried in order until one changes the row.
    /// None changing it means the session changed since it was read.
    case change(statements: [String], arguments: [SQLiteArgument])
  }

  static let insertSessionSQL = """
    INSERT INTO parley_conversation (\(SessionRow.columns), sweep_at, message_sid)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, \(SessionRow.messageSid))
    """
  /// The insert's seven arguments (``SessionRow/arguments(_:)``), then the version replaced.
  static let updateSessionSQL = slidingStatements(
    set: """
      session_id = ?2, generation = ?3, data = ?4, created_at = ?5, updated_at = ?6,
        expires_at = ?7
      """,
    expiry: "?7", version: "conversation_key = ?1 AND session_id = ?8 AND generation = ?9")
  /// The time updated, the new expiry, then the version touched.
  static let touchSessionSQL = slidingStatements(
    set: "updated_at = ?1, expires_at = ?2", expiry: "?2",
    version: "conversation_key = ?3 AND session_id = ?4 AND generation = ?5")
  static let deleteSessionSQL = """
    DELETE FROM parley_conversation
    WHERE conversation_key = ? AND \(SessionRow.isSession) AND session_id = ? AND generation = ?
    """

  /// The two statements that slide a session's expiry (``SessionSweepTime``): the first leaves
  /// `sweep_at`, and with it the sweep's index, as it is, and applies only while the new expiry
  /// stays within the window after it; the second, run when the first changed nothing, moves
  /// `sweep_at` to the new expiry.
  static func slidingStatements(set: String, expiry: String, version: String) -> [String] {
    [
      """
      UPDATE parley_conversation SET \(set)
      WHERE \(version) AND \(SessionRow.isSession)
        AND \(expiry) BETWEEN sweep_at AND sweep_at + \(SessionSweepTime.window)
      """,
      """
      UPDATE parley_conversation SET \(set), sweep_at = \(expiry)
      WHERE \(version) AND \(SessionRow.isSession)
      """,
    ]
  }

  /// When the turn committed.
  var now: WallInstant
  /// Opt-out events, sealed on the writer (each event's hash chains to the stored head).
  var optOutEvents: [OptOutEventDraft]
  /// The arguments of ``DedupeEntryRow/insertReplySQL`` and ``DedupeEntryRow/upsertEntrySQL``.
  var dedupe: (reply: [SQLiteArgument], entry: [SQLiteArgument])?
  /// The session's statement.
  var session: SessionStatement?
  /// The opt-out records that must not have changed since the snapshot.
  var optOutCheck: OptOutCheck?

  init(_ writes: TurnWrites) {
    now = writes.now
    optOutEvents = writes.optOutEvents
    optOutCheck = writes.optOutCheck
    dedupe = writes.dedupe.map {
      DedupeEntryRow.arguments($0, replacingExpiredBy: writes.now)
    }
    switch writes.session {
    case .save(let record, expected: nil):
      session = .insert(SessionRow.arguments(record))
    case .save(let record, expected: let expected?):
      session = .change(
        statements: Self.updateSessionSQL,
        arguments: SessionRow.arguments(record) + [
          .text(expected.id), .integer(expected.generation),
        ])
    case .touch(let key, let expected, let updatedAt, let expiresAt):
      session = .change(
        statements: Self.touchSessionSQL,
        arguments: [
          .integer(updatedAt.millisecondsSince1970), .integer(expiresAt.millisecondsSince1970),
          .text(key.rawValue), .text(expected.id), .integer(expected.generation),
        ])
    case .delete(let key, let expected):
      session = .change(
        statements: [Self.deleteSessionSQL],
        arguments: [.text(key.rawValue), .text(expected.id), .integer(expected.generation)])
    case nil:
      session = nil
    }
  }

  /// Runs the statements inside an open transaction (the caller commits).
  func apply(in db: Database) throws {
    if let check = optOutCheck,
      try SQLiteConversationStore.optOutRecords(
        subscriber: check.subscriber, scopes: check.scopes, in: db
      ).contains(where: check.isChange)
    {
      throw OptOutCheck.conflict
    }
    if !optOutEvents.isEmpty {
      _ = try SQLiteConversationStore.appendOptOutEvents(optOutEvents, now: now, in: db)
    }
    if let dedupe {
      _ = try db.run(DedupeEntryRow.insertReplySQL, dedupe.reply)
      // No change: the MessageSid has an entry that has not expired. (The savepoint's rollback
      // takes the reply back out.)
      if try db.run(DedupeEntryRow.upsertEntrySQL, dedupe.entry) != 1 {
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
    case .change(let statements, let arguments):
      // The first statement that changes the row ends the search.
      if try !statements.contains(where: { try db.run($0, arguments) == 1 }) {
        throw ConversationStoreError(.conflict, "session changed since it was read")
      }
    case nil:
      break
    }
  }
}
