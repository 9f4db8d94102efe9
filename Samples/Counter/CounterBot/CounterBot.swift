public import Logging
public import Parley

/// The cookie-counter bot of Twilio's tutorial, on a store: it counts each conversation's messages.
public enum CounterBot {
  /// What a conversation remembers.
  public struct State: SessionState {
    /// Messages so far.
    public var count = 0

    public init() {}
  }

  /// The bot as a Parley app on `store`, with opt-out handling on (as in every sample).
  public static func application(
    store: any ConversationStore, signature: SignaturePolicy, secrets: SessionSecrets,
    clock: any WallClock = SystemWallClock(), logger: Logger
  ) -> ParleyApplication {
    .conversational(
      store: store, signature: signature, secrets: secrets, state: State.self,
      optOut: .enabled(
        OptOutConfiguration(helpText: "Counter bot: every text is counted. Reply STOP to opt out.")),
      clock: clock, logger: logger
    ) { turn in
      let session = try turn.session(State.self)
      session.state.count += 1
      let count = session.state.count
      return .message(
        count == 1
          ? "Hello, thanks for the new message." : "Hello, thanks for message number \(count)")
    }
  }
}
