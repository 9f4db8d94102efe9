public import ArgumentParser
import Foundation
public import Logging
public import Parley
import ParleyPostgres
import ParleySQLite
public import ParleyServer
import PostgresNIO
public import ServiceLifecycle

/// The options every sample server takes: flags, or environment variables when a flag is not given.
public struct ServerOptions: ParsableArguments {
  @Option(help: "Address to listen on (env PARLEY_HOST).")
  public var host = Environment.string("PARLEY_HOST") ?? "127.0.0.1"

  @Option(help: "Port to listen on (env PARLEY_PORT).")
  public var port = Environment.int("PARLEY_PORT") ?? 8080

  @Option(help: "Log level: trace, debug, info, notice, warning, error (env PARLEY_LOG_LEVEL).")
  public var logLevel = Environment.string("PARLEY_LOG_LEVEL") ?? "info"

  @Option(help: "Seconds a client has to send a whole request (env PARLEY_REQUEST_TIMEOUT).")
  public var requestTimeout = Environment.int("PARLEY_REQUEST_TIMEOUT") ?? 10

  /// The HTTP server's configuration.
  public var serverConfiguration: ParleyServer.Configuration {
    ParleyServer.Configuration(host: host, port: port, requestTimeout: .seconds(requestTimeout))
  }

  @Option(
    help:
      "Twilio auth token that signs webhooks; several separated by commas (env TWILIO_AUTH_TOKEN).")
  public var authToken: String?

  @Option(
    help:
      "Public URL Twilio calls, such as https://bot.example.com, when behind a proxy (env PARLEY_PUBLIC_URL)."
  )
  public var publicURL: String?

  @Option(help: "IP addresses of trusted proxies, comma-separated (env PARLEY_TRUSTED_PROXIES).")
  public var trustedProxies: String?

  @Flag(help: "Run without signature validation, on 127.0.0.1 only: a local demo.")
  public var localDemo = false

  public init() {}

  /// Refuses what would expose an unsigned app.
  public func validate() throws {
    if localDemo && host != "127.0.0.1" && host != "localhost" && host != "::1" {
      throw ValidationError(
        "--local-demo listens on 127.0.0.1 only; drop --host or drop --local-demo")
    }
  }

  /// Signature validation with the configured secrets, or, for `--local-demo`, none.
  ///
  /// - Throws: when no auth token is configured and this is not a local demo: the server refuses
  ///   to start rather than accept unsigned webhooks.
  public func signaturePolicy() throws -> SignaturePolicy {
    if localDemo { return .disabled(reason: "--local-demo") }
    let tokens = (authToken ?? Environment.string("TWILIO_AUTH_TOKEN") ?? "")
      .split(separator: ",").map { String($0) }
    let proxies = (trustedProxies ?? Environment.string("PARLEY_TRUSTED_PROXIES") ?? "")
      .split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
    do {
      return .validate(
        try TwilioSignatureConfiguration(
          authTokens: tokens, publicBaseURL: publicURL ?? Environment.string("PARLEY_PUBLIC_URL"),
          trustedProxies: Set(proxies)))
    } catch {
      throw ValidationError(
        "\(error). Set TWILIO_AUTH_TOKEN (or --auth-token), or pass --local-demo to run unsigned on 127.0.0.1."
      )
    }
  }

  /// A logger at the chosen level.
  public func makeLogger(label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
    return logger
  }
}

/// The database file of the samples (every sample keeps at least its opt-outs).
public struct DatabaseOptions: ParsableArguments {
  @Option(help: "SQLite database file (env PARLEY_DATABASE).")
  public var database = Environment.string("PARLEY_DATABASE") ?? "parley.sqlite"

  @Option(
    help:
      "PostgreSQL URL, for several instances: postgres://user:password@host/db (env PARLEY_POSTGRES_URL)."
  )
  public var postgresURL: String?

  public init() {}
}

/// The cookie secret of samples that keep sessions.
public struct SessionOptions: ParsableArguments {
  @Option(
    help: """
      Secret signing session cookies, 32 bytes or more (env PARLEY_COOKIE_SECRET). \
      Without one a random secret is used: sessions still resume from the database after a restart.
      """)
  public var cookieSecret: String?

  public init() {}

  /// The session secrets, random (with a notice) when none was given.
  public func secrets(logger: Logger) throws -> SessionSecrets {
    guard let cookieSecret = cookieSecret ?? Environment.string("PARLEY_COOKIE_SECRET") else {
      logger.notice("no PARLEY_COOKIE_SECRET given; using a random cookie secret")
      return SessionSecrets.random()
    }
    return try SessionSecrets(cookieSecret)
  }
}

extension DatabaseOptions {
  /// The store the sample runs on: PostgreSQL when `--postgres-url` (or `PARLEY_POSTGRES_URL`) is
  /// given, SQLite otherwise, with the services it needs beside the server and what to do
  /// before serving.
  public func makeStore(logger: Logger) throws -> SampleStore {
    if let url = postgresURL ?? Environment.string("PARLEY_POSTGRES_URL") {
      let client = PostgresClient(configuration: try .parley(url: url), backgroundLogger: logger)
      let store = PostgresConversationStore(client: client, logger: logger)
      return SampleStore(store: store, services: [client], prepare: { try await store.prepare() })
    }
    let sqlite = try SQLiteDatabase(path: database)
    return SampleStore(
      store: SQLiteConversationStore(database: sqlite),
      services: [SQLiteCheckpointer(database: sqlite, logger: logger)], prepare: {})
  }
}

/// A sample's store and what it needs.
public struct SampleStore: Sendable {
  /// The store.
  public let store: any ConversationStore
  /// Services to run beside the server (the PostgreSQL client, SQLite's checkpointer).
  public let services: [any Service]
  /// Runs before the server accepts requests (the PostgreSQL migrations).
  public let prepare: @Sendable () async throws -> Void

  /// A store with the services it needs and its preparation.
  public init(
    store: any ConversationStore, services: [any Service] = [],
    prepare: @escaping @Sendable () async throws -> Void = {}
  ) {
    self.store = store
    self.services = services
    self.prepare = prepare
  }

  /// The server, started once the store is prepared.
  public func serving(_ server: ParleyServer) -> some Service {
    AfterPreparation(prepare: prepare, service: server)
  }

  /// Serves `application` until SIGTERM or SIGINT: the store's services, the HTTP server once
  /// the store is prepared, and the sweeper that deletes expired records, in one `ServiceGroup`.
  public func run(_ application: ParleyApplication, options: ServerOptions, logger: Logger)
    async throws
  {
    let server = ParleyServer(
      application: application, configuration: options.serverConfiguration, logger: logger)
    let group = ServiceGroup(
      services: services + [
        serving(server), ConversationSweeper(store: store, logger: logger),
      ],
      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()
  }
}

/// Runs `prepare`, then the service.
struct AfterPreparation<Inner: Service>: Service {
  let prepare: @Sendable () async throws -> Void
  let service: Inner

  func run() async throws {
    try await prepare()
    try await service.run()
  }
}
