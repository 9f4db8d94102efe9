/// Text a dialog sends, which may interpolate earlier answers:
/// `"Thanks, \(\.name)! How old are you?"`. A missing answer renders as an empty string.
public struct Prompt<Answers: Sendable>: Sendable, ExpressibleByStringInterpolation {
  enum Part: Sendable {
    case literal(String)
    case answer(@Sendable (Answers) -> String, name: String)
  }

  let parts: [Part]

  /// The prompt's text for `answers`.
  public func render(_ answers: Answers) -> String {
    parts.reduce(into: "") { text, part in
      switch part {
      case .literal(let literal): text += literal
      case .answer(let render, _): text += render(answers)
      }
    }
  }

  /// The prompt with placeholders for answers (`{name}`), for graphs and lints.
  public var template: String {
    parts.reduce(into: "") { text, part in
      switch part {
      case .literal(let literal): text += literal
      case .answer(_, let name): text += "{\(name)}"
      }
    }
  }

  public init(stringLiteral value: String) { parts = [.literal(value)] }

  public init(stringInterpolation: StringInterpolation) { parts = stringInterpolation.parts }

  /// Builds an interpolated prompt.
  public struct StringInterpolation: StringInterpolationProtocol {
    var parts: [Part] = []

    public init(literalCapacity: Int, interpolationCount: Int) {}

    public mutating func appendLiteral(_ literal: String) {
      if !literal.isEmpty { parts.append(.literal(literal)) }
    }

    /// Interpolates an answer.
    public mutating func appendInterpolation<Value>(
      _ keyPath: any KeyPath<Answers, Value> & Sendable
    ) {
      parts.append(
        .answer({ answers in Self.describe(answers[keyPath: keyPath]) }, name: keyPathName(keyPath))
      )
    }

    /// Interpolates plain text.
    public mutating func appendInterpolation(_ text: String) {
      parts.append(.literal(text))
    }

    /// Interpolates a number or another value.
    public mutating func appendInterpolation<Value: CustomStringConvertible>(_ value: Value) {
      parts.append(.literal(value.description))
    }

    static func describe(_ value: Any) -> String {
      if let optional = value as? any OptionalProtocol { return optional.wrappedDescription }
      return "\(value)"
    }
  }
}

protocol OptionalProtocol {
  var wrappedDescription: String { get }
}

extension Optional: OptionalProtocol {
  var wrappedDescription: String {
    switch self {
    case .some(let value): Prompt<Int>.StringInterpolation.describe(value)
    case .none: ""
    }
  }
}

/// A key path's last component, such as `age` for `\Survey.age`.
func keyPathName(_ keyPath: AnyKeyPath) -> String {
  let text = String(describing: keyPath)
  guard let dot = text.lastIndex(of: ".") else { return text }
  return String(text[text.index(after: dot)...]).replacingOccurrences(of: "?", with: "")
}

extension String {
  fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
    split(separator: Character(target), omittingEmptySubsequences: false).joined(
      separator: replacement)
  }
}
