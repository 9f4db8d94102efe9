import GRDB
import Parley
import Synchronization

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
  private struct Pending {
    var writes: TurnWrites
    var continuation: CheckedContinuation<Void, any Error>
  }

  private struct State {
    var pending: [Pending] = []
    var scheduled = false
    var statistics = SQLiteCommitStatistics()
  }

  private let database: SQLiteDatabase
  private let state = Mutex(State())

  init(database: SQLiteDatabase) {
    self.database = database
  }

  /// How many turns and transactions so far.
  var statistics: SQLiteCommitStatistics { state.withLock { $0.statistics } }

  /// Commits `writes` with the group it joins; returns once that group is committed.
  func commit(_ writes: TurnWrites) async throws {
    try await withCheckedThrowingContinuation {
      (continuation: CheckedContinuation<Void, any Error>) in
      let schedule = state.withLock { state in
        state.pending.append(Pending(writes: writes, continuation: continuation))
        defer { state.scheduled = true }
        return !state.scheduled
      }
      // Not cancellable once queued: a cancelled turn must not interrupt the group it is in.
      if schedule { database.pool.asyncWriteWithoutTransaction { db in self.drain(db) } }
    }
  }

  /// Takes every pending turn and commits them as one group.
  private func drain(_ db: Database) {
    let group = state.withLock { state in
      defer {
        state.pending = []
        state.scheduled = false
      }
      state.statistics.turns += state.pending.count
      state.statistics.transactions += 1
      state.statistics.largestGroup = max(state.statistics.largestGroup, state.pending.count)
      return state.pending
    }
    let outcomes = Self.commit(group.map(\.writes), durability: database.durability, in: db)
    for (turn, outcome) in zip(group, outcomes) { turn.continuation.resume(with: outcome) }
  }

  /// Applies each turn in a savepoint of one transaction and commits it; returns each turn's
  /// outcome. Opt-out events are fsync'd even under `synchronous=NORMAL`.
  static func commit(
    _ group: [TurnWrites], durability: SQLiteDurability, in db: Database
  ) -> [Result<Void, any Error>] {
    let forceFullSync = durability == .normal && group.contains { !$0.optOutEvents.isEmpty }
    do {
      var outcomes: [Result<Void, any Error>] = []
      try db.withFullSync(if: forceFullSync) {
        try db.inTransaction(.immediate) {
          outcomes = try applyEach(group, in: db)
          return .commit
        }
      }
      return outcomes
    } catch {
      return group.map { _ in .failure(error) }
    }
  }

  /// Applies each turn in a savepoint of its own: a turn that fails is rolled back alone.
  private static func applyEach(_ group: [TurnWrites], in db: Database) throws
    -> [Result<Void, any Error>]
  {
    try group.map { writes in
      do {
        try db.inSavepoint {
          try SQLiteConversationStore.apply(writes, in: db)
          return .commit
        }
        return .success(())
      } catch {
        // SQLite may abandon the whole transaction on some errors (I/O, full disk): then no
        // turn of the group may be reported committed.
        guard db.isInsideTransaction else { throw error }
        return .failure(error)
      }
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
