import Foundation
import Logging
import Parley
import ParleyPostgres
import ParleyTesting
import PostgresNIO
import Testing

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
        var names: [String] = []
        for try await name in try await store.client.query(
          "SELECT name FROM parley_migrations ORDER BY name"
        ).decode(String.self) {
          names.append(name)
        }
        #expect(
          names == ["v1 sessions and processed messages", "v2 opt-outs and their audit trail"])
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
