import EchoBot
import HTTPTypes
import Logging
import Parley
import ParleyServer
import ParleyTestSupport
import ParleyTwiML
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1)))
struct ServerTests {
  let app = EchoBot.application(
    store: MemoryConversationStore(), signature: .disabled(reason: "test"),
    logger: Logger(label: "echo"))

  @Test func answersATwilioWebhookOverLoopback() async throws {
    try await withServer(app) { port, _ in
      let body =
        "ToCountry=US&SmsMessageSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&NumMedia=1&Body=Hello+%F0%9F%91%8B"
        + "&To=%2B14155550199&MessageSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&AccountSid=AC1&From=%2B16175550123"
        + "&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2FME1&MediaContentType0=image%2Fjpeg&ApiVersion=2010-04-01"
      let response = try await RawConnection.open(port: port) { connection in
        try await connection.send(webhookRequest(body: body))
        return try await connection.readResponse()
      }
      let reply = try #require(response)
      #expect(reply.status == 200)
      #expect(reply.header("Content-Type") == "text/xml; charset=utf-8")
      let twiml = try MessagingResponse(xml: reply.body)
      #expect(twiml.messages.map(\.body) == ["You said: Hello 👋 (+1 attachment)"])
    }
  }

  @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        for index in 0..<5 {
          try await connection.send(webhookRequest(body: "From=1&To=2&Body=n\(index)"))
          let reply = try #require(try await connection.readResponse())
          #expect(reply.body.contains("You said: n\(index)"))
          #expect(reply.header("Connection") == nil)
        }
      }
    }
  }

  @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        let requests = (0..<10).map { webhookRequest(body: "From=1&To=2&Body=p\($0)") }.joined()
        try await connection.send(requests)
        for index in 0..<10 {
          let reply = try #require(try await connection.readResponse())
          #expect(reply.body.contains("You said: p\(index)<"))
        }
      }
    }
  }

  /// An app slower than the idle timeout, answering requests that all arrived at once: the
  /// requests waiting behind the first are the server's time, not an idle connection's.
  ///
  /// On a loaded machine the new connection's idle deadline (a second) may pass before the server
  /// reads the test's bytes, or even before the test writes them, and it closes with no answer at
  /// all. That is not what this test is about, so such a connection is tried again, up to three
  /// times. Once the first answer came, every later one must come.
  @Test func pipelinedRequestsBehindASlowAppRunNoIdleDeadline() async throws {
    let app = ParleyApplication { turn in
      try await Task.sleep(for: .milliseconds(1_300))
      return .message("slow \(turn.message.body)")
    }
    let configuration = ParleyServer.Configuration(
      requestTimeout: .seconds(1), idleTimeout: .seconds(1))
    try await withServer(app, configuration: configuration) { port, _ in
      var answeredFirst = false
      for _ in 0..<3 where !answeredFirst {
        try await RawConnection.open(port: port) { connection in
          let requests = (0..<3).map { webhookRequest(body: "From=1&To=2&Body=s\($0)") }.joined()
          guard try await connection.sendUnlessClosed(requests),
            let first = try await connection.readResponse()
          else { return }
          answeredFirst = true
          #expect(first.status == 200)
          #expect(first.body.contains("slow s0<"))
          for index in 1..<3 {
            let reply = try #require(
              try await connection.readResponse(), "no answer to pipelined request \(index)")
            #expect(reply.status == 200)
            #expect(reply.body.contains("slow s\(index)<"))
          }
        }
      }
      #expect(answeredFirst, "three connections closed before their first answer")
    }
  }

  /// Garbage pipelined behind requests still being answered: they get their answers, in order,
  /// and only then the 400, and the connection closes.
  @Test func garbageBehindPipelinedRequestsIsAnsweredAfterThem() async throws {
    let app = ParleyApplication { turn in
      try await Task.sleep(for: .milliseconds(100))
      return .message("slow \(turn.message.body)")
    }
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        let requests = (0..<2).map { webhookRequest(body: "From=1&To=2&Body=g\($0)") }.joined()
        try await connection.send(requests + "THIS IS NOT HTTP\r\n\r\n")
        for index in 0..<2 {
          let reply = try #require(try await connection.readResponse())
          #expect(reply.status == 200)
          #expect(reply.body.contains("slow g\(index)<"))
        }
        let refused = try #require(try await connection.readResponse())
        #expect(refused.status == 400)
        #expect(try await connection.waitForClose().isEmpty)
      }
    }
  }

  @Test func connectionCloseIsHonoured() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        try await connection.send(webhookRequest(connection: "close"))
        let reply = try #require(try await connection.readResponse())
        #expect(reply.status == 200)
        #expect(reply.header("Connection") == "close")
        #expect(try await connection.waitForClose().isEmpty)
      }
    }
  }

  /// A header value an app sets reaches the wire legalized (swift-http-types turns a CR, LF or NUL
  /// into a space): it can neither add a header nor split the response.
  @Test func headerValuesAnAppSetsCannotSplitTheResponse() async throws {
    let app = ParleyApplication { _ in
      var reply = Reply.message("hi")
      reply.headerFields.append(
        HTTPField(name: HTTPField.Name("X-Note")!, value: "a\r\nX-Injected: 1\r\n\r\n<evil/>"))
      return reply
    }
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        for index in 0..<2 {
          try await connection.send(webhookRequest(body: "From=1&To=2&Body=n\(index)"))
          let reply = try #require(try await connection.readResponse())
          #expect(reply.status == 200)
          #expect(reply.header("X-Injected") == nil)
          #expect(reply.header("X-Note") == "a  X-Injected: 1    <evil/>")
          #expect(try MessagingResponse(xml: reply.body).messages.map(\.body) == ["hi"])
        }
      }
    }
  }

  @Test func expectContinueGetsAnInterimResponse() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        let body = "From=1&To=2&Body=continued"
        try await connection.send(
          "POST /sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + "Expect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        try await connection.send(body)
        let reply = try #require(try await connection.readResponse())
        #expect(reply.status == 200)
        #expect(reply.body.contains("continued"))
      }
    }
  }

  @Test func bodyOverTheLimitByContentLengthIs413AndCloses() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        try await connection.send(
          "POST /sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + "Content-Length: 10000000\r\n\r\nFrom=1")
        let reply = try #require(try await connection.readResponse())
        #expect(reply.status == 413)
        #expect(reply.header("Connection") == "close")
        _ = try await connection.waitForClose()
      }
    }
  }

  @Test func endlessChunkedBodyIs413AndCloses() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        try await connection.send(
          "POST /sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n")
        let chunk = "1000\r\n" + String(repeating: "a", count: 0x1000) + "\r\n"
        // 20 chunks of 4 KiB = 80 KiB, past the 64 KiB limit; the server must stop us.
        var rejected = false
        for _ in 0..<40 {
          do {
            try await connection.send(chunk)
          } catch {
            rejected = true
            break
          }
        }
        let reply = try await connection.readResponse()
        #expect(reply?.status == 413 || rejected)
        _ = try await connection.waitForClose()
      }
    }
  }

  @Test func tooManyHeaderFieldsIs431() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        let headers = (0..<150).map { "X-Filler-\($0): v\r\n" }.joined()
        try await connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\(headers)\r\n")
        let reply = try #require(try await connection.readResponse())
        #expect(reply.status == 431)
      }
    }
  }

  @Test func headerTooLargeIs431() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        let huge = String(repeating: "a", count: 20 * 1024)
        try await connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: \(huge)\r\n\r\n")
        let reply = try #require(try await connection.readResponse())
        #expect(reply.status == 431)
        _ = try await connection.waitForClose()
      }
    }
  }

  @Test func garbageIs400AndTheServerKeepsServing() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        try await connection.send("THIS IS NOT HTTP\r\n\r\n")
        let reply = try #require(try await connection.readResponse())
        #expect(reply.status == 400)
        _ = try await connection.waitForClose()
      }
      let next = try await RawConnection.open(port: port) { connection in
        try await connection.send(webhookRequest())
        return try await connection.readResponse()
      }
      #expect(next?.status == 200)
    }
  }

  @Test func invalidUTF8InTheBodyOrTheHeadersIsRefusedAndTheServerKeepsServing() async throws {
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        // Raw bytes that are not UTF-8, and the same bytes percent-encoded.
        for body: [UInt8] in [
          Array("From=1&To=2&Body=".utf8) + [0xFF, 0xFE, 0xC0],
          Array("From=1&To=2&Body=%FF%FE".utf8),
        ] {
          try await connection.send(
            "POST /sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              + "Content-Length: \(body.count)\r\n\r\n")
          try await connection.send(body)
          let reply = try #require(try await connection.readResponse())
          #expect(reply.status == 400)
          #expect(reply.body.contains("invalid UTF-8"))
        }
      }
      try await RawConnection.open(port: port) { connection in
        try await connection.send(
          Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: ".utf8) + [0xFF, 0xFE]
            + Array("\r\n\r\n".utf8))
        let reply = try await connection.readResponse()
        #expect(reply?.status == 200 || reply?.status == 400)
      }
      let next = try await RawConnection.open(port: port) { connection in
        try await connection.send(webhookRequest())
        return try await connection.readResponse()
      }
      #expect(next?.status == 200)
    }
  }

  @Test func smugglingShapesAreRefused() async throws {
    try await withServer(app) { port, _ in
      for head in [
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
      ] {
        try await RawConnection.open(port: port) { connection in
          try await connection.send(
            "POST /sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\(head)\r\n0\r\n\r\n"
          )
          let reply = try #require(try await connection.readResponse())
          #expect(reply.status == 400)
          _ = try await connection.waitForClose()
        }
      }
    }
  }

  @Test func aSlowClientIsCutOffAtTheRequestDeadlineWith408() async throws {
    let configuration = ParleyServer.Configuration(
      requestTimeout: .seconds(1), idleTimeout: .seconds(30))
    try await withServer(app, configuration: configuration) { port, _ in
      try await RawConnection.open(port: port) { connection in
        let clock = ContinuousClock()
        let start = clock.now
        try await connection.send("POST /sms HTTP/1.1\r\nHost: x\r\n")
        try await Task.sleep(for: .milliseconds(100))
        try await connection.send("Content-Type: application/x-www-form-urlencoded\r\n")
        let reply = try #require(try await connection.readResponse())
        #expect(reply.status == 408)
        _ = try await connection.waitForClose()
        #expect(clock.now - start >= .milliseconds(990))
      }
    }
  }

  @Test func aSlowBodyIsCutOffAtTheRequestDeadline() async throws {
    let configuration = ParleyServer.Configuration(
      requestTimeout: .milliseconds(300), idleTimeout: .seconds(30))
    try await withServer(app, configuration: configuration) { port, _ in
      try await RawConnection.open(port: port) { connection in
        try await connection.send(
          "POST /sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + "Content-Length: 100\r\n\r\nFrom=1")
        let reply = try #require(try await connection.readResponse())
        #expect(reply.status == 408)
      }
    }
  }

  @Test func anIdleKeepAliveConnectionIsClosedQuietly() async throws {
    let configuration = ParleyServer.Configuration(
      requestTimeout: .seconds(5), idleTimeout: .seconds(2))
    try await withServer(app, configuration: configuration) { port, _ in
      try await RawConnection.open(port: port) { connection in
        try await connection.send(webhookRequest())
        // On a machine loaded by other suites the request may itself arrive after the idle
        // timeout; then the connection is closed before any answer, which is what is tested.
        let reply = try? await connection.readResponse()
        #expect(reply.map { $0.status == 200 } ?? true)
        let leftover = (try? await connection.waitForClose()) ?? []
        #expect(leftover.isEmpty)
        #expect(connection.closed)
      }
    }
  }

  @Test func aThrowingHandlerIs500AndTheConnectionStaysUsable() async throws {
    struct Boom: Error {}
    let app = ParleyApplication { turn in
      if turn.message.body == "boom" { throw Boom() }
      return .message("fine")
    }
    try await withServer(app) { port, _ in
      try await RawConnection.open(port: port) { connection in
        try await connection.send(webhookRequest(body: "From=1&To=2&Body=boom"))
        let failed = try #require(try await connection.readResponse())
        #expect(failed.status == 500)
        #expect(failed.body == #"<?xml version="1.0" encoding="UTF-8"?><Response/>"#)
        try await connection.send(webhookRequest(body: "From=1&To=2&Body=ok"))
        #expect(try await connection.readResponse()?.status == 200)
      }
    }
  }

  @Test func gracefulShutdownFinishesTheRequestInFlight() async throws {
    let (entered, enteredContinuation) = AsyncStream<Void>.makeStream()
    let release = AsyncStream<Void>.makeStream()
    let app = ParleyApplication { _ in
      enteredContinuation.yield()
      var iterator = release.stream.makeAsyncIterator()
      await iterator.next()
      return .message("finished after shutdown began")
    }
    try await withServer(app) { port, group in
      try await RawConnection.open(port: port) { connection in
        try await connection.send(webhookRequest())
        var enteredIterator = entered.makeAsyncIterator()
        await enteredIterator.next()
        // Shutdown begins while the handler is still working.
        await group.triggerGracefulShutdown()
        try await Task.sleep(for: .milliseconds(100))
        release.continuation.yield()
        let reply = try #require(try await connection.readResponse())
        #expect(reply.status == 200)
        #expect(reply.body.contains("finished after shutdown began"))
        #expect(reply.header("Connection") == "close")
        _ = try await connection.waitForClose()
      }
    }
  }

  @Test func gracefulShutdownClosesIdleConnections() async throws {
    try await withServer(app) { port, group in
      try await RawConnection.open(port: port) { connection in
        try await connection.send(webhookRequest())
        #expect(try await connection.readResponse()?.status == 200)
        await group.triggerGracefulShutdown()
        let leftover = try await connection.waitForClose()
        #expect(leftover.isEmpty)
      }
    }
  }
}
