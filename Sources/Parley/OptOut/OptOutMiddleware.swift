import Logging
import ParleyTwiML

/// STOP/START/HELP handling with durable, audited opt-out records, and the guarantee that no
/// reply reaches a number opted out in its scope.
///
/// Runs right after ``ConversationMiddleware`` (whose transaction commits its records before the
/// reply leaves) and before sessions and dialogs:
/// - A keyword is matched as Twilio matches it (``OptOutKeywords``); when Twilio sends
///   `OptOutType` (Advanced Opt-Out), that decides. Keywords never reach the handler, so they are
///   never taken as a dialog's answer.
/// - STOP records the opt-out in the message's scope (its Messaging Service, or the number) and
///   ends the conversation's session (and so its dialog). The reply is empty (Twilio sends its own
///   confirmation) unless ``OptOutConfiguration/stopConfirmation`` is set.
/// - START re-subscribes; YES and UNSTOP re-subscribe a subscriber who is opted out and are
///   ordinary messages from anyone else.
/// - HELP answers ``OptOutConfiguration/helpText`` (empty by default: Twilio answers).
/// - Free text that may revoke consent ("please stop texting me") is flagged for review in the
///   audit trail (or treated as STOP, if so configured) and handled as usual.
/// - Every `<Message>` of every reply is checked: one addressed to a number opted out in its scope
///   is dropped and logged. A delivery status with error 21610 records the recipient as opted out.
public struct OptOutMiddleware: MessagingMiddleware {
  /// The store (for status callbacks and replies addressed to other numbers).
  public let store: any OptOutStore
  /// The clock.
  public let clock: any WallClock
  /// What to answer and how to treat free text.
  public let configuration: OptOutConfiguration

  /// Creates the middleware.
  public init(
    store: any OptOutStore, clock: any WallClock = SystemWallClock(),
    configuration: OptOutConfiguration = .init()
  ) {
    self.store = store
    self.clock = clock
    self.configuration = configuration
  }

  /// What a message means for its sender's consent.
  enum Classification: Equatable {
    case optOut(keyword: String)
    case optIn(keyword: String)
    case help(keyword: String)
    case flagged(phrase: String)
  }

  func classify(_ message: InboundMessage, optedOut: Bool) -> Classification? {
    if let type = message.optOutType {
      let word = OptOutKeywords.normalizedWord(message.body)
      switch type {
      case .stop: return .optOut(keyword: word ?? type.rawValue)
      case .start: return .optIn(keyword: word ?? type.rawValue)
      case .help: return .help(keyword: word ?? type.rawValue)
      default: break
      }
    }
    switch configuration.keywords.match(message.body) {
    case .optOut(let keyword): return .optOut(keyword: keyword)
    case .optIn(let keyword): return .optIn(keyword: keyword)
    case .conditionalOptIn(let keyword): return optedOut ? .optIn(keyword: keyword) : nil
    case .help(let keyword): return .help(keyword: keyword)
    case nil: break
    }
    guard configuration.freeText != .ignore,
      let phrase = configuration.revocationDetector.phrase(in: message.body)
    else { return nil }
    return configuration.freeText == .optOut ? .optOut(keyword: phrase) : .flagged(phrase: phrase)
  }

  public func handle(_ turn: Turn, next: NextResponder) async throws -> Reply {
    guard let transaction = turn.transaction else {
      throw SessionError(
        .missingConversationMiddleware, "OptOutMiddleware needs ConversationMiddleware before it")
    }
    let message = turn.message
    let scope = OptOutScope.of(message)
    let optedOutScopes = transaction.snapshot.optOuts.filter(\.optedOut).map(\.scope)
    let optedOut = !optedOutScopes.isEmpty
    // Made only for a line to log: most turns log nothing here.
    var logger: Logger {
      var logger = turn.logger
      logger[metadataKey: "parley.scope"] = .string(scope.redacted)
      return logger
    }

    func draft(_ action: OptOutAction, _ keyword: String?, in scope: OptOutScope)
      -> OptOutEventDraft
    {
      OptOutEventDraft(
        subscriber: message.from, scope: scope, action: action, source: .keyword, keyword: keyword,
        body: configuration.keepsBodies ? message.body : nil, messageSid: message.messageSid,
        accountSid: message.accountSid, receivedAt: transaction.now)
    }

    switch classify(message, optedOut: optedOut) {
    case .optOut(let keyword):
      transaction.append(draft(.optOut, keyword, in: scope))
      if configuration.endsSessionOnStop, let session = transaction.snapshot.session {
        transaction.sessionWrite = .delete(key: transaction.key, expected: session.version)
      }
      logger.notice("opt-out received", metadata: ["parley.keyword": "\(keyword)"])
      // The one confirmation the rules allow after STOP.
      return configuration.stopConfirmation.map(Reply.message) ?? .empty
    case .optIn(let keyword):
      // Opt back in wherever the sender was opted out, and in the message's own scope.
      var scopes = [scope]
      for other in optedOutScopes where !scopes.contains(other) { scopes.append(other) }
      for target in scopes { transaction.append(draft(.optIn, keyword, in: target)) }
      logger.notice("opt-in received", metadata: ["parley.keyword": "\(keyword)"])
      return configuration.startConfirmation.map(Reply.message) ?? .empty
    case .help(let keyword):
      transaction.append(draft(.help, keyword, in: scope))
      guard !optedOut, let text = configuration.helpText else { return .empty }
      return .message(text)
    case .flagged(let phrase):
      transaction.append(draft(.flaggedForReview, phrase, in: scope))
      logger.notice("message flagged for consent review", metadata: ["parley.phrase": "\(phrase)"])
    case nil:
      break
    }
    if optedOut && !configuration.handlesMessagesFromOptedOut {
      // Nothing may be sent back, and a dialog must not move on unseen.
      logger.info("message from an opted-out number not handled")
      return .empty
    }
    let reply = try await next(turn)
    return try await store.suppressingOptedOut(
      reply, for: message, senderOptedOut: { optedOut }, logger: logger)
  }

