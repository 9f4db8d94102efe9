public import Parley

/// What Twilio reports about a webhook exchange that went wrong: an error code of Twilio's
/// dictionary (https://www.twilio.com/docs/api/errors) and a message.
public struct TwilioError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The codes the simulator reports.
  public struct Code: RawRepresentable, Sendable, Hashable {
    public var rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// 11100: the URL is not a valid http(s) URL.
    public static let invalidURL = Code(rawValue: 11100)
    /// 11200: the app answered with a status other than 2xx (or the exchange failed otherwise).
    public static let httpRetrievalFailure = Code(rawValue: 11200)
    /// 11205: no TCP connection, or no complete response within 15 seconds.
    public static let httpConnectionFailure = Code(rawValue: 11205)
    /// 11206: a malformed response, such as a cookie with a control character.
    public static let httpProtocolViolation = Code(rawValue: 11206)
    /// 11210: the host name does not resolve.
    public static let httpBadHostName = Code(rawValue: 11210)
    /// 11215: too many HTTP redirects.
    public static let httpTooManyRedirects = Code(rawValue: 11215)
    /// 11750: the response body is larger than 64 kB.
    public static let responseBodyTooLarge = Code(rawValue: 11750)
    /// 12100: the TwiML document does not parse.
    public static let documentParseFailure = Code(rawValue: 12100)
    /// 12200: the document parses but breaks TwiML's schema (a warning: Twilio goes on).
    public static let schemaValidationWarning = Code(rawValue: 12200)
    /// 12300: the response's Content-Type is neither TwiML nor plain text.
    public static let invalidContentType = Code(rawValue: 12300)
    /// 21610: the recipient has opted out (replied STOP); the message is not sent.
    public static let recipientOptedOut = Code(rawValue: 21610)
  }

  /// The code.
  public var code: Code
  /// What went wrong, in words.
  public var message: String

  /// Creates an error.
  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "Twilio error \(code.rawValue): \(message)" }
}

/// An SMS that Twilio sent (or tried to send) because of the app's reply.
public struct SimulatedMessage: Sendable, Hashable {
  /// Its id (`SM…`).
  public var sid: String
  /// The sender: the `from` attribute, or the number the inbound message was sent to.
  public var from: String
  /// The recipient: the `to` attribute, or the inbound message's sender.
  public var to: String
  /// The text.
  public var body: String
  /// Media URLs.
  public var media: [String]
  /// `sent`, or `failed` when Twilio refused it (``errorCode`` says why).
  public var status: MessageStatus
  /// Why it failed, as Twilio reports it (21610: the recipient opted out).
  public var errorCode: TwilioError.Code?
}

/// One HTTP request the simulator made on Twilio's behalf.
public struct SimulatedRequest: Sendable, Hashable {
  /// What the request was for.
  public enum Purpose: String, Sendable, Hashable {
    /// The inbound message webhook.
    case webhook
    /// An HTTP redirect (3xx) followed.
    case httpRedirect
    /// A `<Redirect>` verb followed.
    case redirectVerb
    /// A `<Message action=…>` URL requested after the message was sent.
    case action
    /// A delivery status callback.
    case statusCallback
  }

  /// Why it was made.
  public var purpose: Purpose
  /// `GET` or `POST`.
  public var method: String
  /// The full URL requested (with the query of a GET).
  public var url: String
  /// The response's status code, or nil when no response came.
  public var status: Int?
  /// The response's `Content-Type`.
  public var contentType: String?
  /// The response body.
  public var body: String
  /// The `Cookie` header sent, if any.
  public var cookie: String?
}

/// Everything that followed one inbound message: the requests made, the messages Twilio sent back,
/// the status callbacks, and what Twilio would report.
public struct SimulatedExchange: Sendable {
  /// The inbound message's id.
  public var messageSid: String
  /// The sender.
  public var from: String
  /// The Twilio number.
  public var to: String
  /// The webhook parameters sent (a retry sends the same).
  public var parameters: FormParameters
  /// The HTTP requests, in order.
  public var requests: [SimulatedRequest] = []
  /// The messages Twilio sent (or refused to send) because of the replies.
  public var messages: [SimulatedMessage] = []
  /// The error that ended the exchange, if one did.
  public var error: TwilioError?
  /// Warnings Twilio would log without stopping (12200).
  public var warnings: [TwilioError] = []

  /// The texts of the messages Twilio sent.
  public var replies: [String] { messages.filter { $0.status != .failed }.map(\.body) }
}
