public import Logging

/// One step of a conversation: an inbound message travelling down the middleware chain.
///
/// Middleware may read and change the turn before passing it on, and attach values for the
/// middleware and handler after it through ``values``.
public struct Turn: Sendable {
  /// The inbound message.
  public var message: InboundMessage
  /// The HTTP request that carried it (headers, cookies, target).
  public var request: WebhookRequest
  /// A logger with this turn's metadata (message id, masked numbers).
  public var logger: Logger
  /// Values attached by middleware, keyed by type.
  public var values: TurnValues

  /// Creates a turn.
  public init(
    message: InboundMessage, request: WebhookRequest, logger: Logger, values: TurnValues = .init()
  ) {
    self.message = message
    self.request = request
    self.logger = logger
    self.values = values
  }
}

/// A key for a value middleware attaches to a ``Turn``.
///
/// ```swift
/// enum TenantKey: TurnValueKey { typealias Value = String }
/// turn.values[TenantKey.self] = "acme"
/// ```
public protocol TurnValueKey {
  /// The type of the value.
  associatedtype Value: Sendable
}

/// Type-keyed values carried by a ``Turn``.
public struct TurnValues: Sendable {
  private var storage: [ObjectIdentifier: any Sendable] = [:]

  /// Creates an empty set of values.
  public init() {}

  /// The value for `key`, if set.
  public subscript<Key: TurnValueKey>(key: Key.Type) -> Key.Value? {
    get { storage[ObjectIdentifier(key)] as? Key.Value }
    set { storage[ObjectIdentifier(key)] = newValue }
  }
}
