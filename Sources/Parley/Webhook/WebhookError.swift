public import HTTPTypes

/// A request Parley refuses, with the HTTP status it answers and a one-line reason.
///
/// Reasons never contain a phone number or a message body, so they are safe to log and to return.
public struct WebhookError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The kind of refusal.
  public enum Code: String, Sendable, Hashable {
    case missingParameter
    case invalidParameter
    case malformedBody
    case unsupportedContentType
    case bodyTooLarge
    case notFound
    case methodNotAllowed
    case missingSignature
    case forbidden
  }

  /// The kind of refusal.
  public var code: Code
  /// One line saying what was wrong.
  public var reason: String

  /// Creates an error.
  public init(_ code: Code, _ reason: String) {
    self.code = code
    self.reason = reason
  }

  /// The status Parley answers with.
  public var status: HTTPResponse.Status {
    switch code {
    case .missingParameter, .invalidParameter, .malformedBody: .badRequest
    case .unsupportedContentType: .unsupportedMediaType
    case .bodyTooLarge: .contentTooLarge
    case .notFound: .notFound
    case .methodNotAllowed: .methodNotAllowed
    case .missingSignature: .badRequest
    case .forbidden: .forbidden
    }
  }

  public var description: String { reason }
}
