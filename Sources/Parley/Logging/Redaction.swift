/// Masks personal data before it reaches a log line.
public enum Redaction {
  /// Masks a phone number or channel address, keeping enough to tell numbers apart in a log.
  ///
  /// The channel prefix (`whatsapp:`), a leading `+`, the first two digits and the last two
  /// are kept; every other character becomes `*`. `+14155551234` becomes `+14*******34`.
  public static func phoneNumber(_ number: String) -> String {
    var prefix = ""
    var rest = Substring(number)
    if let colon = rest.firstIndex(of: ":") {
      prefix = String(rest[...colon])
      rest = rest[rest.index(after: colon)...]
    }
    if rest.first == "+" {
      prefix += "+"
      rest = rest.dropFirst()
    }
    let characters = Array(rest)
    guard characters.count > 4 else {
      return prefix + String(repeating: "*", count: characters.count)
    }
    return prefix + String(characters[..<2]) + String(repeating: "*", count: characters.count - 4)
      + String(characters[(characters.count - 2)...])
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
