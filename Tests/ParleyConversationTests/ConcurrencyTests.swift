import Foundation
import Logging
import Parley
import ParleySQLite
import ParleyTesting
import Synchronization
import Testing

struct Tokens: SessionState {
  var tokens: [String] = []
}

@Suite(.timeLimit(.minutes(5)))
struct ConcurrencyTests {
  /// 200 conversations × 50 messages, all sent at once; each appends its unique token.
  @Test(arguments: StoreKind.allCases)
  func noLostAndNoDuplicatedUpdatesUnderConcurrency(store kind: StoreKind) async throws {
    let store = try kind.make()
    let app = ParleyApplication(
      middleware: [
        ConversationMiddleware(store: store),
        SessionMiddleware(Tokens.self, secrets: secrets),
      ]
    ) { turn in
      let session = try turn.session(Tokens.self)
      session.state.tokens.append(turn.message.body)
      return .message("ok \(session.state.tokens.count)")
    }
    let client = ParleyTestClient(application: app)
    let conversations = 200
    let messages = 50
    let failures = await withTaskGroup(of: Bool.self) { group in
      for message in 0..<messages {
        for conversation in 0..<conversations {
          group.addTask {
            let reply = await client.send(
              "c\(conversation)-m\(message)", from: "+1617555\(1000 + conversation)",
              to: "+14155550199")
            return reply.status == .ok
          }
        }
      }
      return await group.reduce(0) { $0 + ($1 ? 0 : 1) }
    }
    #expect(failures == 0)
    var lost = 0
    var duplicated = 0
    for conversation in 0..<conversations {
      let key = ConversationKey(rawValue: "+1617555\(1000 + conversation)|+14155550199")
      let record = try #require(try await store.session(for: key))
      let tokens = try JSONDecoder().decode(Tokens.self, from: Data(record.data)).tokens
      let expected = Set((0..<messages).map { "c\(conversation)-m\($0)" })
      lost += expected.subtracting(tokens).count
      duplicated += tokens.count - Set(tokens).count
      #expect(record.generation == Int64(messages))
    }
    #expect(lost == 0)
    #expect(duplicated == 0)
  }

  @Test func oneConversationRunsOneTurnAtATimeAndOthersRunInParallel() async throws {
    let lock = KeyedLock<String>()
    let inside = Shared(0)
    let maximum = Shared(0)
    await withTaskGroup(of: Void.self) { group in
      for _ in 0..<50 {
        group.addTask {
          await lock.withLock("a") {
            let now = inside.withLock { value -> Int in
              value += 1
              return value
            }
            maximum.withLock { $0 = max($0, now) }
            await Task.yield()
            inside.withLock { $0 -= 1 }
          }
        }
      }
    }
    #expect(maximum.withLock { $0 } == 1)
    #expect(lock.heldKeys == 0)

    // While "a" is held, "b" proceeds.
    let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
    let (held, heldContinuation) = AsyncStream<Void>.makeStream()
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        await lock.withLock("a") {
          heldContinuation.yield()
          for await _ in release { break }
        }
      }
      for await _ in held { break }
      let ranB = await lock.withLock("b") { true }
      #expect(ranB)
      releaseContinuation.yield()
      try await group.waitForAll()
    }
  }
}

/// A counter tasks can share.
final class Shared: Sendable {
  private let value: Mutex<Int>
  init(_ value: Int) { self.value = Mutex(value) }
  func withLock<T>(_ body: (inout Int) -> T) -> T { value.withLock { body(&$0) } }
}
