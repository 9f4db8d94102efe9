import Foundation
import Parley
import ParleyTesting
import SurveyBot
import Testing

struct Pizza: DialogAnswers, Equatable {
  var size: String?
  var slices: Int?
  var delivery: Bool?
  var address: String?
  var price: Double?
  var when: Date?
}

struct PizzaOrder: Dialog {
  typealias Answers = Pizza
  var body: DialogSteps<Pizza> {
    "Pizza time! Reply STOP to opt out."
    Label("menu")
    Choose("What size?", into: \.size, options: ["Small", "Medium", "Large", "Large Family"])
    Switch(on: \.size) { size in
      size.is("Small") { "A snack, then." }
      size.is("Large", "Large Family") { "Hungry!" }
      size.otherwise { "Good choice." }
    }
    Ask("How many slices?", into: \.slices, as: .integer(in: 1...12), retries: 1) {
      "We'll cut it in 8."
      Goto("ship")
    }
    Label("ship")
    Ask("Delivery? (yes/no)", into: \.delivery, as: .yesNo)
    If("delivery", { $0.delivery == true }) {
      Ask("Your address?", into: \.address, as: .text)
    }
    Run("price") { answers in answers.price = answers.size == "Small" ? 8 : 14.5 }
    End("That's $\(\.price) for a \(\.size) pizza.")
  }
}

