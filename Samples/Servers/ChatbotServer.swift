public import ArgumentParser
import ChatbotBot
import Parley
import ParleySQLite
import SampleSupport

/// `swift run Chatbot`: the chatbot with memory on http://127.0.0.1:8080/sms, its sessions in SQLite.
public struct ChatbotServer: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "chatbot",
    abstract:
      "Parley's chatbot with memory: remembers your name, answers a few intents, sends a picture.")

  @OptionGroup var server: ServerOptions
  @OptionGroup var state: DatabaseOptions
  @OptionGroup var session: SessionOptions

  public init() {}

  public func run() async throws {
    let logger = server.makeLogger(label: "chatbot")
    let backend = try state.makeStore(logger: logger)
    let app = ChatbotBot.application(
      store: backend.store, signature: try server.signaturePolicy(),
      secrets: try session.secrets(logger: logger), logger: logger)
    try await backend.run(app, options: server, logger: logger)
  }
}
