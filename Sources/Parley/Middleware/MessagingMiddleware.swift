public import Logging

/// The rest of the chain, as a middleware sees it.
public typealias NextResponder = @Sendable (Turn) async throws -> Reply

/// Code that runs around every turn: it sees the turn and the rest of the chain, and may answer
/// itself, change the turn, or change the reply on its way back.
///
/// ```swift
/// struct Shout: MessagingMiddleware {
///   func handle(_ turn: Turn, next: NextResponder) async throws -> Reply {
///     var turn = turn
///     turn.message.body = turn.message.body.uppercased()
///     return try await next(turn)
///   }
/// }
/// ```
public protocol MessagingMiddleware: Sendable {
  /// Handles `turn`, usually by calling `next`.
  func handle(_ turn: Turn, next: NextResponder) async throws -> Reply

  /// Observes a delivery status callback; the default passes it on unchanged.
  func handleStatus(_ callback: StatusCallback, logger: Logger, next: NextStatusResponder)
    async throws
}

/// The rest of the chain for a status callback.
public typealias NextStatusResponder = @Sendable (StatusCallback) async throws -> Void

extension MessagingMiddleware {
  public func handleStatus(
    _ callback: StatusCallback, logger: Logger, next: NextStatusResponder
  ) async throws {
    try await next(callback)
  }
}
