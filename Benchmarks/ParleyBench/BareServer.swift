import NIOCore
import NIOHTTP1
import NIOPosix

/// The limit Parley is measured against: SwiftNIO's HTTP/1.1 server answering every request with
/// one fixed TwiML body, on the same event loops as Parley. It reads the request body (as any
/// webhook endpoint must) and does nothing else: no parsing, no signature, no store.
enum BareServer {
  static let twiml =
    #"<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thanks for your message.</Message></Response>"#

  /// Listens on `host`:`port` until the process is killed.
  static func run(host: String, port: Int) async throws {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .serverChannelOption(.backlog, value: 256)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
      .childChannelOption(.maxMessagesPerRead, value: 16)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withPipeliningAssistance: true)
          try channel.pipeline.syncOperations.addHandler(FixedTwiMLHandler())
        }
      }
      .bind(host: host, port: port).get()
    print("bare SwiftNIO server listening on \(host):\(port)")
    try await channel.closeFuture.get()
  }
}

/// Answers each complete request with ``BareServer/twiml``.
final class FixedTwiMLHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  private var keepAlive = true
  private let body = ByteBuffer(string: BareServer.twiml)

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head):
      keepAlive = head.isKeepAlive
    case .body:
      break
    case .end:
      var headers = HTTPHeaders()
      headers.add(name: "Content-Type", value: "text/xml; charset=utf-8")
      headers.add(name: "Content-Length", value: String(body.readableBytes))
      if !keepAlive { headers.add(name: "Connection", value: "close") }
      let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)
      context.write(wrapOutboundOut(.head(head)), promise: nil)
      context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
      if keepAlive {
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
      } else {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
          bound.value.close(promise: nil)
        }
      }
    }
  }
}
