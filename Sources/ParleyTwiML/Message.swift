/// The `<Message>` verb: one text (and optionally media) sent in reply.
///
/// A message holds either plain text (`<Message>Hi</Message>`) or nouns: one `<Body>` and up to
/// ten `<Media>` URLs (`<Message><Body>Hi</Body><Media>https://…</Media></Message>`).
public struct Message: Sendable, Hashable {
  /// The recipient; Twilio defaults to the sender of the inbound message.
  public var to: String?
  /// The sender; Twilio defaults to the number that received the inbound message.
  public var from: String?
  /// A URL Twilio requests after sending; verbs after this one become unreachable.
  public var action: String?
  /// The method used to request ``action``.
  public var method: TwiMLMethod?
  /// A URL Twilio posts delivery status changes to.
  public var statusCallback: String?
  /// The text. Rendered as a `<Body>` noun when ``media`` is not empty or ``usesBodyNoun`` is set.
  public var body: String?
  /// Media URLs, each rendered as a `<Media>` noun.
  public var media: [String]
  /// Render the text as a `<Body>` noun even without media.
  public var usesBodyNoun: Bool

  /// Creates a message.
  public init(
    _ body: String? = nil,
    media: [String] = [],
    to: String? = nil,
    from: String? = nil,
    action: String? = nil,
    method: TwiMLMethod? = nil,
    statusCallback: String? = nil,
    usesBodyNoun: Bool = false
  ) {
    self.body = body
    self.media = media
    self.to = to
    self.from = from
    self.action = action
    self.method = method
    self.statusCallback = statusCallback
    self.usesBodyNoun = usesBodyNoun
  }
}

extension Message {
  var xmlElement: XMLElement {
    var element = XMLElement(name: "Message")
    element.appendAttribute("to", to)
    element.appendAttribute("from", from)
    element.appendAttribute("action", action)
    element.appendAttribute("method", method?.rawValue)
    element.appendAttribute("statusCallback", statusCallback)
    if media.isEmpty && !usesBodyNoun {
      if let body, !body.isEmpty { element.children.append(.text(body)) }
    } else {
      if let body {
        element.children.append(.element(XMLElement(name: "Body", children: [.text(body)])))
      }
      for url in media {
        element.children.append(.element(XMLElement(name: "Media", children: [.text(url)])))
      }
    }
    return element
  }

  init(xml element: XMLElement) throws(TwiMLDecodingError) {
    try element.checkAttributes(["to", "from", "action", "method", "statusCallback"])
    self.init(
      to: element[attribute: "to"],
      from: element[attribute: "from"],
      action: element[attribute: "action"],
      method: element[attribute: "method"].map(TwiMLMethod.init(rawValue:)),
      statusCallback: element[attribute: "statusCallback"]
    )
    var text = ""
    for child in element.children {
      switch child {
      case .text(let run):
        text += run
      case .element(let noun) where noun.name == "Body":
        try noun.checkAttributes([])
        guard body == nil else { throw TwiMLDecodingError(.duplicateBody, element: "Body") }
        body = noun.text.trimmingXMLSpace()
        usesBodyNoun = true
      case .element(let noun) where noun.name == "Media":
        try noun.checkAttributes([])
        media.append(noun.text.trimmingXMLSpace())
      case .element(let other):
        throw TwiMLDecodingError(.unknownElement, element: other.name)
      }
    }
    let plain = text.trimmingXMLSpace()
    if !plain.isEmpty {
      // Text beside nouns is what the helper libraries write for message('text').media(url).
      body = body.map { plain + $0 } ?? plain
    }
  }
}
