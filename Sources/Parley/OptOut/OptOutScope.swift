/// Where an opt-out applies: one Twilio number, or a whole Messaging Service.
///
/// Twilio: when a recipient opts out of a number that belongs to a Messaging Service, they are
/// opted out of every message that service sends.
public enum OptOutScope: Sendable, Hashable, Codable, CustomStringConvertible {
  /// One Twilio number (or short code, or channel address such as `whatsapp:+1…`).
  case number(String)
  /// A Messaging Service (`MG…`).
  case messagingService(String)

  /// The scope an inbound message's keyword applies to: its Messaging Service when it has one,
  /// otherwise the number it was sent to.
  public static func of(_ message: InboundMessage) -> OptOutScope {
    if let service = message.messagingServiceSid { return .messagingService(service) }
    return .number(message.to)
  }

  /// Every scope that can forbid texting back the sender of `message`: the service and the number.
  public static func all(for message: InboundMessage) -> [OptOutScope] {
    var scopes: [OptOutScope] = [.number(message.to)]
    if let service = message.messagingServiceSid {
      scopes.insert(.messagingService(service), at: 0)
    }
    return scopes
  }

  /// The stored form: `number:+14155550199` or `service:MG…`.
  public var rawValue: String {
    switch self {
    case .number(let number): "number:\(number)"
    case .messagingService(let sid): "service:\(sid)"
    }
  }

  /// Reads the stored form.
  public init?(rawValue: String) {
    if rawValue.hasPrefix("number:"), rawValue.count > 7 {
      self = .number(String(rawValue.dropFirst(7)))
    } else if rawValue.hasPrefix("service:"), rawValue.count > 8 {
      self = .messagingService(String(rawValue.dropFirst(8)))
    } else {
      return nil
    }
  }

  public init(from decoder: any Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let scope = OptOutScope(rawValue: text) else {
      throw DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "bad scope \(text)"))
    }
    self = scope
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(rawValue)
  }

  /// The scope with its phone number masked, for logs.
  public var redacted: String {
    switch self {
    case .number(let number): "number:\(Redaction.phoneNumber(number))"
    case .messagingService: rawValue
    }
  }

  public var description: String { redacted }
}

/// What an opt-out event did.
public enum OptOutAction: String, Sendable, Hashable, Codable, CaseIterable {
  /// The subscriber opted out (STOP and its synonyms, or error 21610).
  case optOut = "opt-out"
  /// The subscriber opted back in (START, or YES/UNSTOP while opted out).
  case optIn = "opt-in"
  /// The subscriber asked for help (HELP, INFO).
  case help
  /// Free text that may revoke consent ("please stop texting me"), kept for a person to review.
  case flaggedForReview = "flagged-for-review"
}

/// Where an opt-out event came from.
public enum OptOutSource: String, Sendable, Hashable, Codable, CaseIterable {
  /// A keyword (or free text) texted by the subscriber.
  case keyword
  /// The app, through the API.
  case api
  /// A status callback with error 21610 (the carrier or Twilio refused delivery).
  case statusCallback = "status-callback"
  /// An imported list.
  case `import`
}

/// The current opt-out state of one subscriber in one scope.
public struct OptOutRecord: Sendable, Hashable, Codable {
  /// The subscriber's number.
  public var subscriber: String
  /// Where it applies.
  public var scope: OptOutScope
  /// Whether the subscriber is opted out.
  public var optedOut: Bool
  /// When it last changed.
  public var updatedAt: WallInstant
  /// The audit event that set it.
  public var eventSequence: Int64

  public init(
    subscriber: String, scope: OptOutScope, optedOut: Bool, updatedAt: WallInstant,
    eventSequence: Int64
  ) {
    self.subscriber = subscriber
    self.scope = scope
    self.optedOut = optedOut
    self.updatedAt = updatedAt
    self.eventSequence = eventSequence
  }
}
