#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

// MARK: - The tree being encoded

/// A value the encoder built. Containers are classes: a nested container or a super-encoder is
/// handed out first and filled in afterwards.
enum EncodedJSON {
  case null
  case bool(Bool)
  /// A number's JSON text.
  case number(String)
  case string(String)
  case array(EncodedArray)
  case object(EncodedObject)
  /// A super-encoder, whose value is known once it has encoded.
  case deferred(JSONTreeEncoder)
  /// A value's JSON text, written by a ``StoredJSONFastPath`` type as ``JSONWriter`` would have
  /// written its tree.
  case text([UInt8])
}

final class EncodedArray {
  var items: [EncodedJSON] = []
}

final class EncodedObject {
  var members: [(key: String, value: EncodedJSON)] = []
}

// MARK: - Encoder

final class JSONTreeEncoder: Encoder, SingleValueEncodingContainer {
  let codingPath: [any CodingKey]
  var userInfo: [CodingUserInfoKey: Any] { [:] }
  /// What was encoded; nil if nothing was (Foundation then writes `{}`).
  var value: EncodedJSON?

  init(codingPath: [any CodingKey]) {
    self.codingPath = codingPath
  }

  /// `value` as a tree: scalars, Foundation's special cases and ``StoredJSONFastPath`` types
  /// directly, anything else through its `encode(to:)`.
  static func box<T: Encodable>(
    _ value: T, codingPath: @autoclosure () -> [any CodingKey]
  ) throws -> EncodedJSON {
    if let scalar = try scalar(value, codingPath: codingPath()) { return scalar }
    if let fast = T.self as? any StoredJSONFastPath.Type, let encoded = fast.storedJSON(of: value) {
      return encoded
    }
    let encoder = JSONTreeEncoder(codingPath: codingPath())
    try value.encode(to: encoder)
    return encoder.value ?? .object(EncodedObject())
  }

  /// The scalars, as a generic value: arrays, dictionaries and optionals reach their elements
  /// through the generic `encode`.
  private static func scalar<T: Encodable>(
    _ value: T, codingPath: @autoclosure () -> [any CodingKey]
  ) throws -> EncodedJSON? {
    let type = T.self
    if type == String.self { return .string(reinterpret(value, as: String.self)) }
    if type == Int.self { return .number(String(reinterpret(value, as: Int.self))) }
    if type == Bool.self { return .bool(reinterpret(value, as: Bool.self)) }
    if type == Double.self {
      return try number(reinterpret(value, as: Double.self), codingPath: codingPath())
    }
    if type == Int64.self { return .number(String(reinterpret(value, as: Int64.self))) }
    if type == UInt8.self { return .number(String(reinterpret(value, as: UInt8.self))) }
    if type == Data.self {
      return .string(reinterpret(value, as: Data.self).base64EncodedString())
    }
    if type == Date.self {
      return try number(
        reinterpret(value, as: Date.self).timeIntervalSinceReferenceDate, codingPath: codingPath())
    }
    if type == URL.self { return .string(reinterpret(value, as: URL.self).absoluteString) }
    if type == Decimal.self {
      let decimal = reinterpret(value, as: Decimal.self)
      guard !decimal.isNaN else {
        throw EncodingError.invalidValue(
          decimal,
          .init(codingPath: codingPath(), debugDescription: "NaN is not representable in JSON"))
      }
      return .number(decimal.description)
    }
    if type == Float.self {
      return try number(reinterpret(value, as: Float.self), codingPath: codingPath())
    }
    if type == Int8.self { return .number(String(reinterpret(value, as: Int8.self))) }
    if type == Int16.self { return .number(String(reinterpret(value, as: Int16.self))) }
    if type == Int32.self { return .number(String(reinterpret(value, as: Int32.self))) }
    if type == UInt.self { return .number(String(reinterpret(value, as: UInt.self))) }
    if type == UInt16.self { return .number(String(reinterpret(value, as: UInt16.self))) }
    if type == UInt32.self { return .number(String(reinterpret(value, as: UInt32.self))) }
    if type == UInt64.self { return .number(String(reinterpret(value, as: UInt64.self))) }
    return nil
  }

  static func number<F: BinaryFloatingPoint & LosslessStringConvertible>(
    _ value: F, codingPath: @autoclosure () -> [any CodingKey]
  ) throws -> EncodedJSON {
    guard value.isFinite else {
      throw EncodingError.invalidValue(
        value,
        .init(codingPath: codingPath(), debugDescription: "\(value) is not representable in JSON"))
    }
    return .number(value.description)
  }

