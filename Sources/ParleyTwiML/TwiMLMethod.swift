/// The HTTP method Twilio uses to request an `action` or `<Redirect>` URL.
///
/// TwiML accepts `GET` and `POST` only; any other value can be represented (a parsed document may
/// carry one) and is reported by ``MessagingResponse/validate()``.
public struct TwiMLMethod: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral,
  CustomStringConvertible
{
  /// The attribute's text.
  public var rawValue: String

  /// Creates a method from its attribute text.
  public init(rawValue: String) { self.rawValue = rawValue }
  public init(stringLiteral value: String) { self.rawValue = value }

  /// `GET`.
  public static let get = TwiMLMethod(rawValue: "GET")
  /// `POST`, Twilio's default.
  public static let post = TwiMLMethod(rawValue: "POST")

  /// Whether TwiML accepts this method.
  public var isValid: Bool { self == .get || self == .post }

  public var description: String { rawValue }
}
