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
    /// are checked (``OptOutMiddleware``, and a retry's first reply), it is read as Twilio reads
    /// it: as TwiML, or as a message to the sender when it is `text/plain`. One that cannot be
    /// read (another type, or TwiML Parley cannot parse) is not sent.
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

  /// The messages this reply sends, in order (none for a rendered body Twilio would refuse).
  public var messages: [Message] {
    switch try? content.read() {
    case .twiml(let response): response.messages
    case .text(let text): text.isEmpty ? [] : [Message(text)]
    case nil: []
    }
  }

  /// Whether `field`, one of the reply's own, is sent: its content sets `Content-Type`, so one
  /// among its fields is left out (a second type could have Twilio read TwiML as a text to send).
  static func sends(_ field: HTTPField) -> Bool { field.name != .contentType }
}

extension Reply.Content {
  /// What Twilio reads in a reply.
  package enum Reading: Sendable, Hashable {
    /// A TwiML document.
    case twiml(MessagingResponse)
    /// One text for the sender (none when empty).
    case text(String)
  }

  /// The content as Twilio reads it, a rendered body read back by its `Content-Type`
  /// (``TwilioReplyType``). Throws for a rendered body of a type Twilio refuses, or one that is
  /// not TwiML Parley can read (`TwiMLDecodingError`).
  package func read() throws -> Reading {
    switch self {
    case .twiml(let response): return .twiml(response)
    case .plainText(let text): return .text(text)
    case .rendered(let contentType, let body):
      switch TwilioReplyType(contentType: contentType) {
      case .twiml: return .twiml(try MessagingResponse(xml: body))
      case .plainText: return .text(body)
      case nil: throw RefusedReplyType(contentType: contentType)
      }
    }
  }

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

/// A rendered body of a type Twilio refuses.
struct RefusedReplyType: Error, CustomStringConvertible {
  var contentType: String
  var description: String {
    "Content-Type \(TwilioReplyType.mediaTypeForMessages(of: contentType)) is refused"
  }
}
