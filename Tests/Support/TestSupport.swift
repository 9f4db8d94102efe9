public import Foundation
import Glibc
import NIOCore
import NIOPosix
import Synchronization

/// A raw HTTP response as read off the socket.
public struct RawResponse: Sendable {
  public var status: Int
  public var headers: [(String, String)]
  public var body: String

  public func header(_ name: String) -> String? {
    headers.first { $0.0.lowercased() == name.lowercased() }?.1
  }
}

/// A plain TCP connection that writes raw bytes and reads HTTP/1.1 responses, so tests can send
/// what no well-behaved client would.
public final class RawConnection {
  private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
  private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
  private var buffer: [UInt8] = []
  public private(set) var closed = false

  init(
    inbound: NIOAsyncChannelInboundStream<ByteBuffer>,
    outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
  ) {
    self.inbound = inbound.makeAsyncIterator()
    self.outbound = outbound
  }

  public static func open<T>(port: Int, _ body: (RawConnection) async throws -> T) async throws -> T
  {
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

  public func send(_ text: String) async throws {
    try await outbound.write(ByteBuffer(string: text))
  }

  public func send(_ bytes: [UInt8]) async throws {
    try await outbound.write(ByteBuffer(bytes: bytes))
  }

  /// Sends `text`; false when the peer had already closed the connection.
  public func sendUnlessClosed(_ text: String) async throws -> Bool {
    do {
      try await send(text)
      return true
    } catch  where Self.isClose(error) {
      closed = true
      return false
    }
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
    } catch  where Self.isClose(error) {
      closed = true
      return false
    }
  }

  /// Whether a read or write failed because the peer had closed the connection.
  private static func isClose(_ error: any Error) -> Bool {
    switch error {
    case let error as ChannelError: error == .ioOnClosedChannel || error == .eof
    case let error as IOError: error.errnoCode == ECONNRESET || error.errnoCode == EPIPE
    default: false
    }
  }

  /// Reads one complete response (skipping `100 Continue`), or nil if the peer closed first.
  ///
  /// - Parameter toHeadRequest: The response answers a `HEAD` request: its `Content-Length` is
  ///   not followed by a body.
  public func readResponse(toHeadRequest: Bool = false) async throws -> RawResponse? {
    while true {
      guard let response = try await readOne(bodyless: toHeadRequest) else { return nil }
      if response.status != 100 { return response }
    }
  }

  private func readOne(bodyless: Bool) async throws -> RawResponse? {
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
    let declared =
      headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) } ?? 0
    let length = bodyless || status == 100 ? 0 : declared
    while buffer.count < length {
      if try await !fill() { return nil }
    }
    let body = String(decoding: buffer[..<length], as: UTF8.self)
    buffer.removeFirst(length)
    return RawResponse(status: status, headers: headers, body: body)
  }

  /// Waits until the peer closes the connection, failing if it sends more bytes.
  public func waitForClose() async throws -> [UInt8] {
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
public func webhookRequest(
  body: String = "From=%2B16175550123&To=%2B14155550199&Body=hi", connection: String? = nil
) -> String {
  var request = "POST /sms HTTP/1.1\r\nHost: localhost\r\nUser-Agent: TwilioProxy/1.1\r\n"
  request += "Content-Type: application/x-www-form-urlencoded\r\n"
  if let connection { request += "Connection: \(connection)\r\n" }
  request += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
  return request
}

/// A sample executable started as a real process on a free loopback port.
public final class SampleProcess {
  public let process = Process()
  let output = Pipe()
  public private(set) var port = 0

  /// The directory holding the built products (next to the test bundle).
  public static var productsDirectory: URL {
    let candidates = [
      Bundle.main.bundleURL.deletingLastPathComponent(),
      URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
      URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../.build/debug"),
    ]
    return candidates.first {
      FileManager.default.fileExists(atPath: $0.appendingPathComponent("Echo").path)
    }
      ?? candidates[2]
  }

  public init(_ name: String, arguments: [String]) throws {
    // The store is chosen by the arguments, never by the test runner's own environment; `env -u`
    // drops the variable (and then execs the sample, keeping the pid).
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments =
      ["-u", "PARLEY_POSTGRES_URL", Self.productsDirectory.appendingPathComponent(name).path]
      + ["--port", "0", "--host", "127.0.0.1", "--local-demo"] + arguments
    process.standardOutput = output
    process.standardError = output
    try Self.launch(process)
  }

  static let launches = Mutex(())

  /// Starts `process`, one launch at a time: Foundation's Process.run is not safe to call from
  /// several threads at once on Linux.
  public static func launch(_ process: Process) throws {
    try launches.withLock { _ in try process.run() }
  }

  /// Waits for the "listening" line and reads the port from it.
  public func waitUntilListening() throws {
    var seen = ""
    let handle = output.fileHandleForReading
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
      let data = handle.availableData
      if data.isEmpty { break }
      seen += String(decoding: data, as: UTF8.self)
      if let range = seen.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
        port = Int(seen[range].split(separator: ":").last!)!
        // Keep draining the output so a chatty process never blocks on a full pipe. At the end
        // of the output the handler goes: an end of file stays readable, so a handler left in
        // place spins on it until the pipe is freed. (A SIGSEGV in libdispatch's
        // `_dispatch_event_loop_drain`, seen once during a test's `kill`, had such a handler
        // live.)
        handle.readabilityHandler = { handle in
          if handle.availableData.isEmpty { handle.readabilityHandler = nil }
        }
        return
      }
    }
    throw SampleError("no listening line; output: \(seen)")
  }

  public func kill(signal: Int32) {
    Foundation.kill(process.processIdentifier, signal)
    process.waitUntilExit()
    output.fileHandleForReading.readabilityHandler = nil
  }

  deinit {
    if process.isRunning { kill(signal: SIGKILL) }
  }
}

public struct SampleError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// A socket connected to 127.0.0.1:`port` that has sent nothing, for the caller to close; nil if
/// none could be (nothing listens). The benchmark's readiness checks use it too.
public func connectToLoopback(port: Int) -> Int32? {
  let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return nil }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = in_port_t(UInt16(port).bigEndian)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  let connected = withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
    }
  }
  guard connected else {
    _ = close(fd)
    return nil
  }
  return fd
}

/// Whether the peer has closed the socket, or closes it within `seconds`, sending nothing.
///
/// A connection the server's kernel completed but no process ever accepted (the listening
/// socket closed with it still queued, or the queue full) stays open on this side until it
/// sends: one byte then gets a reset. A connection a server holds open takes the byte and stays
/// open, which fails the check.
public func closesSilently(_ socket: Int32, within seconds: Int) -> Bool {
  var timeout = timeval(tv_sec: seconds, tv_usec: 0)
  _ = setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  var byte: UInt8 = 0
  let count = read(socket, &byte, 1)
  if count == 0 || (count < 0 && errno == ECONNRESET) { return true }
  guard count < 0, errno == EAGAIN || errno == EWOULDBLOCK else { return false }
  var probe = UInt8(ascii: "\n")
  guard send(socket, &probe, 1, Int32(MSG_NOSIGNAL)) == 1 else { return true }
  let after = read(socket, &byte, 1)
  return after == 0 || (after < 0 && errno == ECONNRESET)
}
