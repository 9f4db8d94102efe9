/// How Twilio reads a phone number an app writes (a `<Message to=…>`, a number given to its API),
/// so that an opt-out recorded under a number's E.164 form holds whatever the spelling.
///
/// Twilio, on `to`: "Phone numbers should be formatted with a '+' and country code e.g.,
/// +16175551212 (E.164 format). For 'to' numbers without a '+', Twilio will use the same country
/// code as the 'from' number. Twilio will also attempt to handle locally formatted numbers for
/// that country code (e.g. (415) 555-1212 for US, 07400123456 for GB)." Local formats differ by
/// country (a leading 0 is dropped in GB and kept in Italy), so a number written without `+` has
/// more than one reading here, and an opt-out under any of them holds: sending nothing to a number
/// that might be opted out is the side to err on.
package enum TwilioNumberSpelling {
  /// A number as written: its channel prefix (`whatsapp:`, lowercased, or empty), whether it began
  /// with `+`, and its digits with the separators people write (spaces, `-`, `.`, `(`, `)`, `/`)
  /// left out.
  package struct Reading: Hashable, Sendable {
    package var channel: String
    package var plus: Bool
    package var digits: String

    /// `+` and the digits, after the channel: E.164 when it began with `+`.
    package var international: String? { plus ? channel + "+" + digits : nil }
  }

  /// E.164 allows 15 digits at most.
  static let maximumDigits = 15

  /// `written` read as a number, or nil when it holds anything but digits, one leading `+` and
  /// separators (after a channel prefix), or more than 15 digits.
  package static func read(_ written: String) -> Reading? {
    let trimmed = written.trimmingASCIISpace()
    var channel = ""
    var rest = Substring(trimmed)
    if trimmed.contains(":") {
      guard let address = channelAddress(trimmed) else { return nil }
      (channel, rest) = address
    }
    var plus = false
    if rest.first == "+" {
      plus = true
      rest = rest.dropFirst()
    }
    var digits = ""
    for scalar in rest.unicodeScalars {
      switch scalar {
      case "0"..."9": digits.unicodeScalars.append(scalar)
      case " ", "\t", "-", ".", "(", ")", "/", "\u{A0}": continue
      default: return nil
      }
    }
    guard !digits.isEmpty, digits.utf8.count <= maximumDigits else { return nil }
    return Reading(channel: channel, plus: plus, digits: digits)
  }

  /// `trimmed` split at its first `:` into a channel prefix (ASCII letters, lowercased, with its
  /// `:`) and the address after it; nil when it has no such prefix or nothing after it.
  private static func channelAddress(_ trimmed: String) -> (channel: String, address: Substring)? {
    guard let colon = trimmed.firstIndex(of: ":") else { return nil }
    let prefix = trimmed[..<colon]
    let address = trimmed[trimmed.index(after: colon)...]
    guard !prefix.isEmpty, !address.isEmpty, prefix.utf8.allSatisfy(isASCIILetter) else {
      return nil
    }
    return (prefix.lowercased() + ":", address)
  }

  /// The one key an imported subscriber is recorded under: a number in E.164 without its
  /// separators (`+1 (617) 555-0123` is `+16175550123`, `WhatsApp:+1 617…` is `whatsapp:+1617…`),
  /// or a channel address that is not a number (`messenger:…`) as written; nil for a number
  /// without `+`, whose country only the number it was texted from could tell, or for anything
  /// else.
  package static func recordedForm(_ written: String) -> String? {
    let trimmed = written.trimmingASCIISpace()
    if let number = read(trimmed) {
      if let international = number.international { return international }
      return number.channel.isEmpty ? nil : trimmed
    }
    return channelAddress(trimmed) == nil ? nil : trimmed
  }

  /// A number texted and the number it is sent from, each as written and then as every address
  /// Twilio may read it as (``addressing(_:from:fallback:)``).
  package struct Addressing: Hashable, Sendable {
    /// The recipient as written, then its E.164 readings, the likeliest first.
    package var recipients: [String]
    /// The sending number as written, then its readings; empty without one.
    package var senders: [String]

    /// Where Twilio most likely delivers: the recipient's likeliest reading, or as written.
    package var likeliestRecipient: String { recipients.dropFirst().first ?? recipients[0] }
  }

  /// Every address a message to `recipient` from `sender` may reach, and every number it may be
  /// sent from. Each number is read once; a number without `+` is read in a country: the
  /// recipient in the sender's (Twilio's rule for `to`), or `fallback`'s when the sender is not
  /// in E.164; the sender in `fallback`'s (the number texted, of the same account), or the
  /// recipient's.
  ///
  /// A number in E.164 with separators has one reading. One without `+` has a reading for an
  /// international prefix (`00`, `011` in North America), then one for each way its country
  /// writes numbers locally: the trunk prefix (`0`, `1` in North America, `8` in Russia and
  /// Kazakhstan, `06` in Hungary) dropped, then kept (as Italy keeps its `0`). Without a country,
  /// its only reading is the digits after a `+`. A channel address (`whatsapp:`) is read only with
  /// its `+`, as Twilio requires.
  package static func addressing(_ recipient: String, from sender: String?, fallback: String? = nil)
    -> Addressing
  {
    let recipientNumber = read(recipient)
    let senderNumber = sender.flatMap(read)
    let fallbackCode = fallback.flatMap(read).flatMap(countryCode(of:))
    let recipients = addresses(
      recipient, recipientNumber,
      country: senderNumber.flatMap(countryCode(of:)) ?? fallbackCode)
    guard let sender else { return Addressing(recipients: recipients, senders: []) }
    // The recipient's country: its own in E.164, or its likeliest reading's.
    let recipientCode =
      recipientNumber.flatMap(countryCode(of:))
      ?? recipients.dropFirst().first.flatMap(read).flatMap(countryCode(of:))
    return Addressing(
      recipients: recipients,
      senders: addresses(sender, senderNumber, country: fallbackCode ?? recipientCode))
  }

  /// `written`, then its readings (see ``addressing(_:from:fallback:)``) in the country `code`.
  private static func addresses(_ written: String, _ number: Reading?, country code: Substring?)
    -> [String]
  {
    var addresses = [written]
    func add(_ address: String) {
      if !addresses.contains(address) { addresses.append(address) }
    }
    guard let number else { return addresses }
    if let international = number.international {
      add(international)
      return addresses
    }
    guard number.channel.isEmpty else { return addresses }
    let digits = Substring(number.digits)
    var readings: [Substring] = []
    if digits.hasPrefix("00") { readings.append(digits.dropFirst(2)) }
    if let code {
      if code == "1" && digits.hasPrefix("011") { readings.append(digits.dropFirst(3)) }
      let trunk: [Substring] =
        switch code {
        case "1": ["1"]
        case "7": ["8", "0"]
        case "36": ["06", "0"]
        default: ["0"]
        }
      for prefix in trunk where digits.hasPrefix(prefix) {
        readings.append(code + digits.dropFirst(prefix.count))
      }
      readings.append(code + digits)
    } else {
      readings.append(digits)
    }
    for reading in readings where !reading.isEmpty && reading.utf8.count <= maximumDigits {
      add("+" + reading)
    }
    return addresses
  }

  /// The country calling code of a number in E.164 (not a channel address).
  private static func countryCode(of number: Reading) -> Substring? {
    number.plus && number.channel.isEmpty ? countryCode(Substring(number.digits)) : nil
  }

  /// The country calling code that begins `digits` (an E.164 number's, without its `+`): ITU-T
  /// E.164's codes are prefix-free, one digit for 1 and 7, two for the list below, three for the
  /// rest.
  package static func countryCode(_ digits: Substring) -> Substring? {
    guard let first = digits.first else { return nil }
    if first == "1" || first == "7" { return digits.prefix(1) }
    let two = digits.prefix(2)
    guard two.count == 2 else { return nil }
    if twoDigitCodes.contains(two) { return two }
    return digits.count >= 3 ? digits.prefix(3) : nil
  }

  /// The two-digit country calling codes (ITU-T E.164, Annex to ITU Operational Bulletin).
  static let twoDigitCodes: Set<Substring> = [
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
    "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
  ]

  private static func isASCIILetter(_ byte: UInt8) -> Bool {
    (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
  }
}
