import Foundation
import GRDB
import HTTPTypes
import Logging
import Parley
import ParleySQLite
import ParleyTesting
import ParleyTwiML
import Synchronization
import Testing

/// Keywords as people type them: every default keyword in several cases.
let keywordSpellings: [(String, String)] = {
  let keywords = OptOutKeywords.defaultOptOut.sorted() + ["START", "HELP", "INFO"]
  return keywords.flatMap { keyword in
    [
      keyword, keyword.lowercased(), keyword.prefix(1) + keyword.dropFirst().lowercased(),
      mixedCase(keyword),
    ]
    .map { (keyword, String($0)) }
  }
}()

func mixedCase(_ word: String) -> String {
  String(
    word.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.lowercased()) : $0.element })
}

/// What surrounds the word: white space before, white space and punctuation after.
let surroundings: [(String, String)] = [
  ("", ""), (" ", " "), ("\t", "\n"), ("  ", "."), ("", "!"), ("\n", "?!"), (" ", " ..."),
  ("", "!\r\n"),
]

@Suite(.timeLimit(.minutes(2)))
struct KeywordTests {
  @Test(arguments: keywordSpellings, surroundings)
  func everyKeywordInEveryCaseWithWhitespaceAndPunctuation(
    spelling: (String, String), surrounding: (String, String)
  ) {
    let (keyword, typed) = spelling
    let body = surrounding.0 + typed + surrounding.1
    let match = OptOutKeywords().match(body)
    switch keyword {
    case "START": #expect(match == .optIn(keyword: "START"), "\(body.debugDescription)")
    case "HELP", "INFO": #expect(match == .help(keyword: keyword), "\(body.debugDescription)")
    default: #expect(match == .optOut(keyword: keyword), "\(body.debugDescription)")
    }
  }

  @Test(arguments: [
    "STOP PLEASE", "PLEASE CANCEL", "stop it", "stopp", "st op", "", "   ", "?!", "YES PLEASE",
    "un subscribe",
    "HELP ME", "Stop-it", "🛑", "STOP\u{301}", " \u{301}STOP", "ST\u{200B}OP",
  ])
  func moreThanOneWordOrAnotherWordIsNotAKeyword(body: String) {
    #expect(OptOutKeywords().match(body) == nil)
  }

  /// White space is Unicode's White_Space property, ASCII or not: a keyword between two of the same
  /// scalar is still a keyword exactly when that scalar is white space.
  @Test func whitespaceIsUnicodesWhiteSpaceForEveryScalar() {
    let keywords = OptOutKeywords()
    for value in UInt32(0)...0x10FFFF {
      guard let scalar = Unicode.Scalar(value) else { continue }
      let space = String(Character(scalar))
      let isWhiteSpace = scalar.properties.isWhitespace
      // Every white space, every scalar below U+0100, and a sample of the rest.
      if isWhiteSpace || value < 0x100 || value % 97 == 0 {
        #expect(
          (keywords.match(space + "STOP" + space) == .optOut(keyword: "STOP")) == isWhiteSpace,
          "U+\(String(value, radix: 16))")
      }
    }
  }

  @Test func yesAndUnstopAreConditionalAndCustomKeywordsAddToTheDefaults() {
    let keywords = OptOutKeywords(
      additionalOptOut: ["arret", "ALTO"], additionalOptIn: ["arriba"], additionalHelp: ["aide"])
    #expect(keywords.match("Yes") == .conditionalOptIn(keyword: "YES"))
    #expect(keywords.match("unstop!") == .conditionalOptIn(keyword: "UNSTOP"))
    #expect(keywords.match("Arret") == .optOut(keyword: "ARRET"))
    #expect(keywords.match("alto.") == .optOut(keyword: "ALTO"))
    #expect(keywords.match("ARRIBA") == .optIn(keyword: "ARRIBA"))
    #expect(keywords.match("aide") == .help(keyword: "AIDE"))
    #expect(keywords.match("STOP") == .optOut(keyword: "STOP"))  // defaults stay
    #expect(keywords.optOut.isSuperset(of: OptOutKeywords.defaultOptOut))
  }

  @Test(arguments: [
    ("please stop texting me", "stop"), ("Remove me from this list!", "remove me"),
    ("dont text me again", "dont text"),
    ("I want to opt out", "opt out"), ("Please don’t text me", "don't text"),
  ])
  func freeTextThatMayRevokeConsentIsDetected(body: String, phrase: String) {
    #expect(ConsentRevocationDetector().phrase(in: body) == phrase)
  }

  @Test(arguments: ["see you at the bus stop", "stopwatch", "nonstop fun", "hello there"])
  func ordinaryTextIsNotFlagged(body: String) {
    #expect(ConsentRevocationDetector().phrase(in: body) == (body.contains(" stop") ? "stop" : nil))
  }

  @Test func phrasesSetLaterAreTheOnesSearched() {
    var detector = ConsentRevocationDetector()
    detector.phrases = ["no thanks"]
    #expect(detector.phrase(in: "No THANKS!") == "no thanks")
    #expect(detector.phrase(in: "stop") == nil)
  }

  /// The detector lower-cases scalar by scalar, with a fast path for ASCII; it must find what
  /// lower-casing the whole body with `String.lowercased()` finds. Every scalar below U+3000,
  /// a sample of the rest and those whose lower case is ASCII (the Kelvin sign is a K) sit
  /// inside and between words.
  @Test func lowerCasingMatchesTheStandardLibrarysForEveryScalarTried() {
    let detector = ConsentRevocationDetector()
    var generator = SplitMix64(seed: 0xC05E27)
    var values = Array(UInt32(0)..<0x3000)
    for _ in 0..<4000 { values.append(UInt32.random(in: 0x3000...0x10FFFF, using: &generator)) }
    values += [0x212A, 0x0130, 0x1E9E, 0x03A3, 0xFF33, 0x2019]
    var mismatches: [String] = []
    for value in values {
      guard let scalar = Unicode.Scalar(value) else { continue }
      let inside = String(Character(scalar))
      for body in [
        "st" + inside + "p", "opt" + inside + "out", "remove" + inside + "me", inside + "ancel",
      ]
      where detector.phrase(in: body) != revocationPhrase(in: body, detector.phrases) {
        mismatches.append("U+\(String(value, radix: 16)) in \(body.debugDescription)")
      }
    }
    #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    // The case the scalar mapping exists for.
    #expect(detector.phrase(in: "Ta\u{212A}e me off") == "take me off")
  }
}

