/// A node of a parsed or rendered XML document: an element or a run of character data.
public enum XMLNode: Sendable, Hashable {
  /// A nested element.
  case element(XMLElement)
  /// Character data, already unescaped.
  case text(String)
}

/// A minimal XML element tree, the common ground between TwiML values, the renderer and the parser.
///
/// Attributes keep their document order so that a parsed document renders back the way it came.
public struct XMLElement: Sendable, Hashable {
  /// The element's name, case-sensitive as TwiML requires.
  public var name: String
  /// The attributes in document order.
  public var attributes: [Attribute]
  /// The children in document order.
  public var children: [XMLNode]

  /// One `name="value"` pair.
  public struct Attribute: Sendable, Hashable {
    /// The attribute's name.
    public var name: String
    /// The attribute's unescaped value.
    public var value: String

    /// Creates an attribute.
    public init(name: String, value: String) {
      self.name = name
      self.value = value
    }
  }

  /// Creates an element.
  public init(name: String, attributes: [Attribute] = [], children: [XMLNode] = []) {
    self.name = name
    self.attributes = attributes
    self.children = children
  }

  /// The value of the attribute called `name`, if present.
  public subscript(attribute name: String) -> String? {
    attributes.first { $0.name == name }?.value
  }

  /// The child elements, skipping character data.
  public var elements: [XMLElement] {
    children.compactMap {
      if case .element(let element) = $0 { return element }
      return nil
    }
  }

  /// The concatenated character data directly inside this element.
  public var text: String {
    children.reduce(into: "") { result, node in
      if case .text(let text) = node { result += text }
    }
  }
}

extension XMLElement {
  /// Appends an attribute when `value` is not `nil`.
  mutating func appendAttribute(_ name: String, _ value: String?) {
    if let value { attributes.append(Attribute(name: name, value: value)) }
  }
}
