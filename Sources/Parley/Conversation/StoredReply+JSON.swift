extension StoredReply {
  /// The header fields as the stores keep them: a JSON array of name-value arrays.
  ///
  /// Written straight to bytes with ``StoredJSON``'s string writer: every turn stores its reply's
  /// `Set-Cookie`, and going through an encoder cost more than the SQLite row's insert. Read back,
  /// on a retry only, by ``headerFields(fromJSON:)``.
  package var headerFieldsJSON: String {
    var json: [UInt8] = [UInt8(ascii: "[")]
    for (index, field) in headerFields.enumerated() {
      json.append(contentsOf: (index == 0 ? "[" : ",[").utf8)
      for (position, text) in field.enumerated() {
        if position > 0 { json.append(UInt8(ascii: ",")) }
        JSONWriter.writeString(text, into: &json)
      }
      json.append(UInt8(ascii: "]"))
    }
    json.append(UInt8(ascii: "]"))
    return String(decoding: json, as: UTF8.self)
  }

  /// Header fields read back from ``headerFieldsJSON`` (none if the text is not such an array).
  package static func headerFields(fromJSON json: String) -> [[String]] {
    (try? StoredJSON.decode([[String]].self, from: Array(json.utf8))) ?? []
  }
}
