import Crypto
import HTTPTypes
import Logging

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Keeps each conversation's state in the store, with a signed cookie pointing at it.
///
/// Runs after ``ConversationMiddleware`` (which loads and commits) and before the handler:
/// ```swift
/// ParleyApplication(middleware: [
///   ConversationMiddleware(store: store),
///   SessionMiddleware<Counter>(secrets: secrets),
/// ]) { turn in
///   let session = try turn.session(Counter.self)
///   session.state.count += 1
///   return .message("Hello, thanks for message number \(session.state.count)")
/// }
/// ```
/// The store is the source of truth, found by the conversation's key: a message without the
/// cookie resumes the stored session. A cookie that is forged, belongs to another conversation
/// or points at an older state is logged and ignored, never trusted. A session idle for
/// ``Configuration/timeout`` (four hours, as Twilio's cookies) starts afresh. The state is saved
/// only when it changed; otherwise only the expiry slides.
public struct SessionMiddleware<State: SessionState>: MessagingMiddleware {
  /// Tuning.
  public struct Configuration: Sendable {
    /// Inactivity after which a session expires (default and maximum cookie age: four hours).
    public var timeout: Duration
    /// The cookie's name and attributes.
    public var cookie: SessionCookieOptions

    /// Creates a configuration.
    public init(timeout: Duration = .seconds(4 * 3600), cookie: SessionCookieOptions = .init()) {
      self.timeout = timeout
      self.cookie = cookie
    }
  }

  /// The secrets signing the cookie.
  public let secrets: SessionSecrets
  /// Tuning.
  public let configuration: Configuration

  /// Creates the middleware.
  public init(
    _ type: State.Type = State.self, secrets: SessionSecrets, configuration: Configuration = .init()
  ) {
    self.secrets = secrets
    self.configuration = configuration
  }

  public func handle(_ turn: Turn, next: NextResponder) async throws -> Reply {
    guard let transaction = turn.transaction else {
      throw SessionError(
        .missingConversationMiddleware, "SessionMiddleware needs ConversationMiddleware before it")
    }
    let now = transaction.now
    let key = transaction.key
    let stored = transaction.snapshot.session
    var live = stored
    if let record = stored, record.isExpired(at: now) {
      turn.logger.info("session expired; starting afresh")
      live = nil
    }
    checkCookie(turn, key: key, live: live)

    var state = State()
    if let live {
      do {
        state = try StoredJSON.decode(State.self, from: live.data)
      } catch {
        turn.logger.warning(
          "stored session state unreadable (did its type change?); starting afresh",
          metadata: ["parley.error": "\(type(of: error))"])
      }
    }
    let session = Session(
      id: live?.id ?? Self.newSessionID(), isNew: live == nil, createdAt: live?.createdAt ?? now,
      state: state)
    var inner = turn
    inner.values[SessionValueKey<State>.self] = session
    var reply = try await next(inner)

    if session.isDestroyed {
      if let stored {
        transaction.sessionWrite = .delete(key: key, expected: stored.version)
      }
      reply.headerFields.append(setCookie(value: "", maxAge: .zero))
      return reply
    }
    let data = try StoredJSON.encode(session.state)
    let expiresAt = now.advanced(by: configuration.timeout)
    // Instances' clocks differ a little: a session another instance created a moment ago can
    // carry a creation time later than this turn's clock. Its update is never stamped before its
    // creation (the SQLite and PostgreSQL stores refuse `updated_at < created_at`, and the turn
    // failed with a 500 until Twilio's retry).
    let updatedAt = max(now, session.createdAt)
    let generation: Int64
    if let live, live.data == data {
      generation = live.generation
      transaction.sessionWrite = .touch(
        key: key, expected: live.version, updatedAt: updatedAt, expiresAt: expiresAt)
    } else {
      generation = (live?.generation ?? 0) + 1
      let record = SessionRecord(
        key: key, id: session.id, generation: generation, data: data,
        createdAt: session.createdAt, updatedAt: updatedAt, expiresAt: expiresAt)
      transaction.sessionWrite = .save(record, expected: stored?.version)
    }
    let pointer = SignedSessionPointer(sessionID: session.id, generation: generation, key: key)
    reply.headerFields.append(
      setCookie(value: pointer.signed(with: secrets.signers[0]), maxAge: configuration.timeout))
    return reply
  }

  private func setCookie(value: String, maxAge: Duration) -> HTTPField {
    HTTPField(name: .setCookie, value: configuration.cookie.setCookie(value: value, maxAge: maxAge))
  }

  /// Logs what the cookie says about the stored session; the store decides either way.
  private func checkCookie(_ turn: Turn, key: ConversationKey, live: SessionRecord?) {
    guard let value = configuration.cookie.values(in: turn.request.head.headerFields).first,
      !value.isEmpty
    else {
      if live != nil { turn.logger.debug("no session cookie; resuming the stored session") }
      return
    }
    switch SignedSessionPointer.verify(value, keys: secrets.signers) {
    case .failure(let problem):
      turn.logger.warning(
        "session cookie ignored", metadata: ["parley.cookie": "\(problem.rawValue)"])
    case .success(let pointer):
      if pointer.conversationTag != SignedSessionPointer.tag(for: key) {
        turn.logger.warning(
          "session cookie ignored", metadata: ["parley.cookie": "foreign conversation"])
      } else if let live, pointer.sessionID != live.id {
        turn.logger.notice("session cookie ignored", metadata: ["parley.cookie": "other session"])
      } else if let live, pointer.generation < live.generation {
        turn.logger.notice("session cookie ignored", metadata: ["parley.cookie": "stale"])
      } else if live == nil {
        turn.logger.debug("session cookie points at no live session")
      }
    }
  }

  /// 128 random bits, base64url: two draws from the system's generator (one `getrandom` each),
  /// where drawing byte by byte made sixteen system calls.
  static func newSessionID() -> String {
    var generator = SystemRandomNumberGenerator()
    let bits = (generator.next() as UInt64, generator.next() as UInt64)
    return withUnsafeBytes(of: bits) { Base64URL.encode($0) }
  }
}
