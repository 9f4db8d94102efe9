/// How Twilio reads the body of a webhook's answer, by its `Content-Type`: `text/xml`,
/// `application/xml` and `text/html` as TwiML, `text/plain` as one message to send back. It
/// refuses any other type (Twilio's error 12300).
package enum TwilioReplyType: Sendable, Hashable {
  /// A TwiML document.
  case twiml
  /// One message, sent back to the sender.
  case plainText

  /// The media type of `contentType` without its parameters, in lower case: `text/xml` for
  /// `Text/XML; charset=utf-8`.
  static func mediaType(of contentType: String) -> String {
    (contentType.split(separator: ";", maxSplits: 1).first ?? "").trimmingASCIISpace().lowercased()
  }

  /// The media type of `contentType` as a message names it: `(none)` when there is none.
  package static func mediaTypeForMessages(of contentType: String) -> String {
    let mediaType = mediaType(of: contentType)
    return mediaType.isEmpty ? "(none)" : mediaType
  }

  /// How Twilio reads a body of type `contentType`; nil for a type it refuses.
  package init?(contentType: String) {
    switch Self.mediaType(of: contentType) {
    case "text/xml", "application/xml", "text/html": self = .twiml
    case "text/plain": self = .plainText
    default: return nil
    }
  }
}
