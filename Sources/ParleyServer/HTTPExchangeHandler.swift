package import HTTPTypes
package import NIOCore
package import NIOHTTP1
import NIOHTTPTypesHTTP1
package import Parley

/// What a connection's task receives from its event loop, in the order it must answer.
package enum RequestEvent: Sendable {
  /// The client waits for `100 Continue` before it sends the body.
  case expectsContinue
  /// A whole request, and whether the client keeps the connection open after it.
  case request(HTTPRequest, body: [UInt8], keepAlive: Bool)
  /// A request refused before its body was read (too large, too many header fields): the
  /// connection ends with this answer, and nothing after it is read.
  case refused(WebhookResponse)
}

/// Bytes for the socket: a whole response, or an interim one (`100 Continue`) that does not end
/// the exchange.
package struct ResponseBytes: Sendable {
  package var buffer: ByteBuffer
  package var isFinal: Bool

  package init(buffer: ByteBuffer, isFinal: Bool) {
    self.buffer = buffer
    self.isFinal = isFinal
  }
}

/// Turns the parser's parts into whole requests on the event loop, and passes the connection's
/// task's encoded responses to the socket.
///
/// One handler where there were four (NIO's response encoder and header validator, the conversion
/// to swift-http-types, and the deadlines' bookkeeping): a request reaches the connection's task
/// as one element instead of a head, body parts and an end, and a response leaves it as one buffer
/// (``WebhookResponse/encoded(keepAlive:requestMethod:allocator:)``) instead of three parts, each
/// of which went through every handler. It also answers what the parser rejects: 431 when the
/// header is too large, 400 otherwise, after the requests before it are answered (NIO's own
/// handler answers 400 for both).
final class HTTPExchangeHandler: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias InboundOut = RequestEvent
  typealias OutboundIn = ResponseBytes
  typealias OutboundOut = ByteBuffer

  /// Kept with the connection's deadline handler: when requests start, arrive whole and are
  /// answered, and how many are not answered yet.
  let deadlines: ConnectionDeadlines
  private let maximumBodySize: Int
  private let maximumHeaderCount: Int

  /// The request being read, once its head has arrived.
  private var head: HTTPRequest?
  private var keepAlive = true
  private var body: [UInt8] = []
  /// A request was refused: nothing more is read or passed on.
  private var refused = false
  /// The parser's error, held until the requests before it are answered.
  private var heldError: (any Error)?

  init(deadlines: ConnectionDeadlines, maximumBodySize: Int, maximumHeaderCount: Int) {
    self.deadlines = deadlines
    self.maximumBodySize = maximumBodySize
    self.maximumHeaderCount = maximumHeaderCount
  }

  /// Whether a request's bytes have started to arrive and are not all answered yet.
  var isMidExchange: Bool { head != nil || deadlines.unanswered > 0 || deadlines.state != .idle }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let requestHead):
      deadlines.requestStarted()
      guard !refused else { return }
      receive(requestHead, context: context)
    case .body(let buffer):
      guard !refused, head != nil else { return }
      guard body.count + buffer.readableBytes <= maximumBodySize else {
        refuse(Self.tooLarge(maximumBodySize), context: context)
        return
      }
      body.append(contentsOf: buffer.readableBytesView)
    case .end:
      guard !refused, let head else { return }
      deadlines.requestReceived()
      let event = RequestEvent.request(head, body: body, keepAlive: keepAlive)
      self.head = nil
      body = []
      context.fireChannelRead(wrapInboundOut(event))
    }
  }

  private func receive(_ requestHead: HTTPRequestHead, context: ChannelHandlerContext) {
    guard requestHead.headers.count <= maximumHeaderCount else {
      refuse(
        WebhookResponse(
          status: .requestHeaderFieldsTooLarge, contentType: "text/plain; charset=utf-8",
          body: "too many header fields\n"), context: context)
      return
    }
    let request: HTTPRequest
    do {
      request = try HTTPRequest(serverHead: requestHead)
    } catch {
      // A head the parser took but swift-http-types cannot hold (a `Host` it rejects, say):
      // answered as the parser's own errors are.
      reject(error, context: context)
      return
    }
    var declaredLength: Int?
    if let value = request.headerFields[.contentLength] {
      guard let length = Int(value), length >= 0 else {
        reject(HTTPParserError.invalidContentLength, context: context)
        return
      }
      guard length <= maximumBodySize else {
        refuse(Self.tooLarge(maximumBodySize), context: context)
        return
      }
      declaredLength = length
    }
    head = request
    keepAlive = requestHead.isKeepAlive
    body = []
    body.reserveCapacity(declaredLength ?? 0)
    if let expect = request.headerFields[.expect], expect.lowercased() == "100-continue" {
      context.fireChannelRead(wrapInboundOut(.expectsContinue))
    }
  }

  private func refuse(_ response: WebhookResponse, context: ChannelHandlerContext) {
    refused = true
    head = nil
    body = []
    context.fireChannelRead(wrapInboundOut(.refused(response)))
  }

  static func tooLarge(_ limit: Int) -> WebhookResponse {
    WebhookResponse(
      status: .contentTooLarge, contentType: "text/plain; charset=utf-8",
      body: "body larger than \(limit) bytes\n")
  }

  func read(context: ChannelHandlerContext) {
    // After a refusal the connection only waits for its answer to be written.
    if !refused { context.read() }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    guard error is HTTPParserError else {
      context.fireErrorCaught(error)
      return
    }
    reject(error, context: context)
  }

  /// Answers a malformed request with 400 (431 for a header too large) once the requests before
  /// it are answered, then ends the connection.
  private func reject(_ error: any Error, context: ChannelHandlerContext) {
    // A refusal already ends the connection with its own answer.
    guard !refused else { return }
    refused = true
    head = nil
    body = []
    if deadlines.unanswered > 0 {
      // The first error is the one answered (the parser stops at it).
      heldError = heldError ?? error
      return
    }
    protocolError(error, context: context)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let bytes = unwrapOutboundIn(data)
    if bytes.isFinal {
      deadlines.responseSent(on: context.eventLoop)
    }
    context.write(wrapOutboundOut(bytes.buffer), promise: promise)
    if bytes.isFinal, deadlines.unanswered == 0, let error = heldError {
      heldError = nil
      protocolError(error, context: context)
    }
  }

  /// Answers a request the parser rejected and passes the error on, which ends the connection's
  /// requests.
  private func protocolError(_ error: any Error, context: ChannelHandlerContext) {
    let tooLarge = (error as? HTTPParserError) == .headerOverflow
    let response = WebhookResponse(
      status: tooLarge ? .requestHeaderFieldsTooLarge : .badRequest,
      contentType: "text/plain; charset=utf-8",
      body: tooLarge ? "request header too large\n" : "malformed HTTP request\n")
    let buffer = response.encoded(
      keepAlive: false, requestMethod: nil, allocator: context.channel.allocator)
    context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    context.fireErrorCaught(error)
  }
}