/// What `ConsentRevocationDetector` finds, written plainly: the whole body lower-cased by the
/// standard library, then searched as words.
private func revocationPhrase(in body: String, _ phrases: [String]) -> String? {
  var words = ""
  for scalar in body.lowercased().unicodeScalars {
    let mapped: Unicode.Scalar = scalar == "\u{2019}" ? "'" : scalar
    if ("a"..."z").contains(mapped) || ("0"..."9").contains(mapped) || mapped == "'" {
      words.unicodeScalars.append(mapped)
    } else if !words.hasSuffix(" ") {
      words += " "
    }
  }
  let text = " " + words.trimmingCharacters(in: .whitespaces) + " "
  return phrases.first { text.contains(" " + $0 + " ") }
}

/// An app on the standard pipeline whose handler always tries to answer, and can text others.
func optOutApp(
  store: any ConversationStore, clock: ManualClock = ManualClock(),
  configuration: OptOutConfiguration = .init(helpText: "Help: reply STOP to opt out."),
  logger: Logger = Logger(label: "test"), handled: Shared? = nil
) -> ParleyTestClient {
  ParleyTestClient(
    application: .conversational(
      store: store, signature: .disabled(reason: "test"), secrets: secrets, state: Counter.self,
      optOut: .enabled(configuration),
      clock: clock,
      logger: logger
    ) { turn in
      handled?.withLock { $0 += 1 }
      let session = try turn.session(Counter.self)
      session.state.count += 1
      if turn.message.body.hasPrefix("tell ") {
        let other = String(turn.message.body.dropFirst(5))
        return .messages([
          Message("news for you", to: other), Message("told \(session.state.count)"),
        ])
      }
      return .message("reply \(session.state.count) to \(turn.message.body)")
    })
}

@Suite(.timeLimit(.minutes(2)))
struct OptOutTests {
  let alice = "+16175550123"
  let number = "+14155550199"
  static let service = "MG9752274e9e519418a7406176694466fa"

  func noMessages(_ reply: TestResponse) -> Bool {
    reply.status == .ok && (reply.twiml?.messages.isEmpty ?? false)
  }

  @Test(arguments: StoreKind.allCases, [nil, service])
  func stopSuppressesEveryLaterReplyAndStartRestoresThem(store kind: StoreKind, service: String?)
    async throws
  {
    let store = try kind.make()
    let handled = Shared(0)
    let client = optOutApp(store: store, handled: handled)
    let scope: OptOutScope = service.map(OptOutScope.messagingService) ?? .number(number)
    #expect(
      await client.send("hi", from: alice, to: number, messagingServiceSid: service).texts == [
        "reply 1 to hi"
      ])

    let stop = await client.send(" Stop. ", from: alice, to: number, messagingServiceSid: service)
    #expect(noMessages(stop))
    #expect(try await store.session(for: ConversationKey(rawValue: "\(alice)|\(number)")) == nil)
    #expect(handled.withLock { $0 } == 1)  // the keyword never reached the handler
    let records = try await store.optOutRecords(subscriber: alice, scopes: [scope])
    #expect(records.map(\.optedOut) == [true])

    // Nothing reaches the number, and by default the handler does not even run.
    let after = await client.send(
      "are you there?", from: alice, to: number, messagingServiceSid: service)
    #expect(noMessages(after))
    #expect(handled.withLock { $0 } == 1)
    #expect(!after.body.contains("<Message"))