  public func handleStatus(_ status: StatusTurn, next: NextStatusResponder) async throws {
    let callback = status.callback
    let logger = status.logger
    if callback.errorCode == StatusCallback.recipientOptedOut, let subscriber = callback.to,
      let sender = callback.from ?? callback.messagingServiceSid
    {
      let scope: OptOutScope =
        callback.messagingServiceSid.map(OptOutScope.messagingService) ?? .number(sender)
      let existing = try await store.optOutRecords(subscriber: subscriber, scopes: [scope])
      if !existing.contains(where: \.optedOut) {
        let now = clock.now
        try await store.recordOptOutEvents(
          [
            OptOutEventDraft(
              subscriber: subscriber, scope: scope, action: .optOut, source: .statusCallback,
              keyword: nil, body: nil, messageSid: callback.messageSid,
              accountSid: callback.accountSid, receivedAt: now)
          ], now: now)
        logger.notice(
          "opt-out recorded from error 21610",
          metadata: [
            "parley.recipient": "\(Redaction.phoneNumber(subscriber))",
            "parley.scope": "\(scope.redacted)",
          ])
      }
    }
    try await next(status)
  }
}

/// How ``OptOutMiddleware`` answers and what it treats as a revocation.
public struct OptOutConfiguration: Sendable {
  /// What to do with free text that may revoke consent.
  public enum FreeTextPolicy: String, Sendable, Hashable {
    /// Nothing.
    case ignore
    /// Record it in the audit trail for a person to review (the default).
    case flagForReview
    /// Treat it as STOP.
    case optOut
  }

  /// The keywords; the defaults always included.
  public var keywords: OptOutKeywords
  /// The reply after STOP; nil (the default) sends nothing, as Twilio confirms itself.
  public var stopConfirmation: String?
  /// The reply after START; nil sends nothing.
  public var startConfirmation: String?
  /// The reply to HELP; nil sends nothing (Twilio answers with its own text).
  public var helpText: String?
  /// What to do with free text such as "please stop texting me".
  public var freeText: FreeTextPolicy
  /// The phrases that count as such free text.
  public var revocationDetector: ConsentRevocationDetector
  /// STOP deletes the conversation's session, ending any dialog in progress.
  public var endsSessionOnStop: Bool
  /// Keep the message text in the audit trail.
  public var keepsBodies: Bool
  /// Pass messages from opted-out numbers to the handler (their replies are still dropped). Off
  /// by default, so that a dialog does not advance while nobody can see it.
  public var handlesMessagesFromOptedOut: Bool

  /// Creates a configuration.
  public init(
    keywords: OptOutKeywords = .init(), stopConfirmation: String? = nil,
    startConfirmation: String? = nil, helpText: String? = nil,
    freeText: FreeTextPolicy = .flagForReview,
    revocationDetector: ConsentRevocationDetector = .init(), endsSessionOnStop: Bool = true,
    keepsBodies: Bool = true, handlesMessagesFromOptedOut: Bool = false
  ) {
    self.keywords = keywords
    self.stopConfirmation = stopConfirmation
    self.startConfirmation = startConfirmation
    self.helpText = helpText
    self.freeText = freeText
    self.revocationDetector = revocationDetector
    self.endsSessionOnStop = endsSessionOnStop
    self.keepsBodies = keepsBodies
    self.handlesMessagesFromOptedOut = handlesMessagesFromOptedOut
  }
}
