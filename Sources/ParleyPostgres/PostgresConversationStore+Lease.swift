import Logging
import NIOCore
import Parley
import PostgresNIO
import Synchronization

extension PostgresConversationStore {
  /// Runs `body` on a connection leased from the pool, waiting at most
  /// ``connectionWaitTimeout`` for one.
  ///
  /// PostgresNIO's pool waits for a connection for as long as it takes: while the server is down a
  /// request would hang until it returns, long after Twilio gave up (15 s). Here the wait races a
  /// timer; whichever comes first wins, decided once under a lock, so a lease that arrives just
  /// after the deadline is handed back unused and a body that has started is never cancelled.
  func withLeasedConnection<T: Sendable>(
    _ body: @Sendable (PostgresConnection) async throws -> T
  ) async throws -> T {
    let race = LeaseRace()
    let client = self.client
    let timeout = self.connectionWaitTimeout
    // The group ends before this function returns, so `body` does not outlive the call.
    return try await withoutActuallyEscaping(body) { body in
      try await Self.race(race, client: client, timeout: timeout, body)
    }
  }

  private static func race<T: Sendable>(
    _ race: LeaseRace, client: PostgresClient, timeout: Duration,
    _ body: @escaping @Sendable (PostgresConnection) async throws -> T
  ) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
      group.addTask {
        try await client.withConnection { connection in
          guard race.lease() else { throw PostgresStoreError.connectionWait(timeout) }
          return try await body(connection)
        }
      }
      group.addTask {
        try await Task.sleep(for: timeout)
        if race.timeOut() { throw PostgresStoreError.connectionWait(timeout) }
        return nil  // The lease won: the body runs to its end.
      }
      while let result = try await group.next() {
        if let value = result {
          group.cancelAll()
          return value
        }
      }
      // Both children ended without a value only if the group was cancelled from outside.
      throw CancellationError()
    }
  }

  /// Runs `body` in a transaction on a leased connection (see ``withLeasedConnection(_:)``),
  /// rethrowing a ``ConversationStoreError`` thrown inside it as itself.
  func withLeasedTransaction<T: Sendable>(
    _ body: @Sendable (PostgresConnection) async throws -> T
  ) async throws -> T {
    let logger = self.logger
    return try await withLeasedConnection { connection in
      try await Self.transaction(on: connection, logger: logger, body)
    }
  }

  /// Runs `body` in a transaction on `connection`, rethrowing a ``ConversationStoreError`` thrown
  /// inside it as itself, so a conflict is recognised and the turn runs again. Every statement,
  /// `BEGIN` and `COMMIT` included, goes through ``PostgresConnection/checkedQuery(_:logger:)``.
  static func transaction<T: Sendable>(
    on connection: PostgresConnection, logger: Logger,
    _ body: @Sendable (PostgresConnection) async throws -> T
  ) async throws -> T {
    try await connection.checkedQuery("BEGIN", logger: logger)
    let value: T
    do {
      value = try await body(connection)
    } catch {
      _ = try? await connection.checkedQuery("ROLLBACK", logger: logger)
      throw error
    }
    // If COMMIT fails the outcome is unknown: the turn fails and is not acknowledged; Twilio's
    // retry finds the dedupe record if it did commit.
    try await connection.checkedQuery("COMMIT", logger: logger)
    return value
  }
}

extension PostgresConnection {
  /// Runs `query` and collects its rows, failing at once when the connection has closed
  /// (``ifOpen(_:)``).
  @discardableResult
  func checkedQuery(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
    try await eventLoop.flatSubmit {
      self.ifOpen { self.query(query, logger: logger).map(\.rows) }
    }.get()
  }

  /// Runs `write` (which sends a statement) unless the connection has closed; called on the
  /// connection's event loop.
  ///
  /// PostgresNIO 1.33 writes a statement to its channel without a write promise: once a closed
  /// channel has torn its pipeline down (the server went away, `pg_ctl stop -m immediate`) the
  /// write is dropped and the statement waits forever. Checking `isClosed` from another thread
  /// leaves a window between the check and the write, which a loaded machine hits; on the event
  /// loop, where the close also runs, the check and the write are one step, so either the check
  /// sees the channel closed or the statement reaches the connection's state machine, which fails
  /// it if the connection is closing. Turns then end with a 5xx instead of hanging.
  func ifOpen<T>(_ write: () -> EventLoopFuture<T>) -> EventLoopFuture<T> {
    eventLoop.preconditionInEventLoop()
    guard !isClosed else { return eventLoop.makeFailedFuture(PostgresStoreError.connectionClosed) }
    return write()
  }
}

extension Array where Element == PostgresRow {
  /// Each row decoded as `columns`.
  func decode<each Column: PostgresDecodable>(_ columns: (repeat each Column).Type) throws
    -> [(repeat each Column)]
  {
    try map { try $0.decode(columns) }
  }

  /// Each row's first column decoded as `column`.
  func decode<Column: PostgresDecodable>(_ column: Column.Type) throws -> [Column] {
    try map { try $0.decode(column) }
  }
}

/// Decides, once, whether a lease or its deadline came first.
final class LeaseRace: Sendable {
  private enum State { case waiting, leased, timedOut }
  private let state = Mutex(State.waiting)

  /// Claims the race for the lease; false when the deadline already passed.
  func lease() -> Bool {
    state.withLock { state in
      guard state == .waiting else { return false }
      state = .leased
      return true
    }
  }

  /// Claims the race for the deadline; false when the lease already arrived.
  func timeOut() -> Bool {
    state.withLock { state in
      guard state == .waiting else { return false }
      state = .timedOut
      return true
    }
  }
}
