import HTTPTypes
public import Logging
public import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
public import NIOPosix
public import Parley
public import ServiceLifecycle
import Synchronization

/// The small HTTP/1.1 server that puts a ``ParleyApplication`` on a socket.
///
/// Built on SwiftNIO's async channels and run as a swift-service-lifecycle `Service`: on SIGTERM or
/// SIGINT (through a `ServiceGroup`) it stops accepting, lets requests in flight finish, closes idle
/// keep-alive connections and returns. Keep-alive and pipelining are supported; every client is held
/// to the body limit, header limits, a deadline to send each request and an idle timeout.
///
/// ```swift
/// let server = ParleyServer(application: app, configuration: .init(port: 8080), logger: logger)
/// let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
public struct ParleyServer: Service {
  /// The app that answers requests.
  public let application: ParleyApplication
  /// Listening address and limits.
  public let configuration: Configuration
  /// Where connection-level events are logged (never a phone number or a body).
  public let logger: Logger
  private let eventLoopGroup: any EventLoopGroup
  private let onServerRunning: (@Sendable (SocketAddress) async -> Void)?

  /// Creates a server.
  ///
  /// - Parameters:
  ///   - application: The app that answers requests.
  ///   - configuration: Listening address and limits.
  ///   - logger: Where to log connection-level events.
  ///   - eventLoopGroup: The NIO event loops to run on.
  ///   - onServerRunning: Called once the socket listens, with its address (useful with port `0`).
  public init(
    application: ParleyApplication,
    configuration: Configuration = .init(),
    logger: Logger,
    eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    onServerRunning: (@Sendable (SocketAddress) async -> Void)? = nil
  ) {
    self.application = application
    self.configuration = configuration
    self.logger = logger
    self.eventLoopGroup = eventLoopGroup
    self.onServerRunning = onServerRunning
  }

  typealias Connection = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

