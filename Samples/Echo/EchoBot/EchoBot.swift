public import Logging
public import Parley
import ParleyTwiML

/// The echo bot: answers every text with what it said, and counts the pictures.
public enum EchoBot {
  /// The bot as a Parley app on `store`, with opt-out handling on (as in every sample).
  public static func application(
    store: any ConversationStore, signature: SignaturePolicy, logger: Logger
  ) -> ParleyApplication {
    .conversational(store: store, signature: signature, logger: logger) { turn in
      let message = turn.message
      var text = "You said: \(message.body)"
      if !message.media.isEmpty {
        text += " (+\(message.media.count) attachment\(message.media.count == 1 ? "" : "s"))"
      }
      return .message(text)
    }
  }
}
