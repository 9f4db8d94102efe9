extension String {
  /// The string without leading and trailing ASCII white space.
  func trimmingASCIISpace() -> String {
    nothingToTrim(utf8.first, utf8.last) ? self : trimmingASCIISpaceByCharacters()
  }
}

extension Substring {
  /// The string without leading and trailing ASCII white space.
  func trimmingASCIISpace() -> String {
    nothingToTrim(utf8.first, utf8.last) ? String(self) : trimmingASCIISpaceByCharacters()
  }
}

/// Whether a string whose first and last bytes are these has no white space to trim at either end.
/// Every white space character that ``StringProtocol/trimmingASCIISpaceByCharacters()`` trims
/// begins and ends with one of these bytes, so a string with neither end among them is returned as
/// it is, without the walk over its characters (grapheme breaking at both ends) that every
/// signature header, `From` and `To` and dialog answer went through.
private func nothingToTrim(_ first: UInt8?, _ last: UInt8?) -> Bool {
  func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
  guard let first, let last else { return false }
  return !isSpace(first) && !isSpace(last)
}

extension StringProtocol {
  /// The string without leading and trailing ASCII white space, found character by character
  /// (a space followed by a combining mark is one character, and not white space).
  func trimmingASCIISpaceByCharacters() -> String {
    let isSpace: (Character) -> Bool = {
      $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}"
        || $0 == "\r\n"
    }
    guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
    let last = lastIndex(where: { !isSpace($0) })!
    return String(self[first...last])
  }

  /// Whether the string starts with `prefix`, ASCII letters compared without their case (and no
  /// other character folded: "\u{212A}" is not "k" here, as it is to `lowercased()`). Compares
  /// bytes, with no lowercased copy.
  func hasPrefixIgnoringASCIICase(_ prefix: some StringProtocol) -> Bool {
    var bytes = utf8.makeIterator()
    for expected in prefix.utf8 {
      guard let byte = bytes.next() else { return false }
      // ASCII letters differ from their capitals by 0x20 alone.
      if Self.lowercasedASCII(byte) != Self.lowercasedASCII(expected) { return false }
    }
    return true
  }

  private static func lowercasedASCII(_ byte: UInt8) -> UInt8 {
    (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
  }

  /// Whether the string holds an ASCII control character (U+0000 to U+001F, or DEL). None is ever
  /// in a number or a SID, and GRDB's text binding ends a value at a NUL.
  var containsControlCharacter: Bool { utf8.contains { $0 < 0x20 || $0 == 0x7F } }
}

/// The name of the first of `fields` whose value holds a control character, if any: opt-out
/// events and opt-out questions are refused with one, as no number or SID holds one.
func firstFieldWithControlCharacter(_ fields: KeyValuePairs<String, String?>) -> String? {
  fields.first { $0.value?.containsControlCharacter ?? false }?.key
}
