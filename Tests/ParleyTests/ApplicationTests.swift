import EchoBot
import HTTPTypes
import Logging
import Parley
import ParleyTesting
import ParleyTwiML
import Synchronization
import Testing

struct ApplicationTests {
  let from = "+16175550123"
  let to = "+14155550199"

  func echo() -> ParleyTestClient {
    ParleyTestClient(
      application: EchoBot.application(
        store: MemoryConversationStore(), signature: .disabled(reason: "test"),
        logger: Logger(label: "test")))
  }

  @Test func echoAnswersWithTwiML() async throws {
    let reply = await echo().send("Hello <there> & 👋", from: from, to: to)
    #expect(reply.status == .ok)
    #expect(reply.headerFields[.contentType] == "text/xml; charset=utf-8")
    #expect(reply.texts == ["You said: Hello <there> & 👋"])
    #expect(reply.body.hasPrefix(#"<?xml version="1.0" encoding="UTF-8"?><Response>"#))
  }

  @Test func webhookAcceptsGETWithQueryParameters() async {
    let reply = await echo().execute(
      method: .get, path: "/sms?From=%2B1617&To=%2B1415&Body=via+GET")
    #expect(reply.status == .ok)
    #expect(reply.texts == ["You said: via GET"])
  }

  @Test func contentTypeWithCharsetIsAccepted() async {
    let reply = await echo().execute(
      method: .post, path: "/sms",
      headerFields: [.contentType: "Application/X-WWW-Form-Urlencoded; charset=UTF-8"],
      body: Array("From=1&To=2&Body=x".utf8))
    #expect(reply.status == .ok)
  }

  // MARK: Bad input, each with its status and a one-line reason.

  @Test func missingFromIs400() async {
    let reply = await echo().post(FormParameters(["To": to, "Body": "x"]))
    #expect(reply.status == .badRequest)
    #expect(reply.body == "missing required parameter From\n")
  }

  @Test func missingToIs400() async {
    let reply = await echo().post(FormParameters(["From": from, "Body": "x"]))
    #expect(reply.status == .badRequest)
    #expect(reply.body == "missing required parameter To\n")
  }

  @Test func malformedPercentEncodingIs400() async {
    let reply = await echo().execute(
      method: .post, path: "/sms",
      headerFields: [.contentType: "application/x-www-form-urlencoded"],
      body: Array("From=%2&To=2".utf8))
    #expect(reply.status == .badRequest)
    #expect(reply.body.hasPrefix("malformed form: malformed percent-encoding"))
  }

  @Test(arguments: ["application/json", "text/plain", "multipart/form-data; boundary=x", ""])
  func unsupportedContentTypeIs415(contentType: String) async {
    var fields = HTTPFields()
    if !contentType.isEmpty { fields[.contentType] = contentType }
    let reply = await echo().execute(
      method: .post, path: "/sms", headerFields: fields, body: Array("From=1&To=2".utf8))
    #expect(reply.status == .unsupportedMediaType)
  }

  @Test func bodyTooLargeIs413() async {
    let big = "From=1&To=2&Body=" + String(repeating: "a", count: 64 * 1024)
    let reply = await echo().execute(
      method: .post, path: "/sms",
      headerFields: [.contentType: "application/x-www-form-urlencoded"],
      body: Array(big.utf8))
    #expect(reply.status == .contentTooLarge)
  }

  @Test func unknownPathIs404() async {
    #expect(await echo().execute(method: .post, path: "/nope").status == .notFound)
    #expect(await echo().execute(method: .get, path: "/sms/extra").status == .notFound)
  }

  @Test(arguments: [HTTPRequest.Method.put, .delete, .patch, .options])
  func wrongMethodIs405(method: HTTPRequest.Method) async {
    let reply = await echo().execute(method: method, path: "/sms")
    #expect(reply.status == .methodNotAllowed)
    #expect(reply.headerFields[.allow] == "GET, POST")
    #expect(await echo().execute(method: method, path: "/healthz").status == .methodNotAllowed)
  }

  @Test func throwingHandlerIs500WithEmptyResponseAndALoggedError() async throws {
    struct Boom: Error {}
    let records = LogRecorder()
    let app = ParleyApplication(logger: records.logger) { _ in throw Boom() }
    let reply = await ParleyTestClient(application: app).send("hi", from: from, to: to)
    #expect(reply.status == .internalServerError)
    #expect(reply.headerFields[.contentType] == "text/xml; charset=utf-8")
    #expect(reply.body == #"<?xml version="1.0" encoding="UTF-8"?><Response/>"#)
    let errors = records.lines.filter { $0.level == .error }
    #expect(errors.count == 1)
    #expect(errors.first?.message == "handler failed")
    // No phone number in clear anywhere in the log.
    #expect(!records.lines.contains { $0.rendered.contains("6175550123") })
    #expect(records.lines.contains { $0.rendered.contains("+16*******23") })
  }

