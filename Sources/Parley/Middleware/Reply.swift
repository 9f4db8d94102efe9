public import HTTPTypes
public import ParleyTwiML

/// What a turn answers: TwiML verbs (or one plain-text message) plus response header fields.
public struct Reply: Sendable, Hashable {
  /// The body Twilio receives.
  public enum Content: Sendable, Hashable {
    /// A TwiML document, served as `text/xml`.
    case twiml(MessagingResponse)
    /// Text that Twilio sends back as one message, served as `text/plain`.
    case plainText(String)
    /// A body rendered earlier, sent again byte for byte (a retried MessageSid). Where opt-outs
    /// are checked (``OptOutMiddleware``, and a retry's first reply), it is read as TwiML, or as
    /// a message to the sender when it is `text/plain`; one that cannot be read is not sent.
    case rendered(contentType: String, body: String)
  }

  /// The body Twilio receives.
  public var content: Content
  /// Header fields added to the HTTP response, such as `Set-Cookie`. The content sets
  /// `Content-Type` (one here is left out) and the server `Content-Length`.
  public var headerFields: HTTPFields

  /// Creates a reply.
  public init(_ content: Content, headerFields: HTTPFields = [:]) {
    self.content = content
    self.headerFields = headerFields
  }

  /// Creates a TwiML reply with `verbs`.
  public init(verbs: [MessagingVerb]) {
    self.init(.twiml(MessagingResponse(verbs)))
  }

  /// A reply that sends nothing: an empty `<Response/>`.
  public static var empty: Reply { Reply(.twiml(MessagingResponse())) }

  /// A reply that sends one text.
  public static func message(_ text: String) -> Reply {
    Reply(verbs: [.message(Message(text))])
  }

  /// A reply that sends `messages`, in order.
  public static func messages(_ messages: [Message]) -> Reply {
    Reply(verbs: messages.map(MessagingVerb.message))
  }

  /// A reply served as `text/plain`, which Twilio sends back as one message.
  public static func plainText(_ text: String) -> Reply {
    Reply(.plainText(text))
  }

  /// The messages this reply sends, in order.
  public var messages: [Message] {
    switch content {
    case .twiml(let response): response.messages
    case .plainText(let text): text.isEmpty ? [] : [Message(text)]
    case .rendered(let contentType, let body):
      if contentType.lowercased().hasPrefix("text/plain") {
        body.isEmpty ? [] : [Message(body)]
      } else {
        (try? MessagingResponse(xml: body))?.messages ?? []
      }
    }
  }
}

extension Reply.Content {
  /// The body as it is sent and its `Content-Type`: what ``ParleyApplication/render(_:)`` answers
  /// with and a dedupe record keeps.
  var asSent: (contentType: String, body: String) {
    switch self {
    case .twiml(let twiml): ("text/xml; charset=utf-8", twiml.xml)
    case .plainText(let text): ("text/plain; charset=utf-8", text)
    case .rendered(let contentType, let body): (contentType, body)
    }
  }
}
