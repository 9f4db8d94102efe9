import HTTPTypes
public import Logging
public import NIOCore
import NIOHTTP1
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

  typealias Connection = NIOAsyncChannel<RequestEvent, ResponseBytes>

  /// Adds the HTTP/1.1 handlers every connection runs: deadlines, the parser with its limits, and
  /// the handler that gathers whole requests, refuses what breaks the limits and writes the
  /// responses. (The fuzz harness drives the same handlers on an `EmbeddedChannel`.)
  package static func configureHTTPPipeline(
    _ sync: ChannelPipeline.SynchronousOperations, configuration: Configuration,
    maximumBodySize: Int
  ) throws {
    var limits = NIOHTTPDecoderLimitConfiguration()
    limits.maxHeaderListSize = configuration.maximumHeaderListSize
    limits.maxHeaderFieldSize = configuration.maximumHeaderListSize
    limits.maxHeaderFieldCount = configuration.maximumHeaderCount
    let deadlines = ConnectionDeadlines(
      requestTimeout: .init(configuration.requestTimeout),
      idleTimeout: .init(configuration.idleTimeout))
    try sync.addHandler(DeadlineHandler(deadlines: deadlines))
    // NIO's parser alone, without its server pipeline's response encoder, header validator and
    // pipelining assistance: `HTTPExchangeHandler` encodes each response whole, and `serve`
    // answers a connection's requests one at a time, in order, pipelined ones waiting in the
    // async channel (which stops reading when it holds enough). The assistance stopped reading
    // while each request was answered and started again after it, two `epoll_ctl` calls per
    // request: without them the benchmark's signature-only row served 31,617 against 26,454
    // req/s, side by side.
    try sync.addHandler(
      ByteToMessageHandler(
        HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: limits)))
    try sync.addHandler(
      HTTPExchangeHandler(
        deadlines: deadlines, maximumBodySize: maximumBodySize,
        maximumHeaderCount: configuration.maximumHeaderCount))
  }

  /// Listens and serves until cancelled or gracefully shut down.
  public func run() async throws {
    let configuration = self.configuration
    let maximumBodySize = application.configuration.maximumBodySize
    let pending = PendingConnections()
    let serverChannel = try await ServerBootstrap(group: eventLoopGroup)
      .serverChannelOption(.backlog, value: configuration.backlog)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
      .childChannelOption(.maxMessagesPerRead, value: 16)
      // A connection reads nothing until its task has wrapped it (`serve`).
      .childChannelOption(.autoRead, value: false)
      .bind(host: configuration.host, port: configuration.port) { channel in
        channel.eventLoop.makeCompletedFuture {
          try Self.configureHTTPPipeline(
            channel.pipeline.syncOperations, configuration: configuration,
            maximumBodySize: maximumBodySize)
          // The accept loop receives the channel, not an async channel: an async channel's
          // writer traps if it is released unused, and during a graceful shutdown the server
          // channel closes while connections it accepted are still on their way to the loop,
          // which drops them (apple/swift-nio#2813). Each waits in `pending` until its task
          // takes it; the ones the loop never took are closed when it stops.
          guard pending.add(channel) else {
            // Accepted after the loop stopped. NIO leaves a channel whose initializer fails
            // unregistered and open: it is closed here.
            channel.close(promise: nil)
            throw ChannelError.ioOnClosedChannel
          }
          return channel
        }
      }

    if let address = serverChannel.channel.localAddress {
      logger.info("listening", metadata: ["parley.address": "\(address)"])
      await onServerRunning?(address)
    }

    try await withGracefulShutdownHandler {
      try await serverChannel.executeThenClose { inbound in
        try await withThrowingDiscardingTaskGroup { group in
          defer { pending.closeAll() }
          for try await channel in inbound {
            guard pending.take(channel) else { continue }
            group.addTask {
              await self.serve(channel)
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
  func serve(_ channel: any Channel) async {
    let connection: Connection
    do {
      connection = try await channel.eventLoop.submit {
        // A socket channel has synchronous options on its loop.
        guard channel.isActive, let options = channel.syncOptions else {
          throw ChannelError.ioOnClosedChannel
        }
        let connection = try Connection(wrappingChannelSynchronously: channel)
        try options.setOption(.autoRead, value: true)
        return connection
      }.get()
    } catch {
      channel.close(promise: nil)
      return
    }
    let shutdown = ShutdownFlag()
    let remoteAddress = channel.remoteAddress?.ipAddress
    let allocator = channel.allocator
    do {
      try await withGracefulShutdownHandler {
        try await connection.executeThenClose { inbound, outbound in
          events: for try await event in inbound {
            switch event {
            case .expectsContinue:
              try await outbound.write(ResponseBytes(buffer: Self.continueBytes, isFinal: false))
            case .refused(let response):
              let buffer = response.encoded(
                keepAlive: false, requestMethod: nil, allocator: allocator)
              try await outbound.write(ResponseBytes(buffer: buffer, isFinal: true))
              break events
            case .request(let head, let body, let clientKeepsAlive):
              let response = await application.respond(
                to: WebhookRequest(head: head, body: body, remoteAddress: remoteAddress))
              // A shutdown that began while the app worked closes the connection after this
              // response.
              let keepAlive = clientKeepsAlive && !shutdown.hasBegun
              let buffer = response.encoded(
                keepAlive: keepAlive, requestMethod: head.method, allocator: allocator)
              try await outbound.write(ResponseBytes(buffer: buffer, isFinal: true))
              // Read again after the write: a shutdown that began during it found the request
              // not yet answered on the loop and left the closing to this task.
              if !keepAlive || shutdown.hasBegun { break events }
            }
          }
          // `executeThenClose` closes the channel as this closure returns, dropping what the
          // channel still holds (apple/swift-nio#2795): a last response larger than the socket's
          // buffers lost its end. An empty write completes after every write before it.
          try await channel.writeAndFlush(ResponseBytes(buffer: ByteBuffer(), isFinal: false)).get()
        }
      } onGracefulShutdown: {
        shutdown.begin()
        // Idle unless a request is partly received or not yet answered (on the loop, where a
        // response is counted once it is written): those are answered, then the connection
        // closes.
        channel.eventLoop.execute {
          let exchange = try? channel.pipeline.syncOperations.handler(
            type: HTTPExchangeHandler.self)
          if exchange?.isMidExchange != true { channel.close(promise: nil) }
        }
      }
    } catch {
      logger.debug("connection closed", metadata: ["parley.error": "\(error)"])
    }
  }

  private static let continueBytes = ByteBuffer(string: "HTTP/1.1 100 Continue\r\n\r\n")
}

/// Connections accepted and not yet taken by the accept loop.
///
/// When the loop stops (the listening channel closed), the ones still here never reach it: they
/// are closed, and a connection accepted after that is refused.
final class PendingConnections: Sendable {
  private struct State {
    var accepting = true
    var channels: [ObjectIdentifier: any Channel] = [:]
  }

  private let state = Mutex(State())

  /// Holds an accepted connection, or says no once the loop has stopped.
  func add(_ channel: any Channel) -> Bool {
    state.withLock { state in
      guard state.accepting else { return false }
      state.channels[ObjectIdentifier(channel)] = channel
      return true
    }
  }

  /// Takes a connection for the loop; false if it was closed meanwhile.
  func take(_ channel: any Channel) -> Bool {
    state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) != nil }
  }

  /// Stops accepting and closes the connections the loop never took.
  func closeAll() {
    let left = state.withLock { state in
      state.accepting = false
      defer { state.channels = [:] }
      return Array(state.channels.values)
    }
    for channel in left { channel.close(promise: nil) }
  }
}

/// Set by a connection's graceful-shutdown handler, read by its request loop.
final class ShutdownFlag: Sendable {
  private let value = Atomic(false)

  /// Graceful shutdown began: finish the current request, then close.
  var hasBegun: Bool { value.load(ordering: .sequentiallyConsistent) }

  func begin() { value.store(true, ordering: .sequentiallyConsistent) }
}