  /// Adds the HTTP/1.1 handlers every connection runs: deadlines, the parser with its limits,
  /// protocol-error answers, and the conversion to swift-http-types. (The fuzz harness drives the
  /// same handlers on an `EmbeddedChannel`.)
  package static func configureHTTPPipeline(
    _ sync: ChannelPipeline.SynchronousOperations, configuration: Configuration
  ) throws {
    var limits = NIOHTTPDecoderLimitConfiguration()
    limits.maxHeaderListSize = configuration.maximumHeaderListSize
    limits.maxHeaderFieldSize = configuration.maximumHeaderListSize
    limits.maxHeaderFieldCount = configuration.maximumHeaderCount
    let deadlines = ConnectionDeadlines(
      requestTimeout: .init(configuration.requestTimeout),
      idleTimeout: .init(configuration.idleTimeout))
    try sync.addHandler(DeadlineHandler(deadlines: deadlines))
    // No pipelining assistance: `serve` already answers a connection's requests one at a time,
    // in order, and pipelined ones wait in the async channel (which stops reading when it holds
    // enough). NIO's assistance stopped reading while each request was answered and started
    // again after it, two `epoll_ctl` calls per request. Without them the benchmark's
    // signature-only row served 31,617 against 26,454 req/s, side by side (the fsync'd row,
    // bound by its store, did not move).
    try sync.configureHTTPServerPipeline(
      withPipeliningAssistance: false, withErrorHandling: false,
      withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
    try sync.addHandler(ProtocolErrorHandler(deadlines: deadlines))
    try sync.addHandler(HTTP1ToHTTPServerCodec(secure: false))
    try sync.addHandler(RequestLifecycleHandler(deadlines: deadlines))
  }

  /// Listens and serves until cancelled or gracefully shut down.
  public func run() async throws {
    let configuration = self.configuration
    let serverChannel = try await ServerBootstrap(group: eventLoopGroup)
      .serverChannelOption(.backlog, value: configuration.backlog)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
      .childChannelOption(.maxMessagesPerRead, value: 16)
      .bind(host: configuration.host, port: configuration.port) { channel in
        channel.eventLoop.makeCompletedFuture {
          try Self.configureHTTPPipeline(
            channel.pipeline.syncOperations, configuration: configuration)
          return try Connection(wrappingChannelSynchronously: channel)
        }
      }

    if let address = serverChannel.channel.localAddress {
      logger.info("listening", metadata: ["parley.address": "\(address)"])
      await onServerRunning?(address)
    }

    try await withGracefulShutdownHandler {
      try await serverChannel.executeThenClose { inbound in
        try await withThrowingDiscardingTaskGroup { group in
          for try await connection in inbound {
            group.addTask {
              await self.serve(connection)
            }
          }
        }
      }
    } onGracefulShutdown: {
      serverChannel.channel.close(promise: nil)
    }
    logger.info("stopped")
  }

  /// Serves the requests of one connection, one after the other, until it closes.
  func serve(_ connection: Connection) async {
    let state = ConnectionState()
    let channel = connection.channel
    let remoteAddress = channel.remoteAddress?.ipAddress
    do {
      try await withGracefulShutdownHandler {
        try await connection.executeThenClose { inbound, outbound in
          var parts = inbound.makeAsyncIterator()
          while let part = try await parts.next() {
            guard case .head(let head) = part else {
              throw UnexpectedPart()
            }
            state.withLock { $0.busy = true }
            let keepAlive = try await self.serveRequest(
              head: head, parts: &parts, outbound: outbound, state: state,
              remoteAddress: remoteAddress)
            state.withLock { $0.busy = false }
            if !keepAlive { break }
          }
        }
      } onGracefulShutdown: {
        let idle = state.withLock { state in
          state.shuttingDown = true
          return !state.busy
        }
        if idle { channel.close(promise: nil) }
      }
    } catch {
      logger.debug("connection closed", metadata: ["parley.error": "\(error)"])
    }
  }

  /// Reads the rest of one request, answers it and says whether the connection stays open.
  private func serveRequest(
    head: HTTPRequest,
    parts: inout NIOAsyncChannelInboundStream<HTTPRequestPart>.AsyncIterator,
    outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>,
    state: ConnectionState,
    remoteAddress: String?
  ) async throws -> Bool {
    let limit = application.configuration.maximumBodySize
    let clientKeepsAlive =
      !(head.headerFields.value(of: .connection)?.lowercased().contains("close") ?? false)

    if head.headerFields.count > configuration.maximumHeaderCount {
      try await write(
        WebhookResponse(
          status: .requestHeaderFieldsTooLarge, contentType: "text/plain; charset=utf-8",
          body: "too many header fields\n"), keepAlive: false, to: outbound)
      return false
    }
    if let declared = head.headerFields.value(of: .contentLength).flatMap({ Int($0) }),
      declared > limit
    {
      try await write(tooLarge(limit), keepAlive: false, to: outbound)
      return false
    }
    if head.headerFields.value(of: .expect)?.lowercased() == "100-continue" {
      try await outbound.write(.head(HTTPResponse(status: .continue)))
    }

    var body: [UInt8] = []
    readBody: while let part = try await parts.next() {
      switch part {
      case .body(let buffer):
        guard body.count + buffer.readableBytes <= limit else {
          try await write(tooLarge(limit), keepAlive: false, to: outbound)
          return false
        }
        body.append(contentsOf: buffer.readableBytesView)
      case .end:
        break readBody
      case .head:
        throw UnexpectedPart()
      }
    }

    let response = await application.respond(
      to: WebhookRequest(head: head, body: body, remoteAddress: remoteAddress))
    // A shutdown that began while the app worked closes the connection after this response.
    let keepAlive = clientKeepsAlive && !state.withLock { $0.shuttingDown }
    try await write(response, keepAlive: keepAlive, to: outbound)
    return keepAlive
  }

  private func tooLarge(_ limit: Int) -> WebhookResponse {
    WebhookResponse(
      status: .contentTooLarge, contentType: "text/plain; charset=utf-8",
      body: "body larger than \(limit) bytes\n")
  }

  private func write(
    _ response: WebhookResponse, keepAlive: Bool,
    to outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>
  ) async throws {
    var head = response.head
    head.headerFields[.contentLength] = String(response.body.count)
    if !keepAlive { head.headerFields[.connection] = "close" }
    // Allocated at its size: an empty buffer written into allocated twice.
    let buffer = ByteBuffer(bytes: response.body)
    try await outbound.write(contentsOf: [.head(head), .body(buffer), .end(nil)])
  }
}

/// What the graceful-shutdown handler and the request loop of one connection share.
final class ConnectionState: Sendable {
  struct Flags {
    /// A request is being read or answered.
    var busy = false
    /// Graceful shutdown began: finish the current request, then close.
    var shuttingDown = false
  }

  private let flags = Mutex(Flags())

  func withLock<T>(_ body: (inout Flags) -> T) -> T {
    flags.withLock { body(&$0) }
  }
}

struct UnexpectedPart: Error {}
