/// The keywords that opt a subscriber out, back in, or ask for help, matched as Twilio matches
/// them: the whole message, trimmed, compared without regard to case, one word only.
///
/// "STOP PLEASE" is not a keyword. Trailing punctuation is ignored ("Stop." and "STOP!" opt out):
/// consent may be revoked in any reasonable manner, so Parley errs on the side of honouring it.
/// The defaults cannot be removed; custom and per-language keywords are added to them, as Twilio's
/// Advanced Opt-Out allows.
public struct OptOutKeywords: Sendable, Hashable {
  /// Twilio's default opt-out keywords.
  public static let defaultOptOut: Set<String> = [
    "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE",
  ]
  /// Twilio's default opt-in keywords that always opt in.
  public static let defaultOptIn: Set<String> = ["START"]
  /// Opt-in keywords that opt in only a subscriber who is opted out; from anyone else they are
  /// ordinary messages (so a dialog can still ask yes/no questions).
  public static let defaultConditionalOptIn: Set<String> = ["YES", "UNSTOP"]
  /// Twilio's default help keywords.
  public static let defaultHelp: Set<String> = ["HELP", "INFO"]

  /// Every opt-out keyword, upper-cased.
  public private(set) var optOut: Set<String>
  /// Every unconditional opt-in keyword, upper-cased.
  public private(set) var optIn: Set<String>
  /// Opt-in keywords honoured only from an opted-out subscriber.
  public private(set) var conditionalOptIn: Set<String>
  /// Every help keyword, upper-cased.
  public private(set) var help: Set<String>

  /// The defaults plus any additional keywords (for example `ARRET` or `ALTO`).
  public init(
    additionalOptOut: Set<String> = [], additionalOptIn: Set<String> = [],
    additionalHelp: Set<String> = []
  ) {
    optOut = Self.defaultOptOut.union(additionalOptOut.map { $0.uppercased() })
    optIn = Self.defaultOptIn.union(additionalOptIn.map { $0.uppercased() })
    conditionalOptIn = Self.defaultConditionalOptIn
    help = Self.defaultHelp.union(additionalHelp.map { $0.uppercased() })
  }

  /// The keyword class of a message.
  public enum Match: Sendable, Hashable {
    case optOut(keyword: String)
    case optIn(keyword: String)
    /// YES or UNSTOP: an opt-in only if the sender is opted out.
    case conditionalOptIn(keyword: String)
    case help(keyword: String)
  }

  /// Classifies a message body; nil when it is not a keyword.
  public func match(_ body: String) -> Match? {
    guard let word = Self.normalizedWord(body) else { return nil }
    if optOut.contains(word) { return .optOut(keyword: word) }
    if optIn.contains(word) { return .optIn(keyword: word) }
    if conditionalOptIn.contains(word) { return .conditionalOptIn(keyword: word) }
    if help.contains(word) { return .help(keyword: word) }
    return nil
  }

  /// The body as one upper-cased word without surrounding white space or trailing punctuation;
  /// nil when it holds more than one word.
  static func normalizedWord(_ body: String) -> String? {
    var scalars = Substring(body).unicodeScalars[...]
    while let first = scalars.first, isWhitespace(first) { scalars = scalars.dropFirst() }
    while let last = scalars.last, isWhitespace(last) || trailingPunctuation.contains(last) {
      scalars = scalars.dropLast()
    }
    guard !scalars.isEmpty, !scalars.contains(where: isWhitespace) else {
      return nil
    }
    // The same scalars as a slice of the body (`body[range]` would round to characters):
    // rebuilding a string scalar by scalar was most of the time here.
    return Substring(scalars).uppercased()
  }

  /// Unicode's White_Space property, answered without the property tables for ASCII (every
  /// message's scalars go through this).
  static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
    if scalar.isASCII { return scalar == " " || (0x09...0x0D).contains(scalar.value) }
    return scalar.properties.isWhitespace
  }

  static let trailingPunctuation: Set<Unicode.Scalar> = Set(".!?,;:…。！？\"'”’)".unicodeScalars)
}

/// Flags free text that may revoke consent ("please stop texting me", "remove me from this list").
public struct ConsentRevocationDetector: Sendable {
  /// Phrases (lower-case, words separated by single spaces) that suggest a revocation.
  public var phrases: [String] {
    didSet { needles = Self.needles(phrases) }
  }

  /// Each phrase as the bytes searched for: its UTF-8 with a space at each end. Made when the
  /// phrases are set, not for every message.
  private var needles: [[UInt8]]

  /// The default phrases.
  public static let defaultPhrases = [
    "stop", "unsubscribe", "opt out", "optout", "opt me out", "remove me", "take me off",
    "don't text", "dont text", "do not text", "no more texts", "no more messages", "stop texting",
    "stop messaging", "leave me alone", "cancel",
  ]

  /// Creates a detector.
  public init(phrases: [String] = Self.defaultPhrases) {
    self.phrases = phrases
    needles = Self.needles(phrases)
  }

  private static func needles(_ phrases: [String]) -> [[UInt8]] {
    phrases.map { Array(" \($0) ".utf8) }
  }

  /// The phrase found in `body`, if any (matched on word boundaries).
  public func phrase(in body: String) -> String? {
    // The body as lower-case words of [a-z0-9'] separated by single spaces, with a space at
    // each end, in UTF-8: every message goes through this, so no Foundation string search.
    var text: [UInt8] = []
    text.reserveCapacity(body.utf8.count + 2)
    text.append(UInt8(ascii: " "))
    func add(_ scalar: Unicode.Scalar) {
      if Self.isWordScalar(scalar) {
        text.append(UInt8(scalar.value))
      } else if text.last != UInt8(ascii: " ") {
        text.append(UInt8(ascii: " "))
      }
    }
    for scalar in body.unicodeScalars {
      if scalar.isASCII {
        // ASCII lower-cases to itself plus 32 for A to Z: no lookup in Unicode's tables.
        let value = scalar.value
        add(Unicode.Scalar(UInt8(value | (0x41...0x5A ~= value ? 0x20 : 0))))
      } else if scalar == "’" {
        add("'")
      } else {
        // As `String.lowercased()` maps it: some scalars lower-case to ASCII (K, the Kelvin
        // sign, to k), some to several scalars.
        for lower in scalar.properties.lowercaseMapping.unicodeScalars { add(lower) }
      }
    }
    if text.last != UInt8(ascii: " ") { text.append(UInt8(ascii: " ")) }
    return zip(phrases, needles).first { Self.contains(text, $0.1) }?.0
  }

  /// Whether `needle` occurs in `text`. Not the standard library's `Collection.contains(_:)`:
  /// its generic search took 22% of the benchmark's memory-store row.
  private static func contains(_ text: [UInt8], _ needle: [UInt8]) -> Bool {
    guard let first = needle.first, needle.count <= text.count else { return needle.isEmpty }
    for start in 0...(text.count - needle.count)
    where text[start] == first && text[start..<(start + needle.count)].elementsEqual(needle) {
      return true
    }
    return false
  }

  private static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar {
    case "a"..."z", "0"..."9", "'": true
    default: false
    }
  }
}
