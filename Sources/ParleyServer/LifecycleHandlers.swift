import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Last before the async channel: tells the deadlines when a request starts, when the whole of it
/// has arrived, and when a response has been written.
final class RequestLifecycleHandler: ChannelDuplexHandler {
  typealias InboundIn = HTTPRequestPart
  typealias InboundOut = HTTPRequestPart
  typealias OutboundIn = HTTPResponsePart
  typealias OutboundOut = HTTPResponsePart

  let deadlines: ConnectionDeadlines

  init(deadlines: ConnectionDeadlines) {
    self.deadlines = deadlines
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head: deadlines.requestStarted()
    case .body: break
    case .end: deadlines.requestReceived()
    }
    context.fireChannelRead(data)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let isEnd: Bool
    if case .end = unwrapOutboundIn(data) { isEnd = true } else { isEnd = false }
    context.write(data, promise: promise)
    if isEnd {
      deadlines.responseSent(on: context.eventLoop)
    }
  }
}

/// Answers requests the HTTP/1 parser rejects: 431 when the header is too large, 400 otherwise,
/// then lets the connection close. (NIO's own handler answers 400 for both.)
///
/// Bytes the parser rejects behind pipelined requests that are still being answered wait for
/// those answers: the client gets them in order, then the refusal.
final class ProtocolErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias InboundOut = HTTPServerRequestPart
  typealias OutboundIn = HTTPServerResponsePart
  typealias OutboundOut = HTTPServerResponsePart

  private var responseInProgress = false
  /// Whole requests passed on whose responses have not ended.
  private var unanswered = 0
  /// The parser's error, held until the requests before it are answered.
  private var heldError: HTTPParserError?

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    if case .end = unwrapInboundIn(data) { unanswered += 1 }
    context.fireChannelRead(data)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    guard let parserError = error as? HTTPParserError else {
      context.fireErrorCaught(error)
      return
    }
    if unanswered > 0 || responseInProgress {
      // The parser stops at its first error: there is no second one to hold.
      heldError = heldError ?? parserError
      return
    }
    refuse(context: context, parserError)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    var ended = false
    switch unwrapOutboundIn(data) {
    case .head(let head) where head.status.code >= 200: responseInProgress = true
    case .end:
      responseInProgress = false
      unanswered = max(0, unanswered - 1)
      ended = true
    default: break
    }
    context.write(data, promise: promise)
    if ended, unanswered == 0, let error = heldError {
      heldError = nil
      refuse(context: context, error)
    }
  }

  /// Answers the error and passes it on, which ends the connection's requests.
  private func refuse(context: ChannelHandlerContext, _ parserError: HTTPParserError) {
    let status: HTTPResponseStatus =
      parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
    let reason = status == .badRequest ? "malformed HTTP request\n" : "request header too large\n"
    let headers = HTTPHeaders([
      ("Connection", "close"), ("Content-Type", "text/plain; charset=utf-8"),
      ("Content-Length", String(reason.utf8.count)),
    ])
    context.write(
      wrapOutboundOut(
        .head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
      promise: nil)
    context.write(
      wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: reason)))),
      promise: nil)
    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    context.fireErrorCaught(parserError)
  }
}
