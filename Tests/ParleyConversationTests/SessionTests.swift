import Foundation
import HTTPTypes
import Logging
import Parley
import ParleySQLite
import ParleyTesting
import Testing

@Suite(.timeLimit(.minutes(3)))
struct SessionTests {
  let alice = "+16175550123"
  let bob = "+16175550987"
  let number = "+14155550199"
  static let hours4 = Duration.seconds(4 * 3600)

  @Test(arguments: StoreKind.allCases)
  func theCounterCountsAndSetsATwilioSafeCookie(store kind: StoreKind) async throws {
    let client = counterApp(store: try kind.make(), clock: ManualClock())
    var cookie: HTTPFields = [:]
    for expected in 1...3 {
      let reply = await client.send("hi", from: alice, to: number, headerFields: cookie)
      #expect(reply.texts == ["Hello, thanks for message number \(expected)"])
      let setCookie = try #require(reply.headerFields[.setCookie])
      #expect(setCookie.hasPrefix("parley_session=v1."))
      #expect(setCookie.hasSuffix("; Max-Age=14400; Path=/; HttpOnly"))
      let value = try #require(reply.cookieValue)
      #expect(
        value.allSatisfy { $0.isLetter || $0.isNumber || "._-".contains($0) }
          && value.allSatisfy(\.isASCII))
      cookie = reply.cookieHeader
    }
    // Another conversation has its own count.
    #expect(
      await client.send("hi", from: bob, to: number).texts == ["Hello, thanks for message number 1"]
    )
  }

  /// Two instances on one store whose clocks differ by 50 ms: the one behind resumes a session
  /// the one ahead has just created, and stamps its update no earlier than that creation (the
  /// SQLite store refuses an update stamped before its session's creation: a 500 until now).
  @Test(arguments: StoreKind.allCases)
  func anInstanceWhoseClockIsBehindResumesASessionCreatedAheadOfIt(store kind: StoreKind)
    async throws
  {
    let store = try kind.make()
    let behind = ManualClock()
    let ahead = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000.05))
    let first = counterApp(store: store, clock: ahead)
    let second = counterApp(store: store, clock: behind)
    #expect(
      await first.send("hi", from: alice, to: number).texts == [
        "Hello, thanks for message number 1"
      ])
    let key = ConversationKey(rawValue: "\(alice)|\(number)")
    let created = try #require(try await store.session(for: key)).createdAt
    #expect(created == ahead.now)
    // A save (the count changes) and a touch (it does not).
    let saved = await second.send("hi", from: alice, to: number)
    #expect(saved.status == .ok)
    #expect(saved.texts == ["Hello, thanks for message number 2"])
    let touched = await second.send("peek", from: alice, to: number)
    #expect(touched.status == .ok)
    #expect(touched.texts == ["Count is 2"])
    let record = try #require(try await store.session(for: key))
    #expect(record.createdAt == created)
    #expect(record.updatedAt == created)
    #expect(record.expiresAt == behind.now.advanced(by: Self.hours4))
  }

  @Test(arguments: StoreKind.allCases)
  func aMissingCookieResumesTheStoredSession(store kind: StoreKind) async throws {
    let client = counterApp(store: try kind.make(), clock: ManualClock())
    _ = await client.send("hi", from: alice, to: number)
    _ = await client.send("hi", from: alice, to: number)
    // Twilio lost the cookie: the store is the source of truth.
    #expect(
      await client.send("hi", from: alice, to: number).texts == [
        "Hello, thanks for message number 3"
      ])
  }

  @Test(arguments: StoreKind.allCases)
  func aForgedCookieIsIgnoredAndLoggedAndTheStoredSessionResumes(store kind: StoreKind) async throws
  {
    let log = LogRecorder()
    let client = counterApp(store: try kind.make(), clock: ManualClock(), logger: log.logger)
    let first = await client.send("hi", from: alice, to: number)
    let genuine = try #require(first.cookieValue)
    // Same shape, tampered generation: the MAC no longer matches.
    var parts = genuine.split(separator: ".").map(String.init)
    parts[2] = "999"
    let forged = parts.joined(separator: ".")
    let reply = await client.send(
      "hi", from: alice, to: number, headerFields: [.cookie: "parley_session=\(forged)"])
    #expect(reply.texts == ["Hello, thanks for message number 2"])
    #expect(log.contains("session cookie ignored", "parley.cookie", "bad signature"))
    // Garbage is ignored the same way.
    let garbage = await client.send(
      "hi", from: alice, to: number, headerFields: [.cookie: "parley_session=%00<script>"])
    #expect(garbage.texts == ["Hello, thanks for message number 3"])
    #expect(log.contains("session cookie ignored", "parley.cookie", "malformed"))
    // The turn's numbers are in every line, masked.
    let line = try #require(log.lines.first { $0.message == "session cookie ignored" })
    #expect(line.metadata["parley.from"] == Redaction.phoneNumber(alice))
    #expect(line.metadata["parley.to"] == Redaction.phoneNumber(number))
    #expect(!log.lines.contains { $0.rendered.contains(alice) || $0.rendered.contains(number) })
  }

  @Test(arguments: StoreKind.allCases)
  func aForgedCookieForAFreshConversationStartsFresh(store kind: StoreKind) async throws {
    let log = LogRecorder()
    let client = counterApp(store: try kind.make(), clock: ManualClock(), logger: log.logger)
    let forged =
      "v1.AAAAAAAAAAAAAAAAAAAAAA.41.AAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    let reply = await client.send(
      "hi", from: alice, to: number, headerFields: [.cookie: "parley_session=\(forged)"])
    #expect(reply.texts == ["Hello, thanks for message number 1"])
    #expect(log.contains("session cookie ignored", "parley.cookie", "bad signature"))
  }

  @Test(arguments: StoreKind.allCases)
  func aCookieFromAnotherConversationIsForeign(store kind: StoreKind) async throws {
    let log = LogRecorder()
    let client = counterApp(store: try kind.make(), clock: ManualClock(), logger: log.logger)
    for _ in 0..<5 { _ = await client.send("hi", from: bob, to: number) }
    let bobs = await client.send("hi", from: bob, to: number)
    let reply = await client.send("hi", from: alice, to: number, headerFields: bobs.cookieHeader)
    #expect(reply.texts == ["Hello, thanks for message number 1"])
    #expect(log.contains("session cookie ignored", "parley.cookie", "foreign conversation"))
  }

  @Test(arguments: StoreKind.allCases)
  func aStaleCookieIsLoggedAndTheStoreWins(store kind: StoreKind) async throws {
    let log = LogRecorder()
    let client = counterApp(store: try kind.make(), clock: ManualClock(), logger: log.logger)
    let first = await client.send("hi", from: alice, to: number)
    _ = await client.send("hi", from: alice, to: number, headerFields: first.cookieHeader)
    // Twilio sends the first cookie again (the second Set-Cookie was lost).
    let reply = await client.send("hi", from: alice, to: number, headerFields: first.cookieHeader)
    #expect(reply.texts == ["Hello, thanks for message number 3"])
    #expect(log.contains("session cookie ignored", "parley.cookie", "stale"))
  }

  @Test(arguments: StoreKind.allCases)
  func fourHoursOfInactivityEndTheSessionAndNotOneSecondLess(store kind: StoreKind) async throws {
    let clock = ManualClock()
    let log = LogRecorder()
    let client = counterApp(store: try kind.make(), clock: clock, logger: log.logger)
    var reply = await client.send("hi", from: alice, to: number)
    clock.advance(by: Self.hours4 - .seconds(1))  // 3:59:59 of silence
    reply = await client.send("hi", from: alice, to: number, headerFields: reply.cookieHeader)
    #expect(reply.texts == ["Hello, thanks for message number 2"])
    clock.advance(by: Self.hours4 - .seconds(1))  // the expiry slid: 3:59:59 again
    reply = await client.send("hi", from: alice, to: number, headerFields: reply.cookieHeader)
    #expect(reply.texts == ["Hello, thanks for message number 3"])
    #expect(!log.contains("session expired; starting afresh"))
    clock.advance(by: Self.hours4 + .seconds(1))  // 4:00:01
    reply = await client.send("hi", from: alice, to: number, headerFields: reply.cookieHeader)
    #expect(reply.texts == ["Hello, thanks for message number 1"])
    #expect(log.contains("session expired; starting afresh"))
  }

  @Test(arguments: StoreKind.allCases)
  func aRetriedMessageSidGetsTheByteIdenticalReplyAndChangesNothing(store kind: StoreKind)
    async throws
  {
    let store = try kind.make()
    let clock = ManualClock()
    let client = counterApp(store: store, clock: clock)
    let key = ConversationKey(rawValue: "\(alice)|\(number)")
    _ = await client.send("hi", from: alice, to: number)
    let sid = "SM0123456789abcdef0123456789abcdef"
    let original = await client.send("hi", from: alice, to: number, messageSid: sid)
    let stored = try await store.session(for: key)
    clock.advance(by: .seconds(30))
    let retry = await client.send("hi", from: alice, to: number, messageSid: sid)
    #expect(retry.response.body == original.response.body)
    #expect(retry.response.head == original.response.head)
    #expect(retry.texts == ["Hello, thanks for message number 2"])
    #expect(try await store.session(for: key) == stored)
    // The conversation goes on from where it was.
    #expect(
      await client.send("hi", from: alice, to: number).texts == [
        "Hello, thanks for message number 3"
      ])
  }

  @Test(arguments: StoreKind.allCases)
  func aThrowingTurnCommitsNothingSoTwiliosRetryRunsAfresh(store kind: StoreKind) async throws {
    let client = counterApp(store: try kind.make(), clock: ManualClock())
    _ = await client.send("hi", from: alice, to: number)
    let sid = "SMfailfailfailfailfailfailfailfail"
    let failed = await client.send("fail", from: alice, to: number, messageSid: sid)
    #expect(failed.status == .internalServerError)
    #expect(await client.send("peek", from: alice, to: number).texts == ["Count is 1"])
    // The same MessageSid is not remembered: its retry runs again.
    let retry = await client.send("hi", from: alice, to: number, messageSid: sid)
    #expect(retry.texts == ["Hello, thanks for message number 2"])
  }

  @Test(arguments: StoreKind.allCases)
  func destroyEndsTheSession(store kind: StoreKind) async throws {
    let store = try kind.make()
    let client = counterApp(store: store, clock: ManualClock())
    _ = await client.send("hi", from: alice, to: number)
    let reset = await client.send("reset", from: alice, to: number)
    #expect(reset.headerFields[.setCookie] == "parley_session=; Max-Age=0; Path=/; HttpOnly")
    #expect(try await store.session(for: ConversationKey(rawValue: "\(alice)|\(number)")) == nil)
    #expect(
      await client.send("hi", from: alice, to: number).texts == [
        "Hello, thanks for message number 1"
      ])
  }

  @Test(arguments: StoreKind.allCases)
  func anUnchangedStateOnlySlidesTheExpiry(store kind: StoreKind) async throws {
    let store = try kind.make()
    let clock = ManualClock()
    let client = counterApp(store: store, clock: clock)
    let key = ConversationKey(rawValue: "\(alice)|\(number)")
    let first = await client.send("hi", from: alice, to: number)
    let before = try #require(try await store.session(for: key))
    clock.advance(by: .seconds(600))
    let peek = await client.send("peek", from: alice, to: number)
    let after = try #require(try await store.session(for: key))
    #expect(after.generation == before.generation)
    #expect(after.data == before.data)
    #expect(after.expiresAt == before.expiresAt.advanced(by: .seconds(600)))
    #expect(peek.cookieValue == first.cookieValue)
  }

  @Test(arguments: StoreKind.allCases)
  func sendersPoolsShareASessionPerMessagingService(store kind: StoreKind) async throws {
    let client = counterApp(
      store: try kind.make(), clock: ManualClock(), keyStrategy: .fromMessagingService)
    let service = "MG9752274e9e519418a7406176694466fa"
    _ = await client.send("hi", from: alice, to: "+14155550001", messagingServiceSid: service)
    let second = await client.send(
      "hi", from: alice, to: "+14155550002", messagingServiceSid: service)
    #expect(second.texts == ["Hello, thanks for message number 2"])
    let accounts = ConversationKey.Strategy(includesAccount: true)
    let message = InboundMessage(from: alice, to: number, body: "", accountSid: "AC1")
    #expect(accounts.key(for: message).rawValue == "AC1|\(alice)|\(number)")
    #expect(accounts.key(for: message).redacted == "AC1|+16*******23|+14*******99")
  }

  @Test(arguments: StoreKind.allCases)
  func whatsappAddressesKeyTheirOwnConversations(store kind: StoreKind) async throws {
    let client = counterApp(store: try kind.make(), clock: ManualClock())
    _ = await client.send("hi", from: "whatsapp:\(alice)", to: "whatsapp:\(number)")
    #expect(
      await client.send("hi", from: "whatsapp:\(alice)", to: "whatsapp:\(number)").texts == [
        "Hello, thanks for message number 2"
      ])
    #expect(
      await client.send("hi", from: alice, to: number).texts == [
        "Hello, thanks for message number 1"
      ])
  }

  @Test func rotatedSecretsStillVerifyAndUnknownOnesAreIgnored() async throws {
    let log = LogRecorder()
    let store = MemoryConversationStore()
    let clock = ManualClock()
    let old = try SessionSecrets("old-secret-old-secret-old-secret-old")
    let rotated = try SessionSecrets([
      "new-secret-new-secret-new-secret-new", "old-secret-old-secret-old-secret-old",
    ])
    let before = counterApp(store: store, clock: clock, secrets: old)
    let after = counterApp(store: store, clock: clock, secrets: rotated, logger: log.logger)
    let first = await before.send("hi", from: alice, to: number)
    let second = await after.send("hi", from: alice, to: number, headerFields: first.cookieHeader)
    #expect(second.texts == ["Hello, thanks for message number 2"])
    #expect(!log.contains("session cookie ignored"))
    // The new secret signs from now on: the old-only app does not accept it.
    let oldLog = LogRecorder()
    let oldOnly = counterApp(store: store, clock: clock, secrets: old, logger: oldLog.logger)
    _ = await oldOnly.send("hi", from: alice, to: number, headerFields: second.cookieHeader)
    #expect(oldLog.contains("session cookie ignored", "parley.cookie", "bad signature"))
    #expect(throws: SessionError.self) { try SessionSecrets("short") }
  }

  @Test func aStateWhoseTypeChangedStartsAfreshInsteadOfCrashing() async throws {
    struct Renamed: SessionState { var tally: [String] = [] }
    let store = MemoryConversationStore()
    let clock = ManualClock()
    _ = await counterApp(store: store, clock: clock).send("hi", from: alice, to: number)
    let log = LogRecorder()
    let app = ParleyApplication(
      logger: log.logger,
      middleware: [
        ConversationMiddleware(store: store, clock: clock),
        SessionMiddleware(Renamed.self, secrets: secrets),
      ]
    ) { turn in
      let session = try turn.session(Renamed.self)
      session.state.tally.append("x")
      return .message("\(session.isNew) \(session.state.tally.count)")
    }
    let reply = await ParleyTestClient(application: app).send("hi", from: alice, to: number)
    #expect(reply.texts == ["false 1"])
    #expect(reply.status == .ok)
    #expect(log.contains("stored session state unreadable (did its type change?); starting afresh"))
  }

  @Test func sessionMiddlewareWithoutConversationMiddlewareIsAClearError() async throws {
    let log = LogRecorder()
    let app = ParleyApplication(
      logger: log.logger, middleware: [SessionMiddleware(Counter.self, secrets: secrets)]
    ) {
      _ in .empty
    }
    let reply = await ParleyTestClient(application: app).send("hi", from: alice, to: number)
    #expect(reply.status == .internalServerError)
    #expect(log.contains("handler failed"))
  }
}
