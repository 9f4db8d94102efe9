import GRDB
public import Logging
public import ServiceLifecycle

/// Copies SQLite's write-ahead log back into the database file in the background, on a
/// connection of its own, so that the commits of turns seldom have to.
///
/// Without it, the commit that makes the log cross ``SQLiteDatabase``'s `walAutocheckpointPages`
/// copies every page changed since the last checkpoint and fsyncs the database file before it
/// returns, while every turn queued on the writer waits: in the benchmark's fsync'd row that was
/// most of its p99 latency. A passive checkpoint runs beside the writer without blocking it, so
/// this service copies the log every ``interval`` while it grows (every ``idleInterval`` while it
/// does not); the automatic checkpoint still runs at the threshold (it keeps the log bounded),
/// but finds most pages already copied. Side by side in the benchmark (`run
/// --compare-without-checkpointer`, every turn fsync'd), p99 at 64 connections fell from 21 to
/// 18 ms on an empty store and from 126 to 38 ms (max 320 to 59 ms) with 1,000,000 conversations
/// stored.
///
/// Run it beside the server:
/// ```swift
/// let database = try SQLiteDatabase(path: "parley.sqlite")
/// let store = SQLiteConversationStore(database: database)
/// let group = ServiceGroup(
///   services: [server, SQLiteCheckpointer(database: database, logger: logger)],
///   gracefulShutdownSignals: [.sigterm], logger: logger)
/// ```
public struct SQLiteCheckpointer: Service {
  /// The database whose log is copied.
  public let database: SQLiteDatabase
  /// Time between checkpoints while the log grows.
  public let interval: Duration
  /// Time between checkpoints while it does not (the database is idle). It is also how long a
  /// burst after a quiet spell may wait for the first checkpoint: if the log crosses the writer's
  /// threshold first, a commit copies it while every turn queued behind waits. (At 1 s, the old
  /// default, the benchmark's log could reach the threshold before the checkpointer woke: with
  /// 1,000,000 conversations stored, the writer then copied 3,387 pages and fsync'd for 295 ms.
  /// A checkpoint that finds nothing to copy takes 0.1 to 0.3 ms.)
  public let idleInterval: Duration
  /// Where failures are logged.
  public let logger: Logger

  /// Creates the service.
  public init(
    database: SQLiteDatabase, interval: Duration = .milliseconds(20),
    idleInterval: Duration = .milliseconds(100), logger: Logger
  ) {
    self.database = database
    self.interval = interval
    self.idleInterval = idleInterval
    self.logger = logger
  }

  /// What one checkpoint did.
  public struct Progress: Sendable, Hashable {
    /// Frames (pages) in the log.
    public var logFrames: Int
    /// Frames of the log now in the database file.
    public var copiedFrames: Int
  }

  /// Checkpoints every ``interval`` until cancelled or shut down gracefully.
  public func run() async throws {
    let connection = try openConnection()
    var last: Progress?
    var pause = interval
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
      do {
        let pause = pause
        try await cancelWhenGracefulShutdown {
          try await Task.sleep(for: pause, clock: .continuous)
        }
      } catch {
        return
      }
      do {
        let progress = try await Self.checkpoint(connection)
        pause = progress == last ? idleInterval : interval
        last = progress
      } catch  where Self.isAnotherCheckpoint(error) {
        // The writer's automatic checkpoint (or an operator's) is copying the log right now: not
        // a failure, and no reason to wait longer. (Logged as an error, this was hundreds of
        // lines in a ten-minute soak.)
        pause = interval
        logger.debug("SQLite checkpoint skipped: another connection is checkpointing")
      } catch {
        pause = idleInterval
        logger.error("SQLite checkpoint failed", metadata: ["parley.error": "\(error)"])
      }
    }
  }

  /// Copies what it can of the log now, on a connection of its own (as ``run()`` does).
  public func checkpointNow() async throws -> Progress {
    try await Self.checkpoint(try openConnection())
  }

  /// Whether a checkpoint failed only because another connection was running one: a passive
  /// checkpoint then returns `SQLITE_BUSY` at once (it never waits for the busy timeout).
  static func isAnotherCheckpoint(_ error: any Error) -> Bool {
    (error as? DatabaseError)?.resultCode == .SQLITE_BUSY
  }

  private func openConnection() throws -> DatabaseQueue {
    var configuration = Configuration()
    configuration.label = "parley.checkpointer"
    configuration.busyMode = .timeout(5)
    return try DatabaseQueue(path: database.pool.path, configuration: configuration)
  }

  private static func checkpoint(_ connection: DatabaseQueue) async throws -> Progress {
    try await connection.writeWithoutTransaction { db in
      let (logFrames, copiedFrames) = try db.checkpoint(.passive)
      return Progress(logFrames: logFrames, copiedFrames: copiedFrames)
    }
  }
}
