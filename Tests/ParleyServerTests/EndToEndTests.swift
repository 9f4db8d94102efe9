import Foundation
import ParleyTestSupport
import ParleyTesting
import Testing

/// Every sample started as a real process on a loopback port, driven by the Twilio simulator,
/// and `parley chat` carrying a conversation with one of them.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct EndToEndTests {
  static let user = "+16175550123"
  static let number = "+14155550199"

  /// A fresh database path in a temporary directory.
  static func database(_ name: String) throws -> String {
    TemporaryDirectory.file("\(name).sqlite")
  }

  /// Starts `sample`, runs `body` with a simulator pointed at its webhook, then stops it.
  static func withSample<T: Sendable>(
    _ sample: String, arguments: [String] = [],
    _ body: (TwilioSimulator, Int) async throws -> T
  ) async throws -> T {
    let process = try SampleProcess(
      sample, arguments: ["--database", try database(sample)] + arguments)
    try process.waitUntilListening()
    defer { process.kill(signal: SIGTERM) }
    return try await TwilioSimulator.withSimulator(
      .init(
        webhookURL: "http://127.0.0.1:\(process.port)/sms", signing: .none,
        statusCallbackURL: "http://127.0.0.1:\(process.port)/status")
    ) { try await body($0, process.port) }
  }

  @Test func echo() async throws {
    try await Self.withSample("Echo") { twilio, _ in
      let exchange = await twilio.send("Hello there", from: Self.user, to: Self.number)
      #expect(exchange.error == nil)
      #expect(exchange.replies == ["You said: Hello there"])
      // STOP is honoured: the confirmation, then silence.
      _ = await twilio.send("STOP", from: Self.user, to: Self.number)
      #expect(await twilio.send("hello?", from: Self.user, to: Self.number).replies.isEmpty)
    }
  }

  @Test func counterWithCookiesAndARetry() async throws {
    try await Self.withSample("Counter") { twilio, _ in
      #expect(
        await twilio.send("hi", from: Self.user, to: Self.number).replies == [
          "Hello, thanks for the new message."
        ])
      let second = await twilio.send("hi", from: Self.user, to: Self.number)
      #expect(second.replies == ["Hello, thanks for message number 2"])
      #expect(twilio.cookies(from: Self.user, to: Self.number).map(\.name) == ["parley_session"])
      #expect(await twilio.redeliver(second).replies == second.replies)
      #expect(
        await twilio.send("hi", from: Self.user, to: Self.number).replies == [
          "Hello, thanks for message number 3"
        ])
      // Another sender is another conversation.
      #expect(
        await twilio.send("hi", from: "+16175550999", to: Self.number).replies == [
          "Hello, thanks for the new message."
        ])
    }
  }

  @Test(arguments: ["happy-path", "branch-under-18", "invalid-input", "stop-mid-survey"])
  func surveyTranscript(_ name: String) async throws {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../ParleyConversationTests/Transcripts/\(name).txt")
    let transcript = try Transcript(try String(contentsOf: url, encoding: .utf8))
    try await Self.withSample("Survey") { twilio, _ in
      try await transcript.play(on: twilio)
    }
  }

  @Test func chatbotRemembersANameAndSendsAPicture() async throws {
    try await Self.withSample("Chatbot") { twilio, _ in
      #expect(
        await twilio.send("hi", from: Self.user, to: Self.number).replies == [
          "Hi! What's your name?"
        ])
      #expect(
        await twilio.send("My name is Ada", from: Self.user, to: Self.number).replies == [
          "Nice to meet you, Ada! I'll remember that."
        ])
      #expect(
        await twilio.send("what's my name?", from: Self.user, to: Self.number).replies == [
          "You're Ada."
        ])
      let picture = await twilio.send("picture", from: Self.user, to: Self.number)
      #expect(picture.messages.first?.media == ["https://demo.twilio.com/owl.png"])
      // Someone else is a stranger.
      #expect(
        await twilio.send("what's my name", from: "+16175550999", to: Self.number).replies == [
          "I don't know your name yet. Tell me: \"my name is …\""
        ])
      #expect(
        await twilio.send("forget me", from: Self.user, to: Self.number).replies == [
          "Done: I've forgotten your name."
        ])
      #expect(
        await twilio.send("hi", from: Self.user, to: Self.number).replies == [
          "Hi! What's your name?"
        ])
    }
  }

  /// GET on the compliance API, with the token.
  static func api(_ port: Int, _ target: String, method: String = "GET", body: String = "")
    async throws -> RawResponse
  {
    try await RawConnection.open(port: port) { connection in
      var request = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n"
      request +=
        "Authorization: Bearer e2e-token\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
      try await connection.send(request)
      return try #require(try await connection.readResponse())
    }
  }

  @Test func complianceStoreRecordsKeywordsFromEveryNumberAndAnswersItsAPI() async throws {
    try await Self.withSample("Compliance", arguments: ["--api-token", "e2e-token"]) {
      twilio, port in
      _ = await twilio.send("STOP", from: "+16175550001", to: "+14155550001")
      _ = await twilio.send("stop.", from: "+16175550002", to: "+14155550002")
      _ = await twilio.send("Hello", from: "+16175550003", to: "+14155550001")
      let blocked = try await Self.api(
        port, "/v1/may-text?to=%2B16175550001&from=%2B14155550001")
      #expect(blocked.status == 200)
      #expect(blocked.body == #"{"mayText":false,"to":"+16175550001"}"#)
      // Opted out from one number only.
      let other = try await Self.api(port, "/v1/may-text?to=%2B16175550001&from=%2B14155550002")
      #expect(other.body.contains(#""mayText":true"#))
      let list = try await Self.api(port, "/v1/opt-outs")
      #expect(list.body.contains("+16175550001") && list.body.contains("+16175550002"))
      #expect(!list.body.contains("+16175550003"))
      let imported = try await Self.api(
        port, "/v1/import?scope=number:%2B14155550001", method: "POST",
        body: "subscriber\n+16175550004\n")
      #expect(imported.body == #"{"imported":1}"#)
      let csv = try await Self.api(port, "/v1/export?format=csv")
      #expect(csv.body.split(whereSeparator: \.isNewline).count == 4)  // Header and three events.
      #expect(try await Self.api(port, "/v1/audit/verify").body.contains(#""intact":true"#))
      let unauthorized = try await RawConnection.open(port: port) { connection in
        try await connection.send("GET /v1/opt-outs HTTP/1.1\r\nHost: localhost\r\n\r\n")
        return try #require(try await connection.readResponse())
      }
      #expect(unauthorized.status == 401)
    }
  }

  /// Runs the `parley` tool with `arguments`, writing `input` to its standard input; returns its
  /// exit status and everything it printed.
  static func parley(_ arguments: [String], input: String = "") throws -> (
    status: Int32, output: String
  ) {
    let tool = Process()
    tool.executableURL = SampleProcess.productsDirectory.appendingPathComponent("parley")
    tool.arguments = arguments
    let stdin = Pipe()
    let output = Pipe()
    tool.standardInput = stdin
    tool.standardOutput = output
    tool.standardError = output
    try SampleProcess.launch(tool)
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    tool.waitUntilExit()
    return (tool.terminationStatus, text)
  }

  @Test func parleyChatCarriesAConversation() async throws {
    let counter = try SampleProcess(
      "Counter", arguments: ["--database", try Self.database("chat")])
    try counter.waitUntilListening()
    defer { counter.kill(signal: SIGTERM) }
    let (status, text) = try Self.parley(
      ["chat", "http://127.0.0.1:\(counter.port)/sms", "--from", Self.user],
      input: "hi\nhi\n/retry\nhi\n/quit\n")
    #expect(status == 0)
    #expect(
      text.split(separator: "\n") == [
        "< Hello, thanks for the new message.",
        "< Hello, thanks for message number 2",
        "< Hello, thanks for message number 2",
        "< Hello, thanks for message number 3",
      ])
  }

  @Test func parleySendFailsWithOneLineAndANonZeroExit() async throws {
    let (status, text) = try Self.parley(
      ["send", "http://127.0.0.1:1/sms", "hi", "--timeout", "2"])
    #expect(status != 0)
    #expect(text.split(separator: "\n").count == 1)
    #expect(text.contains("Twilio error 11205"))
  }
}