extension HTTPRequest {
  /// The head in swift-http-types' terms, as `HTTPRequest(_:secure:splitCookie:)` gives it.
  ///
  /// A target in origin form (`/sms?x=1`, what every client but a proxy sends) is the path as it
  /// stands, which that initializer also returns after parsing it with `URLComponents`: the parse
  /// is skipped here. Any other form goes through the initializer.
  package init(serverHead head: HTTPRequestHead) throws {
    guard head.uri.utf8.first == UInt8(ascii: "/") else {
      try self.init(head, secure: false, splitCookie: false)
      return
    }
    self.init(
      method: try HTTPRequest.Method(head.method), scheme: "http",
      authority: head.headers["Host"].first, path: head.uri,
      headerFields: HTTPFields(head.headers, splitCookie: false))
  }
}

extension WebhookResponse {
  /// The response as HTTP/1.1 bytes, framed by the server.
  ///
  /// The server sets `Content-Length` (the app's own `Content-Length` and `Transfer-Encoding` are
  /// left out) and, when the connection ends with this response, `Connection: close`. As NIO's
  /// encoder does, a response that cannot have a body (1xx, 204, 304, or an answer to `CONNECT`)
  /// is written without a body or its framing, and an answer to `HEAD` gives the length its body
  /// would have without the body. The fields' values need no check: swift-http-types replaces a
  /// CR, LF or NUL in a value with a space, and a name must be a token to be built.
  package func encoded(
    keepAlive: Bool, requestMethod: HTTPRequest.Method?, allocator: ByteBufferAllocator
  ) -> ByteBuffer {
    let status = head.status
    let mayHaveBody =
      status.code >= 200 && status.code != 204 && status.code != 304
      && requestMethod != .connect
    let sendsBody = mayHaveBody && requestMethod != .head
    let fields = head.headerFields

    var capacity = 64 + status.reasonPhrase.utf8.count + (sendsBody ? body.count : 0)
    for field in fields {
      capacity += field.name.rawName.utf8.count + 4
      capacity += field.withUnsafeBytesOfValue { $0.count }
    }
    var buffer = allocator.buffer(capacity: capacity)
    buffer.writeStaticString("HTTP/1.1 ")
    buffer.writeString(String(status.code))
    buffer.writeInteger(UInt8(ascii: " "))
    buffer.writeString(status.reasonPhrase)
    buffer.writeStaticString("\r\n")
    for field in fields {
      let name = field.name
      if name == .contentLength || name == .transferEncoding { continue }
      if !keepAlive, name == .connection { continue }
      buffer.writeString(name.rawName)
      buffer.writeStaticString(": ")
      field.withUnsafeBytesOfValue { _ = buffer.writeBytes($0) }
      buffer.writeStaticString("\r\n")
    }
    if mayHaveBody {
      buffer.writeStaticString("Content-Length: ")
      buffer.writeString(String(body.count))
      buffer.writeStaticString("\r\n")
    }
    if !keepAlive {
      buffer.writeStaticString("Connection: close\r\n")
    }
    buffer.writeStaticString("\r\n")
    if sendsBody {
      buffer.writeBytes(body)
    }
    return buffer
  }
}
