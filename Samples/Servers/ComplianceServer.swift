public import ArgumentParser
import ComplianceStore
import Parley
import SampleSupport

/// `swift run Compliance`: the opt-out compliance store on http://127.0.0.1:8080: the webhook at
/// `/sms` for every number and Messaging Service, the JSON API under `/v1`.
public struct ComplianceServer: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "compliance",
    abstract: "Parley's opt-out compliance store: records keywords, answers a JSON API.")

  @OptionGroup var server: ServerOptions
  @OptionGroup var state: DatabaseOptions

  @Option(help: "Bearer token the JSON API requires (env PARLEY_API_TOKEN).")
  var apiToken: String?

  public init() {}

  public func validate() throws {
    if apiToken ?? Environment.string("PARLEY_API_TOKEN") == nil && !server.localDemo {
      throw ValidationError(
        "set PARLEY_API_TOKEN (or --api-token): the API lists phone numbers; only --local-demo runs it open"
      )
    }
  }

  public func run() async throws {
    let logger = server.makeLogger(label: "compliance")
    let backend = try state.makeStore(logger: logger)
    let app = ComplianceStore.application(
      store: backend.store, signature: try server.signaturePolicy(),
      apiToken: apiToken ?? Environment.string("PARLEY_API_TOKEN"), logger: logger)
    try await backend.run(app, options: server, logger: logger)
  }
}
