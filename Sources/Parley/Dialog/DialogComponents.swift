/// The answers a dialog fills in: a `Codable` struct whose properties are optionals the steps set
/// through key paths.
///
/// ```swift
/// struct Answers: DialogAnswers {
///   var name: String?
///   var age: Int?
/// }
/// ```
public protocol DialogAnswers: Codable, Sendable {
  /// Nothing answered yet.
  init()
}

/// A piece of a dialog: a step, several steps, or a whole flow.
public protocol DialogComponent<Answers>: Sendable {
  /// The answers it reads and fills.
  associatedtype Answers: DialogAnswers
  /// Its steps.
  var steps: DialogSteps<Answers> { get }
}

/// A reusable flow, written as a type with a `body`:
///
/// ```swift
/// struct Greeting: Dialog {
///   var body: DialogSteps<Answers> {
///     "Hi! Reply STOP to opt out."
///     Ask("What's your name?", into: \.name, as: .text)
///   }
/// }
/// ```
public protocol Dialog: DialogComponent {
  /// The flow.
  @DialogBuilder<Answers> var body: DialogSteps<Answers> { get }
}

extension Dialog {
  public var steps: DialogSteps<Answers> { body }
}

/// Steps in order: what the builder produces (erased early, so dialogs compile fast).
public struct DialogSteps<Answers: DialogAnswers>: DialogComponent {
  let nodes: [DialogNode<Answers>]

  init(_ nodes: [DialogNode<Answers>]) { self.nodes = nodes }

  /// No steps.
  public static var empty: DialogSteps<Answers> { DialogSteps([]) }

  public var steps: DialogSteps<Answers> { self }
}

/// Builds dialogs: components, and bare strings meaning "say this". `if`, `if let`, `switch` and
/// `for` work on values known when the dialog is built (configuration, feature flags); branches
/// on the user's answers are ``If`` and ``Switch``, so that every path is known in advance (for
/// the linter, the graph, and resuming a conversation at a stable step).
@resultBuilder
public enum DialogBuilder<Answers: DialogAnswers> {
  public static func buildExpression(_ component: some DialogComponent<Answers>) -> DialogSteps<
    Answers
  > {
    component.steps
  }

  public static func buildExpression(_ text: String) -> DialogSteps<Answers> {
    DialogSteps([.say(id: nil, Prompt(stringLiteral: text), media: [])])
  }

  public static func buildExpression(_ label: Label) -> DialogSteps<Answers> {
    DialogSteps([.label(label.name)])
  }

  public static func buildExpression(_ goto: Goto) -> DialogSteps<Answers> {
    DialogSteps([.goto(goto.label)])
  }

  public static func buildBlock(_ parts: DialogSteps<Answers>...) -> DialogSteps<Answers> {
    DialogSteps(parts.flatMap(\.nodes))
  }

  public static func buildOptional(_ part: DialogSteps<Answers>?) -> DialogSteps<Answers> {
    part ?? DialogSteps([])
  }

  public static func buildEither(first: DialogSteps<Answers>) -> DialogSteps<Answers> { first }

  public static func buildEither(second: DialogSteps<Answers>) -> DialogSteps<Answers> { second }

  public static func buildArray(_ parts: [DialogSteps<Answers>]) -> DialogSteps<Answers> {
    DialogSteps(parts.flatMap(\.nodes))
  }

  public static func buildLimitedAvailability(_ part: DialogSteps<Answers>) -> DialogSteps<Answers>
  { part }
}

/// One node of a dialog's tree, before it is compiled to a program.
indirect enum DialogNode<Answers: DialogAnswers>: Sendable {
  case say(id: String?, Prompt<Answers>, media: [String])
  case ask(AskNode<Answers>)
  case branch(id: String, cases: [BranchCase<Answers>], otherwise: [DialogNode<Answers>])
  case label(String)
  case goto(String)
  case run(id: String, @Sendable (inout Answers) async throws -> Void)
  case end(Prompt<Answers>?)
}

struct BranchCase<Answers: DialogAnswers>: Sendable {
  var name: String
  var predicate: @Sendable (Answers) -> Bool
  var body: [DialogNode<Answers>]
}

struct AskNode<Answers: DialogAnswers>: Sendable {
  enum Kind: String, Sendable { case ask, choose }
  var id: String
  var kind: Kind
  var prompt: Prompt<Answers>
  /// Options shown under the prompt (a menu), if any.
  var options: [String]
  /// What is accepted, for graphs.
  var accepts: String
  var retries: Int
  var fallback: [DialogNode<Answers>]?
  /// Parses the text and stores the answer; returns the error to send back otherwise.
  var accept: @Sendable (String, inout Answers) -> AnswerError?

  func render(_ answers: Answers) -> String {
    guard !options.isEmpty else { return prompt.render(answers) }
    return prompt.render(answers) + "\n"
      + options.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: "\n")
  }
}

/// Marks a place a ``Goto`` (or a `.goto` global command) can jump to.
public struct Label: Sendable, Hashable {
  /// The label's name.
  public let name: String

