import Parley
import ParleyTesting
import Testing

/// `trimmingASCIISpace()` skips its walk over characters when neither end is a white space byte;
/// it must answer as the walk does for every string, combining marks and CR LF included.
struct ASCIITrimTests {
  /// The walk over characters, as the method did it before the shortcut.
  func reference(_ text: some StringProtocol) -> String {
    let isSpace: (Character) -> Bool = {
      $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\u{0B}" || $0 == "\u{0C}"
        || $0 == "\r\n"
    }
    guard let first = text.firstIndex(where: { !isSpace($0) }) else { return "" }
    let last = text.lastIndex(where: { !isSpace($0) })!
    return String(text[first...last])
  }

  @Test(arguments: [
    "", " ", "a", " a ", "+14155551234", "\r\n+1 415\t", "\u{0B}x\u{0C}", " \u{301}a",
    "a \u{301}", "\u{301} a", "é ", " é", "\r\n", "\n\r", "a\r\n", "\u{85}a\u{A0}",
  ])
  func answersAsTheWalkOverCharacters(_ text: String) {
    #expect(text.trimmingASCIISpace() == reference(text))
    let padded = "[" + text + "]"
    let inner = padded.dropFirst().dropLast()
    #expect(inner.trimmingASCIISpace() == reference(inner))
  }

  @Test func answersAsTheWalkOverCharactersOnRandomStrings() {
    let pieces = [
      " ", "\t", "\r", "\n", "\r\n", "\u{0B}", "\u{0C}", "a", "Z", "1", "\u{301}", "é",
      "\u{A0}", "😀", "\u{200D}",
    ]
    var generator = SplitMix64(seed: 7)
    for _ in 0..<2_000 {
      let count = Int.random(in: 0...6, using: &generator)
      let text = (0..<count).map { _ in pieces.randomElement(using: &generator)! }.joined()
      #expect(text.trimmingASCIISpace() == reference(text), "\(Array(text.unicodeScalars))")
    }
  }
}
