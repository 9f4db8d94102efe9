import Foundation
import HTTPTypes
import Logging
import ParleyTesting
import Testing

@testable import Parley

struct CookieSessionTests {
  let alice = "+16175550123"
  let number = "+14155550199"

  struct Notes: SessionState {
    var notes: [String] = []
  }

  func app(clock: ManualClock, log: LogRecorder = LogRecorder()) -> ParleyTestClient {
    ParleyTestClient(
      application: ParleyApplication(
        logger: log.logger,
        middleware: [CookieSessionMiddleware(Notes.self, secrets: secrets, clock: clock)]
      ) { turn in
        let session = try turn.session(Notes.self)
        session.state.notes.append(turn.message.body)
        return .message("\(session.state.notes.count) notes")
      })
  }

  @Test func theStateTravelsInAnEncryptedCookie() async throws {
    let client = app(clock: ManualClock())
    var reply = await client.send("remember the milk", from: alice, to: number)
    #expect(reply.texts == ["1 notes"])
    let value = try #require(reply.cookieValue)
    #expect(!value.contains("milk"))
    #expect(reply.headerFields[.setCookie]!.hasPrefix("parley_state=v1."))
    reply = await client.send("and eggs", from: alice, to: number, headerFields: reply.cookieHeader)
    #expect(reply.texts == ["2 notes"])
    // Without the cookie there is no state: store-less means exactly that.
    #expect(await client.send("x", from: alice, to: number).texts == ["1 notes"])
  }

  @Test func aTamperedOrForeignCookieStartsFresh() async throws {
    let log = LogRecorder()
    let client = app(clock: ManualClock(), log: log)
    let reply = await client.send("secret", from: alice, to: number)
    var value = Array(try #require(reply.cookieValue))
    value[10] = value[10] == "A" ? "B" : "A"
    let tampered = await client.send(
      "x", from: alice, to: number, headerFields: [.cookie: "parley_state=\(String(value))"])
    #expect(tampered.texts == ["1 notes"])
    let foreign = await client.send(
      "x", from: "+16175550987", to: number, headerFields: reply.cookieHeader)
    #expect(foreign.texts == ["1 notes"])
    #expect(
      log.contains("session cookie ignored", "parley.cookie", "bad seal or foreign conversation"))
  }

  @Test func itExpiresAfterFourIdleHours() async throws {
    let clock = ManualClock()
    let client = app(clock: clock)
    var reply = await client.send("a", from: alice, to: number)
    clock.advance(by: .seconds(4 * 3600 - 1))
    reply = await client.send("b", from: alice, to: number, headerFields: reply.cookieHeader)
    #expect(reply.texts == ["2 notes"])
    clock.advance(by: .seconds(4 * 3600 + 1))
    reply = await client.send("c", from: alice, to: number, headerFields: reply.cookieHeader)
    #expect(reply.texts == ["1 notes"])
  }

  @Test func stateOver4KBIsRefusedWithAClearError() async throws {
    let log = LogRecorder()
    let client = app(clock: ManualClock(), log: log)
    let big = String(repeating: "x", count: 3500)
    let reply = await client.send(big, from: alice, to: number)
    #expect(reply.status == .internalServerError)
    #expect(
      log.lines.contains {
        $0.level == .error && $0.metadata["parley.error"]?.contains("SessionError") == true
      })
    do {
      _ = try CookieSessionMiddleware(Notes.self, secrets: secrets).seal(
        .init(id: "x", created: 0, seen: 0, state: Notes(notes: [big])),
        key: ConversationKey(rawValue: "k"))
      Issue.record("sealed a state over 4 KB")
    } catch let error as SessionError {
      #expect(error.code == .stateTooLarge)
      #expect(error.description.contains("cookies hold at most 4096 bytes"))
    }
  }
}

/// The hand-written base64url that signs session cookies agrees with Foundation's base64.
struct Base64URLTests {
  @Test func encodesAndDecodesAsFoundationDoes() {
    var generator = SystemRandomNumberGenerator()
    for length in 0..<70 {
      let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
      let expected = Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
      let encoded = bytes.withUnsafeBytes { Base64URL.encode($0) }
      #expect(encoded == expected)
      #expect(Base64URL.decode(encoded) == bytes)
    }
  }

  @Test func refusesWhatIsNotBase64URL() {
    #expect(Base64URL.decode("ab+c") == nil)  // standard base64's alphabet
    #expect(Base64URL.decode("abc=") == nil)  // padding
    #expect(Base64URL.decode("a") == nil)  // a lone sixth of a byte
    #expect(Base64URL.decode("aQ") == [0x69])
    #expect(Base64URL.decode("ab") == nil)  // bits left over that are not zero
  }

  /// The session id's and tag's check accepts exactly RFC 4648's URL-safe alphabet, every byte
  /// tried: not `=`, `+` or `/`, and nothing outside ASCII.
  @Test func theAlphabetIsRFC4648sURLSafeOne() {
    let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    for byte in UInt8.min...UInt8.max {
      #expect(Base64URL.isAlphabet(byte) == alphabet.contains(byte), "byte \(byte)")
    }
  }
}
