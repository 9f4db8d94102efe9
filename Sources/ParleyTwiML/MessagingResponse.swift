/// A verb of a messaging TwiML document.
public enum MessagingVerb: Sendable, Hashable {
  /// `<Message>`.
  case message(Message)
  /// `<Redirect>`.
  case redirect(Redirect)
}

/// A TwiML document for Programmable Messaging: the `<Response>` root and its verbs, in order.
///
/// ```swift
/// let reply = MessagingResponse([
///   .message(Message("Thanks! We got your photo.", media: ["https://example.com/ok.png"])),
/// ])
/// reply.xml  // <?xml version="1.0" encoding="UTF-8"?><Response><Message>…
/// ```
public struct MessagingResponse: Sendable, Hashable {
  /// The verbs, executed by Twilio from top to bottom.
  public var verbs: [MessagingVerb]

  /// Creates a document.
  public init(_ verbs: [MessagingVerb] = []) {
    self.verbs = verbs
  }

  /// A document that sends one plain-text message.
  public static func message(_ text: String) -> MessagingResponse {
    MessagingResponse([.message(Message(text))])
  }

  /// The `<Message>` verbs, in order.
  public var messages: [Message] {
    verbs.compactMap {
      if case .message(let message) = $0 { return message }
      return nil
    }
  }

  /// The document as an element tree.
  public var xmlElement: XMLElement {
    XMLElement(
      name: "Response",
      children: verbs.map {
        switch $0 {
        case .message(let message): .element(message.xmlElement)
        case .redirect(let redirect): .element(redirect.xmlElement)
        }
      })
  }

  /// The rendered document, starting with the XML declaration.
  public var xml: String { XMLRenderer.document(xmlElement) }

  /// Parses a messaging TwiML document.
  ///
  /// Names are case-sensitive as Twilio reads them: `<message>` is an unknown element.
  public init(xml: String) throws(TwiMLDecodingError) {
    let root: XMLElement
    do {
      root = try TwiMLXMLParser().parse(xml)
    } catch {
      throw TwiMLDecodingError(.malformedXML, element: nil, parseError: error)
    }
    try self.init(root: root)
  }

  /// Reads a parsed `<Response>` element.
  public init(root: XMLElement) throws(TwiMLDecodingError) {
    guard root.name == "Response" else {
      throw TwiMLDecodingError(.rootIsNotResponse, element: root.name)
    }
    try root.checkAttributes([])
    try root.checkNoText()
    var verbs: [MessagingVerb] = []
    for element in root.elements {
      switch element.name {
      case "Message": verbs.append(.message(try Message(xml: element)))
      case "Redirect": verbs.append(.redirect(try Redirect(xml: element)))
      default: throw TwiMLDecodingError(.unknownElement, element: element.name)
      }
    }
    self.verbs = verbs
  }
}

/// Why an XML document is not valid TwiML.
public struct TwiMLDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The kind of problem.
  public enum Code: String, Sendable, Hashable {
    case malformedXML = "malformed XML"
    case rootIsNotResponse = "the root element is not <Response>"
    case unknownElement = "unknown element"
    case unknownAttribute = "unknown attribute"
    case duplicateBody = "more than one <Body>"
    case unexpectedText = "unexpected text"
    case nestedVerb = "a verb cannot be nested"
  }

  /// The kind of problem.
  public var code: Code
  /// The element or attribute concerned, when there is one.
  public var element: String?
  /// The XML parser's error for ``Code/malformedXML``.
  public var parseError: TwiMLParseError?

  /// Creates an error.
  public init(_ code: Code, element: String?, parseError: TwiMLParseError? = nil) {
    self.code = code
    self.element = element
    self.parseError = parseError
  }

  public var description: String {
    var text = code.rawValue
    if let element { text += " (\(element))" }
    if let parseError { text += ": \(parseError)" }
    return text
  }
}

extension XMLElement {
  func checkAttributes(_ allowed: Set<String>) throws(TwiMLDecodingError) {
    for attribute in attributes where !allowed.contains(attribute.name) {
      throw TwiMLDecodingError(.unknownAttribute, element: "\(name)@\(attribute.name)")
    }
  }

  func checkNoText() throws(TwiMLDecodingError) {
    if !text.trimmingXMLSpace().isEmpty {
      throw TwiMLDecodingError(.unexpectedText, element: name)
    }
  }
}

extension String {
  /// The string without leading and trailing XML white space (space, tab, CR, LF).
  func trimmingXMLSpace() -> String {
    let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    let scalars = unicodeScalars
    guard let first = scalars.firstIndex(where: { !isSpace($0) }),
      let last = scalars.lastIndex(where: { !isSpace($0) })
    else { return "" }
    return String(scalars[first...last])
  }
}
