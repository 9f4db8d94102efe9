import Foundation
import ParleyTestSupport
import ParleyTesting
import ParleyTwiML
import Testing

@Suite(.serialized, .timeLimit(.minutes(2)))
struct SampleProcessTests {
  func post(_ port: Int, from: String, body: String, sid: String) async throws -> RawResponse {
    let form =
      "From=\(from)&To=%2B14155550199&Body=\(body)&MessageSid=\(sid)&AccountSid=AC1&NumMedia=0"
    return try await RawConnection.open(port: port) { connection in
      try await connection.send(webhookRequest(body: form))
      return try #require(try await connection.readResponse())
    }
  }

  @Test func theEchoSampleAnswersARealisticWebhook() async throws {
    let echo = try SampleProcess("Echo", arguments: [])
    try echo.waitUntilListening()
    let reply = try await post(echo.port, from: "%2B16175550123", body: "Hello+there", sid: "SM1")
    #expect(reply.status == 200)
    #expect(
      try MessagingResponse(xml: reply.body).messages.map(\.body) == ["You said: Hello there"])
    echo.kill(signal: SIGTERM)
    #expect(echo.process.terminationStatus == 0)
  }

  @Test func counterSessionsSurviveAKilledProcess() async throws {
    let database = TemporaryDirectory.file("counter.sqlite")
    let first = try SampleProcess("Counter", arguments: ["--database", database])
    try first.waitUntilListening()
    var last: RawResponse?
    for index in 1...3 {
      last = try await post(first.port, from: "%2B16175550123", body: "hi", sid: "SM\(index)")
    }
    // Acknowledged, then killed without warning.
    first.kill(signal: SIGKILL)

    let second = try SampleProcess("Counter", arguments: ["--database", database])
    try second.waitUntilListening()
    let next = try await post(second.port, from: "%2B16175550123", body: "hi", sid: "SM4")
    #expect(
      try MessagingResponse(xml: next.body).messages.map(\.body) == [
        "Hello, thanks for message number 4"
      ])
    // Twilio's retry of message 3 reaching the restarted process gets the very same reply.
    let retry = try await post(second.port, from: "%2B16175550123", body: "hi", sid: "SM3")
    #expect(retry.body == last?.body)
    #expect(retry.header("Set-Cookie") == last?.header("Set-Cookie"))
    second.kill(signal: SIGTERM)
  }

  @Test func aSIGTERMWhileConnectionsArriveEndsTheProcessCleanly() async throws {
    // Connections the server accepts as its graceful shutdown closes the listening socket never
    // reach its accept loop; each used to carry an async channel whose writer traps when
    // released unused (apple/swift-nio#2813): SIGILL in 3 of 5 such bursts on the benchmark's
    // server, 0 of 8 since.
    for _ in 0..<3 {
      let echo = try SampleProcess("Echo", arguments: [])
      try echo.waitUntilListening()
      var sockets: [Int32] = []
      for index in 0..<300 {
        if index == 150 { kill(echo.process.processIdentifier, SIGTERM) }
        if let socket = connectToLoopback(port: echo.port) { sockets.append(socket) }
      }
      echo.process.waitUntilExit()
      for socket in sockets { _ = close(socket) }
      #expect(echo.process.terminationReason == .exit)
      #expect(echo.process.terminationStatus == 0)
    }
  }
}