  // MARK: Encoder

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    let object: EncodedObject
    if case .object(let existing) = value {
      object = existing
    } else {
      object = EncodedObject()
      value = .object(object)
    }
    return KeyedEncodingContainer(JSONKeyedEncoding<Key>(object: object, codingPath: codingPath))
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    let array: EncodedArray
    if case .array(let existing) = value {
      array = existing
    } else {
      array = EncodedArray()
      value = .array(array)
    }
    return JSONUnkeyedEncoding(array: array, codingPath: codingPath)
  }

  func singleValueContainer() -> any SingleValueEncodingContainer { self }

  // MARK: SingleValueEncodingContainer

  func encodeNil() throws { value = .null }
  func encode(_ value: Bool) throws { self.value = .bool(value) }
  func encode(_ value: String) throws { self.value = .string(value) }
  func encode(_ value: Double) throws {
    self.value = try Self.number(value, codingPath: codingPath)
  }
  func encode(_ value: Float) throws {
    self.value = try Self.number(value, codingPath: codingPath)
  }
  func encode(_ value: Int) throws { self.value = .number(String(value)) }
  func encode(_ value: Int8) throws { self.value = .number(String(value)) }
  func encode(_ value: Int16) throws { self.value = .number(String(value)) }
  func encode(_ value: Int32) throws { self.value = .number(String(value)) }
  func encode(_ value: Int64) throws { self.value = .number(String(value)) }
  func encode(_ value: UInt) throws { self.value = .number(String(value)) }
  func encode(_ value: UInt8) throws { self.value = .number(String(value)) }
  func encode(_ value: UInt16) throws { self.value = .number(String(value)) }
  func encode(_ value: UInt32) throws { self.value = .number(String(value)) }
  func encode(_ value: UInt64) throws { self.value = .number(String(value)) }
  func encode<T: Encodable>(_ value: T) throws {
    self.value = try Self.box(value, codingPath: codingPath)
  }
}

struct JSONKeyedEncoding<Key: CodingKey>: KeyedEncodingContainerProtocol {
  let object: EncodedObject
  let codingPath: [any CodingKey]

  private func put(_ value: EncodedJSON, _ key: Key) {
    object.members.append((key.stringValue, value))
  }

  mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
  mutating func encode(_ value: Bool, forKey key: Key) throws { put(.bool(value), key) }
  mutating func encode(_ value: String, forKey key: Key) throws { put(.string(value), key) }
  mutating func encode(_ value: Double, forKey key: Key) throws {
    put(try JSONTreeEncoder.number(value, codingPath: codingPath + [key]), key)
  }
  mutating func encode(_ value: Float, forKey key: Key) throws {
    put(try JSONTreeEncoder.number(value, codingPath: codingPath + [key]), key)
  }
  mutating func encode(_ value: Int, forKey key: Key) throws { put(.number(String(value)), key) }
  mutating func encode(_ value: Int8, forKey key: Key) throws { put(.number(String(value)), key) }
  mutating func encode(_ value: Int16, forKey key: Key) throws { put(.number(String(value)), key) }
  mutating func encode(_ value: Int32, forKey key: Key) throws { put(.number(String(value)), key) }
  mutating func encode(_ value: Int64, forKey key: Key) throws { put(.number(String(value)), key) }
  mutating func encode(_ value: UInt, forKey key: Key) throws { put(.number(String(value)), key) }
  mutating func encode(_ value: UInt8, forKey key: Key) throws { put(.number(String(value)), key) }
  mutating func encode(_ value: UInt16, forKey key: Key) throws {
    put(.number(String(value)), key)
  }
  mutating func encode(_ value: UInt32, forKey key: Key) throws {
    put(.number(String(value)), key)
  }
  mutating func encode(_ value: UInt64, forKey key: Key) throws {
    put(.number(String(value)), key)
  }
  mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
    put(try JSONTreeEncoder.box(value, codingPath: codingPath + [key]), key)
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type, forKey key: Key
  ) -> KeyedEncodingContainer<NestedKey> {
    let nested = EncodedObject()
    put(.object(nested), key)
    return KeyedEncodingContainer(
      JSONKeyedEncoding<NestedKey>(object: nested, codingPath: codingPath + [key]))
  }

  mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    let nested = EncodedArray()
    put(.array(nested), key)
    return JSONUnkeyedEncoding(array: nested, codingPath: codingPath + [key])
  }

  mutating func superEncoder() -> any Encoder {
    superEncoder(key: JSONCodingKey(stringValue: "super"))
  }

  mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(key: key) }

  private func superEncoder(key: any CodingKey) -> any Encoder {
    let encoder = JSONTreeEncoder(codingPath: codingPath + [key])
    object.members.append((key.stringValue, .deferred(encoder)))
    return encoder
  }
}

struct JSONUnkeyedEncoding: UnkeyedEncodingContainer {
  let array: EncodedArray
  let codingPath: [any CodingKey]
  var count: Int { array.items.count }

  private var nextPath: [any CodingKey] { codingPath + [JSONCodingKey(index: count)] }

