import CounterBot
import Foundation
import HTTPTypes
import Logging
import Parley
import ParleyTesting
import ParleyTwiML
import Synchronization
import Testing

/// The Twilio simulator against real servers on loopback: its cookies, retries, redirects,
/// status callbacks and the errors it reports are what Twilio does.
@Suite(.timeLimit(.minutes(2)))
struct SimulatorTests {
  static let a = "+16175550101"
  static let b = "+16175550102"
  static let twilioNumber = "+14155550199"

  /// An app whose `/c` route answers in plain text with the `Cookie` header it received, and sets
  /// `n=<count>` with the `Max-Age` (or `Expires`) that the URL's query asks for.
  static func cookieApp() -> ParleyApplication {
    ParleyApplication { _ in .empty }
      .routing("/c") { request in
        let cookie = request.head.headerFields[.cookie]
        let previous = cookie.flatMap { text in
          text.split(separator: ";").compactMap { part -> Int? in
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=")
            return pair.first == "n" ? Int(pair[1]) : nil
          }.first
        }
        var response = WebhookResponse(
          status: .ok, contentType: "text/plain", body: "cookie: \(cookie ?? "none")")
        let query = String(request.query ?? "")
        var field = "n=\((previous ?? 0) + 1); Path=/"
        if let range = query.range(of: "maxAge=") {
          field += "; Max-Age=\(query[range.upperBound...].prefix { $0.isNumber })"
        }
        if query.contains("expired") { field += "; Expires=Sun, 06 Nov 1994 08:49:37 GMT" }
        response.head.headerFields.append(HTTPField(name: .setCookie, value: field))
        return response
      }
  }

  static func configuration(_ port: Int, path: String = "/c") -> TwilioSimulator.Configuration {
    .init(webhookURL: "http://127.0.0.1:\(port)\(path)", signing: .none)
  }

