import Parley
import ParleyTesting
import Testing

struct FormParametersTests {
  @Test func decodesPlusPercentAndOrder() throws {
    let form = try FormParameters(
      decoding: "b=2&a=hello+world&c=%2B1%20415%26x%3D&a=again&flag&empty=")
    #expect(form.pairs.map(\.name) == ["b", "a", "c", "a", "flag", "empty"])
    #expect(form["a"] == "hello world")
    #expect(form.values(of: "a") == ["hello world", "again"])
    #expect(form["c"] == "+1 415&x=")
    #expect(form["flag"] == "")
    #expect(form["missing"] == nil)
  }

  @Test func decodesUTF8AndEmoji() throws {
    let form = try FormParameters(decoding: "Body=Caf%C3%A9+%F0%9F%98%80")
    #expect(form["Body"] == "Café 😀")
  }

  @Test(arguments: ["a=%", "a=%4", "a=%zz", "a=%G0", "%=1"])
  func malformedPercentEncodingIsAnError(text: String) {
    #expect(throws: FormDecodingError.self) { try FormParameters(decoding: text) }
    #expect {
      try FormParameters(decoding: text)
    } throws: { ($0 as? FormDecodingError)?.code == .malformedPercentEncoding }
  }

  @Test func invalidUTF8IsAnError() {
    #expect {
      try FormParameters(decoding: "Body=%FF%FE")
    } throws: { ($0 as? FormDecodingError)?.code == .invalidUTF8 }
  }

  @Test func tooManyParametersIsAnError() {
    let text = Array(repeating: "a=1", count: 1001).joined(separator: "&")
    #expect {
      try FormParameters(decoding: text)
    } throws: { ($0 as? FormDecodingError)?.code == .tooManyParameters }
  }

  @Test func encodingRoundTrips() throws {
    let form = FormParameters(["Body": "a+b c&d=e/ü😀%", "From": "+14155550100"])
    #expect(form.encoded == "Body=a%2Bb+c%26d%3De%2F%C3%BC%F0%9F%98%80%25&From=%2B14155550100")
    #expect(try FormParameters(decoding: form.encoded) == form)
  }

  /// The decoder reads fields in place; this is the byte-at-a-time decoder it replaced, kept as
  /// the reference: on random forms both give the same pairs, or the same error at the same byte.
  @Test func decodesRandomFormsAsTheByteAtATimeReferenceDoes() {
    let alphabet: [[UInt8]] = [
      Array("&".utf8), Array("=".utf8), Array("+".utf8), Array("%".utf8), Array("%2".utf8),
      Array("%41".utf8), Array("%c3%a9".utf8), Array("%C3".utf8), Array("%FF".utf8),
      Array("%zz".utf8), Array("a".utf8), Array("From".utf8), Array("Body".utf8),
      Array("é".utf8), Array("😀".utf8), [0xC3], [0xFF], [0x80], Array(" ".utf8),
    ]
    var random = SplitMix64(seed: 9)
    var errors = 0
    for _ in 0..<20_000 {
      var bytes: [UInt8] = []
      for _ in 0..<Int.random(in: 0...12, using: &random) {
        bytes += alphabet.randomElement(using: &random)!
      }
      let expected = Result { () throws(FormDecodingError) in try ReferenceFormDecoder.decode(bytes)
      }
      let actual = Result { () throws(FormDecodingError) in
        try FormParameters(decoding: bytes).pairs
      }
      if case .failure = expected { errors += 1 }
      #expect(actual == expected, "\(bytes)")
    }
    #expect(errors > 1_000, "the alphabet makes errors of every kind")
  }
}

/// The form decoder as it was before it read fields in place: one byte at a time into a buffer.
enum ReferenceFormDecoder {
  static func decode(_ bytes: [UInt8]) throws(FormDecodingError) -> [FormParameters.Parameter] {
    var pairs: [FormParameters.Parameter] = []
    var name: String?
    var buffer: [UInt8] = []
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
      if pairs.count > 1000 {
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
}
