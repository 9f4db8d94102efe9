import Foundation
import Logging
import NIOCore
import NIOPosix
import Parley
import ParleyServer
import ParleyTestSupport
import ServiceLifecycle
import Testing

/// Starts a `ParleyServer` for `app` on a free loopback port, runs `body` with the port, then
/// shuts the server down gracefully and waits for it to return.
func withServer(
  _ app: ParleyApplication,
  configuration: ParleyServer.Configuration = .init(host: "127.0.0.1", port: 0),
  _ body: (_ port: Int, _ group: ServiceGroup) async throws -> Void
) async throws {
  var configuration = configuration
  configuration.port = 0
  let logger = Logger(label: "test-server")
  let (ports, continuation) = AsyncStream<Int>.makeStream()
  let server = ParleyServer(
    application: app, configuration: configuration, logger: logger,
    onServerRunning: { address in continuation.yield(address.port ?? 0) })
  let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
  try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await group.run() }
    var iterator = ports.makeAsyncIterator()
    let port = try #require(await iterator.next())
    do {
      try await body(port, group)
    } catch {
      await group.triggerGracefulShutdown()
      throw error
    }
    await group.triggerGracefulShutdown()
    try await tasks.waitForAll()
  }
}