  @Test func cookiesAreKeptPerFromToPair() async throws {
    try await withServer(Self.cookieApp()) { port, _ in
      try await TwilioSimulator.withSimulator(Self.configuration(port)) { twilio in
        #expect(
          await twilio.send("1", from: Self.a, to: Self.twilioNumber).replies == ["cookie: none"])
        #expect(
          await twilio.send("2", from: Self.a, to: Self.twilioNumber).replies == ["cookie: n=1"])
        #expect(
          await twilio.send("3", from: Self.a, to: Self.twilioNumber).replies == ["cookie: n=2"])
        // Another sender, or the same sender to another number, is another jar.
        #expect(
          await twilio.send("1", from: Self.b, to: Self.twilioNumber).replies == ["cookie: none"])
        #expect(
          await twilio.send("1", from: Self.a, to: "+14155550100").replies == ["cookie: none"])
      }
    }
  }

  @Test func cookiesAreForgottenAfterFourIdleHours() async throws {
    let clock = ManualClock()
    try await withServer(Self.cookieApp()) { port, _ in
      try await TwilioSimulator.withSimulator(Self.configuration(port), clock: clock) { twilio in
        _ = await twilio.send("1", from: Self.a, to: Self.twilioNumber)
        clock.advance(by: .seconds(4 * 3600 - 1))
        // 3:59:59 idle: still there, and this message restarts the idle clock.
        #expect(
          await twilio.send("2", from: Self.a, to: Self.twilioNumber).replies == ["cookie: n=1"])
        clock.advance(by: .seconds(4 * 3600 - 1))
        #expect(
          await twilio.send("3", from: Self.a, to: Self.twilioNumber).replies == ["cookie: n=2"])
        clock.advance(by: .seconds(4 * 3600))
        #expect(twilio.cookies(from: Self.a, to: Self.twilioNumber).isEmpty)
        #expect(
          await twilio.send("4", from: Self.a, to: Self.twilioNumber).replies == ["cookie: none"])
      }
    }
  }

  @Test func aCookieEndsAtItsOwnMaxAgeOrExpires() async throws {
    let clock = ManualClock()
    try await withServer(Self.cookieApp()) { port, _ in
      try await TwilioSimulator.withSimulator(
        Self.configuration(port, path: "/c?maxAge=60"), clock: clock
      ) { twilio in
        _ = await twilio.send("1", from: Self.a, to: Self.twilioNumber)
        clock.advance(by: .seconds(59))
        #expect(
          await twilio.send("2", from: Self.a, to: Self.twilioNumber).replies == ["cookie: n=1"])
        clock.advance(by: .seconds(61))
        #expect(
          await twilio.send("3", from: Self.a, to: Self.twilioNumber).replies == ["cookie: none"])
      }
      try await TwilioSimulator.withSimulator(
        Self.configuration(port, path: "/c?maxAge=0"), clock: clock
      ) { twilio in
        _ = await twilio.send("1", from: Self.a, to: Self.twilioNumber)
        #expect(twilio.cookies(from: Self.a, to: Self.twilioNumber).isEmpty)
      }
      try await TwilioSimulator.withSimulator(
        Self.configuration(port, path: "/c?expired"), clock: clock
      ) { twilio in
        _ = await twilio.send("1", from: Self.a, to: Self.twilioNumber)
        #expect(twilio.cookies(from: Self.a, to: Self.twilioNumber).isEmpty)
      }
    }
  }

  @Test func aRedeliveryCarriesTheSameMessageSidAndIsAnsweredOnce() async throws {
    let store = MemoryConversationStore()
    let app = CounterBot.application(
      store: store, signature: .disabled(reason: "test"), secrets: .random(),
      logger: Logger(label: "test"))
    try await withServer(app) { port, _ in
      try await TwilioSimulator.withSimulator(Self.configuration(port, path: "/sms")) { twilio in
        let first = await twilio.send("hi", from: Self.a, to: Self.twilioNumber)
        let second = await twilio.send("hi", from: Self.a, to: Self.twilioNumber)
        #expect(second.replies == ["Hello, thanks for message number 2"])
        let retry = await twilio.redeliver(second)
        #expect(retry.messageSid == second.messageSid)
        #expect(retry.parameters == second.parameters)
        #expect(retry.replies == second.replies)
        #expect(first.messageSid != second.messageSid)
        #expect(first.messageSid.count == 34 && first.messageSid.hasPrefix("SM"))
        let third = await twilio.send("hi", from: Self.a, to: Self.twilioNumber)
        #expect(third.replies == ["Hello, thanks for message number 3"])
      }
    }
  }

  @Test func requestsCarryTwiliosParametersAndSignaturesThatValidate() async throws {
    let seen = Mutex<[FormParameters]>([])
    let configuration = try TwilioSignatureConfiguration(
      authTokens: ["token-1"], sharedKeys: ["key-1": "shared-secret"])
    let app = ParleyApplication(
      middleware: [SignatureMiddleware(configuration: configuration)]
    ) { turn in
      seen.withLock { $0.append(turn.message.parameters) }
      return .message("ok")
    }
    try await withServer(app) { port, _ in
      let url = "http://127.0.0.1:\(port)/sms"
      for signing in [
        TwilioSimulator.Signing.authToken("token-1"),
        .sharedKey(id: "key-1", secret: "shared-secret"),
      ] {
        try await TwilioSimulator.withSimulator(
          .init(
            webhookURL: url, signing: signing,
            messagingServiceSid: "MG0123456789abcdef0123456789abcdef")
        ) { twilio in
          let exchange = await twilio.send(
            String(repeating: "✓", count: 71), from: Self.a, to: Self.twilioNumber,
            media: [.init(url: "https://example.com/a.png", contentType: "image/png")])
          #expect(exchange.error == nil)
          #expect(exchange.replies == ["ok"])
        }
      }
      try await TwilioSimulator.withSimulator(.init(webhookURL: url, signing: .authToken("wrong")))
      {
        twilio in
        let exchange = await twilio.send("hi", from: Self.a, to: Self.twilioNumber)
        #expect(exchange.error?.code == .httpRetrievalFailure)
        #expect(exchange.requests.last?.status == 403)
      }
      // GET webhooks carry the parameters in the signed URL.
      try await TwilioSimulator.withSimulator(
        .init(webhookURL: url, webhookMethod: .get, signing: .authToken("token-1"))
      ) { twilio in
        #expect(await twilio.send("by GET", from: Self.a, to: Self.twilioNumber).replies == ["ok"])
      }
    }
    let first = try #require(seen.withLock { $0.first })
    #expect(first["NumSegments"] == "2")  // 71 characters outside GSM-7: UCS-2, two segments.
    #expect(first["NumMedia"] == "1")
    #expect(first["MediaUrl0"] == "https://example.com/a.png")
    #expect(first["MessagingServiceSid"] == "MG0123456789abcdef0123456789abcdef")
    #expect(first["SmsSid"] == first["MessageSid"])
    #expect(first["ApiVersion"] == "2010-04-01")
    #expect(seen.withLock { $0.last?["Body"] } == "by GET")
  }

  @Test func redirectsActionsAndPlainTextAreFollowedAsTwilioDoes() async throws {
    let app = ParleyApplication { _ in .empty }
      .routing("/moved") { _ in
        var response = WebhookResponse(status: .found)
        response.head.headerFields[.location] = "/first"
        return response
      }
      .routing("/first") { request in
        // An HTTP redirect turns the POST into a GET with the parameters in the query.
        let method = request.head.method.rawValue
        return WebhookResponse(
          status: .ok, contentType: "text/xml",
          body: MessagingResponse([
            .message(Message("first via \(method)")), .redirect(Redirect("/second")),
            .message(Message("unreachable")),
          ]).xml)
      }
      .routing("/second") { _ in
        WebhookResponse(
          status: .ok, contentType: "application/xml",
          body: MessagingResponse([
            .message(Message("second", action: "/after")), .message(Message("unreachable")),
          ]).xml)
      }
      .routing("/after") { request in
        let form = try FormParameters(decoding: request.body)
        return WebhookResponse(
          status: .ok, contentType: "text/plain; charset=utf-8",
          body: "after: \(form["MessageStatus"] ?? "?")")
      }
      .routing("/loop") { _ in
        WebhookResponse(
          status: .ok, contentType: "text/xml",
          body: MessagingResponse([.redirect(Redirect("/loop"))]).xml)
      }
    try await withServer(app) { port, _ in
      try await TwilioSimulator.withSimulator(Self.configuration(port, path: "/moved")) { twilio in
        let exchange = await twilio.send("hi", from: Self.a, to: Self.twilioNumber)
        #expect(exchange.error == nil)
        #expect(exchange.replies == ["first via GET", "second", "after: sent"])
        #expect(
          exchange.requests.map(\.purpose) == [.webhook, .httpRedirect, .redirectVerb, .action])
        #expect(exchange.messages.allSatisfy { $0.to == Self.a && $0.from == Self.twilioNumber })
      }
      try await TwilioSimulator.withSimulator(Self.configuration(port, path: "/loop")) { twilio in
        let exchange = await twilio.send("hi", from: Self.a, to: Self.twilioNumber)
        #expect(exchange.error?.code == .httpTooManyRedirects)
      }
    }
  }

  @Test func whatTwilioWouldReportComesBackWithItsCode() async throws {
    let app = ParleyApplication { _ in .empty }
      .routing("/fails") { _ in WebhookResponse(status: .internalServerError, body: "oops") }
      .routing("/json") { _ in
        WebhookResponse(status: .ok, contentType: "application/json", body: "{}")
      }
      .routing("/broken") { _ in
        WebhookResponse(status: .ok, contentType: "text/xml", body: "<Response><Message>")
      }
      .routing("/slow") { _ in
        try await Task.sleep(for: .seconds(3))
        return WebhookResponse(status: .ok, contentType: "text/xml", body: "<Response/>")
      }
      .routing("/huge") { _ in
        WebhookResponse(
          status: .ok, contentType: "text/plain", body: String(repeating: "x", count: 70_000))
      }
      .routing("/long") { _ in
        WebhookResponse(
          status: .ok, contentType: "text/xml",
          body: MessagingResponse([.message(Message(String(repeating: "y", count: 1700)))]).xml)
      }
      .routing("/cookie") { _ in
        var response = WebhookResponse(status: .ok, contentType: "text/plain", body: "hi")
        response.head.headerFields.append(HTTPField(name: .setCookie, value: "a=b"))
        response.head.headerFields.append(HTTPField(name: .setCookie, value: "=nameless"))
        return response
      }
    try await withServer(app) { port, _ in
      func report(_ path: String, timeout: Duration = .seconds(15)) async throws
        -> SimulatedExchange
      {
        var configuration = Self.configuration(port, path: path)
        configuration.timeout = timeout
        return try await TwilioSimulator.withSimulator(configuration) {
          await $0.send("hi", from: Self.a, to: Self.twilioNumber)
        }
      }
      #expect(try await report("/fails").error?.code == .httpRetrievalFailure)
      #expect(try await report("/json").error?.code == .invalidContentType)
      #expect(try await report("/broken").error?.code == .documentParseFailure)
      #expect(try await report("/slow", timeout: .seconds(1)).error?.code == .httpConnectionFailure)
      #expect(try await report("/huge").error?.code == .responseBodyTooLarge)
      #expect(try await report("/cookie").error?.code == .httpProtocolViolation)
      let long = try await report("/long")
      #expect(long.error == nil)
      #expect(long.warnings.map(\.code) == [.schemaValidationWarning])
    }
    // Nothing listening (the client keeps trying to connect until the deadline, as Twilio does).
    let refused = try await TwilioSimulator.withSimulator(
      .init(webhookURL: "http://127.0.0.1:1/sms", signing: .none, timeout: .seconds(2))
    ) { await $0.send("hi", from: Self.a, to: Self.twilioNumber) }
    #expect(refused.error?.code == .httpConnectionFailure)
  }

  @Test func aReplyToANumberThatTextedStopFailsWith21610AndItsCallbackSaysSo() async throws {
    let callbacks = Mutex<[StatusCallback]>([])
    // An app that (wrongly) answers everything, opt-out handling off: Twilio itself refuses.
    let record: @Sendable (StatusCallback) async throws -> Void = { status in
      callbacks.withLock { $0.append(status) }
    }
    let app = ParleyApplication(statusHandler: record) { turn in
      .message("you said \(turn.message.body)")
    }
    try await withServer(app) { port, _ in
      var configuration = Self.configuration(port, path: "/sms")
      configuration.statusCallbackURL = "http://127.0.0.1:\(port)/status"
      try await TwilioSimulator.withSimulator(configuration) { twilio in
        let hello = await twilio.send("hello", from: Self.a, to: Self.twilioNumber)
        #expect(hello.messages.map(\.status) == [.sent])
        let stop = await twilio.send("STOP", from: Self.a, to: Self.twilioNumber)
        #expect(stop.messages.map(\.status) == [.failed])
        #expect(stop.messages.first?.errorCode == .recipientOptedOut)
        #expect(stop.replies.isEmpty)
        #expect(twilio.isBlocked(Self.a, sender: Self.twilioNumber))
        let start = await twilio.send("START", from: Self.a, to: Self.twilioNumber)
        #expect(start.replies == ["you said START"])
      }
    }
    let seen = callbacks.withLock { $0 }
    #expect(seen.map(\.status) == [.sent, .delivered, .failed, .sent, .delivered])
    #expect(seen.compactMap(\.errorCode) == [21610])
  }

  /// Twilio reads a `to` without `+` in the sending number's country, and blocks what it reads.
  @Test func aToWrittenLocallyIsSentToItsE164NumberAndBlockedByItsStop() async throws {
    let app = ParleyApplication { turn in
      .messages([Message("forwarded: \(turn.message.body)", to: "(617) 555-0102")])
    }
    try await withServer(app) { port, _ in
      try await TwilioSimulator.withSimulator(Self.configuration(port, path: "/sms")) { twilio in
        let hello = await twilio.send("hello", from: Self.a, to: Self.twilioNumber)
        #expect(hello.messages.map(\.to) == [Self.b])
        #expect(hello.messages.map(\.status) == [.sent])
        _ = await twilio.send("STOP", from: Self.b, to: Self.twilioNumber)
        let again = await twilio.send("again", from: Self.a, to: Self.twilioNumber)
        #expect(again.messages.map(\.to) == [Self.b])
        #expect(again.messages.first?.errorCode == .recipientOptedOut)
      }
    }
  }
}
