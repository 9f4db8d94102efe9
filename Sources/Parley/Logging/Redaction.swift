/// Masks personal data before it reaches a log line.
public enum Redaction {
  /// Masks a phone number or channel address, keeping enough to tell numbers apart in a log.
  ///
  /// The channel prefix (`whatsapp:`), a leading `+`, the first two digits and the last two
  /// are kept; every other character becomes `*`. `+14155551234` becomes `+14*******34`.
  public static func phoneNumber(_ number: String) -> String {
    // Printable ASCII, as phone numbers are: one byte per character, masked in place. (A handler
    // such as StreamLogHandler renders a turn's numbers on every turn.)
    if number.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
      var bytes = Array(number.utf8)
      var start = (bytes.firstIndex(of: UInt8(ascii: ":")) ?? -1) + 1
      if start < bytes.count, bytes[start] == UInt8(ascii: "+") { start += 1 }
      let masked = bytes.count - start > 4 ? (start + 2)..<(bytes.count - 2) : start..<bytes.count
      for index in masked { bytes[index] = UInt8(ascii: "*") }
      return String(decoding: bytes, as: UTF8.self)
    }
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
