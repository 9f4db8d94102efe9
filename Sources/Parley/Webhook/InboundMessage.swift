/// One inbound text as Twilio's messaging webhook describes it.
///
/// Decoded from the form-encoded body of a `POST` or the query string of a `GET`. Every parameter
/// is kept in ``parameters`` in the order it came, including ones Twilio adds in the future;
/// ``unknownParameters`` lists those this type does not model.
public struct InboundMessage: Sendable, Hashable {
  /// The 34-character message id (`MessageSid`, or the deprecated `SmsMessageSid`/`SmsSid`).
  public var messageSid: String?
  /// The account the message belongs to.
  public var accountSid: String?
  /// The Messaging Service that received the message, when the number belongs to one.
  public var messagingServiceSid: String?
  /// The sender: E.164 where possible, a raw caller id, or a channel address such as `whatsapp:+…`.
  public var from: String
  /// The recipient, in the same forms as ``from``.
  public var to: String
  /// The text, up to 1600 characters; empty when the message only carries media.
  public var body: String
  /// The media attached, in order (`MediaUrl{N}` with `MediaContentType{N}`).
  public var media: [Media]
  /// The number of segments the message arrived in.
  public var numSegments: Int?
  /// `SmsStatus` as sent with the webhook (usually `received`).
  public var smsStatus: String?
  /// The API version Twilio used.
  public var apiVersion: String?
  /// Where Twilio located the sender.
  public var fromLocation: Location
  /// Where Twilio located the recipient.
  public var toLocation: Location
  /// The keyword class Twilio detected when Advanced Opt-Out is on (`STOP`, `START`, `HELP`).
  public var optOutType: OptOutType?
  /// Every parameter as received, in order.
  public var parameters: FormParameters

  /// A media item of an inbound message.
  public struct Media: Sendable, Hashable {
    /// Where Twilio stores the media.
    public var url: String
    /// Its MIME type, such as `image/jpeg`.
    public var contentType: String?

    /// Creates a media item.
    public init(url: String, contentType: String?) {
      self.url = url
      self.contentType = contentType
    }
  }

  /// Geographic data Twilio looked up for a number; each field is optional text (zips keep
  /// their leading zeros).
  public struct Location: Sendable, Hashable {
    public var city: String?
    public var state: String?
    public var zip: String?
    public var country: String?

    /// Creates a location.
    public init(
      city: String? = nil, state: String? = nil, zip: String? = nil, country: String? = nil
    ) {
      self.city = city
      self.state = state
      self.zip = zip
      self.country = country
    }
  }

