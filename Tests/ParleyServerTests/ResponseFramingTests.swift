import Glibc
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import Parley
import ParleyServer
import ParleyTestSupport
import Testing

/// How the server frames what it writes: the length it gives, the bodies it leaves out, and when
/// it says the connection closes.
@Suite(.timeLimit(.minutes(1)))
struct ResponseFramingTests {
  let app = ParleyApplication(handler: { _ in .message("framed") })

  private func encode(
    _ response: WebhookResponse, keepAlive: Bool = true, method: HTTPRequest.Method? = .post
  ) -> String {
    let buffer = response.encoded(
      keepAlive: keepAlive, requestMethod: method, allocator: ByteBufferAllocator())
    return String(buffer: buffer)
  }

  @Test func aResponseGetsItsLengthAndTheAppsFramingIsReplaced() {
    var fields = HTTPFields()
    fields[.contentType] = "text/plain"
    fields[.contentLength] = "999"
    fields[.transferEncoding] = "chunked"
    fields[HTTPField.Name("X-Trace")!] = "a"
    let response = WebhookResponse(
      head: HTTPResponse(status: .ok, headerFields: fields), body: Array("hello".utf8))
    #expect(
      encode(response)
        == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Trace: a\r\nContent-Length: 5\r\n\r\nhello"
    )
  }

  @Test func aClosingResponseSaysSoOnce() {
    var fields = HTTPFields()
    fields[.connection] = "keep-alive"
    let response = WebhookResponse(head: HTTPResponse(status: .ok, headerFields: fields))
    #expect(
      encode(response, keepAlive: false)
        == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
  }

  @Test(arguments: [204, 304])
  func statusesWithoutABodyCarryNoBodyAndNoLength(code: Int) {
    var fields = HTTPFields()
    fields[.contentLength] = "4"
    let response = WebhookResponse(
      head: HTTPResponse(status: .init(code: code), headerFields: fields), body: Array("oops".utf8))
    let text = encode(response)
    #expect(text.hasPrefix("HTTP/1.1 \(code) "))
    #expect(!text.lowercased().contains("content-length"))
    #expect(text.hasSuffix("\r\n\r\n"))
  }

  @Test func aHeadAnswerGivesTheLengthWithoutTheBody() {
    let response = WebhookResponse(status: .ok, contentType: "text/plain", body: "ok\n")
    #expect(
      encode(response, method: .head)
        == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n")
    #expect(
      encode(response, method: .connect) == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
  }

  @Test func aHeadRequestIsAnsweredWithoutABodyOnAKeptConnection() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        // Pipelined: a body after the first head would be read as the second response's start.
        try await connection.send(
          "HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
            + "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let head = try #require(try await connection.readResponse(toHeadRequest: true))
        let get = try #require(try await connection.readResponse())
        #expect(head.status == 200)
        #expect(get.status == 200)
        #expect(!get.body.isEmpty)
        #expect(head.header("Content-Length") == String(get.body.utf8.count))
      }
    }
  }

  @Test func anHTTP10RequestWithoutKeepAliveIsAnsweredAndClosed() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        try await connection.send("GET /healthz HTTP/1.0\r\n\r\n")
        let reply = try #require(try await connection.readResponse())
        #expect(reply.status == 200)
        #expect(reply.header("Connection") == "close")
        #expect(try await connection.waitForClose().isEmpty)
      }
    }
  }

  @Test func anHTTP10RequestAskingForKeepAliveKeepsTheConnection() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        for _ in 0..<2 {
          try await connection.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
          let reply = try #require(try await connection.readResponse())
          #expect(reply.status == 200)
          #expect(reply.header("Connection") == nil)
        }
      }
    }
  }

  @Test func gracefulShutdownWaitsForARequestHalfReceived() async throws {
    try await withServer(app) { port, group in
      try await RawConnection.open(port: port) { connection in
        // A first request answered: the connection is the server's before shutdown begins.
        try await connection.send(webhookRequest())
        #expect(try await connection.readResponse()?.status == 200)
        let request = webhookRequest(body: "From=%2B16175550123&To=%2B14155550199&Body=late")
        let cut = request.index(request.endIndex, offsetBy: -10)
        try await connection.send(String(request[..<cut]))
        try await Task.sleep(for: .milliseconds(300))
        await group.triggerGracefulShutdown()
        try await Task.sleep(for: .milliseconds(100))
        try await connection.send(String(request[cut...]))
        let reply = try #require(try await connection.readResponse())
        #expect(reply.status == 200)
        #expect(reply.body.contains("framed"))
        #expect(reply.header("Connection") == "close")
        #expect(try await connection.waitForClose().isEmpty)
      }
    }
  }

  @Test func theLastResponseOfAClosingConnectionArrivesWhole() async throws {
    // Larger than the loopback socket's buffers, to a client that waits before it reads: the
    // server must not close the connection while the response is still queued.
    let text = String(repeating: "x", count: 6_000_000)
    let large = ParleyApplication(handler: { _ in .message(text) })
    try await withServer(large) { port, _ in
      try await RawConnection.open(port: port) { connection in
        try await connection.send(webhookRequest(connection: "close"))
        try await Task.sleep(for: .milliseconds(500))
        let reply = try #require(try await connection.readResponse())
        #expect(reply.status == 200)
        #expect(reply.body.utf8.count > text.utf8.count)
        #expect(reply.header("Connection") == "close")
      }
    }
  }

  @Test func connectionsAcceptedAsShutdownBeginsAreClosedAtOnce() async throws {
    // Accepted by the kernel and by NIO but not yet taken by the accept loop when the listening
    // channel closes: each is closed when the loop stops, not left open to its idle deadline
    // (60 s here).
    var sockets: [Int32] = []
    try await withServer(app) { port, group in
      for index in 0..<200 {
        if index == 100 {
          Task { await group.triggerGracefulShutdown() }
        }
        if let socket = connectToLoopback(port: port) { sockets.append(socket) }
      }
    }
    #expect(!sockets.isEmpty)
    for socket in sockets {
      #expect(closesSilently(socket, within: 5))
      _ = close(socket)
    }
  }

  @Test(arguments: [
    "/sms", "/sms?a=1&b=%20", "//evil.example/sms", "/%zz", "/", "/a b", "http://h.example/sms?x",
    "*", "h.example:443",
  ])
  func aRequestHeadConvertsAsSwiftNIOExtrasConvertsIt(uri: String) throws {
    for hosts in [[], ["a.example"], ["a.example", "b.example"]] {
      for method in [HTTPMethod.POST, .GET, .HEAD, .CONNECT, .OPTIONS, .RAW(value: "PROPFIND")] {
        var headers = HTTPHeaders([("X-Twilio-Signature", "abc="), ("Cookie", "a=1; b=2")])
        for host in hosts { headers.add(name: "Host", value: host) }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)
        let expected = try HTTPRequest(head, secure: false, splitCookie: false)
        let converted = try HTTPRequest(serverHead: head)
        #expect(converted == expected, "\(method) \(uri) \(hosts)")
      }
    }
  }
}
