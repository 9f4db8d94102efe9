#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A parsed JSON value.
enum JSONNode {
  case null
  case bool(Bool)
  /// A number's text, checked against JSON's grammar; converted to the type asked for.
  case number(String)
  case string(String)
  case array([JSONNode])
  case object([(key: String, value: JSONNode)])

  var kind: String {
    switch self {
    case .null: "null"
    case .bool: "a boolean"
    case .number: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
  }
}

// MARK: - Parser

/// RFC 8259 JSON: one value, UTF-8, nesting at most ``maximumDepth`` deep (so hostile bytes
/// cannot exhaust the stack). Like Foundation's parser, it also takes a comma after the last
/// member of an object or array.
struct JSONParser {
  struct Failure: Error {
    let reason: String
    let offset: Int
  }

  static let maximumDepth = 512

  private let bytes: UnsafeBufferPointer<UInt8>
  private var position = 0

  init(_ bytes: UnsafeBufferPointer<UInt8>) {
    self.bytes = bytes
  }

  mutating func parseDocument() throws -> JSONNode {
    let value = try parseValue(depth: 0)
    skipWhitespace()
    guard position == bytes.count else { throw fail("unexpected bytes after the value") }
    return value
  }

  private func fail(_ reason: String) -> Failure { Failure(reason: reason, offset: position) }

  private mutating func skipWhitespace() {
    while position < bytes.count {
      switch bytes[position] {
      case 0x20, 0x09, 0x0A, 0x0D: position += 1
      default: return
      }
    }
  }

  private mutating func parseValue(depth: Int) throws -> JSONNode {
    skipWhitespace()
    guard position < bytes.count else { throw fail("unexpected end") }
    switch bytes[position] {
    case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
    case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"):
      try expect("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expect("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expect("null")
      return .null
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
    default: throw fail("unexpected byte")
    }
  }

  private mutating func expect(_ literal: StaticString) throws {
    let count = literal.utf8CodeUnitCount
    let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
    guard bytes.count - position >= count,
      expected.elementsEqual(bytes[position..<(position + count)])
    else { throw fail("invalid literal") }
    position += count
  }

  private mutating func parseObject(depth: Int) throws -> JSONNode {
    guard depth <= Self.maximumDepth else { throw fail("nested too deeply") }
    var members: [(key: String, value: JSONNode)] = []
    if opens(closing: UInt8(ascii: "}")) { return .object(members) }
    // Stored states are small objects: one allocation for up to eight members, not four.
    members.reserveCapacity(8)
    repeat {
      skipWhitespace()
      guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
        throw fail("expected a key")
      }
      let key = try parseString()
      skipWhitespace()
      guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
        throw fail("expected ':'")
      }
      position += 1
      members.append((key, try parseValue(depth: depth)))
    } while try !closes(UInt8(ascii: "}"))
    return .object(members)
  }

  private mutating func parseArray(depth: Int) throws -> JSONNode {
    guard depth <= Self.maximumDepth else { throw fail("nested too deeply") }
    var items: [JSONNode] = []
    if opens(closing: UInt8(ascii: "]")) { return .array(items) }
    repeat {
      items.append(try parseValue(depth: depth))
    } while try !closes(UInt8(ascii: "]"))
    return .array(items)
  }

  /// Steps over a container's opening bracket: true if `closing` follows at once (it is empty).
  private mutating func opens(closing: UInt8) -> Bool {
    position += 1
    return skip(closing)
  }

  /// Steps over `closing` if it comes next (after whitespace).
  private mutating func skip(_ closing: UInt8) -> Bool {
    skipWhitespace()
    guard position < bytes.count, bytes[position] == closing else { return false }
    position += 1
    return true
  }

  /// After a member or an item: true at the container's end (`closing`, or a comma and then
  /// `closing`), false after a comma that more follow.
  private mutating func closes(_ closing: UInt8) throws -> Bool {
    skipWhitespace()
    guard position < bytes.count else { throw fail("unexpected end") }
    if bytes[position] == closing {
      position += 1
      return true
    }
    guard bytes[position] == UInt8(ascii: ",") else { throw fail("expected ',' or a bracket") }
    position += 1
    return skip(closing)
  }

