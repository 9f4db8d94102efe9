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
}
