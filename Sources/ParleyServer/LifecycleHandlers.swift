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
    // Counted before the end goes on: `ProtocolErrorHandler`, further on, reads the count.
    if case .end = unwrapOutboundIn(data) {
      deadlines.responseSent(on: context.eventLoop)
    }
    context.write(data, promise: promise)
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

  /// Kept by the deadline handlers: here, how many whole requests are not answered yet.
  let deadlines: ConnectionDeadlines
  private var responseInProgress = false
  /// The parser's error, held until the requests before it are answered.
  private var heldError: HTTPParserError?

  init(deadlines: ConnectionDeadlines) {
    self.deadlines = deadlines
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    guard let parserError = error as? HTTPParserError else {
      context.fireErrorCaught(error)
      return
    }
    if deadlines.unanswered > 0 || responseInProgress {
      // The first error is the one answered (the parser stops at it).
      heldError = heldError ?? parserError
      return
    }
    refuse(context: context, parserError)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let part = unwrapOutboundIn(data)
    switch part {
    case .head(let head) where head.status.code >= 200: responseInProgress = true
    case .end: responseInProgress = false
    default: break
    }
    context.write(data, promise: promise)
    if case .end = part, deadlines.unanswered == 0, let error = heldError {
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
