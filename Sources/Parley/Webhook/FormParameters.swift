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
    try self.init(decoding: Array(text.utf8))
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
    var pairs: [FormParameters.Parameter] = []
    var name: String?
    var buffer: [UInt8] = []
    buffer.reserveCapacity(64)
    var offset = 0
    var fieldStart = 0
    var iterator = bytes.makeIterator()

    func finishField(_ start: Int) throws(FormDecodingError) -> String {
      guard let text = String(validating: buffer, as: UTF8.self) else {
        throw FormDecodingError(.invalidUTF8, offset: start)
      }
      buffer.removeAll(keepingCapacity: true)
      return text
    }

    func hex(_ byte: UInt8) -> UInt8? {
      switch byte {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
      default: nil
      }
    }

    func finishPair() throws(FormDecodingError) {
      if let pairName = name {
        pairs.append(.init(name: pairName, value: try finishField(fieldStart)))
      } else if !buffer.isEmpty {
        pairs.append(.init(name: try finishField(fieldStart), value: ""))
      }
      name = nil
      if pairs.count > maximumParameters {
        throw FormDecodingError(.tooManyParameters, offset: offset)
      }
    }

    while let byte = iterator.next() {
      switch byte {
      case UInt8(ascii: "&"):
        try finishPair()
        fieldStart = offset + 1
      case UInt8(ascii: "=") where name == nil:
        name = try finishField(fieldStart)
        fieldStart = offset + 1
      case UInt8(ascii: "+"):
        buffer.append(UInt8(ascii: " "))
      case UInt8(ascii: "%"):
        guard let high = iterator.next().flatMap(hex), let low = iterator.next().flatMap(hex) else {
          throw FormDecodingError(.malformedPercentEncoding, offset: offset)
        }
        buffer.append(high << 4 | low)
        offset += 2
      default:
        buffer.append(byte)
      }
      offset += 1
    }
    try finishPair()
    return pairs
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
