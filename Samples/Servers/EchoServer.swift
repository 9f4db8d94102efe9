public import ArgumentParser
import EchoBot
import Parley
import ParleySQLite
import ParleyServer
import SampleSupport
import ServiceLifecycle

/// `swift run Echo`: the echo bot on http://127.0.0.1:8080/sms.
public struct EchoServer: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "echo", abstract: "Parley's echo bot: replies to every text with the same text.")

  @OptionGroup var server: ServerOptions
  @OptionGroup var state: DatabaseOptions

  public init() {}

  public func run() async throws {
    let logger = server.makeLogger(label: "echo")
    let backend = try state.makeStore(logger: logger)
    let parley = ParleyServer(
      application: EchoBot.application(
        store: backend.store, signature: try server.signaturePolicy(), logger: logger),
      configuration: server.serverConfiguration,
      logger: logger)
    let group = ServiceGroup(
      services: backend.services + [
        backend.serving(parley), ConversationSweeper(store: backend.store, logger: logger),
      ],
      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
  }
}
