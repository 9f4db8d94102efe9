import Foundation
import GRDB
import GRDBSQLite
import Logging
import Parley
import ParleyTesting
import ServiceLifecycle
import Testing

@testable import ParleySQLite

struct StoreConformanceTests {
  @Test(arguments: ConversationStoreConformance.checks)
  func memoryStore(_ check: ConversationStoreConformance.Check) async throws {
    try await check.run(on: MemoryConversationStore())
  }

  @Test(arguments: ConversationStoreConformance.checks)
  func sqliteStore(_ check: ConversationStoreConformance.Check) async throws {
    try await check.run(
      on: try SQLiteConversationStore(path: TemporaryDirectory.file("conformance.sqlite")))
  }
}

/// Alice's session row, in `aValueOfAnotherTypeFailsTheTurnInsteadOfBeingConverted`'s damage.
private let aliceSession = "conversation_key LIKE :conversations AND message_sid = ''"
/// The stored reply to Alice's message SM-a, likewise.
private let replyOfSMa =
  "sequence = (SELECT reply_sequence FROM parley_conversation WHERE message_sid = 'SM-a')"

struct SQLiteStoreTests {
  let alice = "+16175550123"
  let number = "+14155550199"

  @Test func recordedHeaderFieldsReadBackExactly() throws {
    let fields = [
      ["Set-Cookie", "parley_session=a.b.c; Max-Age=14400; Path=/; HttpOnly"],
      ["X-Quote", "say \"hi\" \\ back/slash"],
      ["X-Control", "tab\there\nline\r\u{1}\u{1f}end"],
      ["X-Unicode", "Café 😀 \u{2028}"],
      [],
    ]
    let json = StoredReply(contentType: "text/xml", body: "", headerFields: fields).headerFieldsJSON
    #expect(try JSONDecoder().decode([[String]].self, from: Data(json.utf8)) == fields)
    #expect(StoredReply.headerFields(fromJSON: json) == fields)
    #expect(
      StoredReply(contentType: "text/xml", body: "", headerFields: []).headerFieldsJSON == "[]")
  }

  @Test func sessionsSurviveARestartOfTheProcess() async throws {
    let path = TemporaryDirectory.file("restart.sqlite")
    let clock = ManualClock()
    do {
      let client = counterApp(store: try SQLiteConversationStore(path: path), clock: clock)
      _ = await client.send("hi", from: alice, to: number)
      _ = await client.send("hi", from: alice, to: number)
    }
    // A new store on the same file, as after a restart (with a new cookie secret, even).
    let fresh = try SessionSecrets("another-secret-after-the-restart-xyz")
    let client = counterApp(
      store: try SQLiteConversationStore(path: path), clock: clock, secrets: fresh)
    #expect(
      await client.send("hi", from: alice, to: number).texts == [
        "Hello, thanks for message number 3"
      ])
  }

  @Test func theDatabaseIsWALWithFullSyncAndNamedMigrations() throws {
    let database = try SQLiteDatabase(path: TemporaryDirectory.file("pragmas.sqlite"))
    try database.pool.read { db in
      #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
      #expect(try Int.fetchOne(db, sql: "PRAGMA synchronous") == 2)  // FULL
      let migrations = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
      #expect(
        migrations == [
          "v1 sessions and processed messages", "v2 opt-outs and their audit trail",
          "v3 processed messages in arrival order",
          "v4 sessions found for sweeping by a trailing sweep time",
          "v5 dedupe entries beside their conversation's session",
        ])
    }
    // The writer too: GRDB's pool sets `synchronous = NORMAL` on it after `prepareDatabase`.
    #expect(try database.pool.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") } == 2)
    let normal = try SQLiteDatabase(
      path: TemporaryDirectory.file("normal.sqlite"), durability: .normal)
    let synchronous = try normal.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
    #expect(synchronous == 1)
  }

  @Test func aCorruptedSessionFailsOnlyItsOwnConversation() async throws {
    let store = try SQLiteConversationStore(path: TemporaryDirectory.file("corrupt.sqlite"))
    let clock = ManualClock()
    let client = counterApp(store: store, clock: clock)
    let bob = "+16175550999"
    _ = await client.send("hi", from: alice, to: number)
    _ = await client.send("hi", from: bob, to: number)
    // Text where an integer belongs (SQLite keeps it: the column has affinity, not a type).
    try await store.database.pool.write { db in
      try db.execute(
        sql: """
          UPDATE parley_conversation SET generation = 'two'
          WHERE conversation_key LIKE ? AND message_sid = ''
          """,
        arguments: ["\(alice)%"])
    }
    let broken = await client.send("hi", from: alice, to: number)
    #expect(broken.status == .internalServerError)
    #expect(
      await client.send("hi", from: bob, to: number).texts == [
        "Hello, thanks for message number 2"
      ])
  }

  /// What a turn reads is read with the type Parley wrote, never converted: a value of another
  /// type in any column (a row written by another tool, or damaged) fails that conversation's turn
  /// with a 500 and an empty `<Response/>`, so nothing is texted, and leaves the others alone.
  @Test(arguments: [
    "UPDATE parley_conversation SET data = CAST(data AS TEXT) WHERE \(aliceSession)",
    "UPDATE parley_conversation SET session_id = x'01' WHERE \(aliceSession)",
    "UPDATE parley_conversation SET expires_at = 1.5 WHERE \(aliceSession)",
    "UPDATE parley_opt_out SET opted_out = 'no' WHERE subscriber = :alice",
    "UPDATE parley_opt_out SET opted_out = 2 WHERE subscriber = :alice",
    "UPDATE parley_opt_out SET updated_at = 'yesterday' WHERE subscriber = :alice",
    "UPDATE parley_reply SET body = x'3c2f3e' WHERE \(replyOfSMa)",
    "UPDATE parley_reply SET header_fields = x'5b5d' WHERE \(replyOfSMa)",
    "UPDATE parley_conversation SET reply_sequence = 'one' WHERE message_sid = 'SM-a'",
  ])
  func aValueOfAnotherTypeFailsTheTurnInsteadOfBeingConverted(corruption: String) async throws {
    let store = try SQLiteConversationStore(path: TemporaryDirectory.file("types.sqlite"))
    let client = optOutApp(store: store)
    let bob = "+16175550999"
    _ = await client.send("STOP", from: alice, to: number)
    _ = await client.send("START", from: alice, to: number)
    _ = await client.send("hi", from: alice, to: number, messageSid: "SM-a")
    _ = await client.send("hi", from: bob, to: number)
    try await store.database.pool.writeWithoutTransaction { db in
      // The CHECK constraints would refuse some of these: the damage is done past them.
      try db.execute(sql: "PRAGMA ignore_check_constraints = ON")
      try db.execute(
        sql: corruption, arguments: ["alice": alice, "conversations": "\(alice)|%"])
      #expect(db.changesCount == 1)
    }
    // A retry of the first message reads its dedupe record; a new message, the rest.
    let messageSid =
      corruption.contains("reply") ? "SM-a" : TwilioWebhookForm.sid("SM")
    let broken = await client.send("hi", from: alice, to: number, messageSid: messageSid)
    #expect(broken.status == .internalServerError)
    #expect(broken.twiml?.messages.isEmpty == true)
    #expect(await client.send("hi", from: bob, to: number).texts == ["reply 2 to hi"])
  }

  @Test func theWriterCheckpointsTheLogAtTheConfiguredSize() throws {
    /// Frames in the write-ahead log after 100 commits of a row each.
    func logFrames(_ database: SQLiteDatabase) throws -> Int {
      try database.pool.write { db in try db.execute(sql: "CREATE TABLE filler (text TEXT)") }
      for _ in 0..<100 {
        try database.pool.write { db in
          try db.execute(sql: "INSERT INTO filler VALUES (zeroblob(3000))")
        }
      }
      return try database.pool.writeWithoutTransaction { db in
        try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")![1]
      }
    }
    let standard = try SQLiteDatabase(path: TemporaryDirectory.file("checkpoint.sqlite"))
    let small = try SQLiteDatabase(
      path: TemporaryDirectory.file("small-checkpoint.sqlite"), walAutocheckpointPages: 10)
    #expect(
      try standard.pool.write { try Int.fetchOne($0, sql: "PRAGMA wal_autocheckpoint") } == 4_000)
    // At 4,000 pages the log keeps every commit; at 10 it is copied back and restarted often.
    #expect(try logFrames(standard) >= 100)
    #expect(try logFrames(small) < 30)
  }

  @Test func sweepingUsesTheIndexesNotAFullScan() throws {
    let database = try SQLiteDatabase(path: TemporaryDirectory.file("plan.sqlite"))
    try database.pool.read { db in
      for (sql, table, index) in [
        (
          SQLiteConversationStore.sweepSessionsSQL, "parley_conversation",
          "parley_conversation_session_sweep"
        ),
        (
          SQLiteConversationStore.sweepDedupeEntriesSQL, "parley_conversation",
          "parley_reply_expiry"
        ),
        (SQLiteConversationStore.sweepRepliesSQL, "parley_reply", "parley_reply_expiry"),
      ] {
        let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN \(sql)", arguments: [0, 10])
          .map { $0["detail"] as String }
        #expect(
          plan.contains {
            $0.contains("USING COVERING INDEX \(index)") || $0.contains("USING INDEX \(index)")
          }, "\(plan)")
        #expect(
          !plan.contains { $0.hasPrefix("SCAN \(table)") && !$0.contains("INDEX") }, "\(plan)")
      }
    }
  }

  /// A turn that slides its session's expiry within ten minutes of the sweep time leaves the sweep
  /// time, and the page of its index entry, as they were: the commit writes the row's page alone.
  /// One that slides it further moves the sweep time and writes the index's page too.
  @Test func slidingAnExpiryWithinTheWindowWritesNoIndexEntry() async throws {
    let database = try SQLiteDatabase(
      path: TemporaryDirectory.file("slide.sqlite"), walAutocheckpointPages: 0)
    let store = SQLiteConversationStore(database: database)
    let start = WallInstant(millisecondsSince1970: 1_800_000_000_000)
    let key = ConversationKey(rawValue: "+1|slide")
    let record = SessionRecord(
      key: key, id: "s", generation: 1, data: Array("{}".utf8), createdAt: start,
      updatedAt: start, expiresAt: start.advanced(by: .seconds(4 * 3600)))
    try await store.commit(TurnWrites(key: key, now: start, session: .save(record, expected: nil)))
    func sweepAt() async throws -> Int64? {
      try await database.pool.read { db in
        try Int64.fetchOne(
          db, sql: "SELECT sweep_at FROM parley_conversation WHERE message_sid = ''")
      }
    }
    let pageSize = try await database.pool.read { db in
      try Int.fetchOne(db, sql: "PRAGMA page_size")!
    }
    /// The pages the commit of `writes` wrote to the log (which nothing checkpoints here).
    func pagesWritten(by writes: TurnWrites) async throws -> Int {
      func frames() throws -> Int {
        let log = try FileManager.default.attributesOfItem(atPath: database.pool.path + "-wal")
        return ((log[.size] as? Int ?? 0) - 32) / (24 + pageSize)
      }
      let before = try frames()
      try await store.commit(writes)
      return try frames() - before
    }
    let inserted = start.advanced(by: .seconds(4 * 3600)).millisecondsSince1970
    #expect(try await sweepAt() == inserted)

    // Slides within the window: the row's page only, the sweep time unchanged.
    for seconds in [10, 300, 600] {
      let now = start.advanced(by: .seconds(seconds))
      #expect(try await pagesWritten(by: .touching(record, at: now)) == 1)
      #expect(try await sweepAt() == inserted)
    }
    // A save (new data, next generation) within the window: the same.
    var saved = record
    saved.generation = 2
    saved.data = Array(#"{"step":1}"#.utf8)
    saved.updatedAt = start.advanced(by: .seconds(600))
    saved.expiresAt = saved.updatedAt.advanced(by: .seconds(4 * 3600))
    #expect(
      try await pagesWritten(
        by: TurnWrites(
          key: key, now: saved.updatedAt, session: .save(saved, expected: record.version)))
        == 1)
    #expect(try await sweepAt() == inserted)
    // One past the window moves the sweep time: the index's page as well.
    let later = start.advanced(by: .seconds(601))
    #expect(try await pagesWritten(by: .touching(saved, at: later)) == 2)
    #expect(
      try await sweepAt() == later.advanced(by: .seconds(4 * 3600)).millisecondsSince1970)
    #expect(
      try await store.session(for: key)?.expiresAt == later.advanced(by: .seconds(4 * 3600)))
    // A clock set back moves it too, so the sweep time never passes the expiry.
    let earlier = start.advanced(by: .seconds(30))
    try await store.commit(.touching(saved, at: earlier))
    #expect(
      try await sweepAt() == earlier.advanced(by: .seconds(4 * 3600)).millisecondsSince1970)
    // A version that is not the stored one changes nothing, with either statement.
    await #expect(throws: ConversationStoreError.self) {
      try await store.commit(.touching(record, at: start.advanced(by: .seconds(60))))
    }
    await #expect(throws: ConversationStoreError.self) {
      try await store.commit(.touching(record, at: start.advanced(by: .seconds(3600))))
    }
  }

  /// A turn's dedupe entry goes on the page of the session it changes: with many conversations
  /// stored, turns in different conversations write about one page each to the log, plus the few
  /// pages they share (the stored replies' last page and their expiry index's). Keyed by
  /// MessageSid alone, each entry took a random page of that index as well: twice as many.
  @Test func aTurnsDedupeEntryGoesOnItsSessionsPage() async throws {
    let database = try SQLiteDatabase(
      path: TemporaryDirectory.file("pages.sqlite"), walAutocheckpointPages: 0)
    let store = SQLiteConversationStore(database: database)
    let start = WallInstant(millisecondsSince1970: 1_800_000_000_000)
    let stored = 20_000
    let key = { (index: Int) in ConversationKey(rawValue: "+1\(100_000 + index)|+2") }
    // Each conversation with its session and the entry of its first message, as a turn leaves
    // them, written in one go.
    try await database.pool.write { db in
      try db.execute(
        sql: """
          WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
          INSERT INTO parley_reply (sequence, conversation_key, message_sid, content_type, body,
            header_fields, created_at, expires_at)
          SELECT i + 1, printf('+1%d|+2', 100000 + i), 'SM1', 'text/xml',
            '<Response><Message>Hello</Message></Response>', '[]', ?, ?
          FROM n;
          """,
        arguments: [stored, start.millisecondsSince1970, start.millisecondsSince1970 + 86_400_000])
      let expiries = [
        start.millisecondsSince1970 + 14_400_000, start.millisecondsSince1970 + 86_400_000,
      ]
      for entry in [
        """
        SELECT printf('+1%d|+2', 100000 + i), '', 's', 1, x'7b7d', ?2, ?2, ?3, ?3, NULL FROM n
        """,
        """
        SELECT printf('+1%d|+2', 100000 + i), 'SM1', NULL, NULL, NULL, ?2, NULL, ?3, NULL, i + 1
        FROM n
        """,
      ].enumerated() {
        try db.execute(
          sql: """
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
            INSERT INTO parley_conversation
              (conversation_key, message_sid, session_id, generation, data, created_at,
               updated_at, expires_at, sweep_at, reply_sequence)
            \(entry.element)
            """,
          arguments: [stored, start.millisecondsSince1970, expiries[entry.offset]])
      }
    }
    let pageSize = try await database.pool.read { try Int.fetchOne($0, sql: "PRAGMA page_size")! }
    /// The distinct pages in the log since the last call, which restarts it.
    func pagesLogged() async throws -> Set<UInt32> {
      let log = try Data(contentsOf: URL(fileURLWithPath: database.pool.path + "-wal"))
      var pages = Set<UInt32>()
      var offset = 32
      while offset + 24 + pageSize <= log.count {
        pages.insert(log[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) })
        offset += 24 + pageSize
      }
      try await database.pool.writeWithoutTransaction { db in
        try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
      }
      return pages
    }
    _ = try await pagesLogged()
    let turns = 60
    // Two rounds of a turn in each of 60 conversations spread over the table: the first splits
    // the pages the seed filled; the second is measured.
    for round in 1...2 {
      let now = start.advanced(by: .seconds(60 * round))
      for turn in 0..<turns {
        let conversation = key(turn * 331 % stored)
        let session = try #require(try await store.session(for: conversation))
        var writes = TurnWrites.recording(
          TwilioWebhookForm.sid("SM"), in: conversation, at: now, expiresIn: .seconds(86_400))
        writes.session = TurnWrites.touching(session, at: now).session
        try await store.commit(writes)
      }
      let pages = try await pagesLogged()
      // 70 when written: a leaf of the conversations' table per turn, and 10 pages shared by
      // the 60 commits (the last leaves of the replies and of their expiry index, their parents,
      // the file's header). Keyed by MessageSid, the entries would have added a leaf of their
      // index (about 250 of them here) for most turns: 132 pages, in the same steps replayed
      // on the old schema with Python's sqlite3.
      if round == 2 {
        #expect(pages.count >= turns, "\(pages.count) pages")
        #expect(pages.count <= turns + 20, "\(pages.count) pages")
      }
    }
  }

  /// The statements every turn runs are compiled once and reused. SQLite compiles a statement
  /// again when a value bound to it could change its plan; the reply's lookup once did that for
  /// every new MessageSid, and each compilation ran GRDB's authorizer: 7% of a turn's CPU.
  @Test func theTurnsStatementsAreCompiledOnce() async throws {
    let store = try SQLiteConversationStore(path: TemporaryDirectory.file("compiled.sqlite"))
    let client = optOutApp(store: store)
    for index in 0..<20 {
      _ = await client.send("hi \(index)", from: "+1617555\(1000 + index % 4)", to: number)
    }
    let statements = [
      SessionRow.selectSQL, DedupeEntryRow.selectReplySQL, DedupeEntryRow.insertReplySQL,
      DedupeEntryRow.upsertEntrySQL, SQLiteTurnWrites.insertSessionSQL,
      // The clock stands still: each save stays within the sweep time's window.
      SQLiteTurnWrites.updateSessionSQL[0],
    ]
    let counts = try await store.database.pool.writeWithoutTransaction { db in
      try statements.map { sql in
        let statement = try db.cachedStatement(sql: sql).sqliteStatement
        return (
          run: sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_RUN, 0),
          recompiled: sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_REPREPARE, 0)
        )
      }
    }
    // Each ran (the turns used the writer's cached statements), and none was compiled again.
    #expect(counts.map(\.run).allSatisfy { $0 > 0 }, "\(counts)")
    #expect(counts.map(\.recompiled) == Array(repeating: 0, count: statements.count))
  }

  /// Every value the hot path's statements bind (`Database.run`, `firstRow`) reads back byte for
  /// byte: the empty ones (text bound from a null pointer would be NULL, which the schema
  /// refuses), text beyond ASCII, NULs inside a value and a session larger than a page.
  @Test func boundValuesReadBackExactly() async throws {
    let store = try SQLiteConversationStore(path: TemporaryDirectory.file("bound.sqlite"))
    let now = WallInstant(millisecondsSince1970: 1_800_000_000_000)
    let cases: [(contentType: String, body: String, data: [UInt8])] = [
      ("", "", []),
      ("text/xml; charset=utf-8", "Café 😀\u{0}après\u{0}", [0, 1, 0, 0xFF]),
      ("x", String(repeating: "é", count: 3000), (0..<10_000).map { UInt8($0 % 251) }),
    ]
    for (index, value) in cases.enumerated() {
      let key = ConversationKey(rawValue: "+1617555012\(index)|+14155550199")
      let reply = StoredReply(
        contentType: value.contentType, body: value.body, headerFields: [["X-Body", value.body]])
      let session = SessionRecord(
        key: key, id: "session-\(index)-é", generation: 1, data: value.data, createdAt: now,
        updatedAt: now, expiresAt: now.advanced(by: .seconds(3600)))
      try await store.commit(
        TurnWrites(
          key: key, now: now,
          dedupe: DedupeRecord(
            messageSid: "SM\(index)\u{0}x", key: key, reply: reply, createdAt: now,
            expiresAt: now.advanced(by: .seconds(3600))),
          session: .save(session, expected: nil)))
      let snapshot = try await store.snapshot(for: key, messageSid: "SM\(index)\u{0}x", now: now)
      #expect(snapshot.replay == reply)
      #expect(snapshot.session == session)
      // The NUL is part of the MessageSid: the part before it is another message.
      #expect(try await store.snapshot(for: key, messageSid: "SM\(index)", now: now).replay == nil)
    }
  }

  /// The empty MessageSid names a session's row in its conversation's key space: a dedupe record
  /// with it is refused before it reaches the writer, and a snapshot asking for it finds no reply.
  @Test func anEmptyMessageSidIsNeitherRecordedNorLookedUp() async throws {
    let store = try SQLiteConversationStore(path: TemporaryDirectory.file("empty-sid.sqlite"))
    let now = WallInstant(millisecondsSince1970: 1_800_000_000_000)
    let key = ConversationKey(rawValue: "+1|+2")
    let record = SessionRecord(
      key: key, id: "s", generation: 1, data: Array("{}".utf8), createdAt: now, updatedAt: now,
      expiresAt: now.advanced(by: .seconds(3600)))
    try await store.commit(TurnWrites(key: key, now: now, session: .save(record, expected: nil)))
    await #expect(throws: DatabaseError.self) {
      try await store.commit(.recording("", in: key, at: now))
    }
    let snapshot = try await store.snapshot(for: key, messageSid: "", now: now)
    #expect(snapshot.replay == nil && snapshot.session == record)
    let replies = try await store.database.pool.read { db in
      try Int.fetchOne(db, sql: "SELECT count(*) FROM parley_reply")
    }
    #expect(replies == 0)
  }

  /// The schema holds every session's sweep time to the window the store's statements assume.
  @Test func theSchemaHoldsTheSweepTimeWithinItsWindow() throws {
    let database = try SQLiteDatabase(path: TemporaryDirectory.file("window.sqlite"))
    let expires: Int64 = 1_800_000_000_000
    func insert(key: String, sweepAt: Int64) throws {
      try database.pool.write { db in
        try db.execute(
          sql: """
            INSERT INTO parley_conversation
              (conversation_key, message_sid, session_id, generation, data, created_at,
               updated_at, expires_at, sweep_at)
            VALUES (?, '', 's', 1, x'7b7d', 0, 0, ?, ?)
            """,
          arguments: [key, expires, sweepAt])
      }
    }
    try insert(key: "at", sweepAt: expires)
    try insert(key: "window", sweepAt: expires - SessionSweepTime.window)
    #expect(throws: DatabaseError.self) {
      try insert(key: "past", sweepAt: expires - SessionSweepTime.window - 1)
    }
    #expect(throws: DatabaseError.self) { try insert(key: "ahead", sweepAt: expires + 1) }
  }

  @Test func theSweeperServiceDeletesExpiredSessions() async throws {
    let store = try SQLiteConversationStore(path: TemporaryDirectory.file("sweep.sqlite"))
    let clock = ManualClock()
    let client = counterApp(store: store, clock: clock)
    for index in 0..<25 { _ = await client.send("hi", from: "+1617555\(1000 + index)", to: number) }
    clock.advance(by: .seconds(3 * 3600))
    _ = await client.send("hi", from: alice, to: number)
    let sweeper = ConversationSweeper(
      store: store, clock: clock, batchSize: 10, logger: Logger(label: "sweep"))
    // The others expired a second ago: the sweep leaves them for up to ten minutes.
    clock.advance(by: .seconds(3600 + 1))
    #expect(try await sweeper.sweepNow().sessions == 0)
    clock.advance(by: .seconds(600))
    let swept = try await sweeper.sweepNow()
    #expect(swept.sessions == 25)
    #expect(swept.dedupeRecords == 0)  // dedupe records live 24 h
    #expect(
      try await store.sessions(after: nil, limit: 100).map(\.key.rawValue) == ["\(alice)|\(number)"]
    )
    clock.advance(by: .seconds(24 * 3600))
    #expect(try await sweeper.sweepNow().dedupeRecords == 26)
  }
}

