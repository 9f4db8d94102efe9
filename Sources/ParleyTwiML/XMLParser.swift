/// A small, strict XML parser for TwiML documents.
///
/// It reads the subset of XML that TwiML uses: an optional declaration, comments, processing
/// instructions, elements, attributes, character data, CDATA sections, the five predefined entities
/// and numeric character references. Document type declarations are refused, so no entity expansion
/// or external resource can be triggered by a hostile document. Nesting depth is bounded.
public struct TwiMLXMLParser: Sendable {
  /// The deepest element nesting accepted.
  public var maximumDepth: Int

  /// Creates a parser.
  public init(maximumDepth: Int = 32) {
    self.maximumDepth = maximumDepth
  }

  /// Parses a whole document and returns its root element.
  public func parse(_ text: String) throws(TwiMLParseError) -> XMLElement {
    try parse(Array(text.utf8))
  }

  /// Parses a whole document given as UTF-8 bytes and returns its root element.
  public func parse(_ bytes: [UInt8]) throws(TwiMLParseError) -> XMLElement {
    var cursor = Cursor(bytes: bytes, maximumDepth: maximumDepth)
    return try cursor.document()
  }
}

/// Why a document could not be parsed, with the byte offset where the parser stopped.
public struct TwiMLParseError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The kind of problem.
  public enum Code: String, Sendable, Hashable {
    case unexpectedEnd = "unexpected end of document"
    case unexpectedCharacter = "unexpected character"
    case mismatchedTag = "end tag does not match start tag"
    case invalidName = "invalid name"
    case duplicateAttribute = "duplicate attribute"
    case invalidEntity = "invalid entity or character reference"
    case invalidCharacter = "character not allowed in XML"
    case invalidUTF8 = "invalid UTF-8"
    case doctypeNotAllowed = "document type declarations are not allowed"
    case contentAfterRoot = "content after the root element"
    case noRootElement = "no root element"
    case tooDeep = "elements nested too deeply"
    case textOutsideRoot = "text outside the root element"
  }

  /// The kind of problem.
  public var code: Code
  /// The byte offset in the document.
  public var offset: Int

  /// Creates an error.
  public init(_ code: Code, at offset: Int) {
    self.code = code
    self.offset = offset
  }

  public var description: String { "\(code.rawValue) at byte \(offset)" }
}

private struct Cursor {
  let bytes: [UInt8]
  let maximumDepth: Int
  var index = 0

  init(bytes: [UInt8], maximumDepth: Int) {
    self.bytes = bytes
    self.maximumDepth = maximumDepth
  }

  func fail(_ code: TwiMLParseError.Code) -> TwiMLParseError {
    TwiMLParseError(code, at: index)
  }

  var atEnd: Bool { index >= bytes.count }

  func peek(_ offset: Int = 0) -> UInt8? {
    let i = index + offset
    return i < bytes.count ? bytes[i] : nil
  }

  func starts(with literal: String) -> Bool {
    var i = index
    for byte in literal.utf8 {
      guard i < bytes.count, bytes[i] == byte else { return false }
      i += 1
    }
    return true
  }

  mutating func expect(_ literal: String) throws(TwiMLParseError) {
    guard starts(with: literal) else {
      throw atEnd ? fail(.unexpectedEnd) : fail(.unexpectedCharacter)
    }
    index += literal.utf8.count
  }

