import Foundation
import ParleyFuzzing
import ParleyTesting
import SurveyBot
import Testing

@testable import Parley

/// Session states and replies' header fields are stored as JSON by Parley's own coder
/// (`StoredJSON`). These tests hold it to
/// Foundation's `JSONEncoder`/`JSONDecoder`: states stored by either read back with the other,
/// equal; and bytes that are not JSON are refused with an error, never a crash.
@Suite struct StoredJSONTests {
  // MARK: Fixtures

  enum Mood: String, Codable, Equatable { case calm, eager }

  enum Step: Codable, Equatable {
    case idle
    case asking(question: String, attempts: Int)
    case answered(String, [Int]?)
  }

  struct Inner: Codable, Equatable {
    var label: String
    var weights: [Double]
  }

  struct Empty: Codable, Equatable {}

  /// A class whose subclass encodes its superclass through `superEncoder()`.
  class Base: Codable {
    var id: Int
    init(id: Int) { self.id = id }
  }

  final class Derived: Base, Equatable {
    var name: String
    init(id: Int, name: String) {
      self.name = name
      super.init(id: id)
    }
    enum CodingKeys: String, CodingKey { case name }
    required init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      name = try container.decode(String.self, forKey: .name)
      try super.init(from: container.superDecoder())
    }
    override func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(name, forKey: .name)
      try super.encode(to: container.superEncoder())
    }
    static func == (a: Derived, b: Derived) -> Bool { a.id == b.id && a.name == b.name }
  }

  /// Hand-written containers: nested keyed and unkeyed ones, and a super-encoder in an array.
  struct Manual: Codable, Equatable {
    var pairs: [(String, Int)]
    var flags: [Bool]
    static func == (a: Manual, b: Manual) -> Bool {
      a.flags == b.flags && a.pairs.map(\.0) == b.pairs.map(\.0)
        && a.pairs.map(\.1) == b.pairs.map(\.1)
    }
    enum Keys: String, CodingKey { case pairs, meta }
    enum MetaKeys: String, CodingKey { case flags }
    init(pairs: [(String, Int)], flags: [Bool]) {
      self.pairs = pairs
      self.flags = flags
    }
    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: Keys.self)
      var list = try container.nestedUnkeyedContainer(forKey: .pairs)
      pairs = []
      while !list.isAtEnd {
        var pair = try list.nestedUnkeyedContainer()
        pairs.append((try pair.decode(String.self), try pair.decode(Int.self)))
      }
      let meta = try container.nestedContainer(keyedBy: MetaKeys.self, forKey: .meta)
      flags = try meta.decode([Bool].self, forKey: .flags)
    }
    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: Keys.self)
      var list = container.nestedUnkeyedContainer(forKey: .pairs)
      for (name, value) in pairs {
        var pair = list.nestedUnkeyedContainer()
        try pair.encode(name)
        try pair.encode(value)
      }
      var meta = container.nestedContainer(keyedBy: MetaKeys.self, forKey: .meta)
      try meta.encode(flags, forKey: .flags)
    }
  }

  struct Everything: Codable, Equatable {
    var text = "plain"
    var tricky = "quote \" backslash \\ slash / newline \n tab \t nul \u{0} bell \u{7} é 日本 🇺🇸"
    var int = Int.min
    var int8 = Int8.min
    var int16 = Int16.max
    var int32 = Int32.min
    var int64 = Int64.max
    var uint = UInt.max
    var uint8 = UInt8.max
    var uint16 = UInt16.max
    var uint32 = UInt32.max
    var uint64 = UInt64.max
    var doubles: [Double] = [
      0, -0.0, 0.1, -2.5, .pi, 1e300, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
    ]
    var float: Float = 0.1
    var flag = true
    var missing: String? = nil
    var present: Int? = 7
    var optionals: [Int?] = [1, nil, 3]
    var byName: [String: Int] = ["b": 2, "a": 1, "ä": 3, "": 0]
    var byNumber: [Int: String] = [3: "three", -1: "minus one"]
    var nested: [[String]] = [[], ["x"], ["y", "z"]]
    var inner = Inner(label: "in", weights: [1.5])
    var inners: [Inner] = [Inner(label: "a", weights: []), Inner(label: "b", weights: [2])]
    var mood = Mood.eager
    var steps: [Step] = [.idle, .asking(question: "age", attempts: 2), .answered("x", nil)]
    var date = Date(timeIntervalSinceReferenceDate: 123_456.789)
    var data = Data([0, 1, 2, 254, 255])
    var url = URL(string: "https://example.com/a?b=c&d=%20")!
    var decimal = Decimal(string: "12345.6789")!
    var empty = Empty()
    var derived = Derived(id: 4, name: "four")
    var manual = Manual(pairs: [("one", 1), ("two", 2)], flags: [true, false])
    var set: Set<String> = ["s"]
  }

  typealias Value = FuzzTargets.JSONValue

  /// A value in one line of sorted JSON, for failure messages.
  static func summary(_ value: Value?) -> String {
    guard let value else { return "refused" }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
  }

  // MARK: Tests

  private func foundationEncoded<T: Encodable>(_ value: T) throws -> [UInt8] {
    Array(try JSONEncoder().encode(value))
  }

  /// Parley's bytes read by both decoders, and Foundation's bytes read by Parley's, all equal.
  private func expectInterchangeable<T: Codable & Equatable>(
    _ value: T, sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    let ours = try StoredJSON.encode(value)
    #expect(try StoredJSON.decode(T.self, from: ours) == value, sourceLocation: sourceLocation)
    #expect(
      try JSONDecoder().decode(T.self, from: Data(ours)) == value, sourceLocation: sourceLocation)
    let theirs = try foundationEncoded(value)
    #expect(try StoredJSON.decode(T.self, from: theirs) == value, sourceLocation: sourceLocation)
  }

  @Test func everyKindOfValueReadsBackEqualWithEitherCoder() throws {
    try expectInterchangeable(Everything())
    try expectInterchangeable(Empty())
    try expectInterchangeable([Everything(), Everything()])
    try expectInterchangeable(Derived(id: 9, name: "nine"))
    var survey = DialogSession<SurveyAnswers>()
    survey.state.position = "age"
    survey.state.history = ["name"]
    survey.state.fingerprint = "f00d"
    survey.answers.name = "Ada"
    survey.answers.student = false
    try expectInterchangeable(SurveySession(survey))
    try expectInterchangeable("top-level string")
    try expectInterchangeable([1: [2.5], 2: []])
  }

  @Test func randomValuesReadBackEqualWithEitherCoder() throws {
    var generator = SplitMix64(seed: 0x5E55_1011)
    for _ in 0..<500 {
      try expectInterchangeable(Value.random(depth: 0, using: &generator))
    }
  }

  /// ``DialogState`` through its synthesized `Codable` conformance, which `StoredJSON` otherwise
  /// bypasses with its fast path.
  struct ViaCodable: Codable {
    var state: DialogState
    init(_ state: DialogState) { self.state = state }
    init(from decoder: any Decoder) throws { state = try DialogState(from: decoder) }
    func encode(to encoder: any Encoder) throws { try state.encode(to: encoder) }
  }

  static func randomState(using generator: inout SplitMix64) -> DialogState {
    let texts = ["", "name", "age", "a/b", "quote \" and \\", "line\nbreak\u{1}", "é 日本 🇺🇸"]
    func text() -> String {
      texts.randomElement(using: &generator)! + String(Int.random(in: 0..<100, using: &generator))
    }
    var state = DialogState()
    if Bool.random(using: &generator) { state.position = text() }
    state.attempts = [0, 1, 7, -3, Int.max, Int.min].randomElement(using: &generator)!
    state.history = (0..<Int.random(in: 0..<6, using: &generator)).map { _ in text() }
    if Bool.random(using: &generator) { state.fingerprint = text() }
    state.finished = Bool.random(using: &generator)
    return state
  }

  /// A fast path and the `Codable` conformance it stands in for decoded `document` alike: to
  /// equal values, or to errors that read the same.
  private func expectSameOutcome<V: Equatable>(
    _ fast: Result<V, any Error>, _ codable: Result<V, any Error>, _ document: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    switch (fast, codable) {
    case (.success(let ours), .success(let theirs)):
      #expect(ours == theirs, "\(document)", sourceLocation: sourceLocation)
    case (.failure(let ours), .failure(let theirs)):
      #expect("\(ours)" == "\(theirs)", "\(document)", sourceLocation: sourceLocation)
    default:
      Issue.record("\(document): \(fast) against \(codable)", sourceLocation: sourceLocation)
    }
  }

  @Test func dialogStatesFastPathWritesAndReadsWhatItsCodableConformanceDoes() throws {
    var generator = SplitMix64(seed: 0xD1A1_0657)
    for _ in 0..<500 {
      let state = Self.randomState(using: &generator)
      let fast = try StoredJSON.encode(state)
      #expect(fast == (try StoredJSON.encode(ViaCodable(state))))
      let tree = try fast.withUnsafeBufferPointer { bytes in
        var parser = JSONParser(bytes)
        return try parser.parseDocument()
      }
      #expect(DialogState(storedJSON: tree) == state, "the fast path reads its own bytes")
      #expect(try StoredJSON.decode(DialogState.self, from: fast) == state)
      #expect(try JSONDecoder().decode(DialogState.self, from: Data(fast)) == state)
      let foundation = try JSONEncoder().encode(state)
      #expect(try StoredJSON.decode(DialogState.self, from: Array(foundation)) == state)
      // Inside a session, as the session middleware stores it.
      var session = DialogSession<SurveyAnswers>()
      session.state = state
      session.answers.name = "Ada"
      try expectInterchangeable(SurveySession(session))
    }
  }

  /// Shapes the fast path leaves to the synthesized decoder, and ones it reads itself: either way
  /// the outcome is the conformance's, the same value or the same kind of error.
  @Test func dialogStatesOddShapesDecodeAsTheirCodableConformanceDecodesThem() throws {
    let plain = #""attempts":1,"finished":false,"history":["a"]"#
    let documents = [
      "{\(plain)}", #"{\#(plain),"position":"age","fingerprint":"f"}"#,
      #"{\#(plain),"position":null,"fingerprint":null}"#,
      #"{\#(plain),"position":"first","position":"second","extra":[1,{"x":2}]}"#,
      #"{\#(plain),"position":null,"position":"second"}"#,
      #"{"attempts":2.0,"finished":true,"history":[]}"#,
      #"{"attempts":1e1,"finished":true,"history":[]}"#,
      #"{"attempts":2.5,"finished":true,"history":[]}"#,
      #"{"attempts":1,"attempts":"x","finished":true,"history":[]}"#,
      #"{"finished":true,"history":[]}"#, #"{"attempts":null,"finished":true,"history":[]}"#,
      #"{"attempts":1,"finished":"yes","history":[]}"#, #"{"attempts":1,"history":[]}"#,
      #"{"attempts":1,"finished":true,"history":["a",2]}"#,
      #"{"attempts":1,"finished":true,"history":null}"#,
      #"{"attempts":1,"finished":true,"history":[],"position":3}"#,
      #"{"attempts":99999999999999999999,"finished":true,"history":[]}"#, "[]", "null", "{}",
    ]
    for document in documents {
      let bytes = Array(document.utf8)
      let fast = Result { try StoredJSON.decode(DialogState.self, from: bytes) }
      let codable = Result { try StoredJSON.decode(ViaCodable.self, from: bytes).state }
      expectSameOutcome(fast, codable, document)
    }
  }

  @Test func dialogSessionsFastPathWritesAndReadsWhatTheirCodableConformanceDoes() throws {
    var generator = SplitMix64(seed: 0x5E55_1077)
    for _ in 0..<300 {
      var session = DialogSession<SurveyAnswers>()
      session.state = Self.randomState(using: &generator)
      if Bool.random(using: &generator) { session.answers.name = "Ada \"/\\ \u{2}" }
      if Bool.random(using: &generator) {
        session.answers.age = Int.random(in: -5...120, using: &generator)
      }
      if Bool.random(using: &generator) { session.answers.student = Bool.random(using: &generator) }
      let fast = try StoredJSON.encode(session)
      #expect(fast == (try StoredJSON.encode(SurveySession(session))), "the conformance's bytes")
      let decoded = try StoredJSON.decode(DialogSession<SurveyAnswers>.self, from: fast)
      #expect(SurveySession(decoded) == SurveySession(session))
      let foundation = try JSONDecoder().decode(DialogSession<SurveyAnswers>.self, from: Data(fast))
      #expect(SurveySession(foundation) == SurveySession(session))
    }
  }

  /// A session the fast path cannot read whole goes through the conformance, whose value or error
  /// it gets.
  @Test func dialogSessionsOddShapesDecodeAsTheirCodableConformanceDecodesThem() throws {
    let state = #"{"attempts":0,"finished":false,"history":[]}"#
    let documents = [
      #"{"answers":{},"state":\#(state)}"#,
      #"{"answers":{"name":"Ada","age":3},"state":\#(state)}"#,
      #"{"state":\#(state),"answers":{"age":1},"answers":{"age":2},"extra":null}"#,
      #"{"answers":{"age":"three"},"state":\#(state)}"#, #"{"answers":null,"state":\#(state)}"#,
      #"{"state":\#(state)}"#, #"{"answers":{}}"#, #"{"answers":{},"state":null}"#,
      #"{"answers":{},"state":{"attempts":2.0,"finished":false,"history":[]}}"#,
      #"{"answers":{},"state":{"attempts":1,"history":[]}}"#,
      #"{"answers":{"age":1.5},"state":[]}"#,
      "[]", "null", "{}",
    ]
    for document in documents {
      let bytes = Array(document.utf8)
      let fast = Result {
        SurveySession(try StoredJSON.decode(DialogSession<SurveyAnswers>.self, from: bytes))
      }
      let codable = Result { try StoredJSON.decode(SurveySession.self, from: bytes) }
      expectSameOutcome(fast, codable, document)
    }
  }

  @Test func objectsAreWrittenWithKeysInByteOrderSoEqualStatesEncodeEqually() throws {
    struct Small: Codable {
      var zebra = 1
      var apple: [Bool?] = [true, nil]
      var mango = "x\"y\n\u{1}"
    }
    #expect(
      String(decoding: try StoredJSON.encode(Small()), as: UTF8.self)
        == #"{"apple":[true,null],"mango":"x\"y\n\u0001","zebra":1}"#)

    let keys = (0..<200).map { "key\($0)" }
    var forwards: [String: Int] = [:]
    for (index, key) in keys.enumerated() { forwards[key] = index }
    var backwards: [String: Int] = [:]
    for (index, key) in keys.enumerated().reversed() { backwards[key] = index }
    backwards.reserveCapacity(4_000)
    #expect(Array(forwards.keys) != Array(backwards.keys), "the dictionaries iterate differently")
    #expect(try StoredJSON.encode(forwards) == StoredJSON.encode(backwards))
  }

  @Test func valuesJSONCannotHoldAreRefused() {
    #expect(throws: EncodingError.self) { try StoredJSON.encode([Double.nan]) }
    #expect(throws: EncodingError.self) { try StoredJSON.encode(["x": Float.infinity]) }
  }

  @Test func wrongShapesGiveFoundationsErrors() throws {
    struct Counter: Codable, Equatable { var count: Int }
    func decodeBoth(_ json: String) -> (ours: Result<Counter, any Error>, theirs: Bool) {
      (
        Result { try StoredJSON.decode(Counter.self, from: Array(json.utf8)) },
        (try? JSONDecoder().decode(Counter.self, from: Data(json.utf8))) != nil
      )
    }
    // Numbers an Int holds exactly are accepted in any notation, as Foundation does.
    for json in [#"{"count": 2.0}"#, #"{"count": 1e2}"#, #"{"count": -0}"#] {
      let (ours, theirs) = decodeBoth(json)
      #expect((try? ours.get()) != nil, "\(json)")
      #expect(theirs, "\(json)")
    }
    for json in [
      #"{"count": 2.5}"#, #"{"count": 1e40}"#, #"{"count": "2"}"#, #"{"count": null}"#, #"{}"#,
    ] {
      let (ours, theirs) = decodeBoth(json)
      #expect((try? ours.get()) == nil, "\(json)")
      #expect(!theirs, "\(json)")
    }
    #expect {
      try StoredJSON.decode(Counter.self, from: Array(#"{"count":"2"}"#.utf8))
    } throws: { error in
      guard case DecodingError.typeMismatch(_, let context) = error else { return false }
      return context.codingPath.map(\.stringValue) == ["count"]
    }
    #expect {
      try StoredJSON.decode(Counter.self, from: Array("{}".utf8))
    } throws: { error in
      guard case DecodingError.keyNotFound(let key, _) = error else { return false }
      return key.stringValue == "count"
    }
    #expect(throws: DecodingError.self) {
      try StoredJSON.decode([UInt8].self, from: Array("[255, 256]".utf8))
    }
  }

  @Test func bytesThatAreNotJSONAreRefusedNeverCrash() throws {
    let hostile: [[UInt8]] =
      [
        "", " ", "{", "}", "[1 2]", #"{"a"}"#, #"{"a":}"#, "01", "1.", "-",
        ".5", "1e", "+1", "tru", "nul", "falsey", #""\ud800""#, #""\udc00x""#, #""\x""#, #""\u12""#,
        "\"a\u{1}b\"", "\"open", "{} x", "[]]", "NaN", "Infinity", "'a'", "[,]", "[1,,]", "{,}",
      ].map { Array($0.utf8) } + [
        [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0xEF, 0xBB, 0xBF, 0x31],
        // Overlong "/", a UTF-16 surrogate and a code point past U+10FFFF, each in UTF-8.
        [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],
        Array(repeating: UInt8(ascii: "["), count: 100_000),
        Array(repeating: UInt8(ascii: "{"), count: 100_000),
      ]
    for bytes in hostile {
      #expect(throws: DecodingError.self, "\(bytes.prefix(12))") {
        try StoredJSON.decode(Value.self, from: bytes)
      }
    }
    // Deep but within the limit.
    let deep =
      Array(repeating: UInt8(ascii: "["), count: 500)
      + Array(repeating: UInt8(ascii: "]"), count: 500)
    _ = try StoredJSON.decode(Value.self, from: deep)
  }

  /// Random corruptions of a stored state: whatever Foundation's parser accepts, so does Parley's,
  /// and to the same value; whatever it refuses, Parley's refuses too. One known difference: a
  /// number with a fraction and more digits than a `Double` holds (`-9223372036854775.808`)
  /// decodes in Foundation as an integer that drops the fraction, in Parley as the nearest
  /// `Double` (it is not an integer); there only acceptance is compared.
  @Test func corruptedStatesAreJudgedAsFoundationJudgesThem() throws {
    var generator = SplitMix64(seed: 0xC0DE)
    let bytes = try StoredJSON.encode(Value.random(depth: 0, using: &generator))
    let original = try StoredJSON.encode(Everything())
    let replacements =
      Array(#"{}[]:,"\0123456789.eE+-tfnul x\"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xFF]
    var accepted = 0
    for trial in 0..<3_000 {
      var mutated = trial.isMultiple(of: 2) ? original : bytes
      for _ in 0..<Int.random(in: 1...3, using: &generator) where !mutated.isEmpty {
        let index = Int.random(in: 0..<mutated.count, using: &generator)
        switch Int.random(in: 0..<3, using: &generator) {
        case 0: mutated[index] = replacements.randomElement(using: &generator)!
        case 1: mutated.remove(at: index)
        default: mutated.insert(replacements.randomElement(using: &generator)!, at: index)
        }
      }
      let ours = try? StoredJSON.decode(Value.self, from: mutated)
      let theirs = try? JSONDecoder().decode(Value.self, from: Data(mutated))
      let text = String(decoding: mutated, as: UTF8.self)
      if text.contains(/[0-9]{16,}\.[0-9]/) {
        #expect((ours == nil) == (theirs == nil), "\(text)")
      } else if ours != theirs {
        Issue.record(
          """
          the coders disagree on \(text)
          Parley's: \(Self.summary(ours))
          Foundation's: \(Self.summary(theirs))
          """)
      }
      if ours != nil { accepted += 1 }
    }
    #expect(accepted > 100, "some corruptions still parse, so both branches are exercised")
  }
}

