public import HTTPTypes
public import Parley
public import ParleyTwiML

/// Drives a ``ParleyApplication`` in-process, exactly as the HTTP server would, without sockets.
///
/// ```swift
/// let client = ParleyTestClient(application: app)
/// let reply = try await client.send("hello", from: "+14155550100", to: "+14155550199")
/// #expect(reply.texts == ["You said: hello"])
/// ```
public struct ParleyTestClient: Sendable {
  /// The app under test.
  public let application: ParleyApplication

  /// Creates a client for `application`.
  public init(application: ParleyApplication) {
    self.application = application
  }

  /// Sends any request.
  public func execute(
    method: HTTPRequest.Method, path: String, headerFields: HTTPFields = [:], body: [UInt8] = []
  ) async -> TestResponse {
    let head = HTTPRequest(
      method: method, scheme: "http", authority: "localhost", path: path, headerFields: headerFields
    )
    return TestResponse(await application.respond(to: WebhookRequest(head: head, body: body)))
  }

  /// POSTs `form` to `path` as `application/x-www-form-urlencoded`.
  public func post(
    _ form: FormParameters, to path: String? = nil, headerFields: HTTPFields = [:]
  ) async -> TestResponse {
    var fields = headerFields
    fields[.contentType] = "application/x-www-form-urlencoded"
    return await execute(
      method: .post, path: path ?? application.configuration.webhookPath, headerFields: fields,
      body: Array(form.encoded.utf8))
  }

  /// Sends an inbound text as Twilio would and returns the reply.
  public func send(
    _ body: String, from: String, to: String, messageSid: String = TwilioWebhookForm.sid("SM"),
    messagingServiceSid: String? = nil, headerFields: HTTPFields = [:]
  ) async -> TestResponse {
    await post(
      TwilioWebhookForm.inbound(
        from: from, to: to, body: body, messageSid: messageSid,
        messagingServiceSid: messagingServiceSid),
      headerFields: headerFields)
  }
}

/// A response seen by ``ParleyTestClient``, with the TwiML read back into messages.
public struct TestResponse: Sendable {
  /// The raw response.
  public let response: WebhookResponse

  /// Wraps a response.
  public init(_ response: WebhookResponse) { self.response = response }

  /// The status.
  public var status: HTTPResponse.Status { response.head.status }
  /// The header fields.
  public var headerFields: HTTPFields { response.head.headerFields }
  /// The body as text.
  public var body: String { response.bodyText }

  /// How Twilio reads the body, by its `Content-Type`; nil for a type it refuses.
  private var replyType: TwilioReplyType? {
    headerFields[.contentType].flatMap(TwilioReplyType.init)
  }

  /// The TwiML document, when the response is served as a type Twilio reads as TwiML
  /// (`text/xml`, `application/xml` or `text/html`) and parses as messaging TwiML.
  public var twiml: MessagingResponse? {
    guard replyType == .twiml else { return nil }
    return try? MessagingResponse(xml: body)
  }

  /// The texts Twilio would send: each `<Message>`'s body, or the text/plain body.
  public var texts: [String] {
    if replyType == .plainText {
      return body.isEmpty ? [] : [body]
    }
    return twiml?.messages.map { $0.body ?? "" } ?? []
  }
}