struct SQLiteCheckpointerTests {
  @Test func aCheckpointCopiesTheLogWhileTheStoreKeepsCommitting() async throws {
    // No automatic checkpoint: only the checkpointer copies the log back.
    let database = try SQLiteDatabase(
      path: TemporaryDirectory.file("checkpointer.sqlite"), walAutocheckpointPages: 0)
    let store = SQLiteConversationStore(database: database)
    let checkpointer = SQLiteCheckpointer(database: database, logger: Logger(label: "test"))
    let now = WallInstant(millisecondsSince1970: 1_700_000_000_000)
    func commit(_ index: Int) async throws {
      let key = ConversationKey(rawValue: "+1555\(index)|+14155550199")
      try await store.commit(
        TurnWrites(
          key: key, now: now,
          session: .save(
            SessionRecord(
              key: key, id: "s\(index)", generation: 1, data: Array("{}".utf8), createdAt: now,
              updatedAt: now, expiresAt: now.advanced(by: .seconds(3600))),
            expected: nil)))
    }
    for index in 0..<50 { try await commit(index) }
    let first = try await checkpointer.checkpointNow()
    #expect(first.logFrames > 0)
    #expect(first.copiedFrames == first.logFrames)
    // Once everything was copied, the next commit restarts the log from its beginning: the log
    // stays small with no checkpoint inside any commit.
    try await commit(50)
    let second = try await checkpointer.checkpointNow()
    #expect(second.copiedFrames == second.logFrames)
    #expect(second.logFrames > 0 && second.logFrames < first.logFrames / 4)
    for index in 51..<100 { try await commit(index) }
    let third = try await checkpointer.checkpointNow()
    #expect(third.copiedFrames == third.logFrames)
    #expect(try await store.sessions(after: nil, limit: 1000).count == 100)
  }

