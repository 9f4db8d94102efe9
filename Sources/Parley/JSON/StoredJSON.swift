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
    let tree = try JSONTreeEncoder.box(value, codingPath: [])
    // A fast path's text is the whole output.
    if case .text(let text) = tree { return text }
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
    return try JSONTreeDecoder.unbox(tree, as: T.self, codingPath: [])
  }
}

/// Reads a value of a type that `T` is known to be (after comparing metatypes), without a
/// dynamic cast.
@inline(__always)
func reinterpret<T, U>(_ value: T, as type: U.Type) -> U {
  withUnsafePointer(to: value) { UnsafeRawPointer($0).load(as: U.self) }
}

/// A type whose tree ``StoredJSON`` builds and reads itself, at any depth, without `Codable`'s
/// containers: for Parley's own types that every dialog turn decodes and encodes again. Nil from
/// either method hands the value to its `Codable` conformance, which then gives the result or the
/// error it always gave; a tree built here (or the text written, ``EncodedJSON/text(_:)``) must be
/// the one that conformance builds (or what ``JSONWriter`` writes for it), so the bytes are the
/// same either way.
protocol StoredJSONFastPath {
  /// What ``JSONWriter`` writes for the `encode(to:)` of `value` (a `T` which is `Self`: the
  /// encoder calls it through the metatype, so the value is not boxed in an existential): the
  /// tree that conformance builds, or the text written for it (``EncodedJSON/text(_:)``); nil to
  /// leave it to the conformance.
  static func storedJSON<T>(of value: T) -> EncodedJSON?
  /// The value in `node`, as a `T` (which is `Self`: the decoder calls it through the metatype of
  /// the type it was asked for), or nil.
  static func fromStoredJSON<T>(_ node: JSONNode, as type: T.Type) -> T?
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
