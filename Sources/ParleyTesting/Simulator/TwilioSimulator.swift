import AsyncHTTPClient
import NIOCore
import NIOHTTP1
public import Parley
public import ParleyTwiML
import Synchronization

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Twilio, as an app's messaging webhook sees it, over real HTTP: for end-to-end tests and for
/// talking to a bot from the terminal (`parley chat`).
///
/// For each inbound message it sends every parameter Twilio sends (a fresh `MessageSid`,
/// `NumSegments` computed, media), signs the request, keeps one cookie jar per From/To pair
/// (forgotten after four idle hours on the injected clock, or at a cookie's own `Max-Age` or
/// `Expires`), follows HTTP redirects and `<Redirect>` verbs, requests `<Message action>` URLs,
/// turns TwiML or `text/plain` replies into messages, and posts delivery status callbacks. Like
/// Twilio's own Advanced Opt-Out, it blocks a sender who texted STOP: a reply to them fails with
/// error 21610, which its status callback carries. What Twilio would report (a non-2xx answer,
/// invalid XML, a wrong Content-Type, no answer within 15 seconds) comes back as a
/// ``TwilioError`` with Twilio's code.
///
/// ```swift
/// try await TwilioSimulator.withSimulator(
///   .init(webhookURL: "http://127.0.0.1:8080/sms", signing: .authToken("secret"))
/// ) { twilio in
///   let exchange = await twilio.send("hello", from: "+15551230001", to: "+15559870002")
///   print(exchange.replies)  // ["Hello, thanks for the new message."]
/// }
/// ```
public final class TwilioSimulator: Sendable {
  /// How requests are signed.
  public enum Signing: Sendable, Hashable {
    /// Not signed (for apps running as a local demo).
    case none
    /// `X-Twilio-Signature`: HMAC-SHA1 with the account's auth token.
    case authToken(String)
    /// HMAC-SHA256 with a shared key, named in `X-Twilio-Webhooks-Signature-Settings`.
    case sharedKey(id: String, secret: String)
  }

  /// Where the simulated Twilio number sends its webhooks, and how.
  public struct Configuration: Sendable {
    /// The messaging webhook URL configured on the number.
    public var webhookURL: String
    /// `POST` (Twilio's default) or `GET`.
    public var webhookMethod: TwiMLMethod
    /// How requests are signed.
    public var signing: Signing
    /// The account.
    public var accountSid: String
    /// The Messaging Service the number belongs to, if any (sent as `MessagingServiceSid`, and
    /// the scope of Twilio's own opt-out blocking).
    public var messagingServiceSid: String?
    /// Where delivery statuses of replies go when a `<Message>` names no `statusCallback`.
    public var statusCallbackURL: String?
    /// How long Twilio waits for a whole response (15 s).
    public var timeout: Duration
    /// How many HTTP redirects and `<Redirect>` verbs one message may follow.
    public var maximumRedirects: Int
    /// How long a pair may stay idle before its cookies are forgotten (4 h).
    public var cookieIdleLifetime: Duration

    /// Creates a configuration; the defaults are Twilio's.
    public init(
      webhookURL: String, webhookMethod: TwiMLMethod = .post, signing: Signing,
      accountSid: String = "AC00000000000000000000000000000000", messagingServiceSid: String? = nil,
      statusCallbackURL: String? = nil, timeout: Duration = .seconds(15),
      maximumRedirects: Int = 10, cookieIdleLifetime: Duration = .seconds(4 * 3600)
    ) {
      self.webhookURL = webhookURL
      self.webhookMethod = webhookMethod
      self.signing = signing
      self.accountSid = accountSid
      self.messagingServiceSid = messagingServiceSid
      self.statusCallbackURL = statusCallbackURL
      self.timeout = timeout
      self.maximumRedirects = maximumRedirects
      self.cookieIdleLifetime = cookieIdleLifetime
    }
  }

  /// A media item attached to an inbound message.
  public struct Media: Sendable, Hashable {
    /// Where Twilio stores it.
    public var url: String
    /// Its MIME type.
    public var contentType: String
    /// Creates a media item.
    public init(url: String, contentType: String) {
      self.url = url
      self.contentType = contentType
    }
  }

