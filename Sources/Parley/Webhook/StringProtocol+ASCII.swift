extension StringProtocol {
  /// The string without leading and trailing ASCII white space.
  func trimmingASCIISpace() -> String {
    let isSpace: (Character) -> Bool = {
      $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}"
        || $0 == "\r\n"
    }
    guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
    let last = lastIndex(where: { !isSpace($0) })!
    return String(self[first...last])
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
