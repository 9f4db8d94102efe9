import Parley
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
}
