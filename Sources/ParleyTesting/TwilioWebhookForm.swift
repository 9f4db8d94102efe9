public import Parley
import ParleyTwiML

/// Builds webhook parameters the way Twilio sends them, for tests and simulators.
public enum TwilioWebhookForm {
  /// A fresh 34-character id with the given two-letter prefix (`SM`, `AC`, `MG`).
  public static func sid(_ prefix: String, using generator: inout some RandomNumberGenerator)
    -> String
  {
    let digits = Array("0123456789abcdef")
    return prefix + String((0..<32).map { _ in digits[Int.random(in: 0..<16, using: &generator)] })
  }

  /// A fresh 34-character id with the given two-letter prefix, from the system generator.
  public static func sid(_ prefix: String) -> String {
    var generator = SystemRandomNumberGenerator()
    return sid(prefix, using: &generator)
  }

  /// The parameters of an inbound message webhook, in the order Twilio sends them.
  ///
  /// - Parameters:
  ///   - from: The sender.
  ///   - to: The Twilio number.
  ///   - body: The text.
  ///   - messageSid: The message id; a fresh one by default.
  ///   - accountSid: The account id.
  ///   - messagingServiceSid: The Messaging Service, if the number belongs to one.
  ///   - media: `(url, contentType)` pairs.
  ///   - extra: Parameters appended at the end (geo fields, `OptOutType`, future ones).
  public static func inbound(
    from: String, to: String, body: String,
    messageSid: String = sid("SM"),
    accountSid: String = "AC00000000000000000000000000000000",
    messagingServiceSid: String? = nil,
    media: [(url: String, contentType: String)] = [],
    extra: KeyValuePairs<String, String> = [:]
  ) -> FormParameters {
    var form = FormParameters()
    form.append("ToCountry", "US")
    form.append("ToState", "CA")
    form.append("SmsMessageSid", messageSid)
    form.append("NumMedia", String(media.count))
    form.append("ToCity", "SAN FRANCISCO")
    form.append("FromZip", "02108")
    form.append("SmsSid", messageSid)
    form.append("FromState", "MA")
    form.append("SmsStatus", "received")
    form.append("FromCity", "BOSTON")
    form.append("Body", body)
    form.append("FromCountry", "US")
    form.append("To", to)
    if let messagingServiceSid { form.append("MessagingServiceSid", messagingServiceSid) }
    form.append("ToZip", "94105")
    form.append("NumSegments", String(max(1, SegmentCount(body).segments)))
    form.append("MessageSid", messageSid)
    form.append("AccountSid", accountSid)
    form.append("From", from)
    for (index, item) in media.enumerated() {
      form.append("MediaContentType\(index)", item.contentType)
      form.append("MediaUrl\(index)", item.url)
    }
    form.append("ApiVersion", "2010-04-01")
    for (name, value) in extra { form.append(name, value) }
    return form
  }

  /// The parameters of a delivery status callback.
  public static func status(
    messageSid: String, status: MessageStatus, from: String, to: String, errorCode: Int? = nil,
    accountSid: String = "AC00000000000000000000000000000000"
  ) -> FormParameters {
    var form = FormParameters()
    form.append("SmsSid", messageSid)
    form.append("SmsStatus", status.rawValue)
    form.append("MessageStatus", status.rawValue)
    form.append("To", to)
    form.append("MessageSid", messageSid)
    form.append("AccountSid", accountSid)
    form.append("From", from)
    form.append("ApiVersion", "2010-04-01")
    if let errorCode { form.append("ErrorCode", String(errorCode)) }
    return form
  }
}
