public import ArgumentParser
import EchoBot
import Parley
import ParleySQLite
import SampleSupport

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
    let app = EchoBot.application(
      store: backend.store, signature: try server.signaturePolicy(), logger: logger)
    try await backend.run(app, options: server, logger: logger)
  }
}
