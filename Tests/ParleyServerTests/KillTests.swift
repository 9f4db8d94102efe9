import Foundation
import GRDB
import Parley
import ParleySQLite
import ParleyTestSupport
import ParleyTesting
import ParleyTwiML
import Synchronization
import Testing

/// Numbers whose STOP was acknowledged with a 200.
final class Acknowledged: Sendable {
  private let numbers = Mutex<[String]>([])
  func add(_ number: String) { numbers.withLock { $0.append(number) } }
  var all: [String] { numbers.withLock { $0 } }
  var count: Int { numbers.withLock { $0.count } }
}

@Suite(.serialized, .timeLimit(.minutes(3)))
struct KillTests {
  @Test func everyAcknowledgedOptOutSurvivesSIGKILLUnderLoad() async throws {
    let path = TemporaryDirectory.file("optouts.sqlite")
    let server = try SampleProcess("Echo", arguments: ["--database", path])
    try server.waitUntilListening()
    let port = server.port
    let acknowledged = Acknowledged()
    let workers = 16
    let pid = server.process.processIdentifier

    await withTaskGroup(of: Void.self) { group in
      for worker in 0..<workers {
        group.addTask {
          // Each worker sends STOP from its own numbers over one keep-alive connection until the
          // connection dies with the process.
          try? await RawConnection.open(port: port) { connection in
            for index in 0..<100_000 {
              let number = "+1555\(String(format: "%02d", worker))\(String(format: "%05d", index))"
              let form =
                "From=\(number.replacingOccurrences(of: "+", with: "%2B"))&To=%2B14155550199&Body=STOP"
                + "&MessageSid=SM\(worker)x\(index)&AccountSid=AC1"
              try await connection.send(webhookRequest(body: form))
              guard let reply = try await connection.readResponse() else { return }
              if reply.status == 200 { acknowledged.add(number) }
            }
          }
        }
      }
      group.addTask {
        while acknowledged.count < 400 && !Task.isCancelled {
          try? await Task.sleep(for: .milliseconds(5))
        }
        kill(pid, SIGKILL)
      }
    }
    server.process.waitUntilExit()
    let acked = acknowledged.all
    #expect(acked.count >= 400)

    // Restart on the same file: recovery, then every acknowledged opt-out must be there.
    let restarted = try SampleProcess("Echo", arguments: ["--database", path])
    try restarted.waitUntilListening()
    let database = try SQLiteDatabase(path: path)
    let stored = try await database.pool.read { db in
      Set(try String.fetchAll(db, sql: "SELECT subscriber FROM parley_opt_out WHERE opted_out = 1"))
    }
    let lost = acked.filter { !stored.contains($0) }
    #expect(lost.isEmpty, "lost \(lost.count) of \(acked.count) acknowledged opt-outs")
    let integrity = try await database.pool.read { db in
      try String.fetchAll(db, sql: "PRAGMA integrity_check")
    }
    #expect(integrity == ["ok"])
    #expect(try await SQLiteConversationStore(database: database).verifyAuditTrail().isIntact)

    // And the restarted server honours them.
    let form =
      "From=\(acked[0].replacingOccurrences(of: "+", with: "%2B"))&To=%2B14155550199&Body=hello"
    let reply = try await RawConnection.open(port: restarted.port) { connection in
      try await connection.send(webhookRequest(body: form))
      return try #require(try await connection.readResponse())
    }
    #expect(try MessagingResponse(xml: reply.body).messages.isEmpty)
    print(
      "kill -9 under load: \(acked.count) opt-outs acknowledged, \(stored.count) stored, \(lost.count) lost"
    )
    restarted.kill(signal: SIGTERM)
  }
}
