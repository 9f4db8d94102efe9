/// A problem found by validating a TwiML document before Twilio sees it.
public enum TwiMLProblem: Sendable, Hashable, CustomStringConvertible {
  /// A `<Message>` body longer than 1600 characters (verb index, length).
  case bodyTooLong(verb: Int, length: Int)
  /// A `<Message>` with more than 10 `<Media>` nouns (verb index, count).
  case tooManyMedia(verb: Int, count: Int)
  /// A `<Message>` with neither text nor media.
  case emptyMessage(verb: Int)
  /// An `<Sms>` whose text is 160 characters or more (verb index, length).
  case smsTextTooLong(verb: Int, length: Int)
  /// A `method` attribute other than `GET` or `POST`.
  case invalidMethod(verb: Int, method: String)
  /// Verbs that follow one with an `action`: Twilio never reaches them.
  case unreachableVerbs(afterVerb: Int, count: Int)
  /// The rendered document is over Twilio's 64 kB limit.
  case documentTooLarge(bytes: Int)

  /// The longest `<Message>` body, in characters.
  public static let maximumBodyLength = 1600
  /// The most `<Media>` nouns in one `<Message>`.
  public static let maximumMedia = 10
  /// `<Sms>` text must be shorter than this.
  public static let smsTextLimit = 160
  /// The largest TwiML document Twilio accepts, in bytes.
  public static let maximumDocumentSize = 64 * 1024

  public var description: String {
    switch self {
    case .bodyTooLong(let verb, let length):
      "verb \(verb): <Message> body is \(length) characters, more than \(Self.maximumBodyLength)"
    case .tooManyMedia(let verb, let count):
      "verb \(verb): <Message> has \(count) <Media>, more than \(Self.maximumMedia)"
    case .emptyMessage(let verb):
      "verb \(verb): <Message> has neither text nor media"
    case .smsTextTooLong(let verb, let length):
      "verb \(verb): <Sms> text is \(length) characters; it must be under \(Self.smsTextLimit)"
    case .invalidMethod(let verb, let method):
      "verb \(verb): method \"\(method)\" is neither GET nor POST"
    case .unreachableVerbs(let afterVerb, let count):
      "\(count) verb(s) after verb \(afterVerb) are unreachable: it has an action"
    case .documentTooLarge(let bytes):
      "the document is \(bytes) bytes, more than \(Self.maximumDocumentSize)"
    }
  }
}

/// Character counts as Twilio applies its limits: UTF-16 code units, so an emoji counts twice.
func twilioLength(_ text: String) -> Int { text.utf16.count }

extension MessagingResponse {
  /// Checks the document against Twilio's rules and returns every problem found, in verb order.
  public func validate() -> [TwiMLProblem] {
    var problems: [TwiMLProblem] = []
    var actionVerb: Int?
    for (index, verb) in verbs.enumerated() {
      switch verb {
      case .message(let message):
        let length = twilioLength(message.body ?? "")
        if length > TwiMLProblem.maximumBodyLength {
          problems.append(.bodyTooLong(verb: index, length: length))
        }
        if message.media.count > TwiMLProblem.maximumMedia {
          problems.append(.tooManyMedia(verb: index, count: message.media.count))
        }
        if (message.body ?? "").isEmpty && message.media.isEmpty {
          problems.append(.emptyMessage(verb: index))
        }
        if let method = message.method, !method.isValid {
          problems.append(.invalidMethod(verb: index, method: method.rawValue))
        }
        if message.action != nil && actionVerb == nil { actionVerb = index }
      case .redirect(let redirect):
        if let method = redirect.method, !method.isValid {
          problems.append(.invalidMethod(verb: index, method: redirect.method!.rawValue))
        }
        // Control never comes back from a redirect either.
        if actionVerb == nil { actionVerb = index }
      }
    }
    if let actionVerb, actionVerb < verbs.count - 1 {
      problems.append(.unreachableVerbs(afterVerb: actionVerb, count: verbs.count - 1 - actionVerb))
    }
    let size = xml.utf8.count
    if size > TwiMLProblem.maximumDocumentSize {
      problems.append(.documentTooLarge(bytes: size))
    }
    return problems
  }
}

extension VoiceResponse {
  /// Checks the document against Twilio's rules for `<Sms>` and returns every problem found.
  public func validate() -> [TwiMLProblem] {
    var problems: [TwiMLProblem] = []
    var actionVerb: Int?
    for (index, verb) in verbs.enumerated() {
      guard case .sms(let sms) = verb else { continue }
      let length = twilioLength(sms.text)
      if length >= TwiMLProblem.smsTextLimit {
        problems.append(.smsTextTooLong(verb: index, length: length))
      }
      if let method = sms.method, !method.isValid {
        problems.append(.invalidMethod(verb: index, method: method.rawValue))
      }
      if sms.action != nil && actionVerb == nil { actionVerb = index }
    }
    if let actionVerb, actionVerb < verbs.count - 1 {
      problems.append(.unreachableVerbs(afterVerb: actionVerb, count: verbs.count - 1 - actionVerb))
    }
    return problems
  }
}
