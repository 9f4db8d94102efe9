public import HTTPTypes

/// An HTTP request as Parley's transport-neutral core sees it: the head and the whole body.
///
/// The HTTP server builds one per request; ``ParleyTesting`` builds them without sockets.
public struct WebhookRequest: Sendable {
  /// Method, target (path and query, as sent) and header fields.
  public var head: HTTPRequest
  /// The body bytes.
  public var body: [UInt8]
  /// The peer's IP address, when the request came over a socket (a proxy's, behind one).
  public var remoteAddress: String?

  /// Creates a request.
  public init(head: HTTPRequest, body: [UInt8] = [], remoteAddress: String? = nil) {
    self.head = head
    self.body = body
    self.remoteAddress = remoteAddress
  }

  /// The request target's path, without the query.
  public var path: String {
    guard let target = head.path else { return "/" }
    if let question = target.firstIndex(of: "?") { return String(target[..<question]) }
    return target
  }

  /// The request target's query string, without the `?`, if any.
  public var query: Substring? {
    guard let target = head.path, let question = target.firstIndex(of: "?") else { return nil }
    return target[target.index(after: question)...]
  }
}

/// An HTTP response built by Parley's core.
public struct WebhookResponse: Sendable {
  /// Status and header fields.
  public var head: HTTPResponse
  /// The body bytes.
  public var body: [UInt8]

  /// Creates a response.
  public init(head: HTTPResponse, body: [UInt8] = []) {
    self.head = head
    self.body = body
  }

  /// Creates a response with a status, a content type and a text body.
  public init(status: HTTPResponse.Status, contentType: String? = nil, body: String = "") {
    var fields = HTTPFields()
    if let contentType { fields[.contentType] = contentType }
    self.init(head: HTTPResponse(status: status, headerFields: fields), body: Array(body.utf8))
  }

  /// The body as UTF-8 text.
  public var bodyText: String { String(decoding: body, as: UTF8.self) }
}
