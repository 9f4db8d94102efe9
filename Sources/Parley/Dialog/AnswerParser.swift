#if canImport(FoundationEssentials)
  public import FoundationEssentials
#else
  public import Foundation
#endif

/// Reads a typed answer from a text, or says why it cannot.
///
/// Built-ins: ``text``, ``integer(in:)``, ``decimal(in:)``, ``yesNo``, ``date``, ``email``; write
/// your own with ``init(description:_:)``.
public struct AnswerParser<Value: Sendable>: Sendable {
  /// What the parser accepts, for graphs and error messages ("a number from 1 to 10").
  public let description: String
  let parse: @Sendable (String) -> Result<Value, AnswerError>

  /// A custom parser.
  public init(
    description: String, _ parse: @escaping @Sendable (String) -> Result<Value, AnswerError>
  ) {
    self.description = description
    self.parse = parse
  }

  /// Parses `text` (trimmed first).
  public func callAsFunction(_ text: String) -> Result<Value, AnswerError> {
    parse(text.trimmingASCIISpace())
  }
}

/// Why an answer was not accepted; its message is sent back before the question is asked again.
public struct AnswerError: Error, Sendable, Hashable {
  /// The text sent to the user.
  public var message: String
  public init(_ message: String) { self.message = message }
}

extension AnswerParser where Value == String {
  /// Any non-empty text.
  public static var text: AnswerParser<String> {
    AnswerParser(description: "text") { text in
      text.isEmpty ? .failure(AnswerError("Please reply with some text.")) : .success(text)
    }
  }

  /// An email address (one `@`, a dot in the domain, no spaces).
  public static var email: AnswerParser<String> {
    AnswerParser(description: "an email address") { text in
      let parts = text.split(separator: "@", omittingEmptySubsequences: false)
      guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
        !parts[1].hasSuffix("."), !text.contains(" ")
      else { return .failure(AnswerError("That doesn't look like an email address. Try again?")) }
      return .success(text)
    }
  }
}

extension AnswerParser where Value == Int {
  /// A whole number within `range`.
  public static func integer(in range: ClosedRange<Int>) -> AnswerParser<Int> {
    AnswerParser(description: "a number from \(range.lowerBound) to \(range.upperBound)") { text in
      guard let number = Int(text.filter { $0 != "," }) else {
        return .failure(
          AnswerError("Please reply with a number from \(range.lowerBound) to \(range.upperBound).")
        )
      }
      guard range.contains(number) else {
        return .failure(
          AnswerError("Please reply with a number from \(range.lowerBound) to \(range.upperBound).")
        )
      }
      return .success(number)
    }
  }
}

extension AnswerParser where Value == Double {
  /// A decimal number within `range` (`3.5`, `3,5` and `$3.50` are accepted).
  public static func decimal(
    in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
  )
    -> AnswerParser<Double>
  {
    AnswerParser(description: "a number") { text in
      let cleaned = text.filter { $0 != "$" && $0 != "€" && $0 != "£" }.replacingOccurrences(
        of: ",", with: ".")
      guard let number = Double(cleaned), number.isFinite, range.contains(number) else {
        return .failure(AnswerError("Please reply with a number."))
      }
      return .success(number)
    }
  }
}

extension AnswerParser where Value == Bool {
  /// Yes or no: Y, YES, 1 for yes; N, NO, 2 for no (any case, trailing punctuation ignored).
  public static var yesNo: AnswerParser<Bool> {
    AnswerParser(description: "yes or no") { text in
      switch OptOutKeywords.normalizedWord(text) {
      case "Y", "YES", "1", "YEAH", "YEP", "SURE": .success(true)
      case "N", "NO", "2", "NOPE": .success(false)
      default: .failure(AnswerError("Please reply YES or NO."))
      }
    }
  }
}

extension AnswerParser where Value == Date {
  /// A date: `2026-11-22`, `11/22/2026` (US order), or `22.11.2026`.
  public static var date: AnswerParser<Date> {
    AnswerParser(description: "a date") { text in
      let separators: Set<Character> = ["-", "/", "."]
      let fields = text.split(whereSeparator: { separators.contains($0) }).compactMap { Int($0) }
      guard fields.count == 3 else {
        return .failure(AnswerError("Please reply with a date, like 2026-11-22."))
      }
      let (year, month, day): (Int, Int, Int)
      if text.contains("-") {
        (year, month, day) = (fields[0], fields[1], fields[2])
      } else if text.contains("/") {
        (year, month, day) = (fields[2], fields[0], fields[1])
      } else {
        (year, month, day) = (fields[2], fields[1], fields[0])
      }
      var calendar = Calendar(identifier: .gregorian)
      calendar.timeZone = TimeZone(identifier: "UTC")!
      let components = DateComponents(year: year, month: month, day: day)
      guard (1...12).contains(month), (1...31).contains(day), (1900...2200).contains(year),
        let date = calendar.date(from: components),
        calendar.component(.day, from: date) == day
      else { return .failure(AnswerError("Please reply with a date, like 2026-11-22.")) }
      return .success(date)
    }
  }
}