  private mutating func parseNumber() throws -> String {
    let start = position
    if bytes[position] == UInt8(ascii: "-") { position += 1 }
    guard position < bytes.count, isDigit(bytes[position]) else { throw fail("invalid number") }
    if bytes[position] == UInt8(ascii: "0") {
      position += 1
    } else {
      skipDigits()
    }
    if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
      position += 1
      guard position < bytes.count, isDigit(bytes[position]) else { throw fail("invalid number") }
      skipDigits()
    }
    if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
      position += 1
      if position < bytes.count,
        bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")
      {
        position += 1
      }
      guard position < bytes.count, isDigit(bytes[position]) else { throw fail("invalid number") }
      skipDigits()
    }
    return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
  }

  private func isDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
  }

  private mutating func skipDigits() {
    while position < bytes.count, isDigit(bytes[position]) { position += 1 }
  }

  private mutating func parseString() throws -> String {
    position += 1
    let start = position
    // Fast path: no escapes. Text that is all ASCII (keys, ids, most stored values) is valid
    // UTF-8 as it stands, and skips the check.
    var bits: UInt8 = 0
    while position < bytes.count {
      let byte = bytes[position]
      if byte == UInt8(ascii: "\"") {
        let text = UnsafeBufferPointer(rebasing: bytes[start..<position])
        let string =
          bits < 0x80 ? String(decoding: text, as: UTF8.self) : try validated(text)
        position += 1
        return string
      }
      bits |= byte
      if byte == UInt8(ascii: "\\") { break }
      guard byte >= 0x20 else { throw fail("control character in a string") }
      position += 1
    }
    var decoded = Array(UnsafeBufferPointer(rebasing: bytes[start..<position]))
    while position < bytes.count {
      let byte = bytes[position]
      switch byte {
      case UInt8(ascii: "\""):
        let string = try decoded.withUnsafeBufferPointer { try validated($0) }
        position += 1
        return string
      case UInt8(ascii: "\\"):
        position += 1
        try parseEscape(into: &decoded)
      case 0x00..<0x20:
        throw fail("control character in a string")
      default:
        decoded.append(byte)
        position += 1
      }
    }
    throw fail("unterminated string")
  }

  /// `text` as a string, if it is valid UTF-8. Decoding repairs invalid UTF-8 with U+FFFD, so
  /// valid text is exactly the text that comes back byte for byte. (`String(validating:)` is
  /// generic in the runtime: its metadata lookups cost more than this check.)
  private func validated(_ text: UnsafeBufferPointer<UInt8>) throws -> String {
    let string = String(decoding: text, as: UTF8.self)
    guard string.utf8.elementsEqual(text) else { throw fail("invalid UTF-8") }
    return string
  }

  private mutating func parseEscape(into decoded: inout [UInt8]) throws {
    guard position < bytes.count else { throw fail("unterminated string") }
    let byte = bytes[position]
    position += 1
    switch byte {
    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(byte)
    case UInt8(ascii: "b"): decoded.append(0x08)
    case UInt8(ascii: "f"): decoded.append(0x0C)
    case UInt8(ascii: "n"): decoded.append(0x0A)
    case UInt8(ascii: "r"): decoded.append(0x0D)
    case UInt8(ascii: "t"): decoded.append(0x09)
    case UInt8(ascii: "u"):
      var scalar = UInt32(try parseHex4())
      if (0xD800..<0xDC00).contains(scalar) {
        guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
          bytes[position + 1] == UInt8(ascii: "u")
        else { throw fail("unpaired surrogate") }
        position += 2
        let low = UInt32(try parseHex4())
        guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
      }
      guard let unicode = Unicode.Scalar(scalar) else { throw fail("unpaired surrogate") }
      decoded.append(contentsOf: UTF8.encode(unicode)!)
    default:
      throw fail("invalid escape")
    }
  }

  private mutating func parseHex4() throws -> UInt16 {
    guard bytes.count - position >= 4 else { throw fail("invalid \\u escape") }
    var value: UInt16 = 0
    for _ in 0..<4 {
      let byte = bytes[position]
      let digit: UInt8
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: throw fail("invalid \\u escape")
      }
      value = value << 4 | UInt16(digit)
      position += 1
    }
    return value
  }
}

// MARK: - Decoder

final class JSONTreeDecoder: Decoder, SingleValueDecodingContainer {
  let node: JSONNode
  let codingPath: [any CodingKey]
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  init(node: JSONNode, codingPath: [any CodingKey]) {
    self.node = node
    self.codingPath = codingPath
  }

