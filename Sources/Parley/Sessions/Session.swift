import Synchronization

/// The state a conversation keeps between messages.
///
/// Any `Codable` value with a starting point:
/// ```swift
/// struct Counter: SessionState { var count = 0 }
/// ```
/// It is stored as JSON, in the format Foundation's `JSONEncoder` writes with its default
/// strategies and sorted keys (`Data` as base64, `Date` as seconds since 2001), so a state that
/// Foundation can encode and decode round-trips the same way in the store. A state that no longer
/// decodes (its type changed incompatibly) is logged and the conversation starts afresh.
public protocol SessionState: Codable, Sendable {
  /// The state of a new conversation.
  init()
}

/// One conversation's session, as the handler sees it during a turn.
///
/// Change ``state`` freely; the session middleware saves it with the turn (only if it changed)
/// once the handler returns. ``destroy()`` ends the conversation's session.
public final class Session<State: SessionState>: Sendable {
  /// The session's id.
  public let id: String
  /// Whether the session began with this turn.
  public let isNew: Bool
  /// When the session began.
  public let createdAt: WallInstant
  private let storage: Mutex<(state: State, destroyed: Bool)>

  init(id: String, isNew: Bool, createdAt: WallInstant, state: State) {
    self.id = id
    self.isNew = isNew
    self.createdAt = createdAt
    self.storage = Mutex((state, false))
  }

  /// The conversation's state.
  public var state: State {
    get { storage.withLock { $0.state } }
    set { storage.withLock { $0.state = newValue } }
  }

  /// Changes the state in place and returns what `body` returns.
  public func update<T>(_ body: (inout State) throws -> T) rethrows -> T {
    try storage.withLock { try body(&$0.state) }
  }

  /// Ends the session: it is deleted with this turn and the next message starts afresh.
  public func destroy() {
    storage.withLock { $0.destroyed = true }
  }

  /// Whether ``destroy()`` was called.
  public var isDestroyed: Bool { storage.withLock { $0.destroyed } }
}

enum SessionValueKey<State: SessionState>: TurnValueKey {
  typealias Value = Session<State>
}

extension Turn {
  /// The conversation's session, provided by `SessionMiddleware<State>` or
  /// `CookieSessionMiddleware<State>` earlier in the chain.
  public func session<State: SessionState>(_ type: State.Type = State.self) throws(SessionError)
    -> Session<State>
  {
    guard let session = values[SessionValueKey<State>.self] else {
      throw SessionError(
        .noSessionMiddleware, "no session middleware for \(State.self) runs before this handler")
    }
    return session
  }
}
