/// The parameters of an `application/x-www-form-urlencoded` body or a query string, in order.
///
/// Names may repeat; ``subscript(_:)`` returns the first value. Decoding is one pass over the
/// bytes: `+` becomes a space, `%XX` a byte, and the result must be valid UTF-8.
public struct FormParameters: Sendable, Hashable, Sequence {
  /// One `name=value` pair, decoded.
  public struct Parameter: Sendable, Hashable {
    /// The decoded name.
    public var name: String
    /// The decoded value.
    public var value: String

    /// Creates a parameter.
    public init(name: String, value: String) {
      self.name = name
      self.value = value
    }
  }

  /// All pairs in the order they came.
  public private(set) var pairs: [Parameter]

  /// Creates parameters from pairs.
  public init(_ pairs: [Parameter] = []) {
    self.pairs = pairs
  }

  /// Creates parameters from `(name, value)` tuples.
  public init(_ pairs: KeyValuePairs<String, String>) {
    self.pairs = pairs.map { Parameter(name: $0.key, value: $0.value) }
  }

  /// The first value of `name`, if any.
  public subscript(_ name: String) -> String? {
    pairs.first { $0.name == name }?.value
  }

  /// Every value of `name`, in order.
  public func values(of name: String) -> [String] {
    pairs.filter { $0.name == name }.map(\.value)
  }

  /// Appends a pair.
  public mutating func append(_ name: String, _ value: String) {
    pairs.append(Parameter(name: name, value: value))
  }

  /// The number of pairs.
  public var count: Int { pairs.count }

  public func makeIterator() -> IndexingIterator<[Parameter]> { pairs.makeIterator() }

  /// Encodes the pairs as a form body (`application/x-www-form-urlencoded`), spaces as `+`.
  public var encoded: String {
    pairs.map { FormCoding.encode($0.name) + "=" + FormCoding.encode($0.value) }
      .joined(separator: "&")
  }

  /// Decodes a form body or query string.
  public init(decoding bytes: some Collection<UInt8>) throws(FormDecodingError) {
    self.pairs = try FormCoding.decode(bytes)
  }

  /// Decodes a form body or query string given as text.
  public init(decoding text: String) throws(FormDecodingError) {
    try self.init(decoding: text.utf8)
  }
}

/// Why a form body or query string could not be decoded.
public struct FormDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The kind of problem.
  public enum Code: String, Sendable, Hashable {
    /// A `%` not followed by two hexadecimal digits.
    case malformedPercentEncoding = "malformed percent-encoding"
    /// The decoded bytes are not valid UTF-8.
    case invalidUTF8 = "invalid UTF-8"
    /// More parameters than the decoder accepts.
    case tooManyParameters = "too many parameters"
  }

  /// The kind of problem.
  public var code: Code
  /// The byte offset where it was found.
  public var offset: Int

  /// Creates an error.
  public init(_ code: Code, offset: Int) {
    self.code = code
    self.offset = offset
  }

  public var description: String { "\(code.rawValue) at byte \(offset)" }
}

enum FormCoding {
  /// Hostile forms with thousands of empty pairs are cut short.
  static let maximumParameters = 1000

  static func decode(_ bytes: some Collection<UInt8>) throws(FormDecodingError) -> [FormParameters
    .Parameter]
  {
    let decoded: Result<[FormParameters.Parameter], FormDecodingError>? =
      bytes.withContiguousStorageIfAvailable { buffer in
        Result { () throws(FormDecodingError) in try decode(buffer) }
      }
    if let decoded { return try decoded.get() }
    return try Array(bytes).withUnsafeBufferPointer { (buffer) throws(FormDecodingError) in
      try decode(buffer)
    }
  }

