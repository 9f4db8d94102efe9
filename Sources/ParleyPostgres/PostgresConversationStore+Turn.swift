import Logging
public import Parley
import PostgresNIO

extension PostgresConversationStore {
  /// Runs one turn holding a PostgreSQL advisory lock on the conversation, on one leased
  /// connection that the turn's reads and commit also use: the same conversation's turns on every
  /// instance run one after the other, and a turn never waits for a second connection while
  /// holding the lock.
  public func withTurn<T: Sendable>(
    for key: ConversationKey, _ body: @Sendable (any ConversationStore) async throws -> T
  ) async throws -> T {
    let logger = self.logger
    let statements = self.statements
    return try await withLeasedConnection { connection in
      let lockKey = [PreparedValue.text(key.rawValue)]
      let lock = PreparedSQL("SELECT pg_advisory_lock(hashtextextended($1, 0))", binds: lockKey)
      let unlock = PreparedSQL(
        "SELECT pg_advisory_unlock(hashtextextended($1, 0))", binds: lockKey)
      _ = try await connection.checkedExecute(lock, statements: statements, logger: logger)
      do {
        let result = try await body(PostgresTurnStore(parent: self, connection: connection))
        _ = try await connection.checkedExecute(unlock, statements: statements, logger: logger)
        return result
      } catch {
        // If the connection itself failed, the server released the lock with the session.
        _ = try? await connection.checkedExecute(unlock, statements: statements, logger: logger)
        throw error
      }
    }
  }
}

/// The store as one turn sees it: reads and the commit on the turn's own connection.
struct PostgresTurnStore: ConversationStore {
  let parent: PostgresConversationStore
  let connection: PostgresConnection

  func snapshot(_ request: SnapshotRequest) async throws -> TurnSnapshot {
    try await PostgresConversationStore.snapshot(
      request, connection: connection, statements: parent.statements, logger: parent.logger)
  }

  func commit(_ writes: TurnWrites) async throws {
    try await PostgresConversationStore.commit(
      writes, connection: connection, statements: parent.statements, logger: parent.logger)
  }

  func sweep(now: WallInstant, limit: Int) async throws -> SweepResult {
    try await parent.sweep(now: now, limit: limit)
  }

  func session(for key: ConversationKey) async throws -> SessionRecord? {
    try await parent.session(for: key)
  }

  func sessions(after key: ConversationKey?, limit: Int) async throws -> [SessionRecord] {
    try await parent.sessions(after: key, limit: limit)
  }

  func deleteSession(for key: ConversationKey) async throws -> Bool {
    try await parent.deleteSession(for: key)
  }

  func optOutRecords(subscriber: String, scopes: [OptOutScope]) async throws -> [OptOutRecord] {
    try await PostgresConversationStore.optOutRecords(
      subscriber: subscriber, scopes: scopes, connection: connection, logger: parent.logger)
  }

  func recordOptOutEvents(_ events: [OptOutEventDraft], now: WallInstant) async throws
    -> [OptOutEvent]
  {
    try await parent.recordOptOutEvents(events, now: now)
  }

  func optOutRecords(optedOutOnly: Bool, after cursor: OptOutRecord?, limit: Int) async throws
    -> [OptOutRecord]
  {
    try await parent.optOutRecords(optedOutOnly: optedOutOnly, after: cursor, limit: limit)
  }

  func auditEvents(after sequence: Int64, limit: Int) async throws -> [OptOutEvent] {
    try await parent.auditEvents(after: sequence, limit: limit)
  }

  func auditHead() async throws -> OptOutAuditChain.Head {
    try await parent.auditHead()
  }
}
