#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

extension StoredReply {
  /// The header fields as the stores keep them: a JSON array of name-value arrays.
  ///
  /// Written by hand: every turn stores its reply's `Set-Cookie`, and `JSONEncoder` cost more
  /// than the SQLite row's insert. Read back, on a retry only, with `JSONDecoder`
  /// (``headerFields(fromJSON:)``).
  package var headerFieldsJSON: String {
    var json = "["
    for (index, field) in headerFields.enumerated() {
      json += index == 0 ? "[" : ",["
      for (position, text) in field.enumerated() {
        if position > 0 { json += "," }
        Self.appendJSONString(text, to: &json)
      }
      json += "]"
    }
    return json + "]"
  }

  /// Header fields read back from ``headerFieldsJSON`` (none if the text is not such an array).
  package static func headerFields(fromJSON json: String) -> [[String]] {
    (try? headerFieldsDecoder.decode([[String]].self, from: Data(json.utf8))) ?? []
  }

  private static func appendJSONString(_ text: String, to json: inout String) {
    json += "\""
    var plain = Substring(text)
    while let special = plain.unicodeScalars.firstIndex(where: {
      $0 == "\"" || $0 == "\\" || $0.value < 0x20
    }) {
      json += plain[..<special]
      let scalar = plain.unicodeScalars[special]
      switch scalar {
      case "\"": json += "\\\""
      case "\\": json += "\\\\"
      case "\n": json += "\\n"
      case "\r": json += "\\r"
      case "\t": json += "\\t"
      default:
        let hex = String(scalar.value, radix: 16)
        json += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      }
      plain = plain[plain.unicodeScalars.index(after: special)...]
    }
    json += plain
    json += "\""
  }
}

// One decoder for every replay (as SessionMiddleware has for session states).
private let headerFieldsDecoder = JSONDecoder()
