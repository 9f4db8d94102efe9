/// Which conversation an inbound message belongs to: the key its session is stored under.
///
/// By default the (From, To) pair, as Twilio keys its own cookies. Sender pools key by
/// (From, MessagingServiceSid) instead, and apps serving several accounts add the AccountSid.
public struct ConversationKey: Sendable, Hashable, Codable, CustomStringConvertible {
  /// The stable text a store indexes, such as `+16175550123|+14155550199`.
  public var rawValue: String

  /// Creates a key from its stored text.
  public init(rawValue: String) { self.rawValue = rawValue }

  /// How keys are made from messages.
  public struct Strategy: Sendable, Hashable {
    /// Key by the Messaging Service instead of the To number when the message has one.
    public var byMessagingService: Bool
    /// Prefix the key with the AccountSid.
    public var includesAccount: Bool

    /// Creates a strategy.
    public init(byMessagingService: Bool = false, includesAccount: Bool = false) {
      self.byMessagingService = byMessagingService
      self.includesAccount = includesAccount
    }

    /// (From, To): Twilio's own cookie scope.
    public static let fromTo = Strategy()
    /// (From, MessagingServiceSid), falling back to To: for sender pools.
    public static let fromMessagingService = Strategy(byMessagingService: true)

    /// The key of `message`'s conversation.
    public func key(for message: InboundMessage) -> ConversationKey {
      // From and To are already trimmed by InboundMessage; `whatsapp:` forms are kept as sent.
      // Written into one string of the right size: an array of the parts, joined, allocated
      // three times per turn.
      let account = includesAccount ? message.accountSid ?? "-" : nil
      let last =
        byMessagingService ? message.messagingServiceSid ?? message.to : message.to
      var key = ""
      key.reserveCapacity(
        (account.map { $0.utf8.count + 1 } ?? 0) + message.from.utf8.count + 1 + last.utf8.count)
      if let account {
        key += account
        key += "|"
      }
      key += message.from
      key += "|"
      key += last
      return ConversationKey(rawValue: key)
    }
  }

  /// The key with every phone number masked, for logs.
  public var redacted: String {
    rawValue.split(separator: "|", omittingEmptySubsequences: false)
      .map { part in
        part.hasPrefix("AC") || part.hasPrefix("MG")
          ? String(part) : Redaction.phoneNumber(String(part))
      }
      .joined(separator: "|")
  }

  public var description: String { redacted }
}
