/// The `<Redirect>` verb: hands control to the TwiML at another URL.
public struct Redirect: Sendable, Hashable {
  /// The URL whose TwiML Twilio fetches next.
  public var url: String
  /// The method used to request ``url``; Twilio defaults to `POST`.
  public var method: TwiMLMethod?

  /// Creates a redirect.
  public init(_ url: String, method: TwiMLMethod? = nil) {
    self.url = url
    self.method = method
  }
}

extension Redirect {
  var xmlElement: XMLElement {
    var element = XMLElement(name: "Redirect")
    element.appendAttribute("method", method?.rawValue)
    element.children = [.text(url)]
    return element
  }

  init(xml element: XMLElement) throws(TwiMLDecodingError) {
    try element.checkAttributes(["method"])
    guard element.elements.isEmpty else {
      throw TwiMLDecodingError(.unknownElement, element: element.elements[0].name)
    }
    self.init(
      element.text.trimmingXMLSpace(),
      method: element[attribute: "method"].map(TwiMLMethod.init(rawValue:)))
  }
}
