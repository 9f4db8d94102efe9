import GRDB
import Parley

/// Commits together the turns that arrive while SQLite's writer is busy: one transaction and one
/// fsync for the group, each turn in a savepoint of its own.
///
/// A turn's commit joins the pending group and waits. The first turn of a group schedules one
/// access to the writer; when the writer reaches it (after the fsync of the group before), it
/// takes every turn pending at that moment. There is no timer: an idle store commits a lone turn at
/// once, and a busy one shares each fsync among all the turns that queued behind the previous one.
///
/// Each turn keeps its own outcome: a turn whose writes fail (a version conflict, a duplicate
/// MessageSid) is rolled back to its savepoint and gets its error, the others commit. No turn is
/// told it committed before the group's `COMMIT` has returned, which under `synchronous=FULL` is
/// after the fsync. If the group's transaction fails, every turn in it gets the error.
final class GroupCommitter: Sendable {
  private let batcher: DatabaseBatcher<SQLiteTurnWrites, Void>

  init(database: SQLiteDatabase) {
    let pool = database.pool
    let durability = database.durability
    batcher = DatabaseBatcher(
      access: { body in pool.asyncWriteWithoutTransaction { db in body(.success(db)) } },
      process: { group, db in Self.commit(group, durability: durability, in: db) })
  }

  /// How many turns and transactions so far.
  var statistics: SQLiteCommitStatistics {
    let batches = batcher.statistics
    return SQLiteCommitStatistics(
      turns: batches.requests, transactions: batches.batches, largestGroup: batches.largestBatch)
  }

  /// Commits `writes` with the group it joins; returns once that group is committed.
  func commit(_ writes: SQLiteTurnWrites) async throws {
    try await batcher.submit(writes)
  }

  /// Applies each turn in a savepoint of one transaction and commits it; returns each turn's
  /// outcome. Opt-out events are fsync'd even under `synchronous=NORMAL`.
  static func commit(
    _ group: [SQLiteTurnWrites], durability: SQLiteDurability, in db: Database
  ) -> [Result<Void, any Error>] {
    let forceFullSync = durability == .normal && group.contains { !$0.optOutEvents.isEmpty }
    do {
      return try db.withFullSync(if: forceFullSync) {
        try db.inCachedTransaction(.immediate) { try applyEach(group, in: db) }
      }
    } catch {
      return group.map { _ in .failure(error) }
    }
  }

  /// Applies each turn in a savepoint of its own: a turn that fails is rolled back alone.
  private static func applyEach(_ group: [SQLiteTurnWrites], in db: Database) throws
    -> [Result<Void, any Error>]
  {
    // The savepoint statements are cached: GRDB's `inSavepoint` prepares its SQL anew each time,
    // which was two statements parsed per turn.
    let begin = try db.cachedStatement(sql: "SAVEPOINT parley_turn")
    let release = try db.cachedStatement(sql: "RELEASE SAVEPOINT parley_turn")
    let rollback = try db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT parley_turn")
    // A failure of these statements themselves fails the group's transaction, hence every turn.
    return try group.map { writes in
      try begin.execute()
      do {
        try writes.apply(in: db)
      } catch {
        // SQLite may abandon the whole transaction on some errors (I/O, full disk): then no
        // turn of the group may be reported committed.
        guard db.isInsideTransaction else { throw error }
        try rollback.execute()
        try release.execute()
        return .failure(error)
      }
      try release.execute()
      return .success(())
    }
  }
}

/// What the group commit of a ``SQLiteConversationStore`` has done since it opened.
public struct SQLiteCommitStatistics: Sendable, Hashable {
  /// Turns committed (or refused) through the group commit.
  public var turns = 0
  /// SQLite transactions, hence fsyncs under `synchronous=FULL`, they took.
  public var transactions = 0
  /// The most turns one transaction carried.
  public var largestGroup = 0

  /// Turns per transaction.
  public var meanGroupSize: Double {
    transactions == 0 ? 0 : Double(turns) / Double(transactions)
  }
}
