import BenchMalloc
import Foundation
import GRDB
import Logging
import Parley
import ParleySQLite
import ParleyServer
import SampleSupport
import ServiceLifecycle
import SurveyBot

/// Where the Parley rows keep their conversations.
enum BenchStore: String, CaseIterable, Sendable {
  /// No store and no conversation at all: `ParleyServer`, form decoding, the signature check and
  /// a fixed reply, to split Parley's cost between its HTTP plumbing and the conversation.
  case none
  /// `MemoryConversationStore`: no disk at all.
  case memory
  /// SQLite with `synchronous=NORMAL`: durable against a crash of the process, not of the machine.
  case sqliteNormal = "sqlite-normal"
  /// SQLite with `synchronous=FULL`: every turn is fsync'd before its reply leaves.
  case sqliteFull = "sqlite-full"
  /// PostgreSQL at `PARLEY_POSTGRES_URL`, as the samples run it (each commit durable before its
  /// reply leaves; `prepare()` refuses a server that does not commit durably).
  case postgres
}

/// Parley's full pipeline as an app would run it: signature check, form decoding, dedupe of the
/// MessageSid, opt-out check, the session loaded and saved in the store, one step of the survey
/// dialog, TwiML rendered; served by `ParleyServer` beside the sweeper.
enum BenchServer {
  /// The app's logger: swift-log's default handler (`StreamLogHandler`, as an app that does not
  /// bootstrap the logging system gets), at `level`. `pipeline` logs through the same one.
  static func logger(level: Logger.Level) -> Logger {
    var logger = Logger(label: "parley-bench")
    logger.logLevel = level
    return logger
  }

