import Foundation
import Logging
import Parley
import ParleyPostgres
import ParleyTestSupport
import PostgresNIO
import Testing

/// The PostgreSQL the tests use, from `eval "$(bash Scripts/postgres.sh start)"`.
enum PostgresTestEnvironment {
  static let url = ProcessInfo.processInfo.environment["PARLEY_POSTGRES_URL"]
  static var isConfigured: Bool { url != nil }
  static let skipReason: Comment =
    "PostgreSQL tests skipped: PARLEY_POSTGRES_URL is not set (eval \"$(bash Scripts/postgres.sh start)\")"

  /// A new, empty database on the test server, and its URL.
  static func freshDatabase() throws -> String {
    let name =
      "parley_test_"
      + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
    try psql(url!, "CREATE DATABASE \(name)")
    var components = URLComponents(string: url!)!
    components.path = "/\(name)"
    return components.string!
  }

  /// Runs one statement through psql.
  static func psql(_ url: String, _ sql: String) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql]
    process.standardOutput = FileHandle.nullDevice
    try SampleProcess.launch(process)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw PostgresStoreError("psql failed: \(sql)") }
  }

  /// Runs pg_ctl on the test cluster, as its owner.
  static func pgctl(_ arguments: [String]) throws {
    let environment = ProcessInfo.processInfo.environment
    guard let bin = environment["PARLEY_PG_BIN"], let data = environment["PARLEY_PG_DATA"],
      let user = environment["PARLEY_PG_USER"]
    else {
      throw PostgresStoreError("PARLEY_PG_BIN, PARLEY_PG_DATA and PARLEY_PG_USER are not set")
    }
    let process = Process()
    let runAsOwner = getuid() == 0
    process.executableURL = URL(fileURLWithPath: runAsOwner ? "/usr/sbin/runuser" : "\(bin)/pg_ctl")
    process.arguments =
      (runAsOwner ? ["-u", user, "--", "\(bin)/pg_ctl"] : []) + ["-D", data, "-w"] + arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try SampleProcess.launch(process)
    // pg_ctl start leaves the server running: wait for the server to answer, not for pg_ctl's exit.
    for _ in 0..<300 {
      if !process.isRunning { break }
      Thread.sleep(forTimeInterval: 0.1)
    }
    if process.isRunning { return }
    guard process.terminationStatus == 0 else {
      throw PostgresStoreError("pg_ctl \(arguments) failed")
    }
  }

  /// Waits until the server accepts queries again.
  static func waitUntilReady() async throws {
    for _ in 0..<300 {
      if (try? psql(url!, "SELECT 1")) != nil { return }
      try await Task.sleep(for: .milliseconds(100))
    }
    throw PostgresStoreError("PostgreSQL did not come back")
  }
}

/// Runs `body` with a prepared store on a fresh database (its client running meanwhile).
func withPostgresStore<T: Sendable>(
  url: String? = nil, _ body: @Sendable (PostgresConversationStore) async throws -> T
) async throws -> T {
  let url = try url ?? PostgresTestEnvironment.freshDatabase()
  let logger = Logger(label: "postgres-test")
  let client = PostgresClient(configuration: try .parley(url: url), backgroundLogger: logger)
  let store = PostgresConversationStore(client: client, logger: logger)
  return try await withThrowingTaskGroup(of: T?.self) { group in
    group.addTask {
      await client.run()
      return nil
    }
    do {
      try await store.prepare()
      let result = try await body(store)
      group.cancelAll()
      return result
    } catch {
      group.cancelAll()
      throw error
    }
  }
}
