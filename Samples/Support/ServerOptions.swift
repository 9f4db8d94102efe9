public import ArgumentParser
public import Logging
public import Parley

/// The options every sample server takes: flags, or environment variables when a flag is not given.
public struct ServerOptions: ParsableArguments {
  @Option(help: "Address to listen on (env PARLEY_HOST).")
  public var host = Environment.string("PARLEY_HOST") ?? "127.0.0.1"

  @Option(help: "Port to listen on (env PARLEY_PORT).")
  public var port = Environment.int("PARLEY_PORT") ?? 8080

  @Option(help: "Log level: trace, debug, info, notice, warning, error (env PARLEY_LOG_LEVEL).")
  public var logLevel = Environment.string("PARLEY_LOG_LEVEL") ?? "info"

  public init() {}

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