  /// Twilio's classification of an opt-out keyword, sent as `OptOutType`.
  public struct OptOutType: RawRepresentable, Sendable, Hashable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue.uppercased() }
    /// The sender opted out.
    public static let stop = OptOutType(rawValue: "STOP")
    /// The sender opted back in.
    public static let start = OptOutType(rawValue: "START")
    /// The sender asked for help.
    public static let help = OptOutType(rawValue: "HELP")
  }

  /// The most media items a message carries.
  public static let maximumMedia = 10

  /// The names this type models; anything else is in ``unknownParameters``.
  public static let knownParameterNames: Set<String> = [
    "MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "MessagingServiceSid", "From", "To",
    "Body", "NumMedia", "NumSegments", "SmsStatus", "ApiVersion", "FromCity", "FromState",
    "FromZip", "FromCountry", "ToCity", "ToState", "ToZip", "ToCountry", "OptOutType",
  ]

  /// Decodes a message from webhook parameters.
  ///
  /// - Throws: ``WebhookError`` when `From` or `To` is missing or empty, when `From`, `To` or a
  ///   SID holds a control character or `|`, or when `NumMedia` or `NumSegments` is not a number.
  public init(parameters: FormParameters) throws(WebhookError) {
    // One pass over the pairs, keeping each name's first value (as `parameters[name]` does), in
    // locals a switch fills: twenty lookups scanned the pairs twenty times, and a Dictionary of
    // first values, tried instead, cost about 5 µs more per turn (`ParleyBench pipeline`, store
    // none) in hashing and allocation.
    var from: String?
    var to: String?
    var messageSid: String?
    var smsMessageSid: String?
    var smsSid: String?
    var accountSid: String?
    var messagingServiceSid: String?
    var body: String?
    var numSegments: String?
    var numMedia: String?
    var smsStatus: String?
    var apiVersion: String?
    var fromLocation = Location()
    var toLocation = Location()
    var optOutType: String?
    var hasMedia = false
    func first(_ slot: inout String?, _ value: String) {
      if slot == nil { slot = value }
    }
    for pair in parameters {
      let value = pair.value
      let name = pair.name
      // By the name's length first, so that each name is compared as a string with the one or
      // few names of its length, not with each case in turn: a failed `==` is a call, and every
      // webhook's twenty-odd names each met about ten of them.
      switch name.utf8.count {
      case 2 where name == "To": first(&to, value)
      case 4 where name == "From": first(&from, value)
      case 4 where name == "Body": first(&body, value)
      case 5 where name == "ToZip": first(&toLocation.zip, value)
      case 6 where name == "SmsSid": first(&smsSid, value)
      case 6 where name == "ToCity": first(&toLocation.city, value)
      case 7 where name == "FromZip": first(&fromLocation.zip, value)
      case 7 where name == "ToState": first(&toLocation.state, value)
      case 8 where name == "NumMedia": first(&numMedia, value)
      case 8 where name == "FromCity": first(&fromLocation.city, value)
      case 9 where name == "SmsStatus": first(&smsStatus, value)
      case 9 where name == "FromState": first(&fromLocation.state, value)
      case 9 where name == "ToCountry": first(&toLocation.country, value)
      case 10 where name == "MessageSid": first(&messageSid, value)
      case 10 where name == "AccountSid": first(&accountSid, value)
      case 10 where name == "ApiVersion": first(&apiVersion, value)
      case 10 where name == "OptOutType": first(&optOutType, value)
      case 11 where name == "NumSegments": first(&numSegments, value)
      case 11 where name == "FromCountry": first(&fromLocation.country, value)
      case 13 where name == "SmsMessageSid": first(&smsMessageSid, value)
      case 19 where name == "MessagingServiceSid": first(&messagingServiceSid, value)
      default: if name.hasPrefix("MediaUrl") { hasMedia = true }
      }
    }
    func required(_ value: String?, _ name: String) throws(WebhookError) -> String {
      guard let value = value?.trimmingASCIISpace(), !value.isEmpty else {
        throw WebhookError(.missingParameter, "missing required parameter \(name)")
      }
      return value
    }
    func count(_ text: String?, _ name: String) throws(WebhookError) -> Int? {
      guard let text else { return nil }
      guard let number = Int(text.trimmingASCIISpace()), number >= 0 else {
        throw WebhookError(.invalidParameter, "parameter \(name) is not a count")
      }
      return number
    }
    self.from = try Self.identifier(required(from, "From"), "From")
    self.to = try Self.identifier(required(to, "To"), "To")
    self.messageSid = try Self.identifier(messageSid ?? smsMessageSid ?? smsSid, "MessageSid")
    self.accountSid = try Self.identifier(accountSid, "AccountSid")
    self.messagingServiceSid = try Self.identifier(
      messagingServiceSid.flatMap { $0.isEmpty ? nil : $0 }, "MessagingServiceSid")
    self.body = body ?? ""
    self.numSegments = try count(numSegments, "NumSegments")
    self.smsStatus = smsStatus
    self.apiVersion = apiVersion
    self.fromLocation = fromLocation
    self.toLocation = toLocation
    self.optOutType = optOutType.flatMap { $0.isEmpty ? nil : OptOutType(rawValue: $0) }
    let mediaCount = min(try count(numMedia, "NumMedia") ?? 0, Self.maximumMedia)
    var media: [Media] = []
    if hasMedia {
      for index in 0..<mediaCount {
        guard let url = parameters["MediaUrl\(index)"] else { continue }
        media.append(Media(url: url, contentType: parameters["MediaContentType\(index)"]))
      }
    }
    self.media = media
    self.parameters = parameters
  }

  /// Creates a message directly, for tests and adapters; ``parameters`` is filled to match.
  public init(
    from: String, to: String, body: String, messageSid: String? = nil, accountSid: String? = nil,
    messagingServiceSid: String? = nil, media: [Media] = []
  ) {
    var parameters = FormParameters()
    if let messageSid {
      parameters.append("MessageSid", messageSid)
      parameters.append("SmsMessageSid", messageSid)
      parameters.append("SmsSid", messageSid)
    }
    if let accountSid { parameters.append("AccountSid", accountSid) }
    if let messagingServiceSid { parameters.append("MessagingServiceSid", messagingServiceSid) }
    parameters.append("From", from)
    parameters.append("To", to)
    parameters.append("Body", body)
    parameters.append("NumMedia", String(media.count))
    for (index, item) in media.enumerated() {
      parameters.append("MediaUrl\(index)", item.url)
      if let type = item.contentType { parameters.append("MediaContentType\(index)", type) }
    }
    // The parameters were built from valid values, so decoding cannot fail.
    self = try! InboundMessage(parameters: parameters)
  }

  /// The parameters this type does not model, in order (media parameters count as modelled).
  public var unknownParameters: [FormParameters.Parameter] {
    parameters.pairs.filter { parameter in
      !Self.knownParameterNames.contains(parameter.name)
        && !Self.isMediaParameter(parameter.name)
    }
  }

  /// `value` if it may key a conversation, a dedupe record or an opt-out (inbound messages and
  /// status callbacks both check theirs here): no control character (SQLite's text binding ends
  /// at a NUL, so two values differing after one would be one key) and no `|`, which joins the
  /// parts of a ConversationKey. Twilio sends neither.
  static func identifier(_ value: String, _ name: String) throws(WebhookError) -> String {
    guard !value.containsControlCharacter, !value.utf8.contains(UInt8(ascii: "|")) else {
      throw WebhookError(.invalidParameter, "parameter \(name) holds a control character or |")
    }
    return value
  }

  static func identifier(_ value: String?, _ name: String) throws(WebhookError) -> String? {
    guard let value else { return nil }
    return try identifier(value, name) as String
  }

  static func isMediaParameter(_ name: String) -> Bool {
    for prefix in ["MediaUrl", "MediaContentType"] where name.hasPrefix(prefix) {
      let suffix = name.dropFirst(prefix.count)
      return !suffix.isEmpty && suffix.allSatisfy(\.isASCII) && Int(suffix) != nil
    }
    return false
  }
}
