import NIOCore
import NIOHTTP1
import NIOHTTPTypes

/// Last before the async channel: tells the deadlines when a whole request has arrived and when
/// its response has been written.
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
    if case .end = unwrapInboundIn(data) {
      deadlines.requestReceived()
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
final class ProtocolErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias InboundOut = HTTPServerRequestPart
  typealias OutboundIn = HTTPServerResponsePart
  typealias OutboundOut = HTTPServerResponsePart

  private var responseInProgress = false

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    if let parserError = error as? HTTPParserError, !responseInProgress {
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
      responseInProgress = false
    }
    context.fireErrorCaught(error)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    switch unwrapOutboundIn(data) {
    case .head(let head) where head.status.code >= 200: responseInProgress = true
    case .end: responseInProgress = false
    default: break
    }
    context.write(data, promise: promise)
  }
}