  /// The configuration.
  public let configuration: Configuration
  private let clock: any WallClock
  private let client: HTTPClient
  private let state = Mutex(State())
  private static let keywords = OptOutKeywords()

  private struct State {
    var jars: [String: SimulatorCookieJar] = [:]
    var blocked: Set<String> = []
  }

  /// Creates a simulator with its own HTTP client (redirects are followed by the simulator, so it
  /// can sign each hop and keep its cookies); call ``shutdown()`` when done, or use
  /// ``withSimulator(_:clock:_:)``.
  public init(_ configuration: Configuration, clock: any WallClock = SystemWallClock()) {
    self.configuration = configuration
    self.clock = clock
    var http = HTTPClient.Configuration(redirectConfiguration: .disallow)
    http.timeout.connect = .seconds(10)  // Twilio: two 5-second attempts.
    http.httpVersion = .http1Only
    self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http)
  }

  /// Runs `body` with a simulator and shuts it down afterwards.
  public static func withSimulator<T: Sendable>(
    _ configuration: Configuration, clock: any WallClock = SystemWallClock(),
    _ body: (TwilioSimulator) async throws -> T
  ) async throws -> T {
    let simulator = TwilioSimulator(configuration, clock: clock)
    do {
      let result = try await body(simulator)
      try await simulator.shutdown()
      return result
    } catch {
      try? await simulator.shutdown()
      throw error
    }
  }

  /// Closes the HTTP client's connections.
  public func shutdown() async throws {
    try await client.shutdown()
  }

  // MARK: Messages

  /// Sends one inbound message to the app, as Twilio would, and follows what comes back.
  public func send(
    _ body: String, from: String, to: String, media: [Media] = []
  ) async -> SimulatedExchange {
    let form = TwilioWebhookForm.inbound(
      from: from, to: to, body: body, accountSid: configuration.accountSid,
      messagingServiceSid: configuration.messagingServiceSid,
      media: media.map { (url: $0.url, contentType: $0.contentType) })
    let sid = form["MessageSid"] ?? ""
    noteKeyword(body, from: from, to: to)
    return await deliver(form, messageSid: sid, from: from, to: to)
  }

  /// Sends an exchange's webhook again with the same parameters and `MessageSid`: Twilio's retry.
  public func redeliver(_ exchange: SimulatedExchange) async -> SimulatedExchange {
    await deliver(
      exchange.parameters, messageSid: exchange.messageSid, from: exchange.from, to: exchange.to)
  }

  /// Posts a delivery status callback for `message` to `url` (by default the configured status
  /// callback URL); returns the request made.
  public func sendStatusCallback(
    for message: SimulatedMessage, status: MessageStatus, errorCode: TwilioError.Code? = nil,
    to url: String? = nil
  ) async -> Result<SimulatedRequest, TwilioError> {
    guard let target = url ?? configuration.statusCallbackURL, let targetURL = URL(string: target)
    else {
      return .failure(TwilioError(.invalidURL, "no status callback URL"))
    }
    let form = TwilioWebhookForm.status(
      messageSid: message.sid, status: status, from: message.from, to: message.to,
      errorCode: errorCode?.rawValue, accountSid: configuration.accountSid)
    var log: [SimulatedRequest] = []
    do {
      _ = try await fetch(
        targetURL, method: .post, parameters: form, pair: nil, purpose: .statusCallback, log: &log)
      guard let request = log.last else {
        return .failure(TwilioError(.httpRetrievalFailure, "no request"))
      }
      if let status = request.status, !(200..<300).contains(status) {
        return .failure(TwilioError(.httpRetrievalFailure, "status callback answered \(status)"))
      }
      return .success(request)
    } catch {
      return .failure(error)
    }
  }

  /// The cookies Twilio holds for a pair now (after expiring what is due).
  public func cookies(from: String, to: String) -> [SimulatorCookieJar.Cookie] {
    let now = clock.now
    return state.withLock { state in
      let key = Self.pairKey(from: from, to: to)
      state.jars[key]?.expire(now: now)
      return state.jars[key]?.cookies ?? []
    }
  }

  /// Whether Twilio blocks messages to `number` from `sender` (the number, or the Messaging
  /// Service) because `number` texted STOP.
  public func isBlocked(_ number: String, sender: String) -> Bool {
    let scope = configuration.messagingServiceSid ?? sender
    return state.withLock { $0.blocked.contains("\(number)|\(scope)") }
  }

  // MARK: The exchange

  private func noteKeyword(_ body: String, from: String, to: String) {
    let scope = configuration.messagingServiceSid ?? to
    let key = "\(from)|\(scope)"
    switch Self.keywords.match(body) {
    case .optOut: state.withLock { _ = $0.blocked.insert(key) }
    case .optIn, .conditionalOptIn: state.withLock { _ = $0.blocked.remove(key) }
    case .help, nil: break
    }
  }

  private func deliver(
    _ form: FormParameters, messageSid: String, from: String, to: String
  ) async -> SimulatedExchange {
    var exchange = SimulatedExchange(messageSid: messageSid, from: from, to: to, parameters: form)
    let now = clock.now
    let pair = Self.pairKey(from: from, to: to)
    state.withLock { state in
      var jar =
        state.jars[pair] ?? SimulatorCookieJar(idleLifetime: configuration.cookieIdleLifetime)
      jar.touch(now: now)
      state.jars[pair] = jar
    }
    guard var url = URL(string: configuration.webhookURL),
      url.scheme == "http" || url.scheme == "https"
    else {
      exchange.error = TwilioError(.invalidURL, "webhook URL is not an http(s) URL")
      return exchange
    }
    var method = configuration.webhookMethod
    var parameters = form
    var purpose = SimulatedRequest.Purpose.webhook
    var documents = 0
    do {
      while true {
        let documentURL = try await fetch(
          url, method: method, parameters: parameters, pair: pair, purpose: purpose,
          log: &exchange.requests)
        guard let request = exchange.requests.last, let status = request.status else {
          return exchange
        }
        guard (200..<300).contains(status) else {
          throw TwilioError(.httpRetrievalFailure, "the app answered \(status)")
        }
        let verbs = try interpret(request, warnings: &exchange.warnings)
        var next: (URL, TwiMLMethod, FormParameters, SimulatedRequest.Purpose)?
        for verb in verbs {
          switch verb {
          case .message(let message):
            let sent = await deliverReply(message, replyingTo: exchange, base: documentURL)
            exchange.messages.append(sent.message)
            exchange.requests += sent.callbacks
            if let action = message.action {
              guard let target = URL(string: action, relativeTo: documentURL)?.absoluteURL else {
                throw TwilioError(.invalidURL, "action URL \(action) is not a URL")
              }
              next = (
                target, message.method ?? .post, Self.actionForm(form, sent: sent.message), .action
              )
            }
          case .redirect(let redirect):
            guard let target = URL(string: redirect.url, relativeTo: documentURL)?.absoluteURL
            else {
              throw TwilioError(.invalidURL, "Redirect URL \(redirect.url) is not a URL")
            }
            next = (target, redirect.method ?? .post, form, .redirectVerb)
          }
          if next != nil { break }  // Verbs after an action or a Redirect are unreachable.
        }
        guard let (nextURL, nextMethod, nextParameters, nextPurpose) = next else { break }
        documents += 1
        guard documents <= configuration.maximumRedirects else {
          throw TwilioError(
            .httpTooManyRedirects, "more than \(configuration.maximumRedirects) redirects")
        }
        (url, method, parameters, purpose) = (nextURL, nextMethod, nextParameters, nextPurpose)
      }
    } catch let error as TwilioError {
      exchange.error = error
    } catch {
      exchange.error = TwilioError(.httpRetrievalFailure, "\(error)")
    }
    return exchange
  }

  /// The parameters of a `<Message action>` request: the inbound message's, with `MessageSid`
  /// and `MessageStatus` of the message sent.
  static func actionForm(_ inbound: FormParameters, sent: SimulatedMessage) -> FormParameters {
    let replaced: Set<String> = ["MessageSid", "SmsSid", "SmsMessageSid", "SmsStatus"]
    var form = FormParameters(inbound.pairs.filter { !replaced.contains($0.name) })
    form.append("MessageSid", sent.sid)
    form.append("SmsSid", sent.sid)
    form.append("SmsMessageSid", sent.sid)
    form.append("MessageStatus", sent.status.rawValue)
    form.append("SmsStatus", sent.status.rawValue)
    if let code = sent.errorCode { form.append("ErrorCode", String(code.rawValue)) }
    return form
  }

  /// The verbs of a 2xx response: TwiML parsed, plain text as one message, nothing for an empty
  /// body.
  private func interpret(_ request: SimulatedRequest, warnings: inout [TwilioError])
    throws(TwilioError) -> [MessagingVerb]
  {
    let body = request.body
    if body.isEmpty { return [] }
    let contentType = request.contentType ?? ""
    switch TwilioReplyType(contentType: contentType) {
    case .twiml:
      let response: MessagingResponse
      do {
        response = try MessagingResponse(xml: body)
      } catch {
        throw TwilioError(.documentParseFailure, "document parse failure: \(error)")
      }
      for problem in response.validate() {
        warnings.append(TwilioError(.schemaValidationWarning, "\(problem)"))
      }
      return response.verbs
    case .plainText:
      return [.message(Message(body))]
    case nil:
      throw TwilioError(
        .invalidContentType,
        "Content-Type \(TwilioReplyType.mediaTypeForMessages(of: contentType)) is not TwiML")
    }
  }

  /// Sends one `<Message>`: refused with 21610 when its recipient opted out; its status callbacks
  /// posted when a URL is known.
  private func deliverReply(
    _ message: Message, replyingTo exchange: SimulatedExchange, base: URL
  )
    async -> (message: SimulatedMessage, callbacks: [SimulatedRequest])
  {
    let from = message.from ?? exchange.to
    // Twilio reads a `to` in E.164, or without `+` in the sender's country; Parley's readings
    // come likeliest first, and the message is blocked if any of them texted STOP.
    let addressing = message.to.map { TwilioNumberSpelling.addressing($0, from: from) }
    let to = addressing?.likeliestRecipient ?? exchange.from
    let blocked = (addressing?.recipients ?? [to]).contains { isBlocked($0, sender: from) }
    let sent = SimulatedMessage(
      sid: TwilioWebhookForm.sid("SM"), from: from, to: to, body: message.body ?? "",
      media: message.media, status: blocked ? .failed : .sent,
      errorCode: blocked ? .recipientOptedOut : nil)
    var callbacks: [SimulatedRequest] = []
    let callbackURL =
      message.statusCallback.flatMap { URL(string: $0, relativeTo: base)?.absoluteString }
      ?? configuration.statusCallbackURL
    if let callbackURL {
      let statuses: [MessageStatus] = blocked ? [.failed] : [.sent, .delivered]
      for status in statuses {
        if case .success(let request) = await sendStatusCallback(
          for: sent, status: status, errorCode: sent.errorCode, to: callbackURL)
        {
          callbacks.append(request)
        }
      }
    }
    return (sent, callbacks)
  }

  // MARK: HTTP

  /// One request, following HTTP redirects; each hop signed for its own URL and carrying the
  /// pair's cookies. Appends every request to `log` (the answer is the last) and returns the URL
  /// that answered, against which relative URLs in its TwiML resolve.
  private func fetch(
    _ start: URL, method initialMethod: TwiMLMethod, parameters: FormParameters, pair: String?,
    purpose: SimulatedRequest.Purpose, log: inout [SimulatedRequest]
  ) async throws(TwilioError) -> URL {
    var url = start
    var method = initialMethod
    var purpose = purpose
    for _ in 0...configuration.maximumRedirects {
      var request = SimulatedRequest(
        purpose: purpose, method: method.rawValue, url: url.absoluteString, status: nil,
        contentType: nil, body: "", cookie: nil)
      let encoded = parameters.encoded
      var requestURL = url.absoluteString
      if method == .get {
        requestURL += (url.query == nil ? "?" : "&") + encoded
      }
      request.url = requestURL
      var http = HTTPClientRequest(url: requestURL)
      http.method = method == .get ? .GET : .POST
      http.headers.add(name: "User-Agent", value: "TwilioProxy/1.1 (Parley simulator)")
      http.headers.add(name: "Accept", value: "*/*")
      http.headers.add(name: "I-Twilio-Idempotency-Token", value: UUID().uuidString.lowercased())
      let signed = method == .get ? [] : parameters.pairs
      switch configuration.signing {
      case .none: break
      case .authToken(let token):
        http.headers.add(
          name: "X-Twilio-Signature",
          value: TwilioSignature.compute(url: requestURL, parameters: signed, secret: token))
      case .sharedKey(let id, let secret):
        http.headers.add(
          name: "X-Twilio-Signature",
          value: TwilioSignature.compute(
            url: requestURL, parameters: signed, secret: secret, algorithm: .hmacSHA256))
        http.headers.add(
          name: "X-Twilio-Webhooks-Signature-Settings", value: "key=\(id),algorithm=HMAC_SHA256")
      }
      if let pair {
        // The query of a GET does not matter to cookie paths: the URL without it will do.
        let now = clock.now
        let cookie = state.withLock { $0.jars[pair]?.header(for: url, now: now) }
        if let cookie {
          http.headers.add(name: "Cookie", value: cookie)
          request.cookie = cookie
        }
      }
      if method == .post {
        http.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        http.body = .bytes(ByteBuffer(string: encoded))
      }
      let response: HTTPClientResponse
      let bytes: ByteBuffer
      do {
        response = try await client.execute(
          http, timeout: TimeAmount(configuration.timeout))
        bytes = try await response.body.collect(upTo: TwiMLProblem.maximumDocumentSize)
      } catch let error as NIOTooManyBytesError {
        _ = error
        log.append(request)
        throw TwilioError(.responseBodyTooLarge, "response body larger than 64 kB")
      } catch {
        log.append(request)
        throw Self.twilioError(for: error, timeout: configuration.timeout)
      }
      request.status = Int(response.status.code)
      request.contentType = response.headers.first(name: "Content-Type")
      request.body = String(decoding: bytes.readableBytesView, as: UTF8.self)
      log.append(request)
      if let pair {
        let now = clock.now
        let fields = response.headers["Set-Cookie"]
        try state.withLock { (state) throws(TwilioError) in
          try state.jars[pair]?.store(setCookie: fields, from: url, now: now)
        }
      }
      let code = Int(response.status.code)
      guard [301, 302, 303, 307, 308].contains(code) else { return url }
      guard let location = response.headers.first(name: "Location"),
        let next = URL(string: location, relativeTo: url)?.absoluteURL
      else {
        throw TwilioError(.httpRetrievalFailure, "redirect \(code) without a valid Location")
      }
      // 307 and 308 repeat the request; 301, 302 and 303 turn it into a GET carrying the
      // parameters in its query, so the app still sees the message.
      if code != 307 && code != 308 { method = .get }
      url = next
      purpose = .httpRedirect
    }
    throw TwilioError(
      .httpTooManyRedirects, "more than \(configuration.maximumRedirects) HTTP redirects")
  }

  static func twilioError(for error: any Error, timeout: Duration) -> TwilioError {
    if let error = error as? HTTPClientError {
      switch error {
      case .deadlineExceeded, .readTimeout, .writeTimeout:
        return TwilioError(.httpConnectionFailure, "no response within \(timeout)")
      case .connectTimeout:
        return TwilioError(.httpConnectionFailure, "no TCP connection within 10 seconds")
      case .invalidURL, .emptyHost, .emptyScheme:
        return TwilioError(.invalidURL, "invalid URL")
      case .remoteConnectionClosed:
        return TwilioError(.httpProtocolViolation, "the connection closed before a response")
      default:
        return TwilioError(.httpRetrievalFailure, "\(error)")
      }
    }
    let text = String(describing: error)
    if text.contains("NXDOMAIN") || text.contains("resolve") || text.contains("lookup") {
      return TwilioError(.httpBadHostName, "host name does not resolve")
    }
    if text.contains("refused") || text.contains("connect") {
      return TwilioError(.httpConnectionFailure, "connection failed: \(text)")
    }
    if error is HTTPParserError {
      return TwilioError(.httpProtocolViolation, "malformed HTTP response")
    }
    return TwilioError(.httpRetrievalFailure, text)
  }

  static func pairKey(from: String, to: String) -> String { "\(from)|\(to)" }
}
