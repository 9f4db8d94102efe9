import HTTPTypes
public import Logging
import ParleyTwiML

/// The webhook endpoints of a Parley app, independent of any transport.
///
/// It routes a ``WebhookRequest`` to the messaging webhook, the status callback endpoint or the
/// health check, decodes the form, runs the middleware chain and the handler, and renders the
/// reply. The HTTP server (`ParleyServer`) and the in-process test client (`ParleyTesting`) both
/// drive it, so what a test sees is what Twilio gets.
///
/// ```swift
/// let app = ParleyApplication { turn in
///   .message("You said: \(turn.message.body)")
/// }
/// ```
public struct ParleyApplication: Sendable {
  /// Where the endpoints live and how much they accept.
  public struct Configuration: Sendable {
    /// The messaging webhook's path (`POST` form or `GET` query).
    public var webhookPath: String
    /// The status callback endpoint's path.
    public var statusCallbackPath: String
    /// The health check's path (`GET`).
    public var healthPath: String
    /// The largest request body accepted, in bytes.
    public var maximumBodySize: Int

    /// Creates a configuration; the defaults suit most apps.
    public init(
      webhookPath: String = "/sms",
      statusCallbackPath: String = "/status",
      healthPath: String = "/healthz",
      maximumBodySize: Int = 64 * 1024
    ) {
      self.webhookPath = webhookPath
      self.statusCallbackPath = statusCallbackPath
      self.healthPath = healthPath
      self.maximumBodySize = maximumBodySize
    }
  }

  /// The configuration.
  public let configuration: Configuration
  /// The logger; the default discards everything.
  public let logger: Logger
  private let respondToTurn: NextResponder
  private let respondToStatus: NextStatusResponder
  private var routes: [(path: String, responder: Responder)] = []

  /// Answers an HTTP request on a route of the app's own (see ``routing(_:to:)``).
  public typealias Responder = @Sendable (WebhookRequest) async throws -> WebhookResponse

  /// Creates an app from middleware (outermost first) and a handler.
  ///
  /// - Parameters:
  ///   - configuration: Paths and limits.
  ///   - logger: Where to log; pass your app's logger. The default logs nothing.
  ///   - middleware: The chain, outermost first.
  ///   - statusHandler: Called for every delivery status callback, after the middleware.
  ///   - handler: Answers each turn that reaches the end of the chain.
  public init(
    configuration: Configuration = .init(),
    logger: Logger = Logger(label: "parley", factory: { _ in SwiftLogNoOpLogHandler() }),
    middleware: [any MessagingMiddleware] = [],
    statusHandler: @escaping @Sendable (StatusCallback) async throws -> Void = { _ in },
    handler: @escaping @Sendable (Turn) async throws -> Reply
  ) {
    self.configuration = configuration
    self.logger = logger
    var next: NextResponder = handler
    for layer in middleware.reversed() {
      let inner = next
      next = { turn in try await layer.handle(turn, next: inner) }
    }
    self.respondToTurn = next
    var nextStatus: NextStatusResponder = { status in try await statusHandler(status.callback) }
    for layer in middleware.reversed() {
      let inner = nextStatus
      nextStatus = { status in try await layer.handleStatus(status, next: inner) }
    }
    self.respondToStatus = nextStatus
  }

  /// The app with `responder` answering requests to `path` and below it (an API beside the
  /// webhooks, such as the compliance sample's JSON API). The webhook, status and health paths
  /// keep priority. A ``WebhookError`` thrown by the responder becomes its status; any other error
  /// a logged 500.
  public func routing(_ path: String, to responder: @escaping Responder) -> ParleyApplication {
    var copy = self
    copy.routes.append((path, responder))
    return copy
  }

  /// Answers one HTTP request. Never throws: every failure becomes a response.
  public func respond(to request: WebhookRequest) async -> WebhookResponse {
    let path = request.path
    let method = request.head.method
    do {
      switch path {
      case configuration.webhookPath:
        guard method == .post || method == .get else {
          throw WebhookError(
            .methodNotAllowed, "method \(method.rawValue) not allowed; use POST or GET")
        }
        return try await respondToWebhook(request)
      case configuration.statusCallbackPath:
        guard method == .post || method == .get else {
          throw WebhookError(
            .methodNotAllowed, "method \(method.rawValue) not allowed; use POST or GET")
        }
        return try await respondToStatusCallback(request)
      case configuration.healthPath:
        guard method == .get || method == .head else {
          throw WebhookError(.methodNotAllowed, "method \(method.rawValue) not allowed; use GET")
        }
        return WebhookResponse(status: .ok, contentType: "text/plain; charset=utf-8", body: "ok\n")
      default:
        for route in routes
        where path == route.path
          || path.hasPrefix(route.path.hasSuffix("/") ? route.path : route.path + "/")
        {
          return try await route.responder(request)
        }
        throw WebhookError(.notFound, "no endpoint at this path")
      }
    } catch let error as WebhookError {
      logger.info(
        "request refused",
        metadata: ["parley.status": "\(error.status.code)", "parley.reason": "\(error.reason)"])
      var response = WebhookResponse(
        status: error.status, contentType: "text/plain; charset=utf-8", body: error.reason + "\n")
      if error.code == .methodNotAllowed {
        response.head.headerFields[.allow] =
          path == configuration.healthPath ? "GET, HEAD" : "GET, POST"
      }
      return response
    } catch {
      return Self.handlerFailed(error, logger: logger)
    }
  }