/// A dialog's session, comparable.
struct SurveySession: Codable, Equatable {
  var session: DialogSession<SurveyAnswers>
  init(_ session: DialogSession<SurveyAnswers>) { self.session = session }
  init(from decoder: any Decoder) throws { session = try .init(from: decoder) }
  func encode(to encoder: any Encoder) throws { try session.encode(to: encoder) }
  static func == (a: Self, b: Self) -> Bool {
    a.session.state == b.session.state && a.session.answers == b.session.answers
  }
}

extension FuzzTargets.JSONValue {
  /// A random value, at most a few levels deep, with strings that need escaping.
  static func random(depth: Int, using generator: inout SplitMix64) -> Self {
    let choice = Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &generator)
    switch choice {
    case 0: return .null
    case 1: return .bool(Bool.random(using: &generator))
    case 2:
      // Any magnitude, from one digit to Int.min and Int.max.
      let shift = Int.random(in: 0...63, using: &generator)
      return .int(Int.random(in: Int.min...Int.max, using: &generator) >> shift)
    case 3:
      // Fractional, so that it does not decode as an integer.
      return .double(Double(Int.random(in: -1_000_000...1_000_000, using: &generator)) + 0.25)
    case 4: return .string(randomString(using: &generator))
    case 5:
      return .array(
        (0..<Int.random(in: 0...4, using: &generator)).map { _ in
          random(depth: depth + 1, using: &generator)
        })
    default:
      var object: [String: Self] = [:]
      for _ in 0..<Int.random(in: 0...5, using: &generator) {
        object[randomString(using: &generator)] = random(depth: depth + 1, using: &generator)
      }
      return .object(object)
    }
  }

  static func randomString(using generator: inout SplitMix64) -> String {
    let alphabet: [Character] = [
      "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\u{1}", "é", "😀", "\u{7F}",
    ]
    return String(
      (0..<Int.random(in: 0...6, using: &generator)).map { _ in
        alphabet.randomElement(using: &generator)!
      })
  }
}
