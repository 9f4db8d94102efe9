import ParleyTwiML
import Testing

struct ParserTests {
  @Test func readsTwilioDocsExampleWithWhitespaceAndComments() throws {
    let xml = """
      <?xml version="1.0" encoding="UTF-8" ?>
      <!-- page located at http://example.com/sms_status.xml -->
      <Response>
          <Message>This is message 1 of 2.</Message>
          <!-- a comment -->
          <Message>
            This is message 2 of 2.
          </Message>
          <Redirect method="POST">https://example.com/next</Redirect>
      </Response>
      """
    let response = try MessagingResponse(xml: xml)
    #expect(
      response.messages.map(\.body) == ["This is message 1 of 2.", "This is message 2 of 2."])
    #expect(response.verbs.last == .redirect(Redirect("https://example.com/next", method: .post)))
  }

  @Test func readsEntitiesReferencesAndCDATA() throws {
    let xml =
      "<Response><Message>&lt;a&gt; &amp; &quot;&apos; &#65;&#x42; <![CDATA[<raw & text>]]></Message></Response>"
    let response = try MessagingResponse(xml: xml)
    #expect(response.messages[0].body == "<a> & \"' AB <raw & text>")
  }

  @Test func readsSingleQuotedAttributesAndSelfClosingRoot() throws {
    let response = try MessagingResponse(
      xml: "<Response><Message to='+1555' method='GET'>x</Message></Response>")
    #expect(response.messages[0].to == "+1555")
    #expect(response.messages[0].method == .get)
    #expect(try MessagingResponse(xml: "<?xml version=\"1.0\"?><Response/>").verbs.isEmpty)
  }

  @Test func wrongCaseIsAnUnknownElement() {
    #expect(throws: TwiMLDecodingError(.unknownElement, element: "message")) {
      try MessagingResponse(xml: "<Response><message>x</message></Response>")
    }
    #expect(throws: TwiMLDecodingError(.unknownAttribute, element: "Message@statuscallback")) {
      try MessagingResponse(xml: "<Response><Message statuscallback='/x'>x</Message></Response>")
    }
    #expect(throws: TwiMLDecodingError(.rootIsNotResponse, element: "response")) {
      try MessagingResponse(xml: "<response/>")
    }
  }

  @Test(arguments: [
    ("<Response><Message>x</Response>", TwiMLParseError.Code.mismatchedTag),
    ("<Response>", .unexpectedEnd),
    ("<!DOCTYPE x [<!ENTITY a 'b'>]><Response/>", .doctypeNotAllowed),
    ("<Response>&foo;</Response>", .invalidEntity),
    ("<Response>&#0;</Response>", .invalidEntity),
    ("<Response/><Response/>", .contentAfterRoot),
    ("hello", .textOutsideRoot),
    ("", .noRootElement),
    ("<Response a='1' a='2'/>", .duplicateAttribute),
    ("<Response a='1'b='2'/>", .unexpectedCharacter),
    ("<Response>\u{1}</Response>", .invalidCharacter),
    ("<1Response/>", .invalidName),
  ])
  func malformedDocumentsAreRefused(xml: String, code: TwiMLParseError.Code) {
    #expect {
      try TwiMLXMLParser().parse(xml)
    } throws: { error in
      (error as? TwiMLParseError)?.code == code
    }
  }

  @Test func invalidUTF8IsRefused() {
    #expect {
      try TwiMLXMLParser().parse(
        [UInt8]("<Response>".utf8) + [0xFF, 0xFE] + [UInt8]("</Response>".utf8))
    } throws: { error in
      (error as? TwiMLParseError)?.code == .invalidUTF8
    }
  }

  @Test func deepNestingIsRefusedWithoutRecursingForever() {
    let xml = String(repeating: "<a>", count: 100_000)
    #expect {
      try TwiMLXMLParser().parse(xml)
    } throws: { error in
      (error as? TwiMLParseError)?.code == .tooDeep
    }
  }

  @Test func voiceDocumentRejectsNestedVerbsInSms() {
    #expect(throws: TwiMLDecodingError(.nestedVerb, element: "Say")) {
      try VoiceResponse(xml: "<Response><Sms>hi<Say>no</Say></Sms></Response>")
    }
  }

  @Test func voiceDocumentRoundTrips() throws {
    let response = VoiceResponse([
      .say(Say("Hello", voice: "alice", language: "en-US", loop: 2)),
      .sms(Sms("Store Location: 123 Easy St.", to: "+1", from: "+2", statusCallback: "/cb")),
    ])
    #expect(try VoiceResponse(xml: response.xml) == response)
  }
}
