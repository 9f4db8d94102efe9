package import HTTPTypes
package import NIOCore
import NIOHTTP1
package import Parley

/// What a connection's task receives from its event loop, in the order it must answer.
package enum RequestEvent: Sendable {
  /// The client waits for `100 Continue` before it sends the body.
  case expectsContinue
  /// A whole request, and whether the client keeps the connection open after it.
  case request(HTTPRequest, body: [UInt8], keepAlive: Bool)
  /// A request refused before it was read whole (too large, too many header fields, malformed):
  /// the connection ends with this answer, and nothing after it is read.
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
/// of which went through every handler. What the parser rejects is refused like a request over
/// the limits: 431 when the header is too large, 400 otherwise, after the requests before it are
/// answered (NIO's own handler answers 400 for both).
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

  init(deadlines: ConnectionDeadlines, maximumBodySize: Int, maximumHeaderCount: Int) {
    self.deadlines = deadlines
    self.maximumBodySize = maximumBodySize
    self.maximumHeaderCount = maximumHeaderCount
  }

  /// Whether a request's bytes have started to arrive and are not all answered yet (the
  /// deadlines are idle only between a response and the next request's first byte).
  var isMidExchange: Bool { deadlines.state != .idle }

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
      refuse(.refusal(.requestHeaderFieldsTooLarge, "too many header fields"), context: context)
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
    // `value(of:)`, not the subscript: the subscript joins the values through a lazy sequence
    // whose generic types are looked up at run time on every call, 1.2% of the memory-store
    // server's samples for these two lookups.
    if let value = request.headerFields.value(of: .contentLength) {
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
    if let expect = request.headerFields.value(of: .expect), expect.lowercased() == "100-continue" {
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
    .refusal(.contentTooLarge, "body larger than \(limit) bytes")
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

  /// Answers a malformed request with 400 (431 for a header too large), in turn after the
  /// requests before it, as the other refusals are; the parser reads no further.
  private func reject(_ error: any Error, context: ChannelHandlerContext) {
    // A refusal already ends the connection with its own answer.
    guard !refused else { return }
    let response: WebhookResponse =
      (error as? HTTPParserError) == .headerOverflow
      ? .refusal(.requestHeaderFieldsTooLarge, "request header too large")
      : .refusal(.badRequest, "malformed HTTP request")
    refuse(response, context: context)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let bytes = unwrapOutboundIn(data)
    if bytes.isFinal {
      deadlines.responseSent(on: context.eventLoop)
    }
    context.write(wrapOutboundOut(bytes.buffer), promise: promise)
  }
}
