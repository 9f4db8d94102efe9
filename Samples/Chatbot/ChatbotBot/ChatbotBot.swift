public import Logging
public import Parley
public import ParleyTwiML

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A chatbot with memory: it remembers the user's name across messages (for four idle hours,
/// like Twilio's cookies), answers a few intents, and sends a picture on request.
public enum ChatbotBot {
  /// What a conversation remembers.
  public struct State: SessionState {
    /// The name the user gave.
    public var name: String?
    /// Messages so far in this conversation.
    public var messages = 0

    public init() {}
  }

  /// The picture the bot sends (Twilio's demo owl).
  public static let pictureURL = "https://demo.twilio.com/owl.png"

  /// What the user asked for.
  public enum Intent: Equatable, Sendable {
    case introduce(name: String)
    case askName
    case greet
    case picture
    case forget
    case menu
    case unknown
  }

  /// Reads an intent from a message: a few patterns, case-insensitive.
  public static func intent(of text: String) -> Intent {
    let words = text.trimmingCharacters(in: .whitespacesAndNewlines)
    let lower = words.lowercased()
    for prefix in ["my name is ", "call me ", "i'm ", "i am ", "im "] where lower.hasPrefix(prefix)
    {
      let name = words.dropFirst(prefix.count)
        .trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters))
      if !name.isEmpty, name.count <= 40 {
        return .introduce(name: name.prefix(1).uppercased() + name.dropFirst())
      }
    }
    let bare = lower.trimmingCharacters(in: .punctuationCharacters.union(.whitespaces))
    switch bare {
    case "what's my name", "whats my name", "what is my name", "who am i": return .askName
    case "hi", "hello", "hey", "good morning", "good evening": return .greet
    case "photo", "picture", "pic", "owl", "send a picture", "show me a picture": return .picture
    case "forget me", "forget my name", "reset": return .forget
    case "menu", "commands", "?": return .menu
    default: return .unknown
    }
  }

  static let menu =
    "Try: \"my name is …\", \"what's my name\", \"picture\", \"forget me\". Reply STOP to opt out."

  /// The answer to one message, given what the conversation remembers.
  public static func answer(_ text: String, state: inout State) -> [Message] {
    state.messages += 1
    switch intent(of: text) {
    case .introduce(let name):
      state.name = name
      return [Message("Nice to meet you, \(name)! I'll remember that.")]
    case .askName:
      guard let name = state.name else {
        return [Message("I don't know your name yet. Tell me: \"my name is …\"")]
      }
      return [Message("You're \(name).")]
    case .greet:
      guard let name = state.name else { return [Message("Hi! What's your name?")] }
      return [Message("Hi \(name), good to hear from you again.")]
    case .picture:
      return [
        Message("Here's an owl for you\(state.name.map { ", \($0)" } ?? "").", media: [pictureURL])
      ]
    case .forget:
      state = State()
      return [Message("Done: I've forgotten your name.")]
    case .menu:
      return [Message(menu)]
    case .unknown:
      let greeting = state.name.map { "Sorry \($0), I" } ?? "Sorry, I"
      return [Message("\(greeting) didn't get that. \(menu)")]
    }
  }

  /// The bot as a Parley app on `store`, with opt-out handling on (as in every sample).
  public static func application(
    store: any ConversationStore, signature: SignaturePolicy, secrets: SessionSecrets,
    clock: any WallClock = SystemWallClock(), logger: Logger
  ) -> ParleyApplication {
    .conversational(
      store: store, signature: signature, secrets: secrets, state: State.self,
      optOut: .enabled(
        OptOutConfiguration(
          helpText: "Chatbot: tell me your name and I'll remember it. Reply STOP to opt out.")),
      clock: clock, logger: logger
    ) { turn in
      let session = try turn.session(State.self)
      let messages = session.update { state in answer(turn.message.body, state: &state) }
      return .messages(messages)
    }
  }
}
