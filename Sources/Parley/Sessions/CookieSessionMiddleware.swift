import Crypto
import HTTPTypes
package import Logging

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Store-less sessions: the state itself travels in the cookie, encrypted and authenticated with
/// AES-GCM, as in Twilio's own Flask tutorial.
///
/// No database, but no idempotency either, and Twilio may drop or lose the cookie: use it for
/// small, disposable state. The cookie is bound to its conversation (as authenticated data), so
/// it cannot be replayed elsewhere; it expires after ``Configuration/timeout`` of inactivity. A
/// state whose cookie would exceed 4 KB is refused with ``SessionError/Code/stateTooLarge``.
public struct CookieSessionMiddleware<State: SessionState>: MessagingMiddleware {
  /// Tuning.
  public struct Configuration: Sendable {
    /// Inactivity after which the state is dropped (default four hours).
    public var timeout: Duration
    /// How conversations are keyed (the cookie is bound to its key).
    public var keyStrategy: ConversationKey.Strategy
    /// The cookie's name and attributes.
    public var cookie: SessionCookieOptions

    /// Creates a configuration.
    public init(
      timeout: Duration = .seconds(4 * 3600), keyStrategy: ConversationKey.Strategy = .fromTo,
      cookie: SessionCookieOptions = .init(name: "parley_state")
    ) {
      self.timeout = timeout
      self.keyStrategy = keyStrategy
      self.cookie = cookie
    }
  }

  /// The largest cookie value, in bytes.
  public static var maximumCookieSize: Int { 4096 }

  /// The secrets encrypting the cookie.
  public let secrets: SessionSecrets
  /// The clock.
  public let clock: any WallClock
  /// Tuning.
  public let configuration: Configuration

  /// Creates the middleware.
  public init(
    _ type: State.Type = State.self, secrets: SessionSecrets,
    clock: any WallClock = SystemWallClock(), configuration: Configuration = .init()
  ) {
    self.secrets = secrets
    self.clock = clock
    self.configuration = configuration
  }

  package struct Envelope: Codable {
    var id: String
    var created: Int64
    var seen: Int64
    var state: State
  }

  public func handle(_ turn: Turn, next: NextResponder) async throws -> Reply {
    let now = clock.now
    let key = configuration.keyStrategy.key(for: turn.message)
    var envelope: Envelope?
    if let value = configuration.cookie.values(in: turn.request.head.headerFields).first,
      !value.isEmpty
    {
      envelope = open(value, key: key, logger: turn.logger)
      if let found = envelope,
        WallInstant(millisecondsSince1970: found.seen).advanced(by: configuration.timeout) <= now
      {
        turn.logger.info("session expired; starting afresh")
        envelope = nil
      }
    }
    let session = Session(
      id: envelope?.id ?? SessionMiddleware<State>.newSessionID(), isNew: envelope == nil,
      createdAt: envelope.map { WallInstant(millisecondsSince1970: $0.created) } ?? now,
      state: envelope?.state ?? State())
    var inner = turn
    inner.values[SessionValueKey<State>.self] = session
    var reply = try await next(inner)
    if session.isDestroyed {
      reply.headerFields.append(
        HTTPField(name: .setCookie, value: configuration.cookie.setCookie(value: "", maxAge: .zero))
      )
      return reply
    }
    let sealed = try seal(
      Envelope(
        id: session.id, created: session.createdAt.millisecondsSince1970,
        seen: now.millisecondsSince1970, state: session.state), key: key)
    reply.headerFields.append(
      HTTPField(
        name: .setCookie,
        value: configuration.cookie.setCookie(value: sealed, maxAge: configuration.timeout)))
    return reply
  }

  func seal(_ envelope: Envelope, key: ConversationKey) throws -> String {
    let plaintext = try StoredJSON.encode(envelope)
    let box = try AES.GCM.seal(
      plaintext, using: secrets.encryptionKeys[0], authenticating: Array(key.rawValue.utf8))
    let value = "v1." + box.combined!.withUnsafeBytes { Base64URL.encode($0) }
    guard value.utf8.count <= Self.maximumCookieSize else {
      throw SessionError(
        .stateTooLarge,
        "session state needs a \(value.utf8.count)-byte cookie; cookies hold at most \(Self.maximumCookieSize) bytes"
      )
    }
    return value
  }

  package func open(_ value: Substring, key: ConversationKey, logger: Logger) -> Envelope? {
    guard value.hasPrefix("v1."), let bytes = Base64URL.decode(value.dropFirst(3)),
      let box = try? AES.GCM.SealedBox(combined: bytes)
    else {
      logger.warning("session cookie ignored", metadata: ["parley.cookie": "malformed"])
      return nil
    }
    for secret in secrets.encryptionKeys {
      guard
        let plaintext = try? AES.GCM.open(
          box, using: secret, authenticating: Array(key.rawValue.utf8))
      else { continue }
      do {
        return try StoredJSON.decode(Envelope.self, from: Array(plaintext))
      } catch {
        logger.warning("session cookie state unreadable (did its type change?); starting afresh")
        return nil
      }
    }
    logger.warning(
      "session cookie ignored", metadata: ["parley.cookie": "bad seal or foreign conversation"])
    return nil
  }
}
