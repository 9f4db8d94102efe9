import ParleyTwiML
import Testing

struct RenderingTests {
  @Test func documentStartsWithTheDeclarationAndNothingBefore() {
    let xml = MessagingResponse.message("hi").xml
    #expect(xml.utf8.first == UInt8(ascii: "<"))
    #expect(
      xml == #"<?xml version="1.0" encoding="UTF-8"?><Response><Message>hi</Message></Response>"#)
  }

  @Test func charactersXMLForbidsAreDroppedNeverEmitted() throws {
    let nasty = "a\u{0}b\u{1}c\u{8}d\u{B}e\u{C}f\u{1F}g\u{FFFE}h\u{FFFF}i"
    let xml = MessagingResponse([.message(Message(nasty, to: "+1\u{7}555"))]).xml
    for scalar in xml.unicodeScalars {
      #expect(XMLRenderer.isAllowed(scalar), "emitted U+\(String(scalar.value, radix: 16))")
    }
    let parsed = try MessagingResponse(xml: xml)
    #expect(parsed.messages[0].body == "abcdefghi")
    #expect(parsed.messages[0].to == "+1555")
  }

  @Test func attributeWhitespaceAndQuotesRoundTrip() throws {
    let url = "https://x.test/?q=\"a b\"\t&n=1\n2\r3<>'"
    let response = MessagingResponse([
      .redirect(Redirect(url, method: .get)), .message(Message("x", action: url)),
    ])
    let parsed = try MessagingResponse(xml: response.xml)
    #expect(parsed.messages[0].action == url)
  }

  @Test func textKeepsLineBreaks() throws {
    let text = "line one\nline two\r\nline three & more"
    let parsed = try MessagingResponse(xml: MessagingResponse.message(text).xml)
    #expect(parsed.messages[0].body == text)
  }

  @Test func namesAreCaseSensitiveCamelCase() {
    let xml = MessagingResponse([.message(Message("x", statusCallback: "/cb"))]).xml
    #expect(xml.contains("statusCallback=\"/cb\""))
    #expect(xml.contains("<Message"))
  }

  @Test func bodyNounWhenAsked() {
    let xml = MessagingResponse([.message(Message("Hello World!", usesBodyNoun: true))]).xml
    #expect(xml.contains("<Message><Body>Hello World!</Body></Message>"))
  }
}