  @Test func aCheckpointWhileAnotherRunsIsRecognizedAsSuch() async throws {
    let path = TemporaryDirectory.file("busy-checkpoint.sqlite")
    let database = try SQLiteDatabase(path: path, walAutocheckpointPages: 0)
    try await database.pool.write { db in
      try db.execute(sql: "CREATE TABLE filler (id INTEGER PRIMARY KEY, text TEXT)")
      for index in 0..<200 {
        try db.execute(
          sql: "INSERT INTO filler (text) VALUES (?)",
          arguments: [String(repeating: "x", count: 500) + "\(index)"])
      }
    }
    // A reader holding an old snapshot, and a RESTART checkpoint that copies the log and then
    // waits for that reader (holding SQLite's checkpoint lock) until its busy timeout.
    var readerConfiguration = Configuration()
    readerConfiguration.allowsUnsafeTransactions = true
    let reader = try DatabaseQueue(path: path, configuration: readerConfiguration)
    try reader.inDatabase { db in
      try db.beginTransaction(.deferred)
      _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM filler")
    }
    try await database.pool.write { db in
      try db.execute(sql: "INSERT INTO filler (text) VALUES ('after the snapshot')")
    }
    var configuration = Configuration()
    configuration.busyMode = .timeout(10)
    let restarting = try DatabaseQueue(path: path, configuration: configuration)
    let restart = Task.detached {
      try restarting.writeWithoutTransaction { db in _ = try db.checkpoint(.restart) }
    }
    let checkpointer = SQLiteCheckpointer(database: database, logger: Logger(label: "test"))
    // Until the RESTART checkpoint is under way, a passive one may still run.
    var failure: (any Error)?
    for _ in 0..<50 where failure == nil {
      try await Task.sleep(for: .milliseconds(100))
      do { _ = try await checkpointer.checkpointNow() } catch { failure = error }
    }
    let error = try #require(failure)
    #expect(SQLiteCheckpointer.isAnotherCheckpoint(error))
    try reader.inDatabase { db in try db.rollback() }
    _ = try? await restart.value
    // Any other failure is not taken for one.
    #expect(!SQLiteCheckpointer.isAnotherCheckpoint(DatabaseError(resultCode: .SQLITE_IOERR)))
  }

  @Test func theServiceStopsOnGracefulShutdown() async throws {
    let database = try SQLiteDatabase(path: TemporaryDirectory.file("checkpointer-run.sqlite"))
    let checkpointer = SQLiteCheckpointer(
      database: database, interval: .milliseconds(5), logger: Logger(label: "test"))
    let group = ServiceGroup(
      services: [checkpointer], gracefulShutdownSignals: [], logger: Logger(label: "test"))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
      tasks.addTask { try await group.run() }
      try await Task.sleep(for: .milliseconds(50))
      await group.triggerGracefulShutdown()
      try await tasks.waitForAll()
    }
  }
}