    let start = await client.send("START", from: alice, to: number, messagingServiceSid: service)
    #expect(noMessages(start))
    // STOP ended the conversation's session: the count starts again.
    #expect(
      await client.send("back", from: alice, to: number, messagingServiceSid: service).texts == [
        "reply 1 to back"
      ])
  }

  @Test func optOutLinesNameTheScopeMasked() async throws {
    let log = LogRecorder()
    let client = optOutApp(store: MemoryConversationStore(), logger: log.logger)
    _ = await client.send("hi", from: alice, to: number)
    _ = await client.send("STOP", from: alice, to: number)
    _ = await client.send("tell +16175550100", from: alice, to: number)
    let scope = OptOutScope.number(number).redacted
    #expect(log.contains("opt-out received", "parley.scope", scope))
    #expect(log.contains("message from an opted-out number not handled", "parley.scope", scope))
    #expect(!log.lines.contains { $0.rendered.contains(alice) || $0.rendered.contains(number) })
  }

  @Test(arguments: StoreKind.allCases)
  func afterStopAHandlerThatTriesToReplyProducesNoMessage(store kind: StoreKind) async throws {
    let handled = Shared(0)
    let client = optOutApp(
      store: try kind.make(), configuration: OptOutConfiguration(handlesMessagesFromOptedOut: true),
      handled: handled)
    _ = await client.send("STOP", from: alice, to: number)
    let reply = await client.send("are you there?", from: alice, to: number)
    #expect(handled.withLock { $0 } == 1)  // it ran, and answered "reply 1 to are you there?"
    #expect(noMessages(reply))
    #expect(reply.body == #"<?xml version="1.0" encoding="UTF-8"?><Response/>"#)
  }

  @Test(arguments: StoreKind.allCases)
  func aServiceOptOutCoversEveryNumberOfTheServiceButANumberOptOutOnlyItsNumber(
    store kind: StoreKind
  ) async throws {
    let store = try kind.make()
    let client = optOutApp(store: store)
    _ = await client.send(
      "STOP", from: alice, to: "+14155550001", messagingServiceSid: Self.service)
    #expect(
      noMessages(
        await client.send("hi", from: alice, to: "+14155550002", messagingServiceSid: Self.service))
    )
    #expect(!noMessages(await client.send("hi", from: alice, to: "+14155550003")))
    // Without a service, STOP covers its number only.
    _ = await client.send("STOP", from: alice, to: "+14155550004")
    #expect(noMessages(await client.send("hi", from: alice, to: "+14155550004")))
    #expect(!noMessages(await client.send("hi", from: alice, to: "+14155550005")))
    #expect(try await !store.mayText(alice, from: "+14155550002", messagingService: Self.service))
    #expect(try await store.mayText(alice, from: "+14155550005"))
  }

  @Test(arguments: StoreKind.allCases)
  func yesFromASubscribedNumberIsAnOrdinaryMessageButFromAnOptedOutOneItOptsIn(
    store kind: StoreKind
  ) async throws {
    let store = try kind.make()
    let handled = Shared(0)
    let client = optOutApp(store: store, handled: handled)
    #expect(await client.send("yes", from: alice, to: number).texts == ["reply 1 to yes"])
    #expect(await client.send("UNSTOP", from: alice, to: number).texts == ["reply 2 to UNSTOP"])
    #expect(handled.withLock { $0 } == 2)
    _ = await client.send("STOP", from: alice, to: number)
    #expect(noMessages(await client.send("Yes!", from: alice, to: number)))
    #expect(handled.withLock { $0 } == 2)  // YES opted in; it was not an answer
    #expect(try await store.mayText(alice, from: number))
    _ = await client.send("quit", from: alice, to: number)
    _ = await client.send("unstop", from: alice, to: number)
    #expect(try await store.mayText(alice, from: number))
    // START from a subscribed number opts in (again) and is not an answer either.
    _ = await client.send("start", from: alice, to: number)
    #expect(handled.withLock { $0 } == 2)
  }

  @Test(arguments: StoreKind.allCases)
  func helpAnswersTheConfiguredTextButNotToAnOptedOutNumber(store kind: StoreKind) async throws {
    let client = optOutApp(store: try kind.make())
    #expect(
      await client.send("help", from: alice, to: number).texts == ["Help: reply STOP to opt out."])
    _ = await client.send("STOP", from: alice, to: number)
    #expect(noMessages(await client.send("INFO", from: alice, to: number)))
  }

  @Test func stopConfirmationIsTheOneMessageAllowedAfterStop() async throws {
    let client = optOutApp(
      store: MemoryConversationStore(),
      configuration: OptOutConfiguration(
        stopConfirmation: "You are unsubscribed. Reply START to resubscribe."))
    #expect(
      await client.send("STOP", from: alice, to: number).texts == [
        "You are unsubscribed. Reply START to resubscribe."
      ])
    #expect(noMessages(await client.send("hi", from: alice, to: number)))
  }

  @Test func twiliosOptOutTypeDecides() async throws {
    let store = MemoryConversationStore()
    let client = optOutApp(store: store)
    // A custom keyword configured in Twilio's Advanced Opt-Out, unknown to Parley.
    var form = TwilioWebhookForm.inbound(
      from: alice, to: number, body: "Arrêt", extra: ["OptOutType": "STOP"])
    #expect(noMessages(await client.post(form)))
    let event = try #require(try await store.auditEvents(after: 0, limit: 1).first)
    #expect(event.keyword == "ARRÊT")
    #expect(event.action == .optOut)
    form = TwilioWebhookForm.inbound(
      from: alice, to: number, body: "Reanudar", extra: ["OptOutType": "START"])
    _ = await client.post(form)
    #expect(try await store.mayText(alice, from: number))
  }

  /// A NUL in the body of an opt-out (Twilio's OptOutType says STOP whatever the text) is kept as
  /// U+FFFD: SQLite would cut the stored text at it, leaving an event that no longer matches its
  /// hash, and PostgreSQL refuses it, leaving the opt-out unrecorded.
  @Test(arguments: StoreKind.allCases)
  func aNulInAnOptOutsBodyIsKeptAsAReplacementCharacter(kind: StoreKind) async throws {
    let store = try kind.make()
    let client = optOutApp(store: store)
    let form = TwilioWebhookForm.inbound(
      from: alice, to: number, body: "STOP\u{0}now", extra: ["OptOutType": "STOP"])
    #expect(noMessages(await client.post(form)))
    #expect(try await !store.mayText(alice, from: number))
    let event = try #require(try await store.auditEvents(after: 0, limit: 1).first)
    #expect(event.body == "STOP\u{FFFD}now")
    #expect(event.keyword == "STOP\u{FFFD}NOW")
    #expect(try await store.verifyAuditTrail() == .intact(events: 1))
  }

  @Test func aReplyAddressedToAnotherOptedOutNumberIsDroppedAndTheRestKept() async throws {
    let store = MemoryConversationStore()
    let client = optOutApp(store: store)
    let bob = "+16175550987"
    _ = await client.send("STOP", from: bob, to: number)
    let reply = await client.send("tell \(bob)", from: alice, to: number)
    #expect(reply.texts == ["told 1"])
    let carol = "+16175550555"
    let second = await client.send("tell \(carol)", from: alice, to: number)
    #expect(second.texts == ["news for you", "told 2"])
  }

  /// Twilio reads a `to` without `+` in the sending number's country, and its local formats: an
  /// opt-out recorded under the E.164 form holds for every spelling of it.
  @Test(arguments: StoreKind.allCases)
  func aReplyToAnOptedOutNumberIsDroppedHoweverTheNumberIsWritten(store kind: StoreKind)
    async throws
  {
    let store = try kind.make()
    let log = LogRecorder()
    let client = optOutApp(store: store, logger: log.logger)
    _ = await client.send("STOP", from: "+16175550987", to: number)
    let spellings = [
      "(617) 555-0987", "617.555.0987", "+1 617 555 0987", "1-617-555-0987", "6175550987",
    ]
    for (turn, spelling) in spellings.enumerated() {
      let reply = await client.send("tell \(spelling)", from: alice, to: number)
      #expect(reply.texts == ["told \(turn + 1)"], "\(spelling)")
    }
    #expect(!log.lines.contains { $0.rendered.contains("0987") })
    // Another number, written the same ways, still gets its message.
    let other = await client.send("tell (617) 555-0555", from: alice, to: number)
    #expect(other.twiml?.messages.first?.to == "(617) 555-0555")
    #expect(try await !store.mayText("(617) 555-0987", from: number))
    #expect(try await !store.mayText("+16175550987", from: "+1 (415) 555-0199"))
    #expect(try await !store.mayText("+16175550987", from: "(415) 555-0199"))
    #expect(try await store.mayText("(617) 555-0555", from: number))
  }

  /// A message the handler addresses to the sender in another spelling is the sender's too.
  @Test(arguments: StoreKind.allCases)
  func aMessageToTheOptedOutSenderInAnotherSpellingIsDropped(store kind: StoreKind) async throws {
    let client = optOutApp(
      store: try kind.make(), configuration: OptOutConfiguration(handlesMessagesFromOptedOut: true))
    _ = await client.send("STOP", from: alice, to: number)
    let reply = await client.send("tell (617) 555-0123", from: alice, to: number)
    #expect(noMessages(reply))
  }

  /// The sender's STOP to another number of the Messaging Service commits while a turn of theirs
  /// is between its snapshot and its commit (here the handler records it, at that very point):
  /// the turn runs again and, its sender now opted out, answers nothing.
  @Test(arguments: StoreKind.allCases)
  func anOptOutThatCommitsDuringATurnStopsItsReply(store kind: StoreKind) async throws {
    let store = try kind.make()
    let handled = Shared(0)
    let log = LogRecorder()
    let app = ParleyApplication.conversational(
      store: store, signature: .disabled(reason: "test"), secrets: secrets, state: Counter.self,
      optOut: .enabled(OptOutConfiguration()), clock: ManualClock(), logger: log.logger
    ) { [alice] turn in
      if handled.withLock({
        $0 += 1
        return $0
      }) == 1 {
        try await store.recordOptOutEvents(
          [
            OptOutEventDraft(
              subscriber: alice, scope: .messagingService(Self.service), action: .optOut,
              source: .keyword, keyword: "STOP", receivedAt: ManualClock().now)
          ], now: ManualClock().now)
      }
      return .message("reply to \(turn.message.body)")
    }
    let client = ParleyTestClient(application: app)
    let reply = await client.send(
      "hi", from: alice, to: "+14155550002", messagingServiceSid: Self.service)
    #expect(noMessages(reply))
    #expect(handled.withLock { $0 } == 1)
    #expect(log.contains("what the turn read changed before it committed; running it again"))
    // Nothing of the first run was kept: no session, and the reply recorded is the empty one.
    let key = ConversationKey(rawValue: "\(alice)|+14155550002")
    #expect(try await store.session(for: key) == nil)
  }

  @Test func aPlainTextReplyToAnOptedOutNumberIsDropped() async throws {
    let store = MemoryConversationStore()
    let app = ParleyApplication.conversational(
      store: store, signature: .disabled(reason: "test"), logger: Logger(label: "t")
    ) { _ in
      .plainText("hello")
    }
    let client = ParleyTestClient(application: app)
    _ = await client.send("STOP", from: alice, to: number)
    let reply = await client.send("hi", from: alice, to: number)
    #expect(reply.headerFields[.contentType] == "text/xml; charset=utf-8")
    #expect(reply.texts.isEmpty)
  }

  @Test(arguments: StoreKind.allCases)
  func error21610MarksTheRecipientOptedOut(store kind: StoreKind) async throws {
    let store = try kind.make()
    let client = optOutApp(store: store)
    let callback = TwilioWebhookForm.status(
      messageSid: "SMfailed", status: .undelivered, from: number, to: alice, errorCode: 21610)
    #expect(await client.post(callback, to: "/status").status == .noContent)
    #expect(try await !store.mayText(alice, from: number))
    let event = try #require(try await store.auditEvents(after: 0, limit: 10).last)
    #expect(event.source == .statusCallback)
    #expect(event.messageSid == "SMfailed")
    // A second callback adds nothing.
    _ = await client.post(callback, to: "/status")
    #expect(try await store.auditHead().sequence == 1)
    #expect(noMessages(await client.send("hi", from: alice, to: number)))
  }

  @Test func freeTextIsFlaggedForReviewByDefaultAndCanOptOut() async throws {
    let store = MemoryConversationStore()
    let client = optOutApp(store: store)
    let reply = await client.send("please stop texting me", from: alice, to: number)
    #expect(reply.texts == ["reply 1 to please stop texting me"])
    let flagged = try await store.auditEvents(after: 0, limit: 10)
    #expect(flagged.map(\.action) == [.flaggedForReview])
    #expect(try await store.mayText(alice, from: number))

    let strict = optOutApp(store: store, configuration: OptOutConfiguration(freeText: .optOut))
    #expect(
      noMessages(await strict.send("Please stop texting me", from: "+16175550111", to: number)))
    #expect(try await !store.mayText("+16175550111", from: number))
  }

  @Test(arguments: StoreKind.allCases)
  func aRetriedStopIsRecordedOnce(store kind: StoreKind) async throws {
    let store = try kind.make()
    let client = optOutApp(store: store)
    let first = await client.send(
      "STOP", from: alice, to: number, messageSid: "SMstopstopstopstopstopstopstopstop")
    let retry = await client.send(
      "STOP", from: alice, to: number, messageSid: "SMstopstopstopstopstopstopstopstop")
    #expect(retry.body == first.body)
    #expect(try await store.auditHead().sequence == 1)
  }

  /// A retry that comes after its sender opted out must not send the first answer again. The
  /// opt-out here is free text, which only Parley records (Twilio blocks its keywords itself).
  @Test(arguments: StoreKind.allCases)
  func aRetryAfterTheSenderOptedOutSendsNothingAndAfterStartTheFirstReplyAgain(
    store kind: StoreKind
  ) async throws {
    let store = try kind.make()
    let log = LogRecorder()
    let client = optOutApp(
      store: store, configuration: OptOutConfiguration(freeText: .optOut), logger: log.logger)
    let sid = "SMretryretryretryretryretryretryre"
    let first = await client.send("hi", from: alice, to: number, messageSid: sid)
    #expect(first.texts == ["reply 1 to hi"])
    _ = await client.send("please stop texting me", from: alice, to: number)

    let retry = await client.send("hi", from: alice, to: number, messageSid: sid)
    #expect(noMessages(retry))
    #expect(log.contains("message to an opted-out number dropped"))
    #expect(!log.lines.contains { $0.rendered.contains(alice) || $0.rendered.contains(number) })

    // Back in: the retry is answered as the first time, byte for byte.
    _ = await client.send("START", from: alice, to: number)
    let again = await client.send("hi", from: alice, to: number, messageSid: sid)
    #expect(again.body == first.body)
    #expect(again.headerFields[.setCookie] == first.headerFields[.setCookie])
    #expect(try await store.auditHead().sequence == 2)
  }

  @Test(arguments: StoreKind.allCases)
  func aRetryDropsItsMessageToANumberThatOptedOutSinceAndKeepsTheRest(store kind: StoreKind)
    async throws
  {
    let client = optOutApp(store: try kind.make())
    let bob = "+16175550987"
    let sid = "SMtelltelltelltelltelltelltelltell"
    let first = await client.send("tell \(bob)", from: alice, to: number, messageSid: sid)
    #expect(first.texts == ["news for you", "told 1"])
    _ = await client.send("STOP", from: bob, to: number)
    let retry = await client.send("tell \(bob)", from: alice, to: number, messageSid: sid)
    #expect(retry.texts == ["told 1"])
    #expect(retry.twiml?.messages.first?.to == nil)
  }

  /// The confirmation is the one message allowed after STOP, so a retried STOP gets it again; but
  /// not once a later STOP has taken over (that one had its own).
  @Test(arguments: StoreKind.allCases)
  func aRetriedStopRepeatsItsConfirmationUntilALaterStopTakesOver(store kind: StoreKind)
    async throws
  {
    let client = optOutApp(
      store: try kind.make(), configuration: OptOutConfiguration(stopConfirmation: "Bye."))
    let sid = "SMstopstopstopstopstopstopstopstop"
    let first = await client.send("STOP", from: alice, to: number, messageSid: sid)
    #expect(first.texts == ["Bye."])
    let retry = await client.send("STOP", from: alice, to: number, messageSid: sid)
    #expect(retry.body == first.body)
    _ = await client.send("START", from: alice, to: number)
    #expect(await client.send("STOP", from: alice, to: number).texts == ["Bye."])
    #expect(noMessages(await client.send("STOP", from: alice, to: number, messageSid: sid)))
  }

  /// A handler may answer with a body it rendered itself: its messages are checked all the same,
  /// and one that cannot be read as TwiML is not sent, since whom it texts cannot be checked.
  @Test(arguments: StoreKind.allCases)
  func aRenderedReplyIsCheckedAsAnyOtherAndOneThatCannotBeReadIsNotSent(store kind: StoreKind)
    async throws
  {
    let store = try kind.make()
    let bob = "+16175550987"
    let log = LogRecorder()
    let app = ParleyApplication.conversational(
      store: store, signature: .disabled(reason: "test"),
      optOut: .enabled(OptOutConfiguration(handlesMessagesFromOptedOut: true)),
      logger: log.logger
    ) { turn in
      let body =
        switch turn.message.body {
        case "broken": "<Response><Message>hi</Message>"
        case "plain": "hello"
        default:
          "<Response> <Message to=\"\(bob)\">news</Message> <Message>hi</Message> </Response>"
        }
      let type = turn.message.body == "plain" ? "text/plain" : "application/xml"
      return Reply(.rendered(contentType: type, body: body))
    }
    let client = ParleyTestClient(application: app)
    // Nobody opted out: sent as rendered, byte for byte.
    let sent = await client.send("hi", from: alice, to: number)
    #expect(sent.texts == ["news", "hi"])
    #expect(sent.body.hasPrefix("<Response> <Message to="))
    #expect(sent.headerFields[.contentType] == "application/xml")

    _ = await client.send("STOP", from: bob, to: number)
    let toBob = await client.send("hi", from: alice, to: number)
    #expect(toBob.texts == ["hi"])
    #expect(toBob.twiml?.messages.first?.to == nil)

    let broken = await client.send("broken", from: alice, to: number)
    #expect(noMessages(broken))
    #expect(log.contains("reply that cannot be read as TwiML dropped"))

    _ = await client.send("STOP", from: alice, to: number)
    #expect(noMessages(await client.send("hi", from: alice, to: number)))
    #expect(noMessages(await client.send("plain", from: alice, to: number)))
    // A reply's messages read its type as the suppression does: in any case.
    #expect(Reply(.rendered(contentType: "Text/Plain", body: "hi")).messages.map(\.body) == ["hi"])
  }

  @Test(arguments: StoreKind.allCases)
  func theAuditTrailRecordsEverythingAndStaysIntact(store kind: StoreKind) async throws {
    let store = try kind.make()
    let clock = ManualClock()
    let client = optOutApp(store: store, clock: clock)
    _ = await client.send("STOP", from: alice, to: number, messageSid: "SMa")
    clock.advance(by: .seconds(60))
    _ = await client.send("help", from: alice, to: number, messagingServiceSid: Self.service)
    _ = await client.send("START", from: alice, to: number, messageSid: "SMc")
    let events = try await store.auditEvents(after: 0, limit: 10)
    #expect(events.map(\.action) == [.optOut, .help, .optIn])
    let stop = events[0]
    #expect(stop.subscriber == alice)
    #expect(stop.scope == .number(number))
    #expect(stop.keyword == "STOP")
    #expect(stop.body == "STOP")
    #expect(stop.messageSid == "SMa")
    #expect(stop.accountSid == "AC00000000000000000000000000000000")
    #expect(stop.source == .keyword)
    #expect(stop.receivedAt == ManualClock().now)
    #expect(stop.committedAt >= stop.receivedAt)
    #expect(events[1].scope == .messagingService(Self.service))
    #expect(try await store.verifyAuditTrail() == .intact(events: 3))
  }

  @Test func theChainDetectsAnEditedEventInMemory() async throws {
    let store = MemoryConversationStore()
    let client = optOutApp(store: store)
    for index in 0..<5 { _ = await client.send("STOP", from: "+1617555010\(index)", to: number) }
    #expect(try await store.verifyAuditTrail().isIntact)
    store.tamperWithAuditEvent(3) { $0.subscriber = "+19999999999" }
    #expect(
      try await store.verifyAuditTrail()
        == .broken(sequence: 3, reason: "edited: its hash does not match its fields"))
  }

  @Test func theChainDetectsEditsAndDeletionsInSQLiteWhoseTriggersRefuseThemAnyway() async throws {
    let path = TemporaryDirectory.file("audit.sqlite")
    let database = try SQLiteDatabase(path: path)
    let store = SQLiteConversationStore(database: database)
    let client = optOutApp(store: store)
    for index in 0..<5 { _ = await client.send("STOP", from: "+1617555010\(index)", to: number) }
    #expect(try await store.verifyAuditTrail() == .intact(events: 5))
    // The trail is append-only: the database itself refuses edits and deletions.
    await #expect(throws: DatabaseError.self) {
      try await database.pool.write { db in
        try db.execute(sql: "UPDATE parley_opt_out_event SET action = 'opt-in' WHERE sequence = 2")
      }
    }
    await #expect(throws: DatabaseError.self) {
      try await database.pool.write { db in try db.execute(sql: "DELETE FROM parley_opt_out_event")
      }
    }
    // Someone with full access drops the triggers and edits an event: the chain tells.
    try await database.pool.write { db in
      try db.execute(sql: "DROP TRIGGER parley_opt_out_event_append_only_update")
      try db.execute(sql: "DROP TRIGGER parley_opt_out_event_append_only_delete")
      try db.execute(sql: "UPDATE parley_opt_out_event SET action = 'opt-in' WHERE sequence = 2")
    }
    #expect(
      try await store.verifyAuditTrail()
        == .broken(sequence: 2, reason: "edited: its hash does not match its fields"))
    // Restoring the field but deleting the last event (foreign keys off) is caught by the head.
    try await database.pool.writeWithoutTransaction { db in
      try db.execute(sql: "PRAGMA foreign_keys = OFF")
      try db.execute(sql: "UPDATE parley_opt_out_event SET action = 'opt-out' WHERE sequence = 2")
      try db.execute(sql: "DELETE FROM parley_opt_out_event WHERE sequence = 5")
    }
    #expect(
      try await store.verifyAuditTrail()
        == .broken(sequence: 5, reason: "events after 4 are missing"))
    // And deleting one in the middle breaks the sequence.
    try await database.pool.writeWithoutTransaction { db in
      try db.execute(sql: "DELETE FROM parley_opt_out_event WHERE sequence = 3")
    }
    #expect(
      try await store.verifyAuditTrail()
        == .broken(sequence: 3, reason: "missing (found 4 instead)"))
  }

  @Test func optOutsAreFsyncedEvenOnANormalDurabilityDatabase() async throws {
    let store = try SQLiteConversationStore(
      path: TemporaryDirectory.file("normal.sqlite"), durability: .normal)
    let client = optOutApp(store: store)
    _ = await client.send("STOP", from: alice, to: number)
    #expect(try await !store.mayText(alice, from: number))
    let synchronous = try await store.database.pool.write { db in
      try Int.fetchOne(db, sql: "PRAGMA synchronous")
    }
    #expect(synchronous == 1)  // back to NORMAL for everything else
  }
}