  /// One pass per pair over contiguous bytes: `&` ends a pair, its first `=` ends the name. A
  /// field without `%` or `+` becomes a `String` straight from its bytes; only the others are
  /// copied while decoding.
  static func decode(_ bytes: UnsafeBufferPointer<UInt8>) throws(FormDecodingError)
    -> [FormParameters
    .Parameter]
  {
    // Sized by the `&`s up front (Twilio's webhooks carry about twenty pairs): grown one
    // append at a time, the array was allocated six times per webhook.
    var separators = 0
    for byte in bytes where byte == UInt8(ascii: "&") { separators += 1 }
    var pairs: [FormParameters.Parameter] = []
    pairs.reserveCapacity(min(separators, maximumParameters) + 1)
    var scratch: [UInt8] = []
    var pairStart = 0
    while pairStart <= bytes.count {
      var pairEnd = pairStart
      var equals: Int?
      while pairEnd < bytes.count, bytes[pairEnd] != UInt8(ascii: "&") {
        if equals == nil, bytes[pairEnd] == UInt8(ascii: "=") { equals = pairEnd }
        pairEnd += 1
      }
      if let equals {
        pairs.append(
          .init(
            name: try field(bytes, pairStart..<equals, &scratch),
            value: try field(bytes, (equals + 1)..<pairEnd, &scratch)))
      } else if pairEnd > pairStart {
        pairs.append(.init(name: try field(bytes, pairStart..<pairEnd, &scratch), value: ""))
      }
      if pairs.count > maximumParameters {
        throw FormDecodingError(.tooManyParameters, offset: pairEnd)
      }
      pairStart = pairEnd + 1
    }
    return pairs
  }

  /// Decodes one name or value: `+` becomes a space, `%XX` a byte; the result must be UTF-8.
  private static func field(
    _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ scratch: inout [UInt8]
  ) throws(FormDecodingError) -> String {
    let raw = UnsafeBufferPointer(rebasing: bytes[range])
    var plain = true
    var ascii = true
    for byte in raw {
      if byte == UInt8(ascii: "%") || byte == UInt8(ascii: "+") { plain = false }
      if byte >= 0x80 { ascii = false }
    }
    if plain {
      return try text(raw, ascii: ascii, offset: range.lowerBound)
    }
    scratch.removeAll(keepingCapacity: true)
    // A decoded field is never longer than its encoded form.
    scratch.reserveCapacity(range.count)
    var index = range.lowerBound
    while index < range.upperBound {
      let byte = bytes[index]
      switch byte {
      case UInt8(ascii: "+"):
        scratch.append(UInt8(ascii: " "))
      case UInt8(ascii: "%"):
        guard index + 2 < range.upperBound, let high = hex(bytes[index + 1]),
          let low = hex(bytes[index + 2])
        else {
          throw FormDecodingError(.malformedPercentEncoding, offset: index)
        }
        scratch.append(high << 4 | low)
        index += 2
      default:
        scratch.append(byte)
      }
      index += 1
    }
    return try scratch.withUnsafeBufferPointer { (decoded) throws(FormDecodingError) in
      try text(decoded, ascii: !decoded.contains { $0 >= 0x80 }, offset: range.lowerBound)
    }
  }

  /// `bytes` as a `String`, refusing invalid UTF-8. ASCII needs no validation:
  /// `String(validating:)` is not specialized, and its generic metadata lookups cost more than
  /// the rest of the decoding.
  private static func text(_ bytes: UnsafeBufferPointer<UInt8>, ascii: Bool, offset: Int)
    throws(FormDecodingError) -> String
  {
    if ascii { return String(decoding: bytes, as: UTF8.self) }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw FormDecodingError(.invalidUTF8, offset: offset)
    }
    return text
  }

  private static func hex(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
  }

  /// Characters left as they are: the unreserved set of RFC 3986 plus `*`, as HTML forms do.
  static func isUnreserved(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
      UInt8(ascii: "."), UInt8(ascii: "*"):
      true
    default: false
    }
  }

  static func encode(_ text: String) -> String {
    let digits = Array("0123456789ABCDEF".utf8)
    var output: [UInt8] = []
    output.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
      if isUnreserved(byte) {
        output.append(byte)
      } else if byte == UInt8(ascii: " ") {
        output.append(UInt8(ascii: "+"))
      } else {
        output.append(UInt8(ascii: "%"))
        output.append(digits[Int(byte >> 4)])
        output.append(digits[Int(byte & 0xF)])
      }
    }
    return String(decoding: output, as: UTF8.self)
  }
}
