import Foundation
import GRDB
import Parley
import ParleySQLite
import ParleyTesting
import SurveyBot

/// The traffic every row of the benchmark receives: signed, distinct inbound-message webhooks, as
/// Twilio sends them, from thousands of senders to one Twilio number.
enum Workload {
  /// The Twilio number every message is sent to.
  static let to = "+15550001111"
  /// The auth token that signs the webhooks (every server of the benchmark is given it).
  static let authToken = "parley-benchmark-auth-token-0123"
  /// The account.
  static let accountSid = "AC0123456789abcdef0123456789abcdef"
  /// Texts the senders send, in turn: greetings, names, ages, yes/no, menu choices, emails, chat.
  static let bodies = [
    "Hi there! I saw the sign at the station, what is this survey about?",
    "Alex", "34", "yes", "Blue", "alex.morgan@example.com",
    "Sorry, can you say that again? I was driving.", "Green", "no", "27",
  ]
  /// How many numbers the stored conversations of the scale run use.
  static let numberSpace = 1_000_000

  /// The sender number of index `index` (`0..<numberSpace`).
  static func number(_ index: Int) -> String {
    "+1555" + String(String(index + 10_000_000).dropFirst())
  }

  /// The `index`-th of `senders` senders, spread over the whole number space so that, in the
  /// scale run, they are among the stored conversations.
  static func sender(_ index: Int, of senders: Int) -> String {
    number((index * 199) % numberSpace)
  }

  /// `count` signed webhooks for `url`: webhook `j` comes from sender `j % senders`, so each
  /// sender's messages are spread through the run. Another `seed` gives other MessageSids.
  static func webhooks(count: Int, senders: Int, url: String, seed: UInt64 = 0x5EED)
    -> [(signature: String, body: String)]
  {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { index in
      let form = TwilioWebhookForm.inbound(
        from: sender(index % senders, of: senders), to: to,
        body: bodies[(index / senders) % bodies.count],
        messageSid: TwilioWebhookForm.sid("SM", using: &generator), accountSid: accountSid)
      let signature = TwilioSignature.compute(
        url: url, parameters: form.pairs, secret: authToken)
      return (signature, form.encoded)
    }
  }

  /// Writes ``webhooks(count:senders:url:seed:)`` as lines of `signature<TAB>body` for wrk.
  static func writeRequests(
    count: Int, senders: Int, url: String, to path: String, seed: UInt64 = 0x5EED
  ) throws {
    var output = ""
    output.reserveCapacity(count * 480)
    for webhook in webhooks(count: count, senders: senders, url: url, seed: seed) {
      output += webhook.signature + "\t" + webhook.body + "\n"
    }
    try output.write(toFile: path, atomically: true, encoding: .utf8)
  }

  /// How old a seed may be when a run starts: its sessions expire 4 hours after it was stored, so
  /// one made within the hour stays live through any run but a soak of hours.
  static let seedLifetime: TimeInterval = 3600

  /// Seconds since the seed at `path` was stored (its newest session's `created_at`); nil when
  /// there is no seed there, or it holds no session. (A seed of a compared build may have the
  /// schema before v5, whose sessions had a table of their own.)
  static func seedAge(path: String) throws -> TimeInterval? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    var configuration = Configuration()
    configuration.readonly = true
    let queue = try DatabaseQueue(path: path, configuration: configuration)
    let newest = try queue.read { db in
      try db.tableExists("parley_conversation")
        ? Int64.fetchOne(
          db, sql: "SELECT max(created_at) FROM parley_conversation WHERE message_sid = ''")
        : Int64.fetchOne(db, sql: "SELECT max(created_at) FROM parley_session")
    }
    return newest.map { Date().timeIntervalSince1970 - TimeInterval($0) / 1000 }
  }

  /// Makes the seed at `path` with `make` (given a scratch path, moved into place when done) if
  /// there is none, or if its sessions are older than ``seedLifetime``.
  ///
  /// The seeded sessions are live for 4 hours from their seeding, as a real store's are from
  /// their last message. An older seed would measure a store of expired sessions that the
  /// sweeper deletes during the run: it is made again.
  static func ensureSeed(at path: String, make: (String) throws -> Void) throws {
    let age = try seedAge(path: path)
    guard age.map({ $0 > seedLifetime }) ?? true else { return }
    if let age {
      print("the seed's sessions were stored \(Int(age / 60)) minutes ago: storing anew")
      try FileManager.default.removeItem(atPath: path)
    }
    print("storing conversations in \(path)…")
    for suffix in ["", "-wal", "-shm"] {
      try? FileManager.default.removeItem(atPath: path + ".tmp" + suffix)
    }
    try make(path + ".tmp")
    try FileManager.default.moveItem(atPath: path + ".tmp", toPath: path)
  }

  /// Stores `count` conversations (a survey session each, plus the dedupe record of its last
  /// message) in the SQLite database at `path`, as the survey leaves them after its first turn.
  static func seed(count: Int, path: String) throws {
    let database = try SQLiteDatabase(path: path, durability: .normal)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let state = Array(try encoder.encode(DialogSession<SurveyAnswers>()))
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    let expires = now + 4 * 3_600_000
    let reply =
      #"<?xml version="1.0" encoding="UTF-8"?><Response><Message>Hi! This is the Parley survey: 4 quick questions. Reply STOP to opt out, BACK to go back.</Message><Message>What's your first name?</Message></Response>"#
    try database.pool.write { db in
      try db.execute(
        sql: """
          WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
          INSERT INTO parley_reply
            (sequence, conversation_key, message_sid, content_type, body, header_fields,
             created_at, expires_at)
          SELECT i + 1, printf('+1555%07d|%s', i, ?2), 'SM' || lower(hex(randomblob(16))),
            'text/xml; charset=utf-8', ?3, '[]', ?4, ?5
          FROM n
          """,
        arguments: [count, to, reply, now, now + 24 * 3_600_000])
      // Each conversation's session (MessageSid '') and the entry of its last message, which
      // points to its reply.
      try db.execute(
        sql: """
          WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
          INSERT INTO parley_conversation
            (conversation_key, message_sid, session_id, generation, data, created_at, updated_at,
             expires_at, sweep_at, reply_sequence)
          SELECT printf('+1555%07d|%s', i, ?2), '', lower(hex(randomblob(16))), 1, ?3, ?4, ?4,
            ?5, ?5, NULL
          FROM n
          UNION ALL
          SELECT r.conversation_key, r.message_sid, NULL, NULL, NULL, ?4, NULL, ?6, NULL,
            r.sequence
          FROM parley_reply AS r
          """,
        arguments: [count, to, Data(state), now, expires, now + 24 * 3_600_000])
    }
    try database.pool.writeWithoutTransaction { db in
      try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
    }
  }
}
