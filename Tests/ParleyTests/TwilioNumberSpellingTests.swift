import Parley
import Testing

struct TwilioNumberSpellingTests {
  /// Numbers as apps write them, the number they are sent from, and the address Twilio delivers
  /// to (its rule for `to`: without `+`, the sender's country code, in that country's local
  /// format).
  @Test(arguments: [
    ("+16175550123", "+14155550199", "+16175550123"),
    ("+1 (617) 555-0123", "+14155550199", "+16175550123"),
    ("(617) 555-0123", "+14155550199", "+16175550123"),
    ("617.555.0123", "+14155550199", "+16175550123"),
    ("1-617-555-0123", "+14155550199", "+16175550123"),
    ("011 44 7400 123456", "+14155550199", "+447400123456"),
    ("07400 123456", "+447700900123", "+447400123456"),
    ("0044 7400 123456", "+33612345678", "+447400123456"),
    ("06 1234 5678", "+390612345678", "+390612345678"),
    ("8 (912) 345-67-89", "+79001234567", "+79123456789"),
    ("06 20 123 4567", "+36301234567", "+36201234567"),
    ("030 1234567", "+4915112345678", "+49301234567"),
    ("whatsapp:+1 617 555 0123", "whatsapp:+14155550199", "whatsapp:+16175550123"),
    ("WhatsApp:+16175550123", "whatsapp:+14155550199", "whatsapp:+16175550123"),
    (" +16175550123 ", "+14155550199", "+16175550123"),
  ])
  func aNumberAsWrittenIsReadAsTwilioDeliversIt(written: String, sender: String, delivered: String)
  {
    let addresses = TwilioNumberSpelling.addressing(written, from: sender).recipients
    #expect(addresses.first == written)
    #expect(addresses.contains(delivered))
    // Every reading is E.164 (or the channel's address of one), and none is repeated.
    #expect(Set(addresses).count == addresses.count)
    for address in addresses.dropFirst() {
      let number = address.drop { $0 != "+" }
      #expect(number.first == "+" && number.dropFirst().allSatisfy(\.isASCII))
      #expect(number.dropFirst().allSatisfy(\.isNumber) && number.count <= 16)
    }
  }

  @Test func aNumberInE164HasNoOtherReadingAndNeitherHasWhatIsNotANumber() {
    #expect(
      TwilioNumberSpelling.addressing("+16175550123", from: "+447700900123").recipients == [
        "+16175550123"
      ])
    for written in ["alice", "+1617555012x", "messenger:1234567", "+", "", "1234567890123456"] {
      #expect(
        TwilioNumberSpelling.addressing(written, from: "+14155550199").recipients == [written])
    }
    // Without a sender in E.164, a number without + has only the reading that adds one.
    #expect(
      TwilioNumberSpelling.addressing("16175550123", from: nil).recipients == [
        "16175550123", "+16175550123",
      ])
    #expect(
      TwilioNumberSpelling.addressing("6175550123", from: "12345").recipients == [
        "6175550123", "+6175550123",
      ])
  }

  /// A number from one country written locally is not read in another's: a US number's
  /// readings from a US sender are all `+1…`.
  @Test func aLocalNumberIsReadInTheSendersCountryOnly() {
    let readings = TwilioNumberSpelling.addressing("(617) 555-0123", from: "+14155550199")
      .recipients
    #expect(readings == ["(617) 555-0123", "+16175550123"])
    let british = TwilioNumberSpelling.addressing("07400123456", from: "+447700900123").recipients
    #expect(british == ["07400123456", "+447400123456", "+4407400123456"])
    let italian = TwilioNumberSpelling.addressing("06 1234 5678", from: "+390612345678").recipients
    #expect(italian == ["06 1234 5678", "+39612345678", "+390612345678"])
  }

  /// The sending number is read too: in the number texted's country when there is one (the
  /// suppression's case), else in the recipient's (`mayText`'s).
  @Test func theSenderIsReadInTheNumberTextedsCountryOrElseTheRecipients() {
    let suppression = TwilioNumberSpelling.addressing(
      "(617) 555-0123", from: "(415) 555-0199", fallback: "+14155550100")
    #expect(suppression.recipients == ["(617) 555-0123", "+16175550123"])
    #expect(suppression.senders == ["(415) 555-0199", "+14155550199"])
    #expect(suppression.likeliestRecipient == "+16175550123")
    let query = TwilioNumberSpelling.addressing("+447400123456", from: "07700 900123")
    #expect(query.senders == ["07700 900123", "+447700900123", "+4407700900123"])
    #expect(TwilioNumberSpelling.addressing("+16175550123", from: nil).senders.isEmpty)
    #expect(TwilioNumberSpelling.addressing("alice", from: nil).likeliestRecipient == "alice")
  }

  @Test(arguments: [
    ("1", "1"), ("7", "7"), ("44", "44"), ("49", "49"), ("86", "86"), ("98", "98"),
    ("353", "353"), ("852", "852"), ("971", "971"), ("212", "212"), ("380", "380"),
    ("599", "599"), ("670", "670"), ("880", "880"), ("998", "998"),
  ])
  func countryCodesAreReadByTheirPrefixFreeLengths(code: String, expected: String) {
    let number = Substring(code + "123456789")
    #expect(TwilioNumberSpelling.countryCode(number) == Substring(expected))
  }
}
