/// Masks personal data before it reaches a log line.
public enum Redaction {
  /// Masks a phone number or channel address, keeping enough to tell numbers apart in a log.
  ///
  /// The channel prefix (`whatsapp:`), a leading `+`, the first two digits and the last two
  /// are kept; every other character becomes `*`. `+14155551234` becomes `+14*******34`.
  public static func phoneNumber(_ number: String) -> String {
    // Printable ASCII, as phone numbers are: one byte per character, masked as bytes. (Every line
    // a turn logs renders its numbers; splitting a `String` into `Character`s costs more than the
    // rest.)
    if number.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
      var bytes = Array(number.utf8)
      mask(&bytes, colon: UInt8(ascii: ":"), plus: UInt8(ascii: "+"), star: UInt8(ascii: "*"))
      return String(decoding: bytes, as: UTF8.self)
    }
    var characters = Array(number)
    mask(&characters, colon: ":", plus: "+", star: "*")
    return String(characters)
  }

  /// The rule, for bytes or characters: after the prefix up to the first `colon` and a `plus`,
  /// keep the first two and the last two (none of four or fewer) and star the rest.
  private static func mask<Element: Equatable>(
    _ elements: inout [Element], colon: Element, plus: Element, star: Element
  ) {
    var start = (elements.firstIndex(of: colon) ?? -1) + 1
    if start < elements.count, elements[start] == plus { start += 1 }
    let masked =
      elements.count - start > 4 ? (start + 2)..<(elements.count - 2) : start..<elements.count
    for index in masked { elements[index] = star }
  }
}

/// A phone number that masks itself (``Redaction/phoneNumber(_:)``) only when a log line prints
/// it: as `Logger.MetadataValue.stringConvertible(_:)`, a turn's metadata costs nothing unless a
/// handler renders it.
///
/// ```swift
/// logger[metadataKey: "parley.from"] = .stringConvertible(RedactedPhoneNumber(message.from))
/// ```
public struct RedactedPhoneNumber: CustomStringConvertible, Sendable, Hashable {
  private let number: String

  /// Wraps a phone number or channel address.
  public init(_ number: String) {
    self.number = number
  }

  /// The masked number.
  public var description: String { Redaction.phoneNumber(number) }
}