struct DialogEngineTests {
  @Test func aWholeConversationFillsTheTypedAnswers() async throws {
    var tester = DialogTester(PizzaOrder())
    #expect(
      try await tester.send("hi") == [
        "Pizza time! Reply STOP to opt out.",
        "What size?\n1. Small\n2. Medium\n3. Large\n4. Large Family",
      ])
    #expect(try await tester.send("large family") == ["Hungry!", "How many slices?"])
    #expect(
      try await tester.send("13") == [
        "Please reply with a number from 1 to 12.", "How many slices?",
      ])
    #expect(try await tester.send("lots") == ["We'll cut it in 8.", "Delivery? (yes/no)"])
    #expect(try await tester.send("Y") == ["Your address?"])
    #expect(try await tester.send("1 Main St") == ["That's $14.5 for a Large Family pizza."])
    #expect(
      tester.answers
        == Pizza(
          size: "Large Family", slices: nil, delivery: true, address: "1 Main St", price: 14.5))
    #expect(tester.session.state.finished)
  }

  @Test(arguments: [
    ("1", "Small"), ("small", "Small"), ("SMA", "Small"), ("m", "Medium"), ("Large", "Large"),
    ("4", "Large Family"),
    ("large f", "Large Family"), (" 2. ", "Medium"),
  ])
  func aMenuAcceptsTheNumberTheLabelOrAnUnambiguousPrefix(text: String, choice: String) async throws
  {
    var tester = DialogTester(PizzaOrder())
    _ = try await tester.send("hi")
    _ = try await tester.send(text)
    #expect(tester.answers.size == choice)
  }

  @Test(arguments: ["l", "5", "0", "pepperoni", ""])
  func anAmbiguousOrUnknownChoiceIsAskedAgain(text: String) async throws {
    var tester = DialogTester(PizzaOrder())
    _ = try await tester.send("hi")
    #expect(try await tester.send(text).first == "Please reply with one of the options (1-4).")
    #expect(tester.answers.size == nil)
  }

  @Test func builtInParsers() {
    func value<V>(_ parser: AnswerParser<V>, _ text: String) -> V? { try? parser(text).get() }
    #expect(["y", "Yes", "YES!", "1", "yeah"].allSatisfy { value(.yesNo, $0) == true })
    #expect(["n", "No.", "2", "nope"].allSatisfy { value(.yesNo, $0) == false })
    #expect(value(.yesNo, "maybe") == nil)
    #expect(value(.integer(in: 1...10), " 7 ") == 7)
    #expect(value(.integer(in: 1...10), "11") == nil)
    #expect(value(.decimal(), "$3.50") == 3.5)
    #expect(value(.decimal(), "3,5") == 3.5)
    #expect(value(.decimal(in: 0...1), "2") == nil)
    #expect(value(.email, "ada@example.com") == "ada@example.com")
    #expect(value(.email, "ada@example") == nil)
    #expect(value(.email, "a b@c.d") == nil)
    #expect(value(.text, "  ") == nil)
    let formatter = { (date: Date) in date.formatted(.iso8601.year().month().day()) }
    #expect(value(.date, "2026-11-22").map(formatter) == "2026-11-22")
    #expect(value(.date, "11/22/2026").map(formatter) == "2026-11-22")
    #expect(value(.date, "22.11.2026").map(formatter) == "2026-11-22")
    #expect(value(.date, "2026-02-30") == nil)
    let even = AnswerParser<Int>(description: "an even number") { text in
      guard let number = Int(text), number % 2 == 0 else {
        return .failure(AnswerError("Even, please."))
      }
      return .success(number)
    }
    #expect(value(even, "4") == 4)
    #expect(value(even, "3") == nil)
  }

  @Test func globalCommandsInterruptAnyQuestion() async throws {
    var tester = DialogTester(
      PizzaOrder(),
      configuration: DialogConfiguration(commands: [
        "MENU": .goto("menu"), "BACK": .back, "RESTART": .restart,
      ]))
    _ = try await tester.send("hi")
    _ = try await tester.send("small")
    #expect(
      try await tester.send("menu") == [
        "What size?\n1. Small\n2. Medium\n3. Large\n4. Large Family"
      ])
    _ = try await tester.send("medium")
    #expect(
      try await tester.send("back") == [
        "What size?\n1. Small\n2. Medium\n3. Large\n4. Large Family"
      ])
    #expect(try await tester.send("restart").first == "Pizza time! Reply STOP to opt out.")
    #expect(tester.answers == Pizza())
  }

  @Test func aGotoLoopWithoutAQuestionIsAnErrorNotAHang() async {
    struct Loop: Dialog {
      typealias Answers = Pizza
      var body: DialogSteps<Pizza> {
        Label("top")
        "again"
        Goto("top")
      }
    }
    var tester = DialogTester(Loop())
    await #expect(throws: DialogError.loopsWithoutAsking) { _ = try await tester.send("hi") }
  }

  @Test func aChangedDialogResumesWhereTheStepStillExistsAndRestartsOtherwise() async throws {
    struct Version1: Dialog {
      typealias Answers = SurveyAnswers
      var body: DialogSteps<SurveyAnswers> {
        "Hi! Reply STOP to opt out."
        Ask("Name?", into: \.name, as: .text)
        Ask("Age?", into: \.age, as: .integer(in: 1...120))
        Ask("Email?", into: \.email, as: .email)
      }
    }
    struct Version2: Dialog {  // a question inserted, another reworded, "email" removed
      typealias Answers = SurveyAnswers
      var body: DialogSteps<SurveyAnswers> {
        "Hi! Reply STOP to opt out."
        Ask("Name?", into: \.name, as: .text)
        Choose("Colour?", into: \.colour, options: ["Red", "Blue"])
        Ask("How old are you, \(\.name)?", into: \.age, as: .integer(in: 1...120))
        End("Done.")
      }
    }
    let old = DialogEngine(Version1())
    let new = DialogEngine(Version2())
    #expect(old.fingerprint != new.fingerprint)

    // Waiting at "age", which still exists: resumed there.
    var atAge = DialogSession<SurveyAnswers>()
    _ = try await old.advance(&atAge, input: "hi")
    _ = try await old.advance(&atAge, input: "Ada")
    #expect(atAge.state.position == "age")
    #expect(try await new.advance(&atAge, input: "36").texts == ["Done."])
    #expect(atAge.answers.age == 36 && atAge.answers.name == "Ada")

    // Waiting at "email", which is gone: restarted with the configured message.
    var atEmail = DialogSession<SurveyAnswers>()
    _ = try await old.advance(&atEmail, input: "hi")
    _ = try await old.advance(&atEmail, input: "Ada")
    _ = try await old.advance(&atEmail, input: "36")
    #expect(atEmail.state.position == "email")
    let outcome = try await new.advance(&atEmail, input: "ada@example.com")
    #expect(
      outcome.texts == [
        "This conversation was updated, so we're starting over.", "Hi! Reply STOP to opt out.",
        "Name?",
      ])
    #expect(atEmail.answers == SurveyAnswers())
  }

  @Test func theStateSurvivesEncodingAsASessionDoes() async throws {
    let engine = DialogEngine(PizzaOrder())
    var session = DialogSession<Pizza>()
    _ = try await engine.advance(&session, input: "hi")
    _ = try await engine.advance(&session, input: "small")
    let restored = try JSONDecoder().decode(
      DialogSession<Pizza>.self, from: JSONEncoder().encode(session))
    var copy = restored
    #expect(try await engine.advance(&copy, input: "4").texts == ["Delivery? (yes/no)"])
  }

  @Test func longTextIsSplitAtWordBoundariesIntoMessagesOfAt1600() {
    let words = (0..<500).map { "word\($0)" }.joined(separator: " ")
    let pieces = SMSText.split(words)
    #expect(pieces.count == 3)
    #expect(pieces.allSatisfy { $0.count <= 1600 })
    #expect(pieces.joined(separator: " ") == words)
    #expect(SMSText.split(String(repeating: "x", count: 3500)).map(\.count) == [1600, 1600, 300])
    #expect(SMSText.split("short") == ["short"])
    #expect(SMSText.segments("hello").map(\.segments) == [1])
  }

  @Test func theRunnerSendsSplitTextAsSeveralMessagesInOneResponse() async throws {
    struct Long: Dialog {
      typealias Answers = Pizza
      var body: DialogSteps<Pizza> {
        Say(Prompt(stringLiteral: (0..<400).map { "word\($0)" }.joined(separator: " ")))
      }
    }
    let runner = DialogRunner(Long())
    var session = DialogSession<Pizza>()
    let outcome = try await runner.engine.advance(&session, input: "hi")
    #expect(outcome.texts.count == 1)
    #expect(outcome.texts.flatMap { SMSText.split($0) }.count == 2)
  }
}

