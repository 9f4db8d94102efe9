/// A verb of the voice TwiML subset Parley renders: `<Say>` and `<Sms>`.
public enum VoiceVerb: Sendable, Hashable {
  /// `<Say>`: text spoken to the caller.
  case say(Say)
  /// `<Sms>`: a text message sent during a call.
  case sms(Sms)
}

/// A voice TwiML document (`<Response>`) holding `<Say>` and `<Sms>` verbs.
public struct VoiceResponse: Sendable, Hashable {
  /// The verbs, executed from top to bottom.
  public var verbs: [VoiceVerb]

  /// Creates a document.
  public init(_ verbs: [VoiceVerb] = []) { self.verbs = verbs }

  /// The document as an element tree.
  public var xmlElement: XMLElement {
    XMLElement(
      name: "Response",
      children: verbs.map {
        switch $0 {
        case .say(let say): .element(say.xmlElement)
        case .sms(let sms): .element(sms.xmlElement)
        }
      })
  }

  /// The rendered document, starting with the XML declaration.
  public var xml: String { XMLRenderer.document(xmlElement) }

  /// Parses a voice document made of `<Say>` and `<Sms>` verbs.
  public init(xml: String) throws(TwiMLDecodingError) {
    let root: XMLElement
    do {
      root = try TwiMLXMLParser().parse(xml)
    } catch {
      throw TwiMLDecodingError(.malformedXML, element: nil, parseError: error)
    }
    guard root.name == "Response" else {
      throw TwiMLDecodingError(.rootIsNotResponse, element: root.name)
    }
    try root.checkNoText()
    var verbs: [VoiceVerb] = []
    for element in root.elements {
      switch element.name {
      case "Say": verbs.append(.say(try Say(xml: element)))
      case "Sms": verbs.append(.sms(try Sms(xml: element)))
      default: throw TwiMLDecodingError(.unknownElement, element: element.name)
      }
    }
    self.verbs = verbs
  }
}

/// The voice `<Say>` verb.
public struct Say: Sendable, Hashable {
  /// The text to speak.
  public var text: String
  /// The voice, for example `alice` or `Polly.Joanna`.
  public var voice: String?
  /// The language, for example `en-US`.
  public var language: String?
  /// How many times to repeat; `0` repeats until the call ends.
  public var loop: Int?

  /// Creates a `<Say>`.
  public init(_ text: String, voice: String? = nil, language: String? = nil, loop: Int? = nil) {
    self.text = text
    self.voice = voice
    self.language = language
    self.loop = loop
  }

  var xmlElement: XMLElement {
    var element = XMLElement(name: "Say")
    element.appendAttribute("voice", voice)
    element.appendAttribute("language", language)
    element.appendAttribute("loop", loop.map(String.init))
    element.children = [.text(text)]
    return element
  }

  init(xml element: XMLElement) throws(TwiMLDecodingError) {
    try element.checkAttributes(["voice", "language", "loop"])
    if let nested = element.elements.first {
      throw TwiMLDecodingError(.unknownElement, element: nested.name)
    }
    self.init(
      element.text.trimmingXMLSpace(), voice: element[attribute: "voice"],
      language: element[attribute: "language"], loop: element[attribute: "loop"].flatMap { Int($0) }
    )
  }
}

/// The voice `<Sms>` verb: sends a text message during a call (seed 000).
///
/// Its text must be shorter than 160 characters; no verb nests in it and it nests in no verb.
public struct Sms: Sendable, Hashable {
  /// The text to send; fewer than 160 characters.
  public var text: String
  /// The recipient; defaults to the caller (inbound) or the called party (outbound).
  public var to: String?
  /// The sender; defaults to the called party (inbound) or the calling party (outbound).
  public var from: String?
  /// A URL requested with `SmsStatus` and `SmsSid` once the message is enqueued; verbs after this
  /// one are unreachable.
  public var action: String?
  /// The method used to request ``action``.
  public var method: TwiMLMethod?
  /// A URL Twilio posts `SmsStatus` and `SmsSid` to when the message is sent or fails.
  public var statusCallback: String?

  /// Creates an `<Sms>`.
  public init(
    _ text: String, to: String? = nil, from: String? = nil, action: String? = nil,
    method: TwiMLMethod? = nil, statusCallback: String? = nil
  ) {
    self.text = text
    self.to = to
    self.from = from
    self.action = action
    self.method = method
    self.statusCallback = statusCallback
  }

  var xmlElement: XMLElement {
    var element = XMLElement(name: "Sms")
    element.appendAttribute("to", to)
    element.appendAttribute("from", from)
    element.appendAttribute("action", action)
    element.appendAttribute("method", method?.rawValue)
    element.appendAttribute("statusCallback", statusCallback)
    element.children = [.text(text)]
    return element
  }

  init(xml element: XMLElement) throws(TwiMLDecodingError) {
    try element.checkAttributes(["to", "from", "action", "method", "statusCallback"])
    if let nested = element.elements.first {
      throw TwiMLDecodingError(.nestedVerb, element: nested.name)
    }
    self.init(
      element.text.trimmingXMLSpace(), to: element[attribute: "to"],
      from: element[attribute: "from"], action: element[attribute: "action"],
      method: element[attribute: "method"].map(TwiMLMethod.init(rawValue:)),
      statusCallback: element[attribute: "statusCallback"])
  }
}
