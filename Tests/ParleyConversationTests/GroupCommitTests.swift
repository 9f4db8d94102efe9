import Foundation
import GRDB
import Parley
import ParleyTesting
import Testing

@testable import ParleySQLite

/// SQLite's group commit: turns committing together share a transaction, each keeps its outcome.
struct GroupCommitTests {
  let now = WallInstant(millisecondsSince1970: 1_700_000_000_000)

  func record(_ key: String, generation: Int64 = 1, data: String = "{}") -> SessionRecord {
    SessionRecord(
      key: ConversationKey(rawValue: key), id: "session-\(key)", generation: generation,
      data: Array(data.utf8), createdAt: now, updatedAt: now,
      expiresAt: WallInstant(millisecondsSince1970: now.millisecondsSince1970 + 3_600_000))
  }

  func turn(_ key: String, sid: String, expected: SessionVersion? = nil, generation: Int64 = 1)
    -> TurnWrites
  {
    var writes = TurnWrites.recording(sid, in: ConversationKey(rawValue: key), at: now)
    writes.session = .save(record(key, generation: generation), expected: expected)
    return writes
  }

  @Test func eachTurnOfAGroupKeepsItsOwnOutcome() throws {
    let database = try SQLiteDatabase(path: TemporaryDirectory.file("group.sqlite"))
    let group = [
      turn("a", sid: "SM-a"),
      // Expects a session that is not there: a conflict, rolled back to its savepoint.
      turn("b", sid: "SM-b", expected: SessionVersion(id: "session-b", generation: 7)),
      turn("c", sid: "SM-c"),
      // The MessageSid of the first turn again, a retry in its conversation: a duplicate, rolled
      // back alone (its session write, which would apply, and its reply with it).
      turn(
        "a", sid: "SM-a", expected: SessionVersion(id: "session-a", generation: 1), generation: 2),
      // A second insert of the first turn's session: a conflict.
      turn("a", sid: "SM-a2", generation: 2),
    ]
    let outcomes = database.pool.writeWithoutTransaction { db in
      GroupCommitter.commit(group.map(SQLiteTurnWrites.init), durability: .full, in: db)
    }
    func code(_ outcome: Result<Void, any Error>) -> String {
      switch outcome {
      case .success: "committed"
      case .failure(let error as ConversationStoreError): "\(error.code)"
      case .failure(let error): "\(error)"
      }
    }
    #expect(
      outcomes.map(code) == ["committed", "conflict", "committed", "duplicateMessage", "conflict"])
    let (keys, sids, generation, replies) = try database.pool.read { db in
      (
        try String.fetchAll(
          db,
          sql: "SELECT conversation_key FROM parley_conversation WHERE message_sid = '' ORDER BY 1"),
        try String.fetchAll(
          db, sql: "SELECT message_sid FROM parley_conversation WHERE message_sid <> '' ORDER BY 1"),
        try Int.fetchOne(
          db,
          sql: """
            SELECT generation FROM parley_conversation
            WHERE conversation_key = 'a' AND message_sid = ''
            """),
        try Int.fetchOne(db, sql: "SELECT count(*) FROM parley_reply")
      )
    }
    #expect(keys == ["a", "c"])
    #expect(sids == ["SM-a", "SM-c"])
    #expect(generation == 1)
    #expect(replies == 2)
  }

  @Test func aGroupWhoseTransactionFailsReportsEveryTurnFailed() throws {
    let database = try SQLiteDatabase(path: TemporaryDirectory.file("failing.sqlite"))
    // A transaction already open: the group's BEGIN fails, so no turn may say it committed.
    let outcomes = try database.pool.writeWithoutTransaction { db in
      try db.execute(sql: "BEGIN")
      defer { try? db.execute(sql: "ROLLBACK") }
      return GroupCommitter.commit(
        [turn("a", sid: "SM-a"), turn("b", sid: "SM-b")].map(SQLiteTurnWrites.init),
        durability: .full, in: db)
    }
    #expect(outcomes.count == 2)
    #expect(outcomes.allSatisfy { if case .failure = $0 { true } else { false } })
    let sessions = try database.pool.read { db in
      try Int.fetchOne(db, sql: "SELECT count(*) FROM parley_conversation")
    }
    #expect(sessions == 0)
  }

  @Test func aCachedTransactionCommitsOrRollsBackAsGRDBsOwnDoes() throws {
    let database = try SQLiteDatabase(path: TemporaryDirectory.file("cached.sqlite"))
    let commits = CommitCounter()
    struct Refused: Error {}
    let (afterCommit, afterFailure, afterRepeat, openAfterFailure) =
      try database.pool.writeWithoutTransaction { db in
        db.add(transactionObserver: commits, extent: .databaseLifetime)
        try db.execute(sql: "CREATE TABLE t (n INTEGER PRIMARY KEY)")
        let before = commits.count
        try db.inCachedTransaction(.immediate) { try db.execute(sql: "INSERT INTO t VALUES (1)") }
        // GRDB's observers hear of a commit made through the cached statement.
        let afterCommit = commits.count - before
        #expect(throws: Refused.self) {
          try db.inCachedTransaction(.immediate) {
            try db.execute(sql: "INSERT INTO t VALUES (2)")
            throw Refused()
          }
        }
        let afterFailure = commits.count - before
        let open = db.isInsideTransaction
        // The cached statements run again, in a later transaction, as the group commit's do.
        try db.inCachedTransaction(.deferred) { try db.execute(sql: "INSERT INTO t VALUES (3)") }
        return (afterCommit, afterFailure, commits.count - before, open)
      }
    #expect(afterCommit == 1)
    #expect(afterFailure == 1)
    #expect(afterRepeat == 2)
    #expect(!openAfterFailure)
    let rows = try database.pool.read { db in try Int.fetchAll(db, sql: "SELECT n FROM t") }
    #expect(rows == [1, 3])
  }

  @Test func aCommitThatFailsRollsTheCachedTransactionBack() throws {
    let database = try SQLiteDatabase(path: TemporaryDirectory.file("deferred.sqlite"))
    let (failure, open, rows) = try database.pool.writeWithoutTransaction { db in
      try db.execute(
        sql: """
          CREATE TABLE parent (id INTEGER PRIMARY KEY);
          CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
          """)
      // A deferred foreign key fails at COMMIT, not at the INSERT.
      var failure: DatabaseError?
      do {
        try db.inCachedTransaction(.immediate) {
          try db.execute(sql: "INSERT INTO child VALUES (7)")
        }
      } catch let error as DatabaseError {
        failure = error
      }
      let open = db.isInsideTransaction
      // The cached COMMIT that failed commits the next transaction.
      try db.inCachedTransaction(.immediate) {
        try db.execute(sql: "INSERT INTO parent VALUES (7); INSERT INTO child VALUES (7)")
      }
      return (failure, open, try Int.fetchOne(db, sql: "SELECT count(*) FROM child"))
    }
    #expect(failure?.resultCode == .SQLITE_CONSTRAINT)
    #expect(!open)
    #expect(rows == 1)
  }

  @Test func turnsArrivingWhileTheWriterIsBusyShareOneTransaction() async throws {
    let store = try SQLiteConversationStore(path: TemporaryDirectory.file("busy.sqlite"))
    // Hold the writer, as an fsync in progress would, while 50 turns (and 10 conflicting second
    // inserts of the same conversations) arrive.
    let release = DispatchSemaphore(value: 0)
    store.database.pool.asyncWriteWithoutTransaction { _ in release.wait() }
    let outcomes = await withTaskGroup(of: Bool.self) { group in
      for index in 0..<60 {
        group.addTask {
          do {
            try await store.commit(
              turn("key-\(index % 50)", sid: "SM-\(index)", generation: index < 50 ? 1 : 2))
            return true
          } catch {
            return false
          }
        }
      }
      group.addTask {
        try? await Task.sleep(for: .milliseconds(300))
        release.signal()
        return true
      }
      return await group.reduce(into: [Bool]()) { $0.append($1) }
    }
    // 50 conversations committed once each; the 10 second inserts lost (the timer task is the 61st).
    #expect(outcomes.filter { $0 }.count == 51)
    let statistics = store.commitStatistics
    #expect(statistics.turns == 60)
    #expect(statistics.transactions < 60)
    #expect(statistics.largestGroup > 1)
    let stored = try await store.sessions(after: nil, limit: 100)
    #expect(stored.count == 50)
    #expect(Set(stored.map(\.key.rawValue)) == Set((0..<50).map { "key-\($0)" }))
  }

  @Test func snapshotsAskedForWhileTheDatabaseIsBusyAreReadInOneBatch() async throws {
    let database = try SQLiteDatabase(path: TemporaryDirectory.file("reads.sqlite"))
    let pool = database.pool
    try await pool.write { db in
      try db.execute(sql: "CREATE TABLE word (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
      try db.execute(sql: "INSERT INTO word VALUES (1, 'one'), (2, 'two'), (3, 'three')")
    }
    // The batcher on the writer, held as an fsync would hold it, so 30 requests queue up.
    let batcher = DatabaseBatcher<Int, String>(
      access: { body in pool.asyncWriteWithoutTransaction { db in body(.success(db)) } },
      process: { ids, db in
        ids.map { id in
          Result {
            guard
              let text = try String.fetchOne(
                db, sql: "SELECT text FROM word WHERE id = ?", arguments: [id])
            else {
              throw ConversationStoreError(.conflict, "no word \(id)")
            }
            return text
          }
        }
      })
    let release = DispatchSemaphore(value: 0)
    pool.asyncWriteWithoutTransaction { _ in release.wait() }
    let answers = await withTaskGroup(of: (Int, String).self) { group in
      for index in 0..<30 {
        group.addTask { (index, (try? await batcher.submit(index % 4)) ?? "error") }
      }
      group.addTask {
        try? await Task.sleep(for: .milliseconds(300))
        release.signal()
        return (-1, "timer")
      }
      return await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
    }
    // Each request got its own answer, the missing word 0 its own error.
    for index in 0..<30 {
      #expect(answers[index] == ["error", "one", "two", "three"][index % 4])
    }
    let statistics = batcher.statistics
    #expect(statistics.requests == 30)
    #expect(statistics.batches < 30)
    #expect(statistics.largestBatch > 1)
  }

  @Test func aBatchWithoutAConnectionFailsEveryRequestInIt() async throws {
    struct Unavailable: Error {}
    let batcher = DatabaseBatcher<Int, Int>(
      access: { body in DispatchQueue.global().async { body(.failure(Unavailable())) } },
      process: { ids, _ in ids.map { .success($0) } })
    await #expect(throws: Unavailable.self) { try await batcher.submit(1) }
    #expect(batcher.statistics.requests == 1)
  }
}

/// Counts the commits GRDB tells its transaction observers of.
private final class CommitCounter: TransactionObserver, @unchecked Sendable {
  // Touched on the database's writer only.
  var count = 0
  func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { false }
  func databaseDidChange(with event: DatabaseEvent) {}
  func databaseDidCommit(_ db: Database) { count += 1 }
  func databaseDidRollback(_ db: Database) {}
}
