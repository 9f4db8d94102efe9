/// A message's delivery status, as `MessageStatus` reports it.
///
/// An open set: Twilio adds values over time, and an unknown one is kept as it came.
public struct MessageStatus: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
  public var rawValue: String
  public init(rawValue: String) { self.rawValue = rawValue }

  public static let accepted = MessageStatus(rawValue: "accepted")
  public static let scheduled = MessageStatus(rawValue: "scheduled")
  public static let queued = MessageStatus(rawValue: "queued")
  public static let sending = MessageStatus(rawValue: "sending")
  public static let sent = MessageStatus(rawValue: "sent")
  public static let failed = MessageStatus(rawValue: "failed")
  public static let delivered = MessageStatus(rawValue: "delivered")
  public static let undelivered = MessageStatus(rawValue: "undelivered")
  public static let receiving = MessageStatus(rawValue: "receiving")
  public static let received = MessageStatus(rawValue: "received")
  public static let read = MessageStatus(rawValue: "read")
  public static let partiallyDelivered = MessageStatus(rawValue: "partially_delivered")
  public static let canceled = MessageStatus(rawValue: "canceled")

  /// The values Twilio documents today.
  public static let documented: [MessageStatus] = [
    .accepted, .scheduled, .queued, .sending, .sent, .failed, .delivered, .undelivered,
    .receiving, .received, .read, .partiallyDelivered, .canceled,
  ]

  /// Whether the status is final: the message will not change status again.
  public var isFinal: Bool {
    [.delivered, .undelivered, .failed, .read, .canceled, .received].contains(self)
  }

  public var description: String { rawValue }
}

/// A delivery status callback: Twilio reporting that an outbound message changed status.
public struct StatusCallback: Sendable, Hashable {
  /// The message whose status changed.
  public var messageSid: String
  /// The new status (`MessageStatus`, or the deprecated `SmsStatus`).
  public var status: MessageStatus
  /// Twilio's error code on failure; 21610 means the recipient opted out.
  public var errorCode: Int?
  /// Twilio's error message, when sent.
  public var errorMessage: String?
  /// The account.
  public var accountSid: String?
  /// The sender of the outbound message.
  public var from: String?
  /// The recipient of the outbound message.
  public var to: String?
  /// The Messaging Service that sent the message, if any.
  public var messagingServiceSid: String?
  /// Every parameter as received, in order.
  public var parameters: FormParameters

  /// Twilio's error code for a message sent to a recipient who opted out.
  public static let recipientOptedOut = 21610

  /// Decodes a status callback.
  public init(parameters: FormParameters) throws(WebhookError) {
    guard let sid = parameters["MessageSid"] ?? parameters["SmsSid"], !sid.isEmpty else {
      throw WebhookError(.missingParameter, "missing required parameter MessageSid")
    }
    guard let status = parameters["MessageStatus"] ?? parameters["SmsStatus"], !status.isEmpty
    else {
      throw WebhookError(.missingParameter, "missing required parameter MessageStatus")
    }
    self.messageSid = try InboundMessage.identifier(sid, "MessageSid")
    self.status = MessageStatus(rawValue: status)
    if let code = parameters["ErrorCode"], !code.isEmpty {
      guard let number = Int(code) else {
        throw WebhookError(.invalidParameter, "parameter ErrorCode is not a number")
      }
      self.errorCode = number
    }
    self.errorMessage = parameters["ErrorMessage"]
    // These may become an opt-out's keys (error 21610): checked as an inbound message's are.
    self.accountSid = try InboundMessage.identifier(parameters["AccountSid"], "AccountSid")
    self.from = try InboundMessage.identifier(parameters["From"], "From")
    self.to = try InboundMessage.identifier(parameters["To"], "To")
    self.messagingServiceSid = try InboundMessage.identifier(
      parameters["MessagingServiceSid"], "MessagingServiceSid")
    self.parameters = parameters
  }
}
