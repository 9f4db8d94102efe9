public import ArgumentParser
import Parley
import ParleySQLite
import SampleSupport
import SurveyBot

/// `swift run Survey`: the survey bot on http://127.0.0.1:8080/sms; `swift run Survey export`
/// prints the completed surveys as CSV.
public struct SurveyCommand: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "survey", abstract: "Parley's survey bot.",
    subcommands: [Serve.self, Export.self], defaultSubcommand: Serve.self)

  public init() {}

  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the survey bot.")

    @OptionGroup var server: ServerOptions
    @OptionGroup var state: DatabaseOptions
    @OptionGroup var session: SessionOptions

    func run() async throws {
      let logger = server.makeLogger(label: "survey")
      let database = try SQLiteDatabase(path: state.database)
      let store = SQLiteConversationStore(database: database)
      let app = SurveyBot.application(
        store: store, signature: try server.signaturePolicy(),
        secrets: try session.secrets(logger: logger),
        responses: try SurveyResponses(database: database),
        logger: logger)
      let backend = SampleStore(
        store: store, services: [SQLiteCheckpointer(database: database, logger: logger)])
      try await backend.run(app, options: server, logger: logger)
    }
  }

  struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the completed surveys as CSV.")

    @OptionGroup var state: DatabaseOptions

    func run() async throws {
      let responses = try SurveyResponses(database: try SQLiteDatabase(path: state.database))
      print(try await responses.csv(), terminator: "")
    }
  }
}
