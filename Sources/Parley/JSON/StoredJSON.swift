#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// The JSON Parley stores, session states and replies' header fields: Foundation's format,
/// written and read by a coder made for small values.
///
/// Every turn decodes its conversation's state and encodes it again, and stores its reply's
/// header fields. Foundation's
/// `JSONEncoder`/`JSONDecoder` took about a quarter of a turn's CPU on the in-memory store: their
/// generality (strategies, dynamic casts on every value, boxes) costs more than the few dozen
/// bytes of a typical state. This coder writes and reads the same JSON as Foundation's default
/// strategies do (`Data` as base64, `Date` as its reference-date seconds, `URL` as its absolute
/// string, `Decimal` as a number), so stored states from either read with the other.
///
/// Objects' keys are written in byte order, so equal states encode to equal bytes (the session
/// middleware only touches the expiry of an unchanged state).
package enum StoredJSON {
  /// Encodes `value` as JSON with its objects' keys sorted.
  package static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
    let tree =
      try (value as? any StoredJSONTopLevel)?.storedJSONTree()
      ?? JSONTreeEncoder.box(value, codingPath: [])
    var output: [UInt8] = []
    output.reserveCapacity(256)
    JSONWriter.write(tree, into: &output)
    return output
  }

  /// Decodes a `T` from JSON (any valid JSON, not only this coder's).
  package static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
    let tree: JSONNode
    do {
      tree = try bytes.withUnsafeBufferPointer { buffer in
        var parser = JSONParser(buffer)
        return try parser.parseDocument()
      }
    } catch let error as JSONParser.Failure {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: [], debugDescription: "invalid JSON: \(error.reason) at byte \(error.offset)")
      )
    }
    if let type = T.self as? any StoredJSONTopLevel.Type,
      let value = type.fromStoredJSON(tree, as: T.self)
    {
      return value
    }
    return try JSONTreeDecoder.unbox(tree, as: T.self, codingPath: [])
  }
}

/// Reads a value of a type that `T` is known to be (after comparing metatypes), without a
/// dynamic cast.
@inline(__always)
func reinterpret<T, U>(_ value: T, as type: U.Type) -> U {
  withUnsafePointer(to: value) { UnsafeRawPointer($0).load(as: U.self) }
}

/// Keys of super-encoders and array positions.
struct JSONCodingKey: CodingKey {
  let stringValue: String
  let intValue: Int?

  init(stringValue: String) {
    self.stringValue = stringValue
    intValue = nil
  }

  init(intValue: Int) {
    stringValue = String(intValue)
    self.intValue = intValue
  }

  init(index: Int) {
    stringValue = "Index \(index)"
    intValue = index
  }
}