  /// Creates a label.
  public init(_ name: String) { self.name = name }
}

/// Continues at a ``Label`` (loops, menus).
public struct Goto: Sendable, Hashable {
  /// The label to continue at.
  public let label: String

  /// Creates a jump.
  public init(_ label: String) { self.label = label }
}

/// Sends a text, and optionally media.
public struct Say<Answers: DialogAnswers>: DialogComponent {
  let prompt: Prompt<Answers>
  let media: [String]
  let id: String?

  /// Says `prompt` (which may interpolate answers) with `media` URLs.
  public init(_ prompt: Prompt<Answers>, media: [String] = [], id: String? = nil) {
    self.prompt = prompt
    self.media = media
    self.id = id
  }

  public var steps: DialogSteps<Answers> { DialogSteps([.say(id: id, prompt, media: media)]) }
}

/// Ends the conversation, optionally with a last message.
public struct End<Answers: DialogAnswers>: DialogComponent {
  let prompt: Prompt<Answers>?

  /// Ends, saying `prompt` if given.
  public init(_ prompt: Prompt<Answers>? = nil) { self.prompt = prompt }

  public var steps: DialogSteps<Answers> { DialogSteps([.end(prompt)]) }
}

/// Asks a question and stores the typed answer. An answer the parser refuses gets its message and
/// the question again; after `retries` refusals the `otherwise` steps run (or, without them, the
/// dialog moves on with the answer unset).
public struct Ask<Answers: DialogAnswers>: DialogComponent {
  var node: AskNode<Answers>

  /// Asks `prompt` and stores the answer read by `parser` at `keyPath`.
  ///
  /// - Parameters:
  ///   - id: The step's stable id; by default the answer's name (`age` for `\.age`). Conversations
  ///     resume at this id after a deploy, so keep it when you reword the question.
  public init<Value: Sendable>(
    _ prompt: Prompt<Answers>, into keyPath: any WritableKeyPath<Answers, Value?> & Sendable,
    as parser: AnswerParser<Value>, retries: Int = 2, id: String? = nil
  ) {
    node = AskNode(
      id: id ?? keyPathName(keyPath), kind: .ask, prompt: prompt, options: [],
      accepts: parser.description, retries: retries, fallback: nil,
      accept: { text, answers in
        switch parser(text) {
        case .success(let value):
          answers[keyPath: keyPath] = value
          return nil
        case .failure(let error):
          return error
        }
      })
  }

  /// Asks, with steps to run when the retries run out.
  public init<Value: Sendable>(
    _ prompt: Prompt<Answers>, into keyPath: any WritableKeyPath<Answers, Value?> & Sendable,
    as parser: AnswerParser<Value>, retries: Int = 2, id: String? = nil,
    @DialogBuilder<Answers> otherwise: () -> DialogSteps<Answers>
  ) {
    self.init(prompt, into: keyPath, as: parser, retries: retries, id: id)
    node.fallback = otherwise().nodes
  }

  public var steps: DialogSteps<Answers> { DialogSteps([.ask(node)]) }
}

/// A menu: the user answers with the option's number, its label, or an unambiguous start of it
/// (any case). The chosen label is stored.
public struct Choose<Answers: DialogAnswers>: DialogComponent {
  var node: AskNode<Answers>

  /// Offers `options` under `prompt`, numbered, and stores the chosen label at `keyPath`.
  public init(
    _ prompt: Prompt<Answers>, into keyPath: any WritableKeyPath<Answers, String?> & Sendable,
    options: [String], retries: Int = 2, id: String? = nil
  ) {
    node = AskNode(
      id: id ?? keyPathName(keyPath), kind: .choose, prompt: prompt, options: options,
      accepts: options.joined(separator: " / "), retries: retries, fallback: nil,
      accept: { text, answers in
        guard let choice = Choose.match(text, options: options) else {
          let numbers = options.isEmpty ? "" : " (1-\(options.count))"
          return AnswerError("Please reply with one of the options\(numbers).")
        }
        answers[keyPath: keyPath] = choice
        return nil
      })
  }

  /// Offers a menu, with steps to run when the retries run out.
  public init(
    _ prompt: Prompt<Answers>, into keyPath: any WritableKeyPath<Answers, String?> & Sendable,
    options: [String], retries: Int = 2, id: String? = nil,
    @DialogBuilder<Answers> otherwise: () -> DialogSteps<Answers>
  ) {
    self.init(prompt, into: keyPath, options: options, retries: retries, id: id)
    node.fallback = otherwise().nodes
  }

  /// The option `text` designates: its number, its label, or the only label it starts.
  static func match(_ text: String, options: [String]) -> String? {
    let answer = text.trimmingASCIISpace().lowercased()
      .trimmingCharacters(in: ".!?)")
    guard !answer.isEmpty else { return nil }
    if let number = Int(answer), options.indices.contains(number - 1) { return options[number - 1] }
    if let exact = options.first(where: { $0.lowercased() == answer }) { return exact }
    let starting = options.filter { $0.lowercased().hasPrefix(answer) }
    return starting.count == 1 ? starting[0] : nil
  }

