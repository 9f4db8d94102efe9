import Foundation
import Logging
import Parley
import ParleyTesting
import PostgresNIO
import Testing

@testable import ParleyPostgres

/// Every PostgreSQL test, one at a time: one of them stops the server.
@Suite(
  .serialized,
  .enabled(if: PostgresTestEnvironment.isConfigured, PostgresTestEnvironment.skipReason))
struct PostgresTests {}

extension PostgresTests {
  @Suite(.timeLimit(.minutes(3)))
  struct Store {
    @Test(arguments: ConversationStoreConformance.checks)
    func conformance(_ check: ConversationStoreConformance.Check) async throws {
      try await withPostgresStore { store in try await check.run(on: store) }
    }

    @Test func instancesStartingTogetherApplyEachMigrationOnce() async throws {
      let url = try PostgresTestEnvironment.freshDatabase()
      try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<4 {
          group.addTask { try await withPostgresStore(url: url) { _ in } }
        }
        try await group.waitForAll()
      }
      try await withPostgresStore(url: url) { store in
        let names = try await store.client.query(
          "SELECT name FROM parley_migrations ORDER BY name"
        ).collect().decode(String.self)
        #expect(
          names == [
            "v1 sessions and processed messages", "v2 opt-outs and their audit trail",
            "v3 sessions found for sweeping by ten-minute expiry buckets",
            "v4 a turn's writes in one statement",
            "v5 a turn's writes check the sender's opt-outs",
          ])
      }
    }

    @Test func aServerThatDoesNotCommitDurablyIsRefused() async throws {
      let url = try PostgresTestEnvironment.freshDatabase()
      var configuration = try PostgresClient.Configuration.parley(url: url)
      configuration.options.additionalStartupParameters = [("synchronous_commit", "off")]
      let logger = Logger(label: "t")
      let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
      let store = PostgresConversationStore(client: client, logger: logger)
      await withTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        await #expect(throws: PostgresStoreError.self) { try await store.prepare() }
        try? await store.prepare(allowUnsafeDurability: true)
        group.cancelAll()
      }
    }

    /// A database the first two migrations left, with sessions in it, moves to expiry buckets and
    /// keeps what it holds.
    @Test func sessionsGetTheirExpiryBucketsInTheMoveToBuckets() async throws {
      let url = try PostgresTestEnvironment.freshDatabase()
      let now = WallInstant(millisecondsSince1970: 1_700_000_000_000)
      let expiries = [now.millisecondsSince1970 - 1, now.millisecondsSince1970 + 14_400_000]
      var statements = [
        "CREATE TABLE parley_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
      ]
      for migration in PostgresMigrations.all.prefix(2) {
        statements +=
          migration.sql + ["INSERT INTO parley_migrations (name) VALUES ('\(migration.name)')"]
      }
      for (index, expiry) in expiries.enumerated() {
        statements.append(
          """
          INSERT INTO parley_session
            (conversation_key, session_id, generation, data, created_at, updated_at, expires_at)
          VALUES ('key\(index)', 'id', 3, '\\x7b7d', 1, 2, \(expiry))
          """)
      }
      for statement in statements { try PostgresTestEnvironment.psql(url, statement) }

      try await withPostgresStore(url: url) { store in
        let live = try #require(try await store.session(for: ConversationKey(rawValue: "key1")))
        #expect(live.generation == 3 && live.data == Array("{}".utf8))
        #expect(live.expiresAt.millisecondsSince1970 == expiries[1])
        // PostgreSQL derives the buckets with the width the sweep uses.
        let buckets = try await store.client.query(
          "SELECT expiry_bucket FROM parley_session ORDER BY expires_at"
        ).collect().decode(Int64.self)
        #expect(
          buckets == expiries.map { SessionExpiryBucket.of(WallInstant(millisecondsSince1970: $0)) }
        )
        // The expired one is swept once its ten minutes have passed; the live one is kept.
        #expect(
          try await store.sweep(now: now.advanced(by: .seconds(600)), limit: 10).sessions == 1)
        let later = now.advanced(by: .seconds(3600))
        try await store.commit(.touching(live, at: later))
        #expect(
          try await store.session(for: live.key)?.expiresAt
            == later.advanced(by: .seconds(4 * 3600)))
      }
    }

    /// A turn that slides its session's expiry within the ten minutes of its bucket changes no
    /// indexed column, so PostgreSQL updates the row in its page (HOT) and writes no index entry.
    /// With `expires_at` indexed no slide could be: every one wrote into both indexes.
    @Test func slidingAnExpiryWithinItsBucketIsAHeapOnlyUpdate() async throws {
      try await withPostgresStore { store in
        let start = WallInstant(millisecondsSince1970: 1_800_000_000_000)  // a bucket starts here
        let key = ConversationKey(rawValue: "+1|slide")
        let record = SessionRecord(
          key: key, id: "s", generation: 1, data: Array("{}".utf8), createdAt: start,
          updatedAt: start, expiresAt: start.advanced(by: .seconds(4 * 3600)))
        try await store.commit(
          TurnWrites(key: key, now: start, session: .save(record, expected: nil)))
        // 20 slides within the bucket, then one into the next.
        for seconds in Array(stride(from: 10, through: 200, by: 10)) + [600] {
          let now = start.advanced(by: .seconds(seconds))
          try await store.commit(.touching(record, at: now))
        }
        #expect(
          try await store.session(for: key)?.expiresAt
            == start.advanced(by: .seconds(600 + 4 * 3600)))
        // The statistics reach the view once the store's connections have flushed them.
        var counts: (updates: Int, heapOnly: Int) = (0, 0)
        for _ in 0..<300 {
          for row in try await store.client.query(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'parley_session'"
          ).collect().decode((Int, Int).self) { counts = (row.0, row.1) }
          if counts.updates >= 21 { break }
          try await Task.sleep(for: .milliseconds(100))
        }
        #expect(counts.updates == 21)
        #expect(counts.heapOnly == 20)
      }
    }

    /// A turn's statements are parsed and planned once per connection: the second use of a
    /// statement runs the one its connection prepared, the rows decode (integers and `bytea`
    /// included), and a connection that closes is forgotten and fails at once rather than hang.
    @Test func aConnectionPreparesEachStatementOnceAndForgetsThemWhenItCloses() async throws {
      try await withPostgresStore { store in
        let logger = Logger(label: "t")
        let statement = PreparedSQL(
          "SELECT $1::bigint + 1, decode($2, 'hex'), $3::text",
          binds: [PreparedValue.int8(41), PreparedValue.text("00ff"), PreparedValue.text(nil)])
        try await store.client.withConnection { connection in
          for _ in 0..<3 {
            let rows = try await connection.checkedExecute(
              statement, statements: store.statements, logger: logger)
            let (sum, bytes, missing) = try #require(rows.first).decode(
              (Int64, ByteBuffer, String?).self)
            #expect(sum == 42)
            #expect(Array(bytes.readableBytesView) == [0x00, 0xff])
            #expect(missing == nil)
          }
          let prepared = try await connection.query(
            "SELECT count(*) FROM pg_prepared_statements", logger: logger
          ).collect().decode(Int.self)
          #expect(prepared == [1])
          #expect(store.statements.connectionCount == 1)

          // The server ends this connection's session.
          _ = try? await connection.query(
            "SELECT pg_terminate_backend(pg_backend_pid())", logger: logger)
          for _ in 0..<100 where store.statements.connectionCount > 0 {
            try await Task.sleep(for: .milliseconds(50))
          }
          #expect(store.statements.connectionCount == 0)
          await #expect(throws: PostgresStoreError.self) {
            try await connection.checkedExecute(
              statement, statements: store.statements, logger: logger)
          }
        }
        // The pool's next connection prepares the statements again.
        let key = ConversationKey(rawValue: "+15550001111|+15550002222")
        #expect(try await store.session(for: key) == nil)
      }
    }

    /// A turn holds its conversation's lock from before its body starts until it ends: a second
    /// turn's body, with the clock reading its writes are stamped with, waits for the first
    /// turn's commit. (Sent with the turn's first read instead, the lock let a turn stamp
    /// `updated_at` before the `created_at` of the session another instance's turn had just
    /// created, which the table's `CHECK` refuses: the two-instance test saw 1 to 4 such 500s.)
    @Test func aTurnHoldsItsLockFromBeforeItsBodyUntilItEnds() async throws {
      try await withPostgresStore { store in
        let key = ConversationKey(rawValue: "+15550001111|+15550002222")
        let now = WallInstant(millisecondsSince1970: 1_800_000_000_000)
        @Sendable func lockIsFree() async throws -> Bool {
          let free = try await store.client.query(
            """
            SELECT pg_try_advisory_lock(hashtextextended(\(key.rawValue), 0))
              AND pg_advisory_unlock(hashtextextended(\(key.rawValue), 0))
            """
          ).collect().decode(Bool.self)
          return free == [true]
        }
        let record = SessionRecord(
          key: key, id: "s", generation: 1, data: Array("{}".utf8), createdAt: now,
          updatedAt: now, expiresAt: now.advanced(by: .seconds(4 * 3600)))
        let firstHoldsLock = Flag()
        let releaseFirst = Flag()
        let secondStarted = Flag()
        try await withThrowingTaskGroup(of: Void.self) { group in
          group.addTask {
            try await store.withTurn(for: key) { turn in
              firstHoldsLock.set()
              while !releaseFirst.isSet { try await Task.sleep(for: .milliseconds(10)) }
              _ = try await turn.snapshot(SnapshotRequest(key: key, messageSid: "SM1", now: now))
              try await turn.commit(
                TurnWrites(key: key, now: now, session: .save(record, expected: nil)))
              #expect(try await !lockIsFree())
            }
          }
          while !firstHoldsLock.isSet { try await Task.sleep(for: .milliseconds(10)) }
          #expect(try await !lockIsFree())
          // A second turn of the conversation does not start its body meanwhile.
          group.addTask { try await store.withTurn(for: key) { _ in secondStarted.set() } }
          try await Task.sleep(for: .milliseconds(300))
          #expect(!secondStarted.isSet)
          releaseFirst.set()
          try await group.waitForAll()
        }
        #expect(secondStarted.isSet)
        #expect(try await lockIsFree())

        // A turn that fails releases the lock as it ends.
        await #expect(throws: ConversationStoreError.self) {
          try await store.withTurn(for: key) { turn in
            _ = try await turn.snapshot(SnapshotRequest(key: key, messageSid: "SM2", now: now))
            try await turn.commit(
              TurnWrites(key: key, now: now, session: .save(record, expected: nil)))
          }
        }
        #expect(try await lockIsFree())
      }
    }

    /// A statement the server refuses reports its SQLSTATE, and not the server's message, which
    /// can quote a value from the statement (here a phone number, from the failing row).
    @Test func aRefusedStatementNamesItsSQLStateAndNoValue() async throws {
      try await withPostgresStore { store in
        let refused = PreparedSQL(
          """
          INSERT INTO parley_session
            (conversation_key, session_id, generation, data, created_at, updated_at, expires_at)
          VALUES ($1, $2, 0, $3, 1, 1, 1)
          """,
          binds: [
            PreparedValue.text("+15557654321|+15550002222"), PreparedValue.text(""),
            PreparedValue.bytea([]),
          ])
        try await store.client.withConnection { connection in
          let error = await #expect(throws: PostgresStoreError.self) {
            try await connection.checkedExecute(
              refused, statements: store.statements, logger: Logger(label: "t"))
          }
          #expect(error?.sqlState == "23514")  // check_violation: session_id is empty
          #expect(!"\(String(describing: error))".contains("7654321"))
        }
      }
    }

    @Test func theAuditTrailIsAppendOnlyInTheDatabase() async throws {
      try await withPostgresStore { store in
        try await store.recordOptOutEvents(
          [
            OptOutEventDraft(
              subscriber: "+1", scope: .number("+2"), action: .optOut, source: .api,
              receivedAt: SystemWallClock().now)
          ],
          now: SystemWallClock().now)
        await #expect(throws: (any Error).self) {
          try await store.client.query("UPDATE parley_opt_out_event SET action = 'opt-in'")
        }
        await #expect(throws: (any Error).self) {
          try await store.client.query("DELETE FROM parley_opt_out_event")
        }
        #expect(try await store.verifyAuditTrail() == .intact(events: 1))
      }
    }

    @Test func theConcurrentTokenTestPassesOnPostgres() async throws {
      try await withPostgresStore { store in
        struct Tokens: SessionState { var tokens: [String] = [] }
        let app = ParleyApplication(
          middleware: [
            ConversationMiddleware(store: store),
            SessionMiddleware(
              Tokens.self, secrets: try SessionSecrets("postgres-test-secret-0123456789abcdef")),
          ]
        ) { turn in
          let session = try turn.session(Tokens.self)
          session.state.tokens.append(turn.message.body)
          return .message("ok")
        }
        let client = ParleyTestClient(application: app)
        let failures = await withTaskGroup(of: Bool.self) { group in
          for message in 0..<20 {
            for conversation in 0..<50 {
              group.addTask {
                await client.send(
                  "c\(conversation)-m\(message)", from: "+1617555\(1000 + conversation)",
                  to: "+14155550199"
                )
                .status == .ok
              }
            }
          }
          return await group.reduce(0) { $0 + ($1 ? 0 : 1) }
        }
        #expect(failures == 0)
        for conversation in 0..<50 {
          let record = try #require(
            try await store.session(
              for: ConversationKey(rawValue: "+1617555\(1000 + conversation)|+14155550199")))
          let tokens = try JSONDecoder().decode(Tokens.self, from: Data(record.data)).tokens
          #expect(Set(tokens) == Set((0..<20).map { "c\(conversation)-m\($0)" }))
          #expect(tokens.count == 20)
        }
      }
    }
  }
}
