public import Logging
public import ServiceLifecycle

/// Deletes expired sessions and dedupe records in the background, through the store's expiry
/// index, in batches. Run it in the app's `ServiceGroup`.
public struct ConversationSweeper: Service {
  /// The store to sweep.
  public let store: any ConversationStore
  /// The clock.
  public let clock: any WallClock
  /// Time between sweeps.
  public let interval: Duration
  /// Rows deleted per batch (a sweep runs batches until one comes back short).
  public let batchSize: Int
  /// Where sweeps are logged.
  public let logger: Logger

  /// Creates a sweeper.
  public init(
    store: any ConversationStore, clock: any WallClock = SystemWallClock(),
    interval: Duration = .seconds(60), batchSize: Int = 1000, logger: Logger
  ) {
    self.store = store
    self.clock = clock
    self.interval = interval
    self.batchSize = batchSize
    self.logger = logger
  }

  /// Sweeps every `interval` until cancelled or shut down gracefully.
  public func run() async throws {
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
      do {
        try await cancelWhenGracefulShutdown {
          try await Task.sleep(for: interval, tolerance: .seconds(1), clock: .continuous)
        }
      } catch {
        return
      }
      do {
        _ = try await sweepNow()
      } catch {
        logger.error("sweep failed", metadata: ["parley.error": "\(error)"])
      }
    }
  }

  /// Sweeps everything expired now, batch after batch, and returns what was deleted.
  public func sweepNow() async throws -> SweepResult {
    var total = SweepResult()
    while true {
      let batch = try await store.sweep(now: clock.now, limit: batchSize)
      total.sessions += batch.sessions
      total.dedupeRecords += batch.dedupeRecords
      if batch.sessions < batchSize && batch.dedupeRecords < batchSize { break }
      await Task.yield()
    }
    if total.total > 0 {
      logger.debug(
        "swept expired records",
        metadata: [
          "parley.sessions": "\(total.sessions)", "parley.dedupe": "\(total.dedupeRecords)",
        ])
    }
    return total
  }
}
