import Foundation
import Logging
import NIOCore
import NIOPosix
import Parley
import ParleyServer
import ServiceLifecycle
import Testing

/// Starts a `ParleyServer` for `app` on a free loopback port, runs `body` with the port, then
/// shuts the server down gracefully and waits for it to return.
func withServer(
  _ app: ParleyApplication,
  configuration: ParleyServer.Configuration = .init(host: "127.0.0.1", port: 0),
  _ body: (_ port: Int, _ group: ServiceGroup) async throws -> Void
) async throws {
  var configuration = configuration
  configuration.port = 0
  let logger = Logger(label: "test-server")
  let (ports, continuation) = AsyncStream<Int>.makeStream()
  let server = ParleyServer(
    application: app, configuration: configuration, logger: logger,
    onServerRunning: { address in continuation.yield(address.port ?? 0) })
  let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
  try await withThrowingTaskGroup(of: Void.self) { tasks in
    tasks.addTask { try await group.run() }
    var iterator = ports.makeAsyncIterator()
    let port = try #require(await iterator.next())
    do {
      try await body(port, group)
    } catch {
      await group.triggerGracefulShutdown()
      throw error
    }
    await group.triggerGracefulShutdown()
    try await tasks.waitForAll()
  }
}

/// A raw HTTP response as read off the socket.
struct RawResponse {
  var status: Int
  var headers: [(String, String)]
  var body: String

  func header(_ name: String) -> String? {
    headers.first { $0.0.lowercased() == name.lowercased() }?.1
  }
}

/// A plain TCP connection that writes raw bytes and reads HTTP/1.1 responses, so tests can send
/// what no well-behaved client would.
final class RawConnection {
  private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
  private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
  private var buffer: [UInt8] = []
  private(set) var closed = false

  init(
    inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
    outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
  ) {
    self.inbound = inbound.makeAsyncIterator()
    self.outbound = outbound
  }

  static func open<T>(port: Int, _ body: (RawConnection) async throws -> T) async throws -> T {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connect(host: "127.0.0.1", port: port) { channel in
        channel.eventLoop.makeCompletedFuture {
          try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
      }
    return try await channel.executeThenClose { inbound, outbound in
      try await body(RawConnection(inbound: inbound, outbound: outbound))
    }
  }

  func send(_ text: String) async throws {
    try await outbound.write(ByteBuffer(string: text))
  }

  func send(_ bytes: [UInt8]) async throws {
    try await outbound.write(ByteBuffer(bytes: bytes))
  }

  /// Reads more bytes; false when the peer closed.
  private func fill() async throws -> Bool {
    do {
      guard let chunk = try await inbound.next() else {
        closed = true
        return false
      }
      buffer.append(contentsOf: chunk.readableBytesView)
      return true
    } catch let error as ChannelError where error == .ioOnClosedChannel || error == .eof {
      closed = true
      return false
    } catch let error as IOError where error.errnoCode == ECONNRESET {
      closed = true
      return false
    }
  }

  /// Reads one complete response (skipping `100 Continue`), or nil if the peer closed first.
  func readResponse() async throws -> RawResponse? {
    while true {
      guard let response = try await readOne() else { return nil }
      if response.status != 100 { return response }
    }
  }

  private func readOne() async throws -> RawResponse? {
    let separator: [UInt8] = Array("\r\n\r\n".utf8)
    var headerEnd: Int?
    while headerEnd == nil {
      if let range = firstRange(of: separator) {
        headerEnd = range
      } else if try await !fill() {
        return nil
      }
    }
    let headText = String(decoding: buffer[..<headerEnd!], as: UTF8.self)
    var lines = headText.components(separatedBy: "\r\n")
    let statusLine = lines.removeFirst().split(separator: " ")
    let status = Int(statusLine[1])!
    let headers: [(String, String)] = lines.map { line in
      let parts = line.split(separator: ":", maxSplits: 1)
      return (
        String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
      )
    }
    buffer.removeFirst(headerEnd! + separator.count)
    let length =
      headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) } ?? 0
    while buffer.count < length {
      if try await !fill() { return nil }
    }
    let body = String(decoding: buffer[..<length], as: UTF8.self)
    buffer.removeFirst(length)
    return RawResponse(status: status, headers: headers, body: body)
  }

  /// Waits until the peer closes the connection, failing if it sends more bytes.
  func waitForClose() async throws -> [UInt8] {
    while try await fill() {}
    return buffer
  }

  private func firstRange(of separator: [UInt8]) -> Int? {
    guard buffer.count >= separator.count else { return nil }
    for start in 0...(buffer.count - separator.count)
    where buffer[start..<(start + separator.count)].elementsEqual(separator) {
      return start
    }
    return nil
  }
}

/// A realistic inbound webhook request, as raw HTTP/1.1.
func webhookRequest(
  body: String = "From=%2B16175550123&To=%2B14155550199&Body=hi", connection: String? = nil
) -> String {
  var request = "POST /sms HTTP/1.1\r\nHost: localhost\r\nUser-Agent: TwilioProxy/1.1\r\n"
  request += "Content-Type: application/x-www-form-urlencoded\r\n"
  if let connection { request += "Connection: \(connection)\r\n" }
  request += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
  return request
}