  /// Decodes the parameters of a webhook request: the form body of a POST, the query of a GET.
  public func parameters(of request: WebhookRequest) throws(WebhookError) -> FormParameters {
    guard request.body.count <= configuration.maximumBodySize else {
      throw WebhookError(
        .bodyTooLarge, "body larger than \(configuration.maximumBodySize) bytes")
    }
    do {
      if request.head.method == .get {
        return try FormParameters(decoding: (request.query ?? "").utf8)
      }
      let contentType = request.head.headerFields.value(of: .contentType) ?? ""
      // Twilio sends exactly this; anything else is parsed (parameters, case, spaces).
      let isForm =
        contentType == "application/x-www-form-urlencoded"
        || contentType.split(separator: ";", maxSplits: 1).first.map {
          $0.trimmingCharacters(in: " \t").lowercased()
        } == "application/x-www-form-urlencoded"
      guard isForm else {
        throw WebhookError(
          .unsupportedContentType,
          "unsupported Content-Type; send application/x-www-form-urlencoded")
      }
      return try FormParameters(decoding: request.body)
    } catch let error as FormDecodingError {
      throw WebhookError(.malformedBody, "malformed form: \(error)")
    } catch let error as WebhookError {
      throw error
    } catch {
      throw WebhookError(.malformedBody, "malformed form")
    }
  }

  private func respondToWebhook(_ request: WebhookRequest) async throws -> WebhookResponse {
    let message = try InboundMessage(parameters: try parameters(of: request))
    var logger = self.logger
    // Beside the app's handler, not on it: StreamLogHandler renders its metadata on each change.
    logger.handler = TurnLogHandler(
      wrapping: logger.handler,
      metadata: [
        "parley.message_sid": .string(message.messageSid ?? "-"),
        "parley.from": .stringConvertible(RedactedPhoneNumber(message.from)),
        "parley.to": .stringConvertible(RedactedPhoneNumber(message.to)),
      ])
    let turn = Turn(message: message, request: request, logger: logger)
    do {
      let reply = try await respondToTurn(turn)
      logger.debug("turn answered", metadata: ["parley.messages": "\(reply.messages.count)"])
      return Self.render(reply)
    } catch let refusal as WebhookError {
      // A middleware refused the request (a bad signature, say): answered with its status.
      throw refusal
    } catch {
      return Self.handlerFailed(error, logger: logger)
    }
  }

  /// Logs a failure of the chain and answers 500 with an empty `<Response/>`, so Twilio sends
  /// nothing and the app's error is visible in its own log, not to the texter.
  static func handlerFailed(_ error: any Error, logger: Logger) -> WebhookResponse {
    logger.error(
      "handler failed", metadata: ["parley.error": "\(String(reflecting: type(of: error)))"])
    logger.debug("handler error detail", metadata: ["parley.error": "\(error)"])
    return WebhookResponse(
      status: .internalServerError, contentType: "text/xml; charset=utf-8",
      body: MessagingResponse().xml)
  }

  private func respondToStatusCallback(_ request: WebhookRequest) async throws -> WebhookResponse {
    let callback = try StatusCallback(parameters: try parameters(of: request))
    var logger = self.logger
    logger.handler = TurnLogHandler(
      wrapping: logger.handler, metadata: ["parley.message_sid": "\(callback.messageSid)"])
    try await respondToStatus(StatusTurn(callback: callback, request: request, logger: logger))
    return WebhookResponse(head: HTTPResponse(status: .noContent))
  }

  /// Renders a reply as the HTTP response Twilio receives.
  ///
  /// The reply's content sets `Content-Type`; one among the reply's own header fields is left out,
  /// since a second type could have Twilio read TwiML as a text to send.
  public static func render(_ reply: Reply) -> WebhookResponse {
    let sent = reply.content.asSent
    var response = WebhookResponse(status: .ok, contentType: sent.contentType, body: sent.body)
    for field in reply.headerFields where Reply.sends(field) {
      response.head.headerFields.append(field)
    }
    return response
  }
}

extension Substring {
  fileprivate func trimmingCharacters(in set: String) -> Substring {
    var result = self
    while let first = result.first, set.contains(first) { result = result.dropFirst() }
    while let last = result.last, set.contains(last) { result = result.dropLast() }
    return result
  }
}
