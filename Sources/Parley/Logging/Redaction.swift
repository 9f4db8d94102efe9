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
