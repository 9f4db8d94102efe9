/// How an SMS text is encoded and into how many segments a carrier splits it.
///
/// A text made only of GSM 03.38 characters is sent as GSM-7: 160 septets in one segment, 153
/// per segment of a longer message (extension characters such as `€` or `{` take two septets and are
/// never split between segments). One character outside that alphabet makes the whole message
/// UCS-2: 70 UTF-16 units in one segment, 67 per segment (a surrogate pair is never split).
public struct SegmentCount: Sendable, Hashable {
  /// The encoding a carrier uses for a text.
  public enum Encoding: String, Sendable, Hashable {
    /// The GSM 03.38 7-bit alphabet.
    case gsm7 = "GSM-7"
    /// UCS-2 (UTF-16 units).
    case ucs2 = "UCS-2"
  }

  /// The encoding.
  public var encoding: Encoding
  /// Septets (GSM-7) or UTF-16 units (UCS-2).
  public var units: Int
  /// The number of segments; 0 for an empty text.
  public var segments: Int

  /// Counts the segments of `text`.
  public init(_ text: String) {
    if text.unicodeScalars.allSatisfy({ GSM7.septets(for: $0) != nil }) {
      let costs = text.unicodeScalars.map { GSM7.septets(for: $0)! }
      self.init(encoding: .gsm7, costs: costs, single: 160, perPart: 153)
    } else {
      let costs = text.unicodeScalars.map { $0.value > 0xFFFF ? 2 : 1 }
      self.init(encoding: .ucs2, costs: costs, single: 70, perPart: 67)
    }
  }

  private init(encoding: Encoding, costs: [Int], single: Int, perPart: Int) {
    self.encoding = encoding
    self.units = costs.reduce(0, +)
    if units == 0 {
      segments = 0
    } else if units <= single {
      segments = 1
    } else {
      // Pack greedily: a character's units never straddle two segments.
      var count = 1
      var used = 0
      for cost in costs {
        if used + cost > perPart {
          count += 1
          used = 0
        }
        used += cost
      }
      segments = count
    }
  }

  /// The most units one segment holds when the text is sent as one segment.
  public var singleSegmentCapacity: Int { encoding == .gsm7 ? 160 : 70 }
}

enum GSM7 {
  /// The basic character set of GSM 03.38 (escape excluded).
  static let basic: Set<Unicode.Scalar> = Set(
    ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
      + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà").unicodeScalars)
  /// The extension table: each costs an escape plus the character.
  static let extended: Set<Unicode.Scalar> = Set("^{}\\[~]|€\u{0C}".unicodeScalars)

  static func septets(for scalar: Unicode.Scalar) -> Int? {
    if basic.contains(scalar) { return 1 }
    if extended.contains(scalar) { return 2 }
    return nil
  }
}
