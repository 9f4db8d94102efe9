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
    let again = TurnWrites(
      key: ConversationKey(rawValue: "key"), now: now,
      dedupe: DedupeRecord(
        messageSid: "SM-old-1", key: ConversationKey(rawValue: "key"),
        reply: StoredReply(contentType: "text/xml", body: "<Response/>", headerFields: []),
        createdAt: now,
        expiresAt: WallInstant(millisecondsSince1970: now.millisecondsSince1970 + 3_600_000)))
    do {
      try await store.commit(again)
      Issue.record("a second record of SM-old-1 was accepted")
    } catch let error as ConversationStoreError {
      #expect(error.code == .duplicateMessage)
    }
    let sequences = try await store.database.pool.read { db in
      try Int64.fetchAll(db, sql: "SELECT sequence FROM parley_processed_message ORDER BY 1")
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
      try Int64.fetchAll(db, sql: "SELECT sweep_at FROM parley_session ORDER BY conversation_key")
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
}