  /// A `T` from `node`: scalars, Foundation's special cases and ``StoredJSONFastPath`` types
  /// directly, anything else through its `init(from:)`.
  static func unbox<T: Decodable>(
    _ node: JSONNode, as type: T.Type, codingPath: @autoclosure () -> [any CodingKey]
  ) throws -> T {
    let type = T.self
    if type == String.self { return reinterpret(try string(node, codingPath()), as: T.self) }
    if type == Int.self {
      return reinterpret(try integer(node, Int.self, codingPath()), as: T.self)
    }
    if type == Bool.self { return reinterpret(try bool(node, codingPath()), as: T.self) }
    if type == Double.self {
      return reinterpret(try float(node, Double.self, codingPath()), as: T.self)
    }
    if type == Int64.self {
      return reinterpret(try integer(node, Int64.self, codingPath()), as: T.self)
    }
    if type == UInt8.self {
      return reinterpret(try integer(node, UInt8.self, codingPath()), as: T.self)
    }
    if type == Data.self {
      guard let data = Data(base64Encoded: try string(node, codingPath())) else {
        throw corrupted(codingPath(), "not valid base64")
      }
      return reinterpret(data, as: T.self)
    }
    if type == Date.self {
      let seconds = try float(node, Double.self, codingPath())
      return reinterpret(Date(timeIntervalSinceReferenceDate: seconds), as: T.self)
    }
    if type == URL.self {
      guard let url = URL(string: try string(node, codingPath())) else {
        throw corrupted(codingPath(), "not a valid URL")
      }
      return reinterpret(url, as: T.self)
    }
    if type == Decimal.self {
      guard case .number(let text) = node else {
        throw mismatch(Decimal.self, node, codingPath())
      }
      guard let decimal = Decimal(string: text) else {
        throw corrupted(codingPath(), "\(text) does not fit in Decimal")
      }
      return reinterpret(decimal, as: T.self)
    }
    if type == Float.self {
      return reinterpret(try float(node, Float.self, codingPath()), as: T.self)
    }
    if type == Int8.self {
      return reinterpret(try integer(node, Int8.self, codingPath()), as: T.self)
    }
    if type == Int16.self {
      return reinterpret(try integer(node, Int16.self, codingPath()), as: T.self)
    }
    if type == Int32.self {
      return reinterpret(try integer(node, Int32.self, codingPath()), as: T.self)
    }
    if type == UInt.self {
      return reinterpret(try integer(node, UInt.self, codingPath()), as: T.self)
    }
    if type == UInt16.self {
      return reinterpret(try integer(node, UInt16.self, codingPath()), as: T.self)
    }
    if type == UInt32.self {
      return reinterpret(try integer(node, UInt32.self, codingPath()), as: T.self)
    }
    if type == UInt64.self {
      return reinterpret(try integer(node, UInt64.self, codingPath()), as: T.self)
    }
    if let fast = type as? any StoredJSONFastPath.Type,
      let value = fast.fromStoredJSON(node, as: T.self)
    {
      return value
    }
    return try T(from: JSONTreeDecoder(node: node, codingPath: codingPath()))
  }

  static func string(
    _ node: JSONNode, _ codingPath: @autoclosure () -> [any CodingKey]
  ) throws -> String {
    guard case .string(let text) = node else { throw mismatch(String.self, node, codingPath()) }
    return text
  }

  static func bool(
    _ node: JSONNode, _ codingPath: @autoclosure () -> [any CodingKey]
  ) throws -> Bool {
    guard case .bool(let flag) = node else { throw mismatch(Bool.self, node, codingPath()) }
    return flag
  }

  /// An integer: its digits, if they fit, or a fraction or exponent whose value the type holds
  /// exactly (`1e3`, `2.0`), as Foundation's decoder accepts.
  static func integer<I: FixedWidthInteger>(
    _ node: JSONNode, _ type: I.Type, _ codingPath: @autoclosure () -> [any CodingKey]
  ) throws -> I {
    guard case .number(let text) = node else { throw mismatch(I.self, node, codingPath()) }
    if let value = I(text) { return value }
    if text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") }),
      let double = Double(text), let value = I(exactly: double)
    {
      return value
    }
    throw corrupted(codingPath(), "Parsed JSON number <\(text)> does not fit in \(I.self).")
  }

