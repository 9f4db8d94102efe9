public import ArgumentParser
import CounterBot
import Parley
import ParleySQLite
import SampleSupport

/// `swift run Counter`: the counter bot on http://127.0.0.1:8080/sms, its sessions in SQLite.
public struct CounterServer: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "counter", abstract: "Parley's counter bot: counts each conversation's messages.")

  @OptionGroup var server: ServerOptions
  @OptionGroup var state: DatabaseOptions
  @OptionGroup var session: SessionOptions

  public init() {}

  public func run() async throws {
    let logger = server.makeLogger(label: "counter")
    let backend = try state.makeStore(logger: logger)
    let app = CounterBot.application(
      store: backend.store, signature: try server.signaturePolicy(),
      secrets: try session.secrets(logger: logger), logger: logger)
    try await backend.run(app, options: server, logger: logger)
  }
}
