import Parley
import ParleyTesting
import Testing

struct InboundMessageTests {
  /// A body captured in the shape Twilio posts, with a parameter Twilio may add one day.
  static let twilioBody =
    "ToCountry=US&ToState=CA&SmsMessageSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&NumMedia=2&ToCity=SAN+FRANCISCO"
    + "&FromZip=02108&SmsSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&FromState=MA&SmsStatus=received"
    + "&FromCity=BOSTON&Body=Hello+%F0%9F%91%8B+there&FromCountry=US&To=%2B14155550199"
    + "&MessagingServiceSid=MG9752274e9e519418a7406176694466fa&ToZip=94105&NumSegments=1"
    + "&ReferralNumMedia=0&MessageSid=SM1f0e8ae6ade43cb3c0ce4525424e404f"
    + "&AccountSid=AC9a3b9c6e8d5f4e7c2a1b0d9e8f7a6b5c&From=%2B16175550123"
    + "&MediaContentType0=image%2Fjpeg&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC1%2FMessages%2FSM1%2FMedia%2FME1"
    + "&MediaContentType1=image%2Fpng&MediaUrl1=https%3A%2F%2Fapi.twilio.com%2FME2"
    + "&ApiVersion=2010-04-01&OptOutType=STOP&FutureParam=42"