  static func isSpace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
  }

  mutating func skipSpace() {
    while let byte = peek(), Self.isSpace(byte) { index += 1 }
  }

  mutating func skip(until terminator: String) throws(TwiMLParseError) {
    while !atEnd {
      if starts(with: terminator) {
        index += terminator.utf8.count
        return
      }
      index += 1
    }
    throw fail(.unexpectedEnd)
  }

  /// Skips the prolog or epilog: white space, comments, processing instructions.
  mutating func skipMisc() throws(TwiMLParseError) {
    while true {
      skipSpace()
      if starts(with: "<!--") {
        index += 4
        try skip(until: "-->")
      } else if starts(with: "<?") {
        index += 2
        try skip(until: "?>")
      } else if starts(with: "<!DOCTYPE") || starts(with: "<!doctype") {
        throw fail(.doctypeNotAllowed)
      } else {
        return
      }
    }
  }

  mutating func document() throws(TwiMLParseError) -> XMLElement {
    // A UTF-8 byte order mark is tolerated.
    if starts(with: "\u{FEFF}") { index += 3 }
    try skipMisc()
    guard !atEnd else { throw fail(.noRootElement) }
    guard peek() == UInt8(ascii: "<") else { throw fail(.textOutsideRoot) }
    let root = try element(depth: 1)
    try skipMisc()
    guard atEnd else { throw fail(.contentAfterRoot) }
    return root
  }

  static func isNameByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"),
      UInt8(ascii: "."), UInt8(ascii: ":"):
      true
    default:
      byte >= 0x80
    }
  }

  mutating func name() throws(TwiMLParseError) -> String {
    let start = index
    while let byte = peek(), Self.isNameByte(byte) { index += 1 }
    guard index > start else { throw atEnd ? fail(.unexpectedEnd) : fail(.invalidName) }
    let first = bytes[start]
    if first == UInt8(ascii: "-") || first == UInt8(ascii: ".")
      || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
    {
      index = start
      throw fail(.invalidName)
    }
    return try string(bytes[start..<index], at: start)
  }

  func string(_ slice: ArraySlice<UInt8>, at offset: Int) throws(TwiMLParseError) -> String {
    guard let text = String(validating: slice, as: UTF8.self) else {
      throw TwiMLParseError(.invalidUTF8, at: offset)
    }
    return text
  }

  mutating func element(depth: Int) throws(TwiMLParseError) -> XMLElement {
    guard depth <= maximumDepth else { throw fail(.tooDeep) }
    try expect("<")
    var element = XMLElement(name: try name())
    // Attributes.
    while true {
      let hadSpace = peek().map(Self.isSpace) ?? false
      skipSpace()
      guard let byte = peek() else { throw fail(.unexpectedEnd) }
      if byte == UInt8(ascii: "/") {
        try expect("/>")
        return element
      }
      if byte == UInt8(ascii: ">") {
        index += 1
        break
      }
      guard hadSpace else { throw fail(.unexpectedCharacter) }
      let attributeName = try name()
      skipSpace()
      try expect("=")
      skipSpace()
      guard let quote = peek(), quote == UInt8(ascii: "\"") || quote == UInt8(ascii: "'") else {
        throw atEnd ? fail(.unexpectedEnd) : fail(.unexpectedCharacter)
      }
      index += 1
      let value = try characterData(until: quote, inAttribute: true)
      index += 1
      if element.attributes.contains(where: { $0.name == attributeName }) {
        throw fail(.duplicateAttribute)
      }
      element.attributes.append(.init(name: attributeName, value: value))
    }
    // Content.
    while true {
      guard let byte = peek() else { throw fail(.unexpectedEnd) }
      if byte == UInt8(ascii: "<") {
        if starts(with: "</") {
          index += 2
          let closing = try name()
          guard closing == element.name else { throw fail(.mismatchedTag) }
          skipSpace()
          try expect(">")
          return element
        } else if starts(with: "<!--") {
          index += 4
          try skip(until: "-->")
        } else if starts(with: "<![CDATA[") {
          index += 9
          let start = index
          try skip(until: "]]>")
          let text = try string(bytes[start..<(index - 3)], at: start)
          try checkCharacters(text, at: start)
          appendText(text, to: &element)
        } else if starts(with: "<?") {
          index += 2
          try skip(until: "?>")
        } else if starts(with: "<!") {
          throw fail(.doctypeNotAllowed)
        } else {
          element.children.append(.element(try self.element(depth: depth + 1)))
        }
      } else {
        let text = try characterData(until: UInt8(ascii: "<"), inAttribute: false)
        appendText(text, to: &element)
      }
    }
  }

  func appendText(_ text: String, to element: inout XMLElement) {
    guard !text.isEmpty else { return }
    if case .text(let previous)? = element.children.last {
      element.children[element.children.count - 1] = .text(previous + text)
    } else {
      element.children.append(.text(text))
    }
  }

  func checkCharacters(_ text: String, at offset: Int) throws(TwiMLParseError) {
    for scalar in text.unicodeScalars where !XMLRenderer.isAllowed(scalar) {
      throw TwiMLParseError(.invalidCharacter, at: offset)
    }
  }

  /// Reads character data up to (not including) `terminator`, resolving references.
  mutating func characterData(until terminator: UInt8, inAttribute: Bool) throws(TwiMLParseError)
    -> String
  {
    var result = ""
    var runStart = index
    while true {
      guard let byte = peek() else { throw fail(.unexpectedEnd) }
      if byte == terminator { break }
      if inAttribute && byte == UInt8(ascii: "<") { throw fail(.unexpectedCharacter) }
      if byte == UInt8(ascii: "&") {
        result += try run(runStart..<index, inAttribute: inAttribute)
        result.unicodeScalars.append(try reference())
        runStart = index
        continue
      }
      index += 1
    }
    result += try run(runStart..<index, inAttribute: inAttribute)
    return result
  }

  /// Decodes a run of literal text. In attributes, literal tabs and line breaks become spaces
  /// (XML attribute-value normalization); references such as `&#10;` are resolved elsewhere and kept.
  func run(_ range: Range<Int>, inAttribute: Bool) throws(TwiMLParseError) -> String {
    var text = try string(bytes[range], at: range.lowerBound)
    try checkCharacters(text, at: range.lowerBound)
    if inAttribute && text.utf8.contains(where: { $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
      text = String(
        String.UnicodeScalarView(
          text.unicodeScalars.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 }))
    }
    return text
  }

  mutating func reference() throws(TwiMLParseError) -> Unicode.Scalar {
    let start = index
    index += 1  // &
    var body: [UInt8] = []
    while let byte = peek(), byte != UInt8(ascii: ";") {
      body.append(byte)
      index += 1
      if body.count > 10 { break }
    }
    guard peek() == UInt8(ascii: ";") else {
      index = start
      throw fail(.invalidEntity)
    }
    index += 1
    let name = String(decoding: body, as: UTF8.self)
    let scalar: Unicode.Scalar?
    switch name {
    case "lt": scalar = "<"
    case "gt": scalar = ">"
    case "amp": scalar = "&"
    case "quot": scalar = "\""
    case "apos": scalar = "'"
    default:
      if name.hasPrefix("#x") || name.hasPrefix("#X") {
        scalar = UInt32(name.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
      } else if name.hasPrefix("#") {
        scalar = UInt32(name.dropFirst(), radix: 10).flatMap(Unicode.Scalar.init)
      } else {
        scalar = nil
      }
    }
    guard let scalar, XMLRenderer.isAllowed(scalar) else {
      index = start
      throw fail(.invalidEntity)
    }
    return scalar
  }
}
