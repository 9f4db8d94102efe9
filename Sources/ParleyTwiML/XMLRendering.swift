/// Serializes XML element trees as TwiML documents.
///
/// The output starts with the XML declaration and nothing before it, as Twilio requires.
/// Text and attribute values are escaped, and characters that XML 1.0 forbids (most C0 control
/// characters, U+FFFE and U+FFFF) are dropped rather than emitted.
public enum XMLRenderer {
  /// The declaration Twilio's helper libraries write.
  public static let declaration = #"<?xml version="1.0" encoding="UTF-8"?>"#

  /// Renders `root` as a complete document, declaration included.
  public static func document(_ root: XMLElement) -> String {
    var output = declaration
    output.reserveCapacity(256)
    render(root, into: &output)
    return output
  }

  /// Renders `element` (without a declaration) into `output`.
  public static func render(_ element: XMLElement, into output: inout String) {
    output += "<"
    output += element.name
    for attribute in element.attributes {
      output += " "
      output += attribute.name
      output += "=\""
      appendEscaped(attribute.value, attribute: true, into: &output)
      output += "\""
    }
    if element.children.isEmpty {
      output += "/>"
      return
    }
    output += ">"
    for child in element.children {
      switch child {
      case .element(let nested): render(nested, into: &output)
      case .text(let text): appendEscaped(text, attribute: false, into: &output)
      }
    }
    output += "</"
    output += element.name
    output += ">"
  }

  /// Whether XML 1.0 allows `scalar` in a document (the `Char` production).
  public static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x9, 0xA, 0xD: true
    case 0x20...0xD7FF: true
    case 0xE000...0xFFFD: true
    case 0x10000...0x10FFFF: true
    default: false
    }
  }

  /// Appends `text` escaped for character data or for a double-quoted attribute value.
  static func appendEscaped(_ text: String, attribute: Bool, into output: inout String) {
    // Fast path: nothing to escape or drop.
    if !text.unicodeScalars.contains(where: { needsWork($0, attribute: attribute) }) {
      output += text
      return
    }
    var scalars = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
      switch scalar {
      case "&": scalars.append(contentsOf: "&amp;".unicodeScalars)
      case "<": scalars.append(contentsOf: "&lt;".unicodeScalars)
      case ">": scalars.append(contentsOf: "&gt;".unicodeScalars)
      case "\"" where attribute: scalars.append(contentsOf: "&quot;".unicodeScalars)
      case "\t" where attribute: scalars.append(contentsOf: "&#9;".unicodeScalars)
      case "\n" where attribute: scalars.append(contentsOf: "&#10;".unicodeScalars)
      case "\r": scalars.append(contentsOf: "&#13;".unicodeScalars)
      default:
        if isAllowed(scalar) { scalars.append(scalar) }
      }
    }
    output += String(scalars)
  }

  private static func needsWork(_ scalar: Unicode.Scalar, attribute: Bool) -> Bool {
    switch scalar {
    case "&", "<", ">", "\r": true
    case "\"", "\t", "\n": attribute
    default: !isAllowed(scalar)
    }
  }
}
