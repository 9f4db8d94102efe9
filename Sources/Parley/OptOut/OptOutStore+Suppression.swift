import Logging
import ParleyTwiML

extension OptOutStore {
  /// `reply` without the messages it addresses to numbers opted out in their scope.
  ///
  /// A message without a `to` (or one to the sender from the number texted) goes to the sender,
  /// and `senderOptedOut` is asked, at most once and only then, whether they are opted out; any
  /// other is looked up in the store, from its `from` (or the number texted) and the message's
  /// Messaging Service, under every address Twilio may read its `to` and `from` as
  /// (``TwilioNumberSpelling/addressing(_:from:fallback:)``: `(617) 555-0123` from a `+1` number
  /// is `+16175550123`). A plain-text reply goes to the sender. A body rendered earlier is read as
  /// Twilio reads it (``Reply/Content/read()``): when nothing in it is dropped it is sent as it
  /// is, byte for byte; one that cannot be read is not sent at all, since whom it texts cannot be
  /// checked. What is dropped leaves an empty `<Response/>` (or the verbs left) and a log line
  /// with the recipient masked.
  func suppressingOptedOut(
    _ reply: Reply, for message: InboundMessage,
    senderOptedOut: () async throws -> Bool, logger: @autoclosure () -> Logger
  ) async throws -> Reply {
    let reading: Reply.Content.Reading
    do {
      reading = try reply.content.read()
    } catch {
      // Whom it texts cannot be checked, so nothing of it is sent.
      logger().error(
        "reply that cannot be read as TwiML dropped", metadata: ["parley.error": "\(error)"])
      return reply.with(MessagingResponse())
    }
    let response: MessagingResponse
    switch reading {
    case .twiml(let twiml):
      response = twiml
    case .text(let text):
      guard !text.isEmpty, try await senderOptedOut() else { return reply }
      logger().notice("reply to an opted-out number dropped")
      return reply.with(MessagingResponse())
    }
    var senderBlocked: Bool?
    func isSenderBlocked() async throws -> Bool {
      if let senderBlocked { return senderBlocked }
      let blocked = try await senderOptedOut()
      senderBlocked = blocked
      return blocked
    }
    var blockedPairs: [String: Bool] = [:]
    func isBlocked(_ outbound: Message) async throws -> Bool {
      // A reply to the sender from the number texted, as nearly every reply is.
      guard outbound.to != nil || outbound.from != nil else { return try await isSenderBlocked() }
      let recipient = outbound.to ?? message.from
      let sender = outbound.from ?? message.to
      try Self.checkQuery(
        subscriber: recipient, number: sender, messagingService: message.messagingServiceSid)
      var addressing = TwilioNumberSpelling.addressing(
        recipient, from: sender, fallback: message.to)
      // The sender's own address (as the webhook wrote it) is answered from the snapshot.
      if outbound.from == nil, let index = addressing.recipients.firstIndex(of: message.from) {
        addressing.recipients.remove(at: index)
        if try await isSenderBlocked() { return true }
      }
      guard !addressing.recipients.isEmpty else { return false }
      let pair = recipient + "|" + sender
      if let known = blockedPairs[pair] { return known }
      let blocked = try await !mayText(addressing, messagingService: message.messagingServiceSid)
      blockedPairs[pair] = blocked
      return blocked
    }
    var verbs: [MessagingVerb] = []
    for verb in response.verbs {
      guard case .message(let outbound) = verb else {
        verbs.append(verb)
        continue
      }
      if try await isBlocked(outbound) {
        logger().notice(
          "message to an opted-out number dropped",
          metadata: [
            "parley.recipient": "\(Redaction.phoneNumber(outbound.to ?? message.from))"
          ])
      } else {
        verbs.append(verb)
      }
    }
    guard verbs.count != response.verbs.count else { return reply }
    return reply.with(MessagingResponse(verbs))
  }
}

extension Reply {
  /// The reply with `response` as its body, and its header fields kept.
  fileprivate func with(_ response: MessagingResponse) -> Reply {
    var reply = self
    reply.content = .twiml(response)
    return reply
  }
}
