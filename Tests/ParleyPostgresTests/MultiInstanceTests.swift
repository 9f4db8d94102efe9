import Foundation
import Parley
import ParleyTestSupport
import ParleyTwiML
import Synchronization
import Testing

/// The numbers each conversation's replies carried, as the client saw them.
final class Replies: Sendable {
  private let values = Mutex<[Int: [Int]]>([:])
  func add(_ conversation: Int, _ number: Int) {
    values.withLock { $0[conversation, default: []].append(number) }
  }
  var all: [Int: [Int]] { values.withLock { $0 } }
}

final class Counter: Sendable {
  private let storage: Mutex<Int>
  init(_ value: Int) { storage = Mutex(value) }
  func set(_ value: Int) { storage.withLock { $0 = value } }
  var value: Int { storage.withLock { $0 } }
}

final class Flag: Sendable {
  private let value = Mutex(false)
  func set() { value.withLock { $0 = true } }
  var isSet: Bool { value.withLock { $0 } }
}

final class Acknowledged: Sendable {
  private let values = Mutex<[String]>([])
  func add(_ value: String) { values.withLock { $0.append(value) } }
  var all: [String] { values.withLock { $0 } }
  var count: Int { values.withLock { $0.count } }
}

func post(_ port: Int, from: String, body: String, sid: String) async throws -> RawResponse? {
  let form =
    "From=\(from.replacingOccurrences(of: "+", with: "%2B"))&To=%2B14155550199&Body=\(body)&MessageSid=\(sid)&AccountSid=AC1"
  return try await RawConnection.open(port: port) { connection in
    try await connection.send(webhookRequest(body: form))
    return try await connection.readResponse()
  }
}

/// The number in "Hello, thanks for message number N" (1 for the first message).
func counted(_ reply: RawResponse) -> Int? {
  guard let text = (try? MessagingResponse(xml: reply.body))?.messages.first?.body else {
    return nil
  }
  if text == "Hello, thanks for the new message." { return 1 }
  return text.split(separator: " ").last.flatMap { Int($0) }
}

extension PostgresTests {
  @Suite(.timeLimit(.minutes(4)))
  struct MultiInstance {
    static let secret = ["--cookie-secret", "multi-instance-secret-0123456789abcdef"]

    @Test func twoInstancesShareOnePostgresWithoutLosingOrDuplicatingAnything() async throws {
      let url = try PostgresTestEnvironment.freshDatabase()
      let a = try SampleProcess("Counter", arguments: ["--postgres-url", url] + Self.secret)
      let b = try SampleProcess("Counter", arguments: ["--postgres-url", url] + Self.secret)
      try a.waitUntilListening()
      try b.waitUntilListening()
      let ports = [a.port, b.port]
      let replies = Replies()
      let reasons = Acknowledged()
      let conversations = 100
      let messages = 30
      let failures = try await withThrowingTaskGroup(of: Int.self) { group in
        for message in 0..<messages {
          for conversation in 0..<conversations {
            group.addTask {
              // Alternate between the instances, as a load balancer would.
              let port = ports[(conversation + message) % 2]
              let reply: RawResponse?
              do {
                reply = try await post(
                  port, from: "+1617555\(1000 + conversation)", body: "hi",
                  sid: "SMc\(conversation)m\(message)")
              } catch {
                reasons.add("error \(error)")
                return 1
              }
              guard let reply, reply.status == 200, let number = counted(reply) else {
                reasons.add("status \(reply?.status ?? 0)")
                return 1
              }
              replies.add(conversation, number)
              return 0
            }
          }
        }
        return try await group.reduce(0, +)
      }
      #expect(failures == 0, "\(Dictionary(grouping: reasons.all, by: { $0 }).mapValues(\.count))")
      var lost = 0
      var duplicated = 0
      for conversation in 0..<conversations {
        let numbers = replies.all[conversation] ?? []
        lost += messages - Set(numbers).count
        duplicated += numbers.count - Set(numbers).count
        #expect(
          Set(numbers) == Set(1...messages), "conversation \(conversation): \(numbers.sorted())")
      }
      #expect(lost == 0)
      #expect(duplicated == 0)

