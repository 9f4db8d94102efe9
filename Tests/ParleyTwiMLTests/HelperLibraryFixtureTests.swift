import Foundation
import ParleyTwiML
import Testing

/// Replies built with ParleyTwiML must be, as XML, what Twilio's official helper library renders.
/// The fixtures come from `Scripts/generate-twiml-fixtures.py` (twilio-python).
struct HelperLibraryFixtureTests {
  struct Fixtures: Decodable {
    struct Case: Decodable {
      var name: String
      var xml: String
    }
    var generator: String
    var cases: [Case]
  }

  static let fixtures: [String: String] = {
    let url = Bundle.module.url(
      forResource: "twilio-helper-twiml", withExtension: "json", subdirectory: "Fixtures")!
    let data = try! Data(contentsOf: url)
    let decoded = try! JSONDecoder().decode(Fixtures.self, from: data)
    return Dictionary(uniqueKeysWithValues: decoded.cases.map { ($0.name, $0.xml) })
  }()

  static let messaging: [(String, MessagingResponse)] = [
    ("plain-text", .message("Hello World!")),
    (
      "attributes",
      MessagingResponse([
        .message(
          Message(
            "Store Location: 123 Easy St.", to: "+14155550100", from: "+14155550199",
            action: "https://example.com/sms/status", method: .get,
            statusCallback: "https://example.com/cb?x=1&y=2"))
      ])
    ),
    (
      "body-and-media",
      MessagingResponse([
        .message(
          Message(
            "Here are your photos",
            media: [
              "https://demo.twilio.com/owl.png", "https://example.com/a.jpg?size=large&fmt=jpg",
            ],
            to: "+14155550100", action: "/next", method: .post))
      ])
    ),
    (
      "two-messages",
      MessagingResponse([
        .message(Message("This is message 1 of 2.")), .message(Message("This is message 2 of 2.")),
      ])
    ),
    (
      "redirect",
      MessagingResponse([
        .message(Message("Redirecting")),
        .redirect(Redirect("https://example.com/next", method: .get)),
      ])
    ),
    (
      "escaping",
      MessagingResponse([
        .message(
          Message(
            #"Tom & Jerry <3 "quotes" 'apostrophes' > less"#,
            statusCallback: #"https://x.test/?a="1"&b=<2>"#))
      ])
    ),
    ("empty", MessagingResponse()),
    ("unicode", .message("Café 😀 “curly” 你好")),
    (
      "media-only",
      MessagingResponse([.message(Message(media: ["https://example.com/only-media.gif"]))])
    ),
  ]

  static let voice: [(String, VoiceResponse)] = [
    (
      "voice-say-sms-action",
      VoiceResponse([
        .say(Say("Our store is located at 123 Easy St.")),
        .sms(Sms("Store Location: 123 Easy St.", action: "/smsHandler.php", method: .post)),
      ])
    ),
    (
      "voice-sms-attributes",
      VoiceResponse([
        .sms(
          Sms(
            "The king stay the king.", to: "+14105556789", from: "+14105551234",
            statusCallback: "/smsHandler.php"))
      ])
    ),
  ]

  @Test(arguments: messaging.map(\.0))
  func messagingReplyMatchesHelperLibrary(name: String) throws {
    let response = try #require(Self.messaging.first { $0.0 == name }?.1)
    let expected = try #require(Self.fixtures[name])
    #expect(try canonical(response.xml) == canonical(expected))
    #expect(response.xml.hasPrefix(#"<?xml version="1.0" encoding="UTF-8"?>"#))
  }

  @Test(arguments: voice.map(\.0))
  func voiceReplyMatchesHelperLibrary(name: String) throws {
    let response = try #require(Self.voice.first { $0.0 == name }?.1)
    let expected = try #require(Self.fixtures[name])
    #expect(try canonical(response.xml) == canonical(expected))
  }

  @Test func everyFixtureIsCovered() {
    let covered = Set(Self.messaging.map(\.0) + Self.voice.map(\.0))
    #expect(covered == Set(Self.fixtures.keys))
  }

  @Test(arguments: messaging.map(\.0))
  func helperLibraryOutputParsesToTheSameValue(name: String) throws {
    let response = try #require(Self.messaging.first { $0.0 == name }?.1)
    let parsed = try MessagingResponse(xml: try #require(Self.fixtures[name]))
    #expect(parsed.xml == response.xml)
  }
}

/// The document with attributes sorted, so that two documents compare as XML, not as text.
func canonical(_ xml: String) throws -> String {
  func sorted(_ element: XMLElement) -> XMLElement {
    var copy = element
    copy.attributes.sort { $0.name < $1.name }
    copy.children = element.children.map {
      if case .element(let child) = $0 { return .element(sorted(child)) }
      return $0
    }
    return copy
  }
  return XMLRenderer.document(sorted(try TwiMLXMLParser().parse(xml)))
}