struct DialogLintTests {
  @Test func theSurveyIsClean() {
    #expect(DialogEngine(SurveyDialog()).lint() == [])
    #expect(DialogEngine(PizzaOrder()).lint() == [])
  }

  @Test func theLinterFindsEveryKindOfProblem() {
    struct Bad: Dialog {
      typealias Answers = SurveyAnswers
      var body: DialogSteps<SurveyAnswers> {
        "Welcome!"
        Ask("Name?", into: \.name, as: .text)
        Ask("Name again?", into: \.name, as: .text)
        Choose("Pick", into: \.colour, options: [])
        Say(Prompt(stringLiteral: String(repeating: "long ", count: 70)))
        Goto("nowhere")
        "never said"
        End()
      }
    }
    let issues = DialogEngine(Bad()).lint()
    #expect(issues.contains(.duplicateID("name")))
    #expect(issues.contains(.gotoToNowhere(label: "nowhere")))
    #expect(issues.contains(.askWithNoWayOut(id: "colour")))
    #expect(issues.contains(.messageTooLong(step: "say-2", length: 350)))
    #expect(issues.contains(.unreachable(step: "say-3")))
    #expect(issues.contains(.firstMessageWithoutOptOutHint))
  }
}

struct DialogGraphTests {
  static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Golden")

  @Test func theSurveysMermaidExportMatchesItsGoldenFile() throws {
    let mermaid = DialogEngine(SurveyDialog()).mermaid()
    if ProcessInfo.processInfo.environment["PARLEY_UPDATE_GOLDEN"] == "1" {
      try mermaid.write(
        to: Self.golden.appendingPathComponent("survey.mmd"), atomically: true, encoding: .utf8)
    }
    let expected = try String(
      contentsOf: Self.golden.appendingPathComponent("survey.mmd"), encoding: .utf8)
    #expect(mermaid == expected)
  }

  @Test func theDOTExportHasEveryStepAndEdge() {
    let dot = DialogEngine(SurveyDialog()).dot()
    #expect(dot.hasPrefix("digraph dialog {"))
    #expect(dot.contains("shape=parallelogram, label=\"age: Thanks, {name}! How old are you?\""))
    #expect(dot.contains("[label=\"18 or over\"]"))
    #expect(dot.contains("[label=\"after 2 retries\"]"))
    #expect(dot.hasSuffix("}\n"))
  }
}
