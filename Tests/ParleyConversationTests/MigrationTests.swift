import Foundation
import GRDB
import Parley
import ParleyTesting
import Testing

@testable import ParleySQLite

/// Databases written by earlier versions open, migrate, and keep what they hold.
struct SQLiteMigrationTests {
  let now = WallInstant(millisecondsSince1970: 1_700_000_000_000)

  @Test func dedupeRecordsSurviveTheMoveToArrivalOrder() async throws {
    let path = TemporaryDirectory.file("v2.sqlite")
    // A database as the v2 schema left it, with two dedupe records in it.
    do {
      let pool = try DatabasePool(path: path)
      try SQLiteDatabase.migrator.migrate(pool, upTo: "v2 opt-outs and their audit trail")
      try await pool.write { [now] db in
        for sid in ["SM-old-1", "SM-old-2"] {
          try db.execute(
            sql: """
              INSERT INTO parley_processed_message
                (message_sid, conversation_key, content_type, body, header_fields, created_at,
                 expires_at)
              VALUES (?, 'key', 'text/xml', ?, '[["Set-Cookie","a=b"]]', ?, ?)
              """,
            arguments: [
              sid, "<Response>\(sid)</Response>", now.millisecondsSince1970,
              now.millisecondsSince1970 + 3_600_000,
            ])
        }
      }
    }

    let store = try SQLiteConversationStore(path: path)
    // A retry of an old MessageSid is still answered from its record, header fields and all…
    let snapshot = try await store.snapshot(
      SnapshotRequest(key: ConversationKey(rawValue: "key"), messageSid: "SM-old-2", now: now))
    #expect(snapshot.replay?.body == "<Response>SM-old-2</Response>")
    #expect(snapshot.replay?.headerFields == [["Set-Cookie", "a=b"]])
    // …and recording it again is still refused as a duplicate.
    let again = TurnWrites.recording("SM-old-1", in: ConversationKey(rawValue: "key"), at: now)
    do {
      try await store.commit(again)
      Issue.record("a second record of SM-old-1 was accepted")
    } catch let error as ConversationStoreError {
      #expect(error.code == .duplicateMessage)
    }
    let sequences = try await store.database.pool.read { db in
      try Int64.fetchAll(db, sql: "SELECT sequence FROM parley_reply ORDER BY 1")
    }
    #expect(sequences == [1, 2])
  }

