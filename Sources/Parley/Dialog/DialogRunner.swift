public import ParleyTwiML

/// Runs a dialog as a Parley handler: the conversation's place and answers live in its session
/// (`SessionMiddleware<DialogSession<Answers>>`), so it resumes after a restart or a deploy.
///
/// ```swift
/// let survey = DialogRunner(SurveyDialog()) { answers, turn in try await save(answers) }
/// let app = ParleyApplication.conversational(
///   store: store, signature: signature, secrets: secrets, state: DialogSession<Survey>.self,
///   logger: logger, handler: survey.respond)
/// ```
public struct DialogRunner<Answers: DialogAnswers>: Sendable {
  /// The compiled dialog.
  public let engine: DialogEngine<Answers>
  private let onComplete: @Sendable (Answers, Turn) async throws -> Void

  /// Compiles `dialog`; `onComplete` runs on the turn that reaches its end.
  public init(
    _ dialog: some DialogComponent<Answers>, configuration: DialogConfiguration = .init(),
    onComplete: @escaping @Sendable (Answers, Turn) async throws -> Void = { _, _ in }
  ) {
    engine = DialogEngine(dialog, configuration: configuration)
    self.onComplete = onComplete
  }

  /// Answers one turn.
  public func respond(to turn: Turn) async throws -> Reply {
    let session = try turn.session(DialogSession<Answers>.self)
    var state = session.state
    let outcome = try await engine.advance(&state, input: turn.message.body)
    session.state = state
    if outcome.completed { try await onComplete(state.answers, turn) }
    var messages = outcome.texts.flatMap { SMSText.split($0) }.map { Message($0) }
    if !outcome.media.isEmpty {
      if messages.isEmpty { messages.append(Message()) }
      messages[messages.count - 1].media = outcome.media
    }
    return .messages(messages)
  }
}

/// SMS-aware text handling.
public enum SMSText {
  /// The longest text one `<Message>` carries.
  public static let maximumLength = 1600

  /// Splits `text` into pieces of at most `limit` characters, at word boundaries where possible
  /// (a single word longer than the limit is cut).
  public static func split(_ text: String, limit: Int = maximumLength) -> [String] {
    guard text.count > limit else { return [text] }
    var pieces: [String] = []
    var current = ""
    for word in text.split(separator: " ", omittingEmptySubsequences: false) {
      var word = Substring(word)
      while word.count > limit {
        if !current.isEmpty {
          pieces.append(current)
          current = ""
        }
        pieces.append(String(word.prefix(limit)))
        word = word.dropFirst(limit)
      }
      if current.isEmpty {
        current = String(word)
      } else if current.count + 1 + word.count <= limit {
        current += " " + word
      } else {
        pieces.append(current)
        current = String(word)
      }
    }
    if !current.isEmpty { pieces.append(current) }
    return pieces
  }

  /// The segments each piece of `text` will take.
  public static func segments(_ text: String) -> [SegmentCount] {
    split(text).map(SegmentCount.init)
  }
}