  static func run(store kind: BenchStore, database: String, port: Int, logLevel: Logger.Level)
    async throws
  {
    let logger = Self.logger(level: logLevel)
    let (app, backing) = try await application(
      store: kind, database: database, publicBaseURL: "http://127.0.0.1:\(port)", logger: logger)
    // The soak's window on the C allocator, beside the webhooks (and outside their middleware).
    let served = app.routing(AllocatorFigures.path) { _ in
      guard let figures = AllocatorFigures.current() else {
        return WebhookResponse(
          status: .notFound, contentType: "text/plain; charset=utf-8",
          body: "this C library has no mallinfo2\n")
      }
      return WebhookResponse(
        status: .ok, contentType: "text/plain; charset=utf-8", body: figures.line + "\n")
    }
    let server = ParleyServer(
      application: served, configuration: .init(host: "127.0.0.1", port: port), logger: logger)
    // The store's own services (PostgreSQL's client), the server once the store is prepared, and
    // the store's upkeep: as `SampleStore.run` serves a sample. (A group shuts its services down
    // last first: the server before the client it needs.)
    let services = backing.map {
      $0.services + [$0.serving(server)] + upkeep(of: $0, logger: logger)
    }
    try await ServiceGroup(
      services: services ?? [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
    ).run()
    // For the runner's turns/commit column: how many turns shared each transaction (and fsync).
    if let sqlite = backing?.store as? SQLiteConversationStore {
      let statistics = sqlite.commitStatistics
      print(
        CommitLine.line(
          turns: statistics.turns, transactions: statistics.transactions,
          largest: statistics.largestGroup))
      fflush(nil)
    }
  }

  /// The services that keep a store as an app runs them: the sweeper, and for SQLite the
  /// checkpointer, which `run --compare-without-checkpointer` leaves out to measure it
  /// (`PARLEY_BENCH_CHECKPOINTER=0`). `serve` runs them beside the server, `pipeline` beside its
  /// turns (without the checkpointer, the commit that crosses the log's threshold copies it back
  /// while every turn queued behind it waits).
  static func upkeep(of backing: SampleStore, logger: Logger) -> [any Service] {
    var services: [any Service] = [ConversationSweeper(store: backing.store, logger: logger)]
    if let sqlite = backing.store as? SQLiteConversationStore,
      ProcessInfo.processInfo.environment["PARLEY_BENCH_CHECKPOINTER"] != "0"
    {
      services.append(SQLiteCheckpointer(database: sqlite.database, logger: logger))
    }
    return services
  }

  /// The app each Parley row serves, and its store with the services that store needs (none for
  /// ``BenchStore/none``). The app is given the store as `wrappingStore` returns it (`pipeline
  /// --stages` wraps it to stamp each turn's calls).
  static func application(
    store kind: BenchStore, database: String, publicBaseURL: String, logger: Logger,
    wrappingStore: (any ConversationStore) -> any ConversationStore = { $0 }
  ) async throws -> (ParleyApplication, SampleStore?) {
    let signature = try TwilioSignatureConfiguration(
      authTokens: [Workload.authToken], publicBaseURL: publicBaseURL)
    let backing: SampleStore
    switch kind {
    case .none:
      // `ParleyServer` with the signature middleware and a fixed reply.
      let app = ParleyApplication(
        logger: logger, middleware: [SignatureMiddleware(configuration: signature)]
      ) { _ in .message("Thanks for your message.") }
      return (app, nil)
    case .memory: backing = SampleStore(store: MemoryConversationStore())
    case .sqliteNormal:
      backing = SampleStore(store: try SQLiteConversationStore(path: database, durability: .normal))
    case .sqliteFull:
      backing = SampleStore(store: try SQLiteConversationStore(path: database, durability: .full))
    case .postgres:
      guard let url = ProcessInfo.processInfo.environment["PARLEY_POSTGRES_URL"] else {
        throw BenchError("the postgres store needs PARLEY_POSTGRES_URL")
      }
      // As the samples open it.
      backing = try DatabaseOptions.parse(["--postgres-url", url]).makeStore(logger: logger)
    }
    let store = backing.store
    // An experiment, not a setting to copy (`run --compare-wal-autocheckpoint PAGES`): SQLite's
    // WAL auto-checkpoint at another size (0 turns it off and the WAL grows without bound), to
    // show what the checkpoints run inside a group's COMMIT cost.
    if let sqlite = store as? SQLiteConversationStore,
      let pages = ProcessInfo.processInfo.environment["PARLEY_BENCH_WAL_AUTOCHECKPOINT"]
        .flatMap({ Int($0) })
    {
      try await sqlite.database.pool.writeWithoutTransaction { db in
        try db.execute(sql: "PRAGMA wal_autocheckpoint = \(pages)")
      }
    }
    let survey = DialogRunner(SurveyDialog())
    let app = ParleyApplication.conversational(
      store: wrappingStore(store), signature: .validate(signature), secrets: .random(),
      state: DialogSession<SurveyAnswers>.self,
      optOut: .enabled(OptOutConfiguration(helpText: "Parley survey. Reply STOP to opt out.")),
      logger: logger, handler: survey.respond)
    return (app, backing)
  }
}

/// What the server's C allocator holds (glibc's `mallinfo2`), served at ``path`` by the
/// benchmark's servers for the soak: the resident memory of a process mixes what it uses with
/// what its allocator keeps after a free, and only the first would grow with a leak.
struct AllocatorFigures {
  /// Where `serve` answers with ``line``.
  static let path = "/bench/allocator"
  /// Bytes allocated and not freed.
  var inUse: Int
  /// Bytes the allocator has from the system: in use, or freed and kept in a thread's arena.
  var held: Int

  /// The figures now; nil where the C library cannot tell them (not glibc, or before 2.33).
  static func current() -> AllocatorFigures? {
    let figures = bench_malloc_figures()
    guard figures.available != 0 else { return nil }
    return AllocatorFigures(inUse: Int(figures.inUse), held: Int(figures.held))
  }

  /// `in-use <bytes> held <bytes>`.
  var line: String { "in-use \(inUse) held \(held)" }

  /// Reads ``line``.
  init?(line: Substring) {
    let words = line.split(separator: " ")
    guard words.count == 4, words[0] == "in-use", words[2] == "held",
      let inUse = Int(words[1]), let held = Int(words[3])
    else { return nil }
    self.init(inUse: inUse, held: held)
  }

  init(inUse: Int, held: Int) {
    self.inUse = inUse
    self.held = held
  }
}