  mutating func encodeNil() throws { array.items.append(.null) }
  mutating func encode(_ value: Bool) throws { array.items.append(.bool(value)) }
  mutating func encode(_ value: String) throws { array.items.append(.string(value)) }
  mutating func encode(_ value: Double) throws {
    array.items.append(try JSONTreeEncoder.number(value, codingPath: nextPath))
  }
  mutating func encode(_ value: Float) throws {
    array.items.append(try JSONTreeEncoder.number(value, codingPath: nextPath))
  }
  mutating func encode(_ value: Int) throws { array.items.append(.number(String(value))) }
  mutating func encode(_ value: Int8) throws { array.items.append(.number(String(value))) }
  mutating func encode(_ value: Int16) throws { array.items.append(.number(String(value))) }
  mutating func encode(_ value: Int32) throws { array.items.append(.number(String(value))) }
  mutating func encode(_ value: Int64) throws { array.items.append(.number(String(value))) }
  mutating func encode(_ value: UInt) throws { array.items.append(.number(String(value))) }
  mutating func encode(_ value: UInt8) throws { array.items.append(.number(String(value))) }
  mutating func encode(_ value: UInt16) throws { array.items.append(.number(String(value))) }
  mutating func encode(_ value: UInt32) throws { array.items.append(.number(String(value))) }
  mutating func encode(_ value: UInt64) throws { array.items.append(.number(String(value))) }
  mutating func encode<T: Encodable>(_ value: T) throws {
    array.items.append(try JSONTreeEncoder.box(value, codingPath: nextPath))
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type
  ) -> KeyedEncodingContainer<NestedKey> {
    let path = nextPath
    let nested = EncodedObject()
    array.items.append(.object(nested))
    return KeyedEncodingContainer(JSONKeyedEncoding<NestedKey>(object: nested, codingPath: path))
  }

  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    let path = nextPath
    let nested = EncodedArray()
    array.items.append(.array(nested))
    return JSONUnkeyedEncoding(array: nested, codingPath: path)
  }

  mutating func superEncoder() -> any Encoder {
    let encoder = JSONTreeEncoder(codingPath: nextPath)
    array.items.append(.deferred(encoder))
    return encoder
  }
}

// MARK: - Writer

enum JSONWriter {
  static func write(_ value: EncodedJSON, into output: inout [UInt8]) {
    switch value {
    case .null: output.append(contentsOf: "null".utf8)
    case .bool(let flag): output.append(contentsOf: (flag ? "true" : "false").utf8)
    case .number(let text): output.append(contentsOf: text.utf8)
    case .string(let text): writeString(text, into: &output)
    case .array(let array):
      output.append(UInt8(ascii: "["))
      for (index, item) in array.items.enumerated() {
        if index > 0 { output.append(UInt8(ascii: ",")) }
        write(item, into: &output)
      }
      output.append(UInt8(ascii: "]"))
    case .object(let object):
      writeObject(object.members, into: &output)
    case .deferred(let encoder):
      // A super-encoder that encoded nothing: Foundation writes an empty object.
      write(encoder.value ?? .object(EncodedObject()), into: &output)
    case .text(let bytes): output.append(contentsOf: bytes)
    }
  }

  /// Members in the byte order of their keys; of a key encoded twice, the last value.
  private static func writeObject(
    _ members: [(key: String, value: EncodedJSON)], into output: inout [UInt8]
  ) {
    let order = members.indices.sorted { left, right in
      let a = members[left].key
      let b = members[right].key
      if a == b { return left < right }
      return precedes(a, b)
    }
    var first = true
    for (position, index) in order.enumerated() {
      let member = members[index]
      if position + 1 < order.count, members[order[position + 1]].key == member.key { continue }
      writeMember(member.key, first: first, into: &output)
      first = false
      write(member.value, into: &output)
    }
    // No member: `{}`.
    if first { output.append(UInt8(ascii: "{")) }
    output.append(UInt8(ascii: "}"))
  }

  /// Opens an object's member: `{` before the first, `,` before the others, then `"key":`. (The
  /// caller writes the value, and `}` after the last member.) Used by ``writeObject`` and by the
  /// types that write their text by hand (``StoredJSONFastPath``).
  static func writeMember(_ key: String, first: Bool = false, into output: inout [UInt8]) {
    output.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
    writeString(key, into: &output)
    output.append(UInt8(ascii: ":"))
  }

  /// Whether `a` comes before `b` in the byte order of their UTF-8. (`withUTF8` makes a bridged
  /// string contiguous first; a native one already is, and is not copied.)
  static func precedes(_ a: String, _ b: String) -> Bool {
    var a = a
    var b = b
    return a.withUTF8 { left in
      b.withUTF8 { right in
        for index in 0..<min(left.count, right.count) where left[index] != right[index] {
          return left[index] < right[index]
        }
        return left.count < right.count
      }
    }
  }

  private static let hexDigits = Array("0123456789abcdef".utf8)

  static func writeString(_ text: String, into output: inout [UInt8]) {
    output.append(UInt8(ascii: "\""))
    var text = text
    text.withUTF8 { bytes in
      // Runs of bytes that need no escape are copied whole: byte by byte, this was the largest
      // single function of the fsync'd server's own code.
      var run = 0
      for index in bytes.indices {
        let byte = bytes[index]
        guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else {
          continue
        }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<index]))
        run = index + 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"):
          output.append(contentsOf: [UInt8(ascii: "\\"), byte])
        case 0x0A: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0D: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0x09: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0x08: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
        case 0x0C: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
        default:
          output.append(contentsOf: [
            UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
            hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)],
          ])
        }
      }
      output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
    }
    output.append(UInt8(ascii: "\""))
  }
}
