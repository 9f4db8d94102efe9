import HTTPTypes
import Parley
import Testing

@Suite struct HTTPFieldsValueTests {
  /// `value(of:)` answers exactly as `HTTPFields`' own subscript: none, one, several joined, any
  /// case of the name.
  @Test(arguments: [
    [], [("X-Twilio-Signature", "abc=")], [("x-twilio-signature", "abc=")],
    [
      ("Host", "a"), ("X-Twilio-Signature", "one"), ("Accept", "*/*"),
      ("X-TWILIO-SIGNATURE", "two"),
    ],
    [("X-Twilio-Signature", ""), ("X-Twilio-Signature", "x")], [("Host", "a")],
  ])
  func answersAsTheSubscriptDoes(fields pairs: [(String, String)]) throws {
    var fields = HTTPFields()
    for (name, value) in pairs {
      fields.append(HTTPField(name: try #require(HTTPField.Name(name)), value: value))
    }
    let name = try #require(HTTPField.Name("X-Twilio-Signature"))
    #expect(fields.value(of: name) == fields[name])
  }

  @Test func severalAreJoinedInOrder() throws {
    let name = try #require(HTTPField.Name("X-Forwarded-Host"))
    var fields = HTTPFields()
    fields.append(HTTPField(name: name, value: "a.example"))
    fields.append(HTTPField(name: .accept, value: "*/*"))
    fields.append(HTTPField(name: name, value: "b.example"))
    #expect(fields.value(of: name) == "a.example, b.example")
    #expect(fields.value(of: .accept) == "*/*")
    #expect(fields.value(of: .contentType) == nil)
  }
}