  @Test func decodesEveryDocumentedParameter() throws {
    let message = try InboundMessage(parameters: FormParameters(decoding: Self.twilioBody))
    #expect(message.messageSid == "SM1f0e8ae6ade43cb3c0ce4525424e404f")
    #expect(message.accountSid == "AC9a3b9c6e8d5f4e7c2a1b0d9e8f7a6b5c")
    #expect(message.messagingServiceSid == "MG9752274e9e519418a7406176694466fa")
    #expect(message.from == "+16175550123")
    #expect(message.to == "+14155550199")
    #expect(message.body == "Hello 👋 there")
    #expect(message.numSegments == 1)
    #expect(message.smsStatus == "received")
    #expect(message.apiVersion == "2010-04-01")
    #expect(message.fromLocation == .init(city: "BOSTON", state: "MA", zip: "02108", country: "US"))
    #expect(
      message.toLocation == .init(city: "SAN FRANCISCO", state: "CA", zip: "94105", country: "US"))
    #expect(message.optOutType == .stop)
    #expect(message.media.count == 2)
    #expect(message.media[0].contentType == "image/jpeg")
    #expect(message.media[1].url == "https://api.twilio.com/ME2")
  }

  /// `MessageSid` first, then `SmsMessageSid`, then `SmsSid`; of a name given twice, the first
  /// value.
  @Test func messageSidFallsBackInOrderAndTheFirstValueWins() throws {
    let both = try InboundMessage(
      parameters: FormParameters(decoding: "SmsSid=SM3&SmsMessageSid=SM2&From=1&To=2"))
    #expect(both.messageSid == "SM2")
    let all = try InboundMessage(
      parameters: FormParameters(
        decoding: "SmsSid=SM3&MessageSid=SM1&SmsMessageSid=SM2&From=1&To=2"))
    #expect(all.messageSid == "SM1")
    let twice = try InboundMessage(
      parameters: FormParameters(decoding: "From=1&From=9&To=2&To=8&Body=a&Body=b&ToZip=1&ToZip=2"))
    #expect(twice.from == "1")
    #expect(twice.to == "2")
    #expect(twice.body == "a")
    #expect(twice.toLocation.zip == "1")
  }

  @Test func keepsUnknownParametersInOrder() throws {
    let message = try InboundMessage(parameters: FormParameters(decoding: Self.twilioBody))
    #expect(message.unknownParameters.map(\.name) == ["ReferralNumMedia", "FutureParam"])
    #expect(message.parameters["FutureParam"] == "42")
  }

  @Test func zipCodesKeepLeadingZeros() throws {
    let message = try InboundMessage(
      parameters: FormParameters(decoding: "From=1&To=2&FromZip=00501"))
    #expect(message.fromLocation.zip == "00501")
  }

  @Test func fallsBackToDeprecatedSids() throws {
    let message = try InboundMessage(
      parameters: FormParameters(decoding: "From=1&To=2&SmsSid=SMabc"))
    #expect(message.messageSid == "SMabc")
  }

  @Test func whatsappAndRawCallerIdsAreKept() throws {
    let message = try InboundMessage(
      parameters: FormParameters(["From": "whatsapp:+14155550100", "To": " 12345 ", "Body": ""]))
    #expect(message.from == "whatsapp:+14155550100")
    #expect(message.to == "12345")
    #expect(message.body == "")
  }

  @Test(arguments: ["To=2", "From=1", "From=&To=2", "From=+++&To=2"])
  func missingFromOrToIsRefused(text: String) throws {
    let parameters = try FormParameters(decoding: text)
    #expect {
      try InboundMessage(parameters: parameters)
    } throws: { ($0 as? WebhookError)?.code == .missingParameter }
  }

  /// What keys a conversation, a dedupe record or an opt-out is refused with a control character
  /// (SQLite's text binding would end it at a NUL, making two senders one) or the `|` that joins a
  /// ConversationKey's parts: "+1|+2" sending to "+3" is not "+1" sending to "+2|+3".
  @Test(arguments: [
    ("From", "+16175550123\u{0}x"), ("To", "+14155550199\u{0}"), ("From", "+1|+2"),
    ("To", "+2|+3"), ("MessageSid", "SM1\u{0}SM2"), ("SmsSid", "SM\n1"),
    ("AccountSid", "AC\u{7F}"), ("MessagingServiceSid", "MG|1"), ("From", "\u{1B}[31m+1"),
  ])
  func identifiersWithAControlCharacterOrABarAreRefused(name: String, value: String) throws {
    var form = FormParameters()
    for (other, value) in [("From", "+16175550123"), ("To", "+14155550199"), ("Body", "hi")]
    where other != name {
      form.append(other, value)
    }
    form.append(name, value)
    #expect(throws: WebhookError.self) { try InboundMessage(parameters: form) }
    // The body may hold anything.
    let body = FormParameters([
      "From": "+16175550123", "To": "+14155550199", "Body": "a\u{0}b|c\u{1B}",
    ])
    #expect(try InboundMessage(parameters: body).body == "a\u{0}b|c\u{1B}")
  }

  @Test func nonNumericCountsAreRefused() throws {
    let parameters = try FormParameters(decoding: "From=1&To=2&NumMedia=lots")
    #expect {
      try InboundMessage(parameters: parameters)
    } throws: { ($0 as? WebhookError)?.code == .invalidParameter }
  }

  @Test func mediaIsCappedAtTenAndGapsSkipped() throws {
    var form = FormParameters(["From": "1", "To": "2", "NumMedia": "50"])
    for index in [0, 2, 11] { form.append("MediaUrl\(index)", "https://m/\(index)") }
    let message = try InboundMessage(parameters: form)
    #expect(message.media.map(\.url) == ["https://m/0", "https://m/2"])
  }

  @Test func statusCallbackDecodes() throws {
    let form = TwilioWebhookForm.status(
      messageSid: "SM1", status: .undelivered, from: "+1", to: "+2", errorCode: 21610)
    let callback = try StatusCallback(parameters: form)
    #expect(callback.status == .undelivered)
    #expect(callback.errorCode == StatusCallback.recipientOptedOut)
    #expect(!MessageStatus(rawValue: "some_future_status").isFinal)
    #expect(MessageStatus.documented.count == 13)
  }

  /// A status callback's numbers and SIDs may become an opt-out's keys (error 21610): refused as
  /// an inbound message's are.
  @Test(arguments: ["To", "From", "MessageSid", "AccountSid", "MessagingServiceSid"])
  func statusCallbackIdentifiersWithAControlCharacterAreRefused(name: String) throws {
    var form = FormParameters()
    let fields = [
      ("MessageSid", "SM1"), ("MessageStatus", "undelivered"), ("ErrorCode", "21610"),
      ("To", "+16175550123"), ("From", "+14155550199"),
    ]
    for (other, value) in fields where other != name { form.append(other, value) }
    form.append(name, "+1617555\u{0}0124")
    #expect(throws: WebhookError.self) { try StatusCallback(parameters: form) }
  }

  @Test func statusCallbackFallsBackToSmsStatusAndKeepsUnknownValues() throws {
    let callback = try StatusCallback(
      parameters: FormParameters(decoding: "SmsSid=SM1&SmsStatus=brand_new"))
    #expect(callback.status.rawValue == "brand_new")
    #expect(callback.errorCode == nil)
  }

  @Test func redactionMasksPhoneNumbers() {
    #expect(Redaction.phoneNumber("+14155551234") == "+14*******34")
    #expect(Redaction.phoneNumber("whatsapp:+447700900123") == "whatsapp:+44********23")
    #expect(Redaction.phoneNumber("123") == "***")
    #expect(RedactedPhoneNumber("+14155551234").description == "+14*******34")
    #expect(Redaction.phoneNumber("") == "")
    #expect(Redaction.phoneNumber("+") == "+")
    #expect(Redaction.phoneNumber("whatsapp:") == "whatsapp:")
    #expect(Redaction.phoneNumber("+12345") == "+12*45")
    #expect(Redaction.phoneNumber("ab:cd:+1234567") == "ab:cd*******67")  // the first colon
    // Not ASCII: masked by character.
    #expect(Redaction.phoneNumber("+٤١٥٥٥٥١٢٣٤") == "+٤١******٣٤")
    #expect(Redaction.phoneNumber("+1415\r\n5551234") == "+14********34")  // CRLF is one
  }
}