@Suite struct OptOutExportTests {
  @Test func csvAndJSONExportEveryField() async throws {
    let store = MemoryConversationStore()
    let client = optOutApp(store: store)
    _ = await client.send("Stop, \"now\"", from: "+16175550123", to: "+14155550199")
    _ = await client.send("STOP", from: "+16175550124", to: "+14155550199")
    let events = try await store.auditEvents(after: 0, limit: 10)
    let csv = OptOutExport.csv(events)
    let lines = csv.split(separator: "\r\n")
    #expect(lines.first == Substring(OptOutExport.csvColumns.joined(separator: ",")))
    #expect(lines.count == 3)
    // Two words: flagged for review, and its quotes and comma survive the export.
    #expect(
      lines[1].hasPrefix(
        "1,+16175550123,number:+14155550199,flagged-for-review,keyword,stop,\"Stop, \"\"now\"\"\",SM"
      ))
    #expect(lines[2].hasPrefix("2,+16175550124,number:+14155550199,opt-out,keyword,STOP,STOP,SM"))
    #expect(lines[1].contains("T") && lines[1].contains("Z,"))
    let json = try OptOutExport.json(events)
    let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [[String: Any]]
    #expect(decoded.count == 2)
    #expect(decoded[0]["body"] as? String == "Stop, \"now\"")
    #expect(decoded[1]["previousHash"] as? String == events[0].hash)
  }

  @Test func importReadsAListWithQuotesScopesAndActions() async throws {
    let csv = """
      Phone,Messaging_Service_SID,twilio_number,Action,Note\r
      +16175550001,MG1,,opt-out,"from the old system, 2019"\r
      "+16175550002",,+14155550199,,\r
      +16175550003,,,opt-in,"multi
      line"\r
      \r

      """
    let drafts = try OptOutExport.importCSV(
      csv, defaultScope: .number("+14155550100"), receivedAt: ManualClock().now)
    #expect(drafts.map(\.subscriber) == ["+16175550001", "+16175550002", "+16175550003"])
    #expect(
      drafts.map(\.scope) == [
        .messagingService("MG1"), .number("+14155550199"), .number("+14155550100"),
      ])
    #expect(drafts.map(\.action) == [.optOut, .optOut, .optIn])
    #expect(drafts.allSatisfy { $0.source == .import })
    let store = MemoryConversationStore()
    try await store.recordOptOutEvents(drafts, now: ManualClock().now)
    #expect(try await !store.mayText("+16175550001", from: nil, messagingService: "MG1"))
    #expect(try await store.verifyAuditTrail().isIntact)
  }

  /// A list written as people write numbers is recorded as Twilio writes them, so that a
  /// webhook's `From` finds it.
  @Test func importRecordsNumbersInE164() async throws {
    let csv = """
      phone,twilio_number,scope\r
      +1 (617) 555-0001,+1 415 555 0199,\r
      WhatsApp:+1 617-555-0002,,\r
      messenger:1234567,,service:MG1\r
      +44 7400 123456,,number:+44 7700 900123\r
      +16175550003,12345,\r

      """
    let drafts = try OptOutExport.importCSV(
      csv, defaultScope: .number("+1-415-555-0100"), receivedAt: ManualClock().now)
    #expect(
      drafts.map(\.subscriber) == [
        "+16175550001", "whatsapp:+16175550002", "messenger:1234567", "+447400123456",
        "+16175550003",
      ])
    #expect(
      drafts.map(\.scope) == [
        .number("+14155550199"), .number("+14155550100"), .messagingService("MG1"),
        .number("+447700900123"), .number("12345"),
      ])
    let store = MemoryConversationStore()
    try await store.recordOptOutEvents(drafts, now: ManualClock().now)
    let client = optOutApp(store: store)
    let reply = await client.send("hi", from: "+16175550001", to: "+14155550199")
    #expect(reply.status == .ok && reply.twiml?.messages.isEmpty == true)
  }

  @Test(arguments: [
    ("name\n+1\n", "line 1: no subscriber (or phone) column"),
    ("phone\n+1\n", "line 2: no scope and no default scope"),
    ("phone,scope\n+1,elsewhere\n", "line 2: scope must be number:… or service:…"),
    ("phone,scope,action\n+1,number:+2,maybe\n", "line 2: action must be opt-out or opt-in"),
    ("phone,scope\n\"+1,number:+2\n", "line 2: unterminated quoted field"),
    (
      "phone,scope\n+16175550123,number:+2\n+16175550124\u{0}9,number:+2\n",
      "line 3: a control character in the subscriber or scope"
    ),
    (
      "phone,twilio_number\n+1,+2\u{1B}\n", "line 2: a control character in the subscriber or scope"
    ),
    (
      "phone,scope\n+16175550123,number:+2\n(617) 555-0124,number:+2\n",
      "line 3: the subscriber must be a number with + and its country code (E.164) or a channel "
        + "address"
    ),
    (
      "phone,scope\nalice,number:+2\n",
      "line 2: the subscriber must be a number with + and its country code (E.164) or a channel "
        + "address"
    ),
  ])
  func importRefusesABadListWhole(csv: String, message: String) {
    #expect {
      try OptOutExport.importCSV(csv, defaultScope: nil, receivedAt: ManualClock().now)
    } throws: { "\($0)" == message }
  }
}