  @Test func statusCallbackIs204AndReachesTheHandler() async throws {
    let seen = Mutex<[StatusCallback]>([])
    let app = ParleyApplication(
      statusHandler: { callback in seen.withLock { $0.append(callback) } },
      handler: { _ in .empty })
    let reply = await ParleyTestClient(application: app).post(
      TwilioWebhookForm.status(messageSid: "SM1", status: .delivered, from: to, to: from),
      to: "/status")
    #expect(reply.status == .noContent)
    #expect(reply.body.isEmpty)
    #expect(seen.withLock { $0.map(\.status) } == [.delivered])
  }

  @Test func statusCallbackWithoutMessageSidIs400() async {
    let reply = await echo().post(FormParameters(["MessageStatus": "sent"]), to: "/status")
    #expect(reply.status == .badRequest)
  }

  @Test func healthCheck() async {
    let reply = await echo().execute(method: .get, path: "/healthz")
    #expect(reply.status == .ok)
    #expect(reply.body == "ok\n")
  }

  @Test func plainTextReplyIsServedAsTextPlain() async {
    let app = ParleyApplication { _ in .plainText("just text") }
    let reply = await ParleyTestClient(application: app).send("hi", from: from, to: to)
    #expect(reply.headerFields[.contentType] == "text/plain; charset=utf-8")
    #expect(reply.body == "just text")
    #expect(reply.texts == ["just text"])
  }

  /// The content decides the type. A `Content-Type` among a reply's own fields would make a second
  /// one, and Twilio could read TwiML as a text to send: after an opt-out, `<Response/>` itself.
  @Test func aReplysOwnContentTypeFieldIsLeftOutAndItsContentDecides() async {
    let app = ParleyApplication { _ in
      Reply(
        .twiml(MessagingResponse()),
        headerFields: [.contentType: "text/plain", .cacheControl: "no-store"])
    }
    let reply = await ParleyTestClient(application: app).send("hi", from: from, to: to)
    #expect(reply.headerFields[values: .contentType] == ["text/xml; charset=utf-8"])
    #expect(reply.headerFields[.cacheControl] == "no-store")
  }

  /// Twilio reads a body by its media type, in any case and with any parameters; it refuses others.
  @Test(arguments: [
    ("Text/XML; charset=utf-8", TwilioReplyType.twiml), (" application/xml ", .twiml),
    ("text/html;", .twiml), ("TEXT/PLAIN", .plainText), ("text/xmlx", nil),
    ("application/json", nil), ("", nil),
  ])
  func aReplysTypeIsReadAsTwilioReadsIt(contentType: String, expected: TwilioReplyType?) {
    #expect(TwilioReplyType(contentType: contentType) == expected)
    let twiml = "<Response><Message>hi</Message></Response>"
    let messages = Reply(.rendered(contentType: contentType, body: twiml)).messages
    #expect(messages.count == (expected == nil ? 0 : 1))
  }

  @Test func middlewareRunsOutermostFirstAndSeesTheReplyOnItsWayBack() async {
    struct Tag: MessagingMiddleware {
      let name: String
      func handle(_ turn: Turn, next: NextResponder) async throws -> Reply {
        var turn = turn
        turn.message.body += ">\(name)"
        var reply = try await next(turn)
        reply.headerFields.append(HTTPField(name: HTTPField.Name("X-Trace")!, value: name))
        return reply
      }
    }
    let app = ParleyApplication(middleware: [Tag(name: "outer"), Tag(name: "inner")]) { turn in
      .message(turn.message.body)
    }
    let reply = await ParleyTestClient(application: app).send("in", from: from, to: to)
    #expect(reply.texts == ["in>outer>inner"])
    #expect(reply.headerFields[values: HTTPField.Name("X-Trace")!] == ["inner", "outer"])
  }

  @Test func middlewareCanAnswerWithoutCallingNext() async {
    struct Gate: MessagingMiddleware {
      func handle(_ turn: Turn, next: NextResponder) async throws -> Reply {
        turn.message.body == "secret" ? .message("gate") : try await next(turn)
      }
    }
    let calls = Mutex(0)
    let app = ParleyApplication(middleware: [Gate()]) { _ in
      calls.withLock { $0 += 1 }
      return .message("handler")
    }
    let client = ParleyTestClient(application: app)
    #expect(await client.send("secret", from: from, to: to).texts == ["gate"])
    #expect(await client.send("other", from: from, to: to).texts == ["handler"])
    #expect(calls.withLock { $0 } == 1)
  }

  @Test func turnValuesTravelDownTheChain() async {
    enum Tenant: TurnValueKey { typealias Value = String }
    struct SetTenant: MessagingMiddleware {
      func handle(_ turn: Turn, next: NextResponder) async throws -> Reply {
        var turn = turn
        turn.values[Tenant.self] = "acme"
        return try await next(turn)
      }
    }
    let app = ParleyApplication(middleware: [SetTenant()]) { turn in
      .message(turn.values[Tenant.self] ?? "none")
    }
    #expect(
      await ParleyTestClient(application: app).send("x", from: from, to: to).texts == ["acme"])
  }
}