  static func float<F: BinaryFloatingPoint & LosslessStringConvertible>(
    _ node: JSONNode, _ type: F.Type, _ codingPath: @autoclosure () -> [any CodingKey]
  ) throws -> F {
    guard case .number(let text) = node else { throw mismatch(F.self, node, codingPath()) }
    guard let value = F(text), value.isFinite else {
      throw corrupted(codingPath(), "Parsed JSON number <\(text)> does not fit in \(F.self).")
    }
    return value
  }

  static func mismatch(
    _ type: Any.Type, _ node: JSONNode, _ codingPath: [any CodingKey]
  ) -> DecodingError {
    if case .null = node {
      return .valueNotFound(
        type, .init(codingPath: codingPath, debugDescription: "Expected \(type) but found null."))
    }
    return .typeMismatch(
      type,
      .init(codingPath: codingPath, debugDescription: "Expected \(type) but found \(node.kind)."))
  }

  static func corrupted(_ codingPath: [any CodingKey], _ description: String) -> DecodingError {
    .dataCorrupted(.init(codingPath: codingPath, debugDescription: description))
  }

  // MARK: Decoder

  func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
    guard case .object(let members) = node else {
      throw Self.mismatch([String: Any].self, node, codingPath)
    }
    return KeyedDecodingContainer(JSONKeyedDecoding(members: members, codingPath: codingPath))
  }

  func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
    guard case .array(let items) = node else {
      throw Self.mismatch([Any].self, node, codingPath)
    }
    return JSONUnkeyedDecoding(items: items, codingPath: codingPath)
  }

  func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

  // MARK: SingleValueDecodingContainer

  func decodeNil() -> Bool {
    if case .null = node { return true }
    return false
  }

  func decode(_ type: Bool.Type) throws -> Bool { try Self.bool(node, codingPath) }
  func decode(_ type: String.Type) throws -> String { try Self.string(node, codingPath) }
  func decode(_ type: Double.Type) throws -> Double { try Self.float(node, type, codingPath) }
  func decode(_ type: Float.Type) throws -> Float { try Self.float(node, type, codingPath) }
  func decode(_ type: Int.Type) throws -> Int { try Self.integer(node, type, codingPath) }
  func decode(_ type: Int8.Type) throws -> Int8 { try Self.integer(node, type, codingPath) }
  func decode(_ type: Int16.Type) throws -> Int16 { try Self.integer(node, type, codingPath) }
  func decode(_ type: Int32.Type) throws -> Int32 { try Self.integer(node, type, codingPath) }
  func decode(_ type: Int64.Type) throws -> Int64 { try Self.integer(node, type, codingPath) }
  func decode(_ type: UInt.Type) throws -> UInt { try Self.integer(node, type, codingPath) }
  func decode(_ type: UInt8.Type) throws -> UInt8 { try Self.integer(node, type, codingPath) }
  func decode(_ type: UInt16.Type) throws -> UInt16 { try Self.integer(node, type, codingPath) }
  func decode(_ type: UInt32.Type) throws -> UInt32 { try Self.integer(node, type, codingPath) }
  func decode(_ type: UInt64.Type) throws -> UInt64 { try Self.integer(node, type, codingPath) }
  func decode<T: Decodable>(_ type: T.Type) throws -> T {
    try Self.unbox(node, as: type, codingPath: codingPath)
  }
}

struct JSONKeyedDecoding<Key: CodingKey>: KeyedDecodingContainerProtocol {
  let members: [(key: String, value: JSONNode)]
  /// Member positions by key, for objects too large to search.
  private let positions: [String: Int]?
  let codingPath: [any CodingKey]

  init(members: [(key: String, value: JSONNode)], codingPath: [any CodingKey]) {
    self.members = members
    self.codingPath = codingPath
    if members.count > 16 {
      // Of a key given twice, the first value (as the linear search below, and Foundation).
      positions = Dictionary(
        members.indices.map { (members[$0].key, $0) }, uniquingKeysWith: { first, _ in first })
    } else {
      positions = nil
    }
  }

  var allKeys: [Key] {
    var seen = Set<String>()
    return members.compactMap { member in
      seen.insert(member.key).inserted ? Key(stringValue: member.key) : nil
    }
  }

  private func find(_ key: Key) -> JSONNode? { find(name: key.stringValue) }

  private func find(name: String) -> JSONNode? {
    if let positions { return positions[name].map { members[$0].value } }
    return members.first { $0.key == name }?.value
  }

