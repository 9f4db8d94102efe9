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
  func handleStatus(_ status: StatusTurn, next: NextStatusResponder) async throws
}

/// The rest of the chain for a status callback.
public typealias NextStatusResponder = @Sendable (StatusTurn) async throws -> Void

/// A delivery status callback travelling down the middleware chain.
public struct StatusTurn: Sendable {
  /// The callback.
  public var callback: StatusCallback
  /// The HTTP request that carried it.
  public var request: WebhookRequest
  /// A logger with the callback's metadata.
  public var logger: Logger

  /// Creates a status turn.
  public init(callback: StatusCallback, request: WebhookRequest, logger: Logger) {
    self.callback = callback
    self.request = request
    self.logger = logger
  }
}

extension MessagingMiddleware {
  public func handleStatus(_ status: StatusTurn, next: NextStatusResponder) async throws {
    try await next(status)
  }
}