  public var steps: DialogSteps<Answers> { DialogSteps([.ask(node)]) }
}

/// Branches on earlier answers: the `then` steps when `condition` holds, else the `else` steps.
public struct If<Answers: DialogAnswers>: DialogComponent {
  let name: String
  let condition: @Sendable (Answers) -> Bool
  let then: [DialogNode<Answers>]
  let otherwise: [DialogNode<Answers>]

  /// Creates a branch; `name` labels it in graphs and ids.
  public init(
    _ name: String, _ condition: @escaping @Sendable (Answers) -> Bool,
    @DialogBuilder<Answers> then: () -> DialogSteps<Answers>,
    @DialogBuilder<Answers> else otherwise: () -> DialogSteps<Answers> = { .empty }
  ) {
    self.name = name
    self.condition = condition
    self.then = then().nodes
    self.otherwise = otherwise().nodes
  }

  public var steps: DialogSteps<Answers> {
    DialogSteps([
      .branch(
        id: name, cases: [BranchCase(name: name, predicate: condition, body: then)],
        otherwise: otherwise)
    ])
  }
}

/// Branches on the value of an earlier answer, like `switch`:
///
/// ```swift
/// Switch(on: \.colour) { colour in
///   colour.is("Red") { "Bold choice." }
///   colour.is("Blue", "Green") { "Calm choice." }
///   colour.otherwise { "Nice." }
/// }
/// ```
public struct Switch<Answers: DialogAnswers>: DialogComponent {
  let node: DialogNode<Answers>

  /// Creates a switch over the answer at `keyPath`.
  public init<Value: Equatable & Sendable>(
    on keyPath: any KeyPath<Answers, Value?> & Sendable,
    @SwitchBuilder<Answers, Value> cases: (SwitchCases<Answers, Value>) -> [SwitchCase<
      Answers, Value
    >]
  ) {
    let all = cases(SwitchCases())
    let name = keyPathName(keyPath)
    let branches = all.compactMap { entry -> BranchCase<Answers>? in
      guard let values = entry.values else { return nil }
      return BranchCase(
        name: "\(name) = \(values.map { "\($0)" }.joined(separator: " or "))",
        predicate: { answers in answers[keyPath: keyPath].map(values.contains) ?? false },
        body: entry.body)
    }
    let otherwise = all.first { $0.values == nil }?.body ?? []
    node = .branch(id: "switch-\(name)", cases: branches, otherwise: otherwise)
  }

  public var steps: DialogSteps<Answers> { DialogSteps([node]) }
}

/// The cases a ``Switch`` offers its builder.
public struct SwitchCases<Answers: DialogAnswers, Value: Equatable & Sendable>: Sendable {
  /// The case taken when the answer is one of `values`.
  public func `is`(
    _ values: Value..., @DialogBuilder<Answers> then body: () -> DialogSteps<Answers>
  )
    -> SwitchCase<Answers, Value>
  {
    SwitchCase(values: values, body: body().nodes)
  }

  /// The case taken when no other matches (or the answer is unset).
  public func otherwise(@DialogBuilder<Answers> _ body: () -> DialogSteps<Answers>) -> SwitchCase<
    Answers, Value
  > {
    SwitchCase(values: nil, body: body().nodes)
  }
}

/// One case of a ``Switch``.
public struct SwitchCase<Answers: DialogAnswers, Value: Equatable & Sendable>: Sendable {
  let values: [Value]?
  let body: [DialogNode<Answers>]
}

/// Builds the cases of a ``Switch``.
@resultBuilder
public enum SwitchBuilder<Answers: DialogAnswers, Value: Equatable & Sendable> {
  public static func buildBlock(_ cases: SwitchCase<Answers, Value>...) -> [SwitchCase<
    Answers, Value
  >] {
    cases
  }
}

/// Runs your code (an API call, a lookup) and lets it change the answers.
public struct Run<Answers: DialogAnswers>: DialogComponent {
  let id: String
  let body: @Sendable (inout Answers) async throws -> Void

  /// Runs `body`; `id` names the step in graphs.
  public init(_ id: String, _ body: @escaping @Sendable (inout Answers) async throws -> Void) {
    self.id = id
    self.body = body
  }

  public var steps: DialogSteps<Answers> { DialogSteps([.run(id: id, body)]) }
}

/// Runs another dialog's steps here (a sub-dialog sharing the same answers).
public struct Include<Answers: DialogAnswers>: DialogComponent {
  public let steps: DialogSteps<Answers>

  /// Includes `dialog`.
  public init(_ dialog: some DialogComponent<Answers>) { steps = dialog.steps }
}

extension String {
  fileprivate func trimmingCharacters(in set: String) -> String {
    var result = Substring(self)
    while let last = result.last, set.contains(last) { result = result.dropLast() }
    return String(result)
  }
}