  private func node(_ key: Key) throws -> JSONNode {
    guard let node = find(key) else {
      throw DecodingError.keyNotFound(
        key,
        .init(
          codingPath: codingPath,
          debugDescription: "No value associated with key \(key.stringValue)."))
    }
    return node
  }

  /// The key's value, or nil where it is missing or null.
  private func present(_ key: Key) -> JSONNode? {
    guard let node = find(key) else { return nil }
    if case .null = node { return nil }
    return node
  }

  private func path(_ key: Key) -> [any CodingKey] { codingPath + [key] }

  func contains(_ key: Key) -> Bool { find(key) != nil }

  func decodeNil(forKey key: Key) throws -> Bool {
    if case .null = try node(key) { return true }
    return false
  }

  func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
    try JSONTreeDecoder.bool(node(key), path(key))
  }
  func decode(_ type: String.Type, forKey key: Key) throws -> String {
    try JSONTreeDecoder.string(node(key), path(key))
  }
  func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
    try JSONTreeDecoder.float(node(key), type, path(key))
  }
  func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
    try JSONTreeDecoder.float(node(key), type, path(key))
  }
  func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
    try JSONTreeDecoder.integer(node(key), type, path(key))
  }
  func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 {
    try JSONTreeDecoder.integer(node(key), type, path(key))
  }
  func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
    try JSONTreeDecoder.integer(node(key), type, path(key))
  }
  func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
    try JSONTreeDecoder.integer(node(key), type, path(key))
  }
  func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
    try JSONTreeDecoder.integer(node(key), type, path(key))
  }
  func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt {
    try JSONTreeDecoder.integer(node(key), type, path(key))
  }
  func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
    try JSONTreeDecoder.integer(node(key), type, path(key))
  }
  func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
    try JSONTreeDecoder.integer(node(key), type, path(key))
  }
  func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
    try JSONTreeDecoder.integer(node(key), type, path(key))
  }
  func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
    try JSONTreeDecoder.integer(node(key), type, path(key))
  }
  func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
    try JSONTreeDecoder.unbox(node(key), as: type, codingPath: path(key))
  }

  // One lookup each, where the protocol's defaults make three.
  func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
    try present(key).map { try JSONTreeDecoder.bool($0, path(key)) }
  }
  func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
    try present(key).map { try JSONTreeDecoder.string($0, path(key)) }
  }
  func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? {
    try present(key).map { try JSONTreeDecoder.float($0, type, path(key)) }
  }
  func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? {
    try present(key).map { try JSONTreeDecoder.float($0, type, path(key)) }
  }
  func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
    try present(key).map { try JSONTreeDecoder.integer($0, type, path(key)) }
  }
  func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? {
    try present(key).map { try JSONTreeDecoder.integer($0, type, path(key)) }
  }
  func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? {
    try present(key).map { try JSONTreeDecoder.integer($0, type, path(key)) }
  }
  func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? {
    try present(key).map { try JSONTreeDecoder.integer($0, type, path(key)) }
  }
  func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? {
    try present(key).map { try JSONTreeDecoder.integer($0, type, path(key)) }
  }
  func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? {
    try present(key).map { try JSONTreeDecoder.integer($0, type, path(key)) }
  }
  func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? {
    try present(key).map { try JSONTreeDecoder.integer($0, type, path(key)) }
  }
  func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? {
    try present(key).map { try JSONTreeDecoder.integer($0, type, path(key)) }
  }
  func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? {
    try present(key).map { try JSONTreeDecoder.integer($0, type, path(key)) }
  }
  func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? {
    try present(key).map { try JSONTreeDecoder.integer($0, type, path(key)) }
  }
  func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
    try present(key).map { try JSONTreeDecoder.unbox($0, as: type, codingPath: path(key)) }
  }

  func nestedContainer<NestedKey: CodingKey>(
    keyedBy type: NestedKey.Type, forKey key: Key
  ) throws -> KeyedDecodingContainer<NestedKey> {
    try JSONTreeDecoder(node: node(key), codingPath: path(key)).container(keyedBy: type)
  }

  func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
    try JSONTreeDecoder(node: node(key), codingPath: path(key)).unkeyedContainer()
  }

  func superDecoder() throws -> any Decoder {
    let key = JSONCodingKey(stringValue: "super")
    return JSONTreeDecoder(
      node: find(name: key.stringValue) ?? .null, codingPath: codingPath + [key])
  }

  func superDecoder(forKey key: Key) throws -> any Decoder {
    JSONTreeDecoder(node: find(key) ?? .null, codingPath: path(key))
  }
}