      // Retries land on the other instance: the same reply, and nothing counted twice.
      for conversation in 0..<20 {
        let sid = "SMc\(conversation)m7"
        let first = try #require(
          try await post(ports[0], from: "+1617555\(1000 + conversation)", body: "hi", sid: sid))
        let second = try #require(
          try await post(ports[1], from: "+1617555\(1000 + conversation)", body: "hi", sid: sid))
        #expect(first.body == second.body)
        #expect(first.header("Set-Cookie") == second.header("Set-Cookie"))
      }
      let next = try #require(
        try await post(ports[1], from: "+16175551000", body: "hi", sid: "SMnext"))
      #expect(counted(next) == messages + 1)

      // A STOP acknowledged by one instance silences the other on the very next message.
      _ = try await post(ports[0], from: "+16175551001", body: "STOP", sid: "SMstop")
      let after = try #require(
        try await post(ports[1], from: "+16175551001", body: "hi", sid: "SMafter"))
      #expect(after.status == 200)
      #expect(try MessagingResponse(xml: after.body).messages.isEmpty)
      // Nor does a retry of a message the other instance answered before the STOP reach it.
      let retried = try #require(
        try await post(ports[1], from: "+16175551001", body: "hi", sid: "SMc1m7"))
      #expect(retried.status == 200)
      #expect(try MessagingResponse(xml: retried.body).messages.isEmpty)
      print(
        "two instances: \(conversations) conversations × \(messages) messages, \(failures) failed, \(lost) lost, \(duplicated) duplicated"
      )
      a.kill(signal: SIGTERM)
      b.kill(signal: SIGTERM)
    }

    @Test
    func anImmediateStopOfPostgresMidLoadLosesNoAcknowledgedWrite() async throws {
      let url = try PostgresTestEnvironment.freshDatabase()
      let echo = try SampleProcess("Echo", arguments: ["--postgres-url", url])
      try echo.waitUntilListening()
      let port = echo.port
      let acknowledged = Acknowledged()
      let refused = Acknowledged()
      let stopped = Flag()
      let restarted = Flag()
      let target = Counter(Int.max)
      try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<8 {
          group.addTask {
            for index in 0..<100_000 {
              if Task.isCancelled { return }
              if restarted.isSet && acknowledged.count >= target.value { return }
              let number = "+1555\(worker)\(String(format: "%06d", index))"
              let reply = try? await post(
                port, from: number, body: "STOP", sid: "SMw\(worker)i\(index)")
              if reply?.status == 200 {
                acknowledged.add(number)
              } else {
                refused.add(number)
                try await Task.sleep(for: .milliseconds(50))
              }
            }
          }
        }
        group.addTask {
          while acknowledged.count < 200 { try await Task.sleep(for: .milliseconds(5)) }
          print("stopping postgres after \(acknowledged.count) acknowledged")
          try PostgresTestEnvironment.pgctl(["stop", "-m", "immediate"])
          print("stopped")
          stopped.set()
          // Down for longer than a turn waits for a connection: those turns must fail with 500.
          try await Task.sleep(for: .seconds(7))
          let environment = ProcessInfo.processInfo.environment
          try PostgresTestEnvironment.pgctl([
            "start", "-o", environment["PARLEY_PG_OPTIONS"] ?? "", "-l",
            environment["PARLEY_PG_LOG"] ?? "/dev/null",
          ])
          try await PostgresTestEnvironment.waitUntilReady()
          let count = acknowledged.count
          target.set(count + 200)
          restarted.set()
          print("restarted; \(acknowledged.count) acknowledged, \(refused.count) refused")
        }
        try await group.waitForAll()
      }
      print("load finished")
      // Parley serves again without a restart.
      let again = try await post(port, from: "+15559999999", body: "STOP", sid: "SMagain")
      #expect(again?.status == 200)
      print("served again: \(again?.status ?? 0)")
      // Every acknowledged opt-out is in the database.
      let acked = acknowledged.all
      let stored = try await withPostgresStore(url: url) { store in
        var numbers: Set<String> = []
        var cursor: OptOutRecord?
        while true {
          let page = try await store.optOutRecords(optedOutOnly: true, after: cursor, limit: 1000)
          numbers.formUnion(page.map(\.subscriber))
          guard page.count == 1000 else { break }
          cursor = page.last
        }
        #expect(try await store.verifyAuditTrail().isIntact)
        return numbers
      }
      let lost = acked.filter { !stored.contains($0) }
      #expect(lost.isEmpty)
      #expect(refused.count > 0, "the stop should have refused some requests")
      print(
        "pg_ctl stop -m immediate: \(acked.count) acknowledged, \(refused.count) refused while down, \(lost.count) lost"
      )
      echo.kill(signal: SIGTERM)
    }
  }
}
