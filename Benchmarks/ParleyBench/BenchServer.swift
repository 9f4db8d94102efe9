import Foundation
import Logging
import Parley
import ParleySQLite
import ParleyServer
import ServiceLifecycle
import SurveyBot

/// Where the Parley rows keep their conversations.
enum BenchStore: String, CaseIterable, Sendable {
  /// `MemoryConversationStore`: no disk at all.
  case memory
  /// SQLite with `synchronous=NORMAL`: durable against a crash of the process, not of the machine.
  case sqliteNormal = "sqlite-normal"
  /// SQLite with `synchronous=FULL`: every turn is fsync'd before its reply leaves.
  case sqliteFull = "sqlite-full"
}

/// Parley's full pipeline as an app would run it: signature check, form decoding, dedupe of the
/// MessageSid, opt-out check, the session loaded and saved in the store, one step of the survey
/// dialog, TwiML rendered; served by `ParleyServer` beside the sweeper.
enum BenchServer {
  static func run(store kind: BenchStore, database: String, port: Int, logLevel: Logger.Level)
    async throws
  {
    var logger = Logger(label: "parley-bench")
    logger.logLevel = logLevel
    // As the samples: checkpoints on their own connection, unless
    // PARLEY_BENCH_CHECKPOINTS=in-commits (SQLite's default) to compare.
    let checkpoints: SQLiteCheckpoints =
      ProcessInfo.processInfo.environment["PARLEY_BENCH_CHECKPOINTS"] == "in-commits"
      ? .inCommits : .background()
    let store: any ConversationStore
    var services: [any Service] = []
    switch kind {
    case .memory:
      store = MemoryConversationStore()
    case .sqliteNormal, .sqliteFull:
      let database = try SQLiteDatabase(
        path: database, durability: kind == .sqliteFull ? .full : .normal,
        checkpoints: checkpoints)
      store = SQLiteConversationStore(database: database)
      if checkpoints != .inCommits {
        let milliseconds = Int(
          ProcessInfo.processInfo.environment["PARLEY_BENCH_CHECKPOINT_MS"] ?? "")
        services.append(
          try SQLiteCheckpointer(
            database: database, interval: .milliseconds(milliseconds ?? 200), logger: logger))
      }
    }
    let signature = try TwilioSignatureConfiguration(
      authTokens: [Workload.authToken], publicBaseURL: "http://127.0.0.1:\(port)")
    let survey = DialogRunner(SurveyDialog())
    let app = ParleyApplication.conversational(
      store: store, signature: .validate(signature), secrets: .random(),
      state: DialogSession<SurveyAnswers>.self,
      optOut: .enabled(OptOutConfiguration(helpText: "Parley survey. Reply STOP to opt out.")),
      logger: logger, handler: survey.respond)
    let server = ParleyServer(
      application: app, configuration: .init(host: "127.0.0.1", port: port), logger: logger)
    let group = ServiceGroup(
      services: services + [server, ConversationSweeper(store: store, logger: logger)],
      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
  }
}
