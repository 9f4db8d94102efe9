import Logging
import ParleyTwiML

extension OptOutStore {
  /// `reply` without the messages it addresses to numbers opted out in their scope.
  ///
  /// A message without a `to` (or one to the sender from the number texted) goes to the sender,
  /// and `senderOptedOut` is asked, at most once and only then, whether they are opted out; any
  /// other is looked up in the store, from its `from` (or the number texted) and the message's
  /// Messaging Service, under every address Twilio may read its `to` and `from` as
  /// (``TwilioNumberSpelling``: `(617) 555-0123` from a `+1` number is `+16175550123`). A plain-text reply goes to the sender. A body rendered earlier is read as
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
    var verbs: [MessagingVerb] = []
    var senderBlocked: Bool?
    var blockedPairs: [String: Bool] = [:]
    for verb in response.verbs {
      guard case .message(let outbound) = verb else {
        verbs.append(verb)
        continue
      }
      let recipient = outbound.to ?? message.from
      let sender = outbound.from ?? message.to
      // Every address Twilio may read the recipient as; the sender's own (as the webhook wrote
      // it) is answered from the snapshot.
      var others: [String] = []
      if outbound.to != nil || outbound.from != nil {
        try Self.checkQuery(
          subscriber: recipient, number: sender, messagingService: message.messagingServiceSid)
        // A number without `+` takes the sending number's country code.
        let reference = outbound.from.flatMap { TwilioNumberSpelling.read($0)?.international }
        others = TwilioNumberSpelling.addresses(recipient, sentFrom: reference ?? message.to)
      }
      var blocked = false
      if outbound.from == nil, outbound.to == nil || others.contains(message.from) {
        others.removeAll { $0 == message.from }
        if let senderBlocked {
          blocked = senderBlocked
        } else {
          blocked = try await senderOptedOut()
          senderBlocked = blocked
        }
      }
      if !blocked && !others.isEmpty {
        let pair = recipient + "|" + sender
        if let known = blockedPairs[pair] {
          blocked = known
        } else {
          blocked = try await !mayText(
            anyOf: others, fromAnyOf: TwilioNumberSpelling.addresses(sender, sentFrom: message.to),
            messagingService: message.messagingServiceSid)
          blockedPairs[pair] = blocked
        }
      }
      if blocked {
        logger().notice(
          "message to an opted-out number dropped",
          metadata: ["parley.recipient": "\(Redaction.phoneNumber(recipient))"])
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
