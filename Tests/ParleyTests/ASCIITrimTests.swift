import ParleyTesting
import Testing

@testable import Parley

/// `trimmingASCIISpace()` skips its walk over characters when neither end is a white space byte;
/// it must answer as the walk (`trimmingASCIISpaceByCharacters()`) does for every string,
/// combining marks and CR LF included.
struct ASCIITrimTests {
  @Test(arguments: [
    "", " ", "a", " a ", "+14155551234", "\r\n+1 415\t", "\u{0B}x\u{0C}", " \u{301}a",
    "a \u{301}", "\u{301} a", "é ", " é", "\r\n", "\n\r", "a\r\n", "\u{85}a\u{A0}",
  ])
  func answersAsTheWalkOverCharacters(_ text: String) {
    #expect(text.trimmingASCIISpace() == text.trimmingASCIISpaceByCharacters())
    let padded = "[" + text + "]"
    let inner = padded.dropFirst().dropLast()
    #expect(inner.trimmingASCIISpace() == inner.trimmingASCIISpaceByCharacters())
  }

  /// What the walk itself answers: ASCII white space goes, a space that a combining mark joins
  /// (one character, not white space) and Unicode's other spaces stay.
  @Test func trimsASCIIWhiteSpaceOnly() {
    #expect(" a ".trimmingASCIISpace() == "a")
    #expect("\r\n+1 415\t".trimmingASCIISpace() == "+1 415")
    #expect(" \t\r\n".trimmingASCIISpace() == "")
    #expect(" \u{301}a ".trimmingASCIISpace() == " \u{301}a")
    #expect("\u{A0}a\u{85}".trimmingASCIISpace() == "\u{A0}a\u{85}")
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
      #expect(
        text.trimmingASCIISpace() == text.trimmingASCIISpaceByCharacters(),
        "\(Array(text.unicodeScalars))")
    }
  }
}
