import ArgumentParser
import EchoBot
import Logging
import ParleyServer
import ServiceLifecycle

/// `swift run Echo`: the echo bot on http://127.0.0.1:8080/sms.
@main
struct EchoServer: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "Echo", abstract: "Parley's echo bot: replies to every text with the same text.")

  @Option(help: "Address to listen on (env PARLEY_HOST).")
  var host = Environment.string("PARLEY_HOST") ?? "127.0.0.1"

  @Option(help: "Port to listen on (env PARLEY_PORT).")
  var port = Environment.int("PARLEY_PORT") ?? 8080

  @Option(help: "Log level: trace, debug, info, notice, warning, error (env PARLEY_LOG_LEVEL).")
  var logLevel = Environment.string("PARLEY_LOG_LEVEL") ?? "info"

  func run() async throws {
    var logger = Logger(label: "echo")
    logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
    let server = ParleyServer(
      application: EchoBot.application(logger: logger),
      configuration: .init(host: host, port: port),
      logger: logger)
    let group = ServiceGroup(
      services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
  }
}