struct JSONUnkeyedDecoding: UnkeyedDecodingContainer {
  let items: [JSONNode]
  let codingPath: [any CodingKey]
  private(set) var currentIndex = 0

  init(items: [JSONNode], codingPath: [any CodingKey]) {
    self.items = items
    self.codingPath = codingPath
  }

  var count: Int? { items.count }
  var isAtEnd: Bool { currentIndex >= items.count }

  private func next(_ type: Any.Type) throws -> JSONNode {
    guard !isAtEnd else {
      throw DecodingError.valueNotFound(
        type,
        .init(
          codingPath: codingPath + [JSONCodingKey(index: currentIndex)],
          debugDescription: "Unkeyed container is at end."))
    }
    return items[currentIndex]
  }

  /// Decodes the next item with `body` (given the item and a function making its coding path),
  /// moving on only if it succeeds.
  private mutating func advance<T>(
    _ type: T.Type, _ body: (JSONNode, () -> [any CodingKey]) throws -> T
  ) throws -> T {
    let index = currentIndex
    let base = codingPath
    let value = try body(try next(type)) { base + [JSONCodingKey(index: index)] }
    currentIndex += 1
    return value
  }

  mutating func decodeNil() throws -> Bool {
    guard case .null = try next(Never?.self) else { return false }
    currentIndex += 1
    return true
  }

  mutating func decode(_ type: Bool.Type) throws -> Bool {
    try advance(type) { try JSONTreeDecoder.bool($0, $1()) }
  }
  mutating func decode(_ type: String.Type) throws -> String {
    try advance(type) { try JSONTreeDecoder.string($0, $1()) }
  }
  mutating func decode(_ type: Double.Type) throws -> Double {
    try advance(type) { try JSONTreeDecoder.float($0, type, $1()) }
  }
  mutating func decode(_ type: Float.Type) throws -> Float {
    try advance(type) { try JSONTreeDecoder.float($0, type, $1()) }
  }
  mutating func decode(_ type: Int.Type) throws -> Int {
    try advance(type) { try JSONTreeDecoder.integer($0, type, $1()) }
  }
  mutating func decode(_ type: Int8.Type) throws -> Int8 {
    try advance(type) { try JSONTreeDecoder.integer($0, type, $1()) }
  }
  mutating func decode(_ type: Int16.Type) throws -> Int16 {
    try advance(type) { try JSONTreeDecoder.integer($0, type, $1()) }
  }
  mutating func decode(_ type: Int32.Type) throws -> Int32 {
    try advance(type) { try JSONTreeDecoder.integer($0, type, $1()) }
  }
  mutating func decode(_ type: Int64.Type) throws -> Int64 {
    try advance(type) { try JSONTreeDecoder.integer($0, type, $1()) }
  }
  mutating func decode(_ type: UInt.Type) throws -> UInt {
    try advance(type) { try JSONTreeDecoder.integer($0, type, $1()) }
  }
  mutating func decode(_ type: UInt8.Type) throws -> UInt8 {
    try advance(type) { try JSONTreeDecoder.integer($0, type, $1()) }
  }
  mutating func decode(_ type: UInt16.Type) throws -> UInt16 {
    try advance(type) { try JSONTreeDecoder.integer($0, type, $1()) }
  }
  mutating func decode(_ type: UInt32.Type) throws -> UInt32 {
    try advance(type) { try JSONTreeDecoder.integer($0, type, $1()) }
  }
  mutating func decode(_ type: UInt64.Type) throws -> UInt64 {
    try advance(type) { try JSONTreeDecoder.integer($0, type, $1()) }
  }
  mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
    try advance(type) { node, path in
      try JSONTreeDecoder.unbox(node, as: type, codingPath: path())
    }
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy type: NestedKey.Type
  ) throws -> KeyedDecodingContainer<NestedKey> {
    try advance(KeyedDecodingContainer<NestedKey>.self) { node, path in
      try JSONTreeDecoder(node: node, codingPath: path()).container(keyedBy: type)
    }
  }

  mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
    try advance((any UnkeyedDecodingContainer).self) { node, path in
      try JSONTreeDecoder(node: node, codingPath: path()).unkeyedContainer()
    }
  }

  mutating func superDecoder() throws -> any Decoder {
    try advance((any Decoder).self) { node, path in
      JSONTreeDecoder(node: node, codingPath: path())
    }
  }
}
