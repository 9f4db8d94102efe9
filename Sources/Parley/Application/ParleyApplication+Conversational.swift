public import Logging

/// Whether the standard pipeline handles opt-outs. It does unless you say otherwise, and saying
/// otherwise takes a reason, which is logged when the app starts.
public enum OptOutPolicy: Sendable {
  /// STOP/START/HELP handled by ``OptOutMiddleware`` with this configuration.
  case enabled(OptOutConfiguration)
  /// No opt-out handling: replies may reach opted-out numbers. Only for apps whose opt-outs are
  /// handled elsewhere (another service in front of this one, for instance).
  case disabled(reason: String)

  /// Opt-out handling with the default configuration.
  public static var standard: OptOutPolicy { .enabled(OptOutConfiguration()) }
}

/// Whether the standard pipeline checks Twilio's request signatures. There is no default: an app
/// says which secrets it trusts, or says, with a reason, that it runs unsigned (a local demo).
public enum SignaturePolicy: Sendable {
  /// Every request must carry a valid `X-Twilio-Signature` (``SignatureMiddleware``).
  case validate(TwilioSignatureConfiguration)
  /// No signature check: anyone who can reach the app can post to it.
  case disabled(reason: String)
}

extension ParleyApplication {
  /// The standard pipeline for a stateful bot: ``SignatureMiddleware`` (unless `signature` is
  /// `.disabled`), ``ConversationMiddleware`` (one turn at a time, idempotent retries, one
  /// transaction per turn), ``OptOutMiddleware`` (on by default),
  /// ``SessionMiddleware`` for `state`, then `middleware`, then the handler.
  ///
  /// ```swift
  /// let app = ParleyApplication.conversational(
  ///   store: store, signature: .validate(try .init(authTokens: [authToken])),
  ///   secrets: secrets, state: Counter.self, logger: logger
  /// ) { turn in
  ///   let session = try turn.session(Counter.self)
  ///   session.state.count += 1
  ///   return .message("Hello, thanks for message number \(session.state.count)")
  /// }
  /// ```
  public static func conversational<State: SessionState>(
    store: any ConversationStore,
    signature: SignaturePolicy,
    secrets: SessionSecrets,
    state: State.Type,
    optOut: OptOutPolicy = .standard,
    clock: any WallClock = SystemWallClock(),
    conversation: ConversationMiddleware.Configuration = .init(),
    session: SessionMiddleware<State>.Configuration = .init(),
    configuration: Configuration = .init(),
    logger: Logger,
    middleware: [any MessagingMiddleware] = [],
    statusHandler: @escaping @Sendable (StatusCallback) async throws -> Void = { _ in },
    handler: @escaping @Sendable (Turn) async throws -> Reply
  ) -> ParleyApplication {
    conversational(
      store: store, signature: signature, optOut: optOut, clock: clock, conversation: conversation,
      configuration: configuration, logger: logger,
      middleware: [SessionMiddleware(state, secrets: secrets, configuration: session)] + middleware,
      statusHandler: statusHandler, handler: handler)
  }

  /// The standard pipeline for a bot without session state: ``SignatureMiddleware`` (unless
  /// `signature` is `.disabled`), ``ConversationMiddleware`` and ``OptOutMiddleware`` (on by
  /// default), then `middleware`, then the handler.
  public static func conversational(
    store: any ConversationStore,
    signature: SignaturePolicy,
    optOut: OptOutPolicy = .standard,
    clock: any WallClock = SystemWallClock(),
    conversation: ConversationMiddleware.Configuration = .init(),
    configuration: Configuration = .init(),
    logger: Logger,
    middleware: [any MessagingMiddleware] = [],
    statusHandler: @escaping @Sendable (StatusCallback) async throws -> Void = { _ in },
    handler: @escaping @Sendable (Turn) async throws -> Reply
  ) -> ParleyApplication {
    let chain =
      standardChain(
        store: store, signature: signature, optOut: optOut, clock: clock,
        conversation: conversation, logger: logger)
      + middleware
    return ParleyApplication(
      configuration: configuration, logger: logger, middleware: chain, statusHandler: statusHandler,
      handler: handler)
  }

  static func standardChain(
    store: any ConversationStore, signature: SignaturePolicy, optOut: OptOutPolicy,
    clock: any WallClock, conversation: ConversationMiddleware.Configuration, logger: Logger
  ) -> [any MessagingMiddleware] {
    var chain: [any MessagingMiddleware] = []
    switch signature {
    case .validate(let configuration):
      // First, so that a request Twilio did not sign writes nothing anywhere.
      chain.append(SignatureMiddleware(configuration: configuration))
    case .disabled(let reason):
      logger.warning(
        "signature validation is disabled: anyone who reaches this app can post to it",
        metadata: ["parley.reason": "\(reason)"])
    }
    chain.append(ConversationMiddleware(store: store, clock: clock, configuration: conversation))
    switch optOut {
    case .enabled(let configuration):
      chain.append(OptOutMiddleware(store: store, clock: clock, configuration: configuration))
    case .disabled(let reason):
      logger.warning(
        "opt-out handling is disabled: replies may reach opted-out numbers",
        metadata: ["parley.reason": "\(reason)"])
    }
    return chain
  }
}