  @Test func sessionsSurviveTheMoveToASweepTime() async throws {
    let path = TemporaryDirectory.file("v3.sqlite")
    let expiries = [now.millisecondsSince1970 - 1, now.millisecondsSince1970 + 3_600_000]
    // A database as the v3 schema left it: one session expired, one live.
    do {
      let pool = try DatabasePool(path: path)
      try SQLiteDatabase.migrator.migrate(pool, upTo: "v3 processed messages in arrival order")
      try await pool.write { [now] db in
        for (index, expiry) in expiries.enumerated() {
          try db.execute(
            sql: """
              INSERT INTO parley_session
                (conversation_key, session_id, generation, data, created_at, updated_at,
                 expires_at)
              VALUES (?, 's', 3, x'7b7d', ?, ?, ?)
              """,
            arguments: [
              "key\(index)", now.millisecondsSince1970 - 10, now.millisecondsSince1970 - 10,
              expiry,
            ])
        }
      }
    }

    let store = try SQLiteConversationStore(path: path)
    let live = try #require(try await store.session(for: ConversationKey(rawValue: "key1")))
    #expect(live.generation == 3 && live.data == Array("{}".utf8))
    #expect(live.expiresAt.millisecondsSince1970 == expiries[1])
    // Each session's sweep time starts at its expiry.
    let sweepTimes = try await store.database.pool.read { db in
      try Int64.fetchAll(
        db,
        sql: """
          SELECT sweep_at FROM parley_conversation WHERE message_sid = ''
          ORDER BY conversation_key
          """)
    }
    #expect(sweepTimes == expiries)
    // The expired one is swept once its ten minutes have passed; the live one is kept, and
    // its turns go on.
    #expect(try await store.sweep(now: now, limit: 10).sessions == 0)
    #expect(try await store.sweep(now: now.advanced(by: .seconds(600)), limit: 10).sessions == 1)
    let later = now.advanced(by: .seconds(60))
    try await store.commit(.touching(live, at: later))
    #expect(
      try await store.session(for: live.key)?.expiresAt == later.advanced(by: .seconds(4 * 3600)))
  }

  @Test func sessionsAndDedupeRecordsSurviveTheMoveIntoOneKeySpace() async throws {
    let path = TemporaryDirectory.file("v4.sqlite")
    let hour: Int64 = 3_600_000
    let t = now.millisecondsSince1970
    // A database as the v4 schema left it: two conversations' sessions, three dedupe records
    // (two of one conversation, one of which has expired) and one record with no session.
    do {
      let pool = try DatabasePool(path: path)
      try SQLiteDatabase.migrator.migrate(
        pool, upTo: "v4 sessions found for sweeping by a trailing sweep time")
      try await pool.write { db in
        for (key, generation) in [("+1|+9", 3), ("+2|+9", 1)] {
          try db.execute(
            sql: """
              INSERT INTO parley_session
                (conversation_key, session_id, generation, data, created_at, updated_at,
                 expires_at, sweep_at)
              VALUES (?, 's', ?, x'7b7d', ?, ?, ?, ?)
              """,
            arguments: [key, generation, t - 10, t - 10, t + 4 * hour, t + 4 * hour])
        }
        for (sid, key, expires) in [
          ("SM-1a", "+1|+9", t - 1), ("SM-1b", "+1|+9", t + 24 * hour),
          ("SM-3", "+3|+9", t + 24 * hour),
        ] {
          try db.execute(
            sql: """
              INSERT INTO parley_processed_message
                (message_sid, conversation_key, content_type, body, header_fields, created_at,
                 expires_at)
              VALUES (?, ?, 'text/xml', ?, '[["Set-Cookie","a=b"]]', ?, ?)
              """,
            arguments: [sid, key, "<Response>\(sid)</Response>", t - 10, expires])
        }
      }
    }

    let store = try SQLiteConversationStore(path: path)
    let tables = try await store.database.pool.read { db in
      try String.fetchAll(
        db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    }
    #expect(tables.contains("parley_conversation") && tables.contains("parley_reply"))
    #expect(!tables.contains("parley_session") && !tables.contains("parley_processed_message"))
    // The sessions are read, listed and go on.
    let sessions = try await store.sessions(after: nil, limit: 10)
    #expect(sessions.map(\.key.rawValue) == ["+1|+9", "+2|+9"])
    #expect(sessions.map(\.generation) == [3, 1])
    try await store.commit(.touching(sessions[0], at: now))
    // The live records replay, header fields and all, in their conversation, with its session.
    for (key, sid) in [("+1|+9", "SM-1b"), ("+3|+9", "SM-3")] {
      let snapshot = try await store.snapshot(
        SnapshotRequest(key: ConversationKey(rawValue: key), messageSid: sid, now: now))
      #expect(snapshot.replay?.body == "<Response>\(sid)</Response>")
      #expect(snapshot.replay?.headerFields == [["Set-Cookie", "a=b"]])
      #expect(snapshot.session?.key.rawValue == (key == "+1|+9" ? key : nil))
    }
    let expired = try await store.snapshot(
      SnapshotRequest(key: ConversationKey(rawValue: "+1|+9"), messageSid: "SM-1a", now: now))
    #expect(expired.replay == nil)
    // Recording a live one again is refused; the expired one is replaced.
    func record(_ sid: String, _ key: String) -> TurnWrites {
      .recording(sid, in: ConversationKey(rawValue: key), at: now, expiresIn: .seconds(86_400))
    }
    await #expect(throws: ConversationStoreError(.duplicateMessage)) {
      try await store.commit(record("SM-1b", "+1|+9"))
    }
    try await store.commit(record("SM-1a", "+1|+9"))
    // The sweep finds the expired reply the replacement left behind, and in a day the rest.
    #expect(try await store.sweep(now: now, limit: 10) == SweepResult())
    #expect(
      try await store.database.pool.read { db in
        try Int.fetchOne(db, sql: "SELECT count(*) FROM parley_reply")
      } == 3)
    let swept = try await store.sweep(
      now: WallInstant(millisecondsSince1970: t + 25 * hour), limit: 10)
    #expect(swept == SweepResult(sessions: 2, dedupeRecords: 3))
    #expect(
      try await store.database.pool.read { db in
        try Int.fetchOne(db, sql: "SELECT count(*) FROM parley_reply")
      } == 0)
  }
}
