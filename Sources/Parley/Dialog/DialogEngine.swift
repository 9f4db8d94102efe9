/// Where a conversation is in its dialog: stored in the conversation's session, so it resumes
/// after a restart or a deploy.
public struct DialogState: Codable, Sendable, Hashable {
  /// The id of the question awaiting an answer; nil before the start and after the end.
  public var position: String?
  /// Refused answers to the current question so far.
  public var attempts: Int
  /// Questions answered, in order (for the `back` command).
  public var history: [String]
  /// The dialog's structural fingerprint when this state was saved.
  public var fingerprint: String?
  /// Whether the dialog reached its end.
  public var finished: Bool

  public init() {
    position = nil
    attempts = 0
    history = []
    fingerprint = nil
    finished = false
  }
}

/// The session state of a conversation running a dialog: its place and its answers.
public struct DialogSession<Answers: DialogAnswers>: SessionState {
  /// Where the conversation is.
  public var state: DialogState
  /// What the user answered.
  public var answers: Answers

  public init() {
    state = DialogState()
    answers = Answers()
  }
}

/// What a global command does.
public enum DialogCommand: Sendable, Hashable {
  /// Start the dialog over, forgetting the answers.
  case restart
  /// Ask the previous question again.
  case back
  /// Continue at a label.
  case goto(String)
}

/// How a dialog runs.
public struct DialogConfiguration: Sendable {
  /// Words that interrupt any question (matched like keywords: one word, any case).
  public var commands: [String: DialogCommand]
  /// Sent when a deploy removed the step a conversation was at, before starting over.
  public var restartedAfterChange: String
  /// Sent when a dialog that ended gets another message, before starting over; nil starts over
  /// silently.
  public var startingOver: String?

  public init(
    commands: [String: DialogCommand] = ["RESTART": .restart, "BACK": .back],
    restartedAfterChange: String = "This conversation was updated, so we're starting over.",
    startingOver: String? = nil
  ) {
    self.commands = Dictionary(
      uniqueKeysWithValues: commands.map { ($0.key.uppercased(), $0.value) })
    self.restartedAfterChange = restartedAfterChange
    self.startingOver = startingOver
  }
}

/// Runs a dialog: (dialog, state, inbound text) → (new state, texts to send). Pure: no I/O but
/// the dialog's own ``Run`` steps, no clock.
public struct DialogEngine<Answers: DialogAnswers>: Sendable {
  let program: DialogProgram<Answers>
  /// How it runs.
  public let configuration: DialogConfiguration

  /// Compiles `dialog`.
  public init(_ dialog: some DialogComponent<Answers>, configuration: DialogConfiguration = .init())
  {
    program = DialogProgram(dialog.steps.nodes)
    self.configuration = configuration
  }

  /// The dialog's structural fingerprint.
  public var fingerprint: String { program.fingerprint }

  /// What one turn produced.
  public struct Outcome: Sendable {
    /// The texts to send, in order.
    public var texts: [String]
    /// Media URLs to send with the last text.
    public var media: [String]
    /// Whether the dialog ended on this turn.
    public var completed: Bool
  }

  /// Steps allowed in one turn before the dialog is declared stuck in a loop.
  static var stepBudget: Int { 10_000 }

  /// Advances `session` with the user's `input`.
  public func advance(_ session: inout DialogSession<Answers>, input: String) async throws
    -> Outcome
  {
    var outcome = Outcome(texts: [], media: [], completed: false)
    // A deploy changed the dialog: resume where the step still exists, otherwise start over.
    if let saved = session.state.fingerprint, saved != program.fingerprint {
      if let position = session.state.position, program.askIndex[position] == nil {
        outcome.texts.append(configuration.restartedAfterChange)
        session = DialogSession()
      }
    }
    session.state.fingerprint = program.fingerprint

    guard let position = session.state.position, let index = program.askIndex[position] else {
      if session.state.finished {
        if let text = configuration.startingOver { outcome.texts.append(text) }
        session = DialogSession()
        session.state.fingerprint = program.fingerprint
      }
      try await run(from: 0, &session, &outcome)
      return outcome
    }
    guard case .ask(let ask, let fallback) = program.instructions[index] else {
      preconditionFailure("askIndex points at a step that is not a question")
    }

    if let word = OptOutKeywords.normalizedWord(input), let command = configuration.commands[word] {
      switch command {
      case .restart:
        session = DialogSession()
        session.state.fingerprint = program.fingerprint
        try await run(from: 0, &session, &outcome)
      case .back:
        if let previous = session.state.history.popLast(), let target = program.askIndex[previous] {
          try await run(from: target, &session, &outcome)
        } else {
          outcome.texts.append(ask.render(session.answers))
        }
      case .goto(let label):
        if let target = program.labels[label] {
          try await run(from: target, &session, &outcome)
        } else {
          outcome.texts.append(ask.render(session.answers))
        }
      }
      return outcome
    }

    if let error = ask.accept(input, &session.answers) {
      session.state.attempts += 1
      if session.state.attempts > ask.retries {
        session.state.attempts = 0
        try await run(from: fallback ?? index + 1, &session, &outcome)
      } else {
        outcome.texts.append(error.message)
        outcome.texts.append(ask.render(session.answers))
      }
      return outcome
    }
    session.state.attempts = 0
    session.state.history.append(position)
    try await run(from: index + 1, &session, &outcome)
    return outcome
  }

  private func run(
    from start: Int, _ session: inout DialogSession<Answers>, _ outcome: inout Outcome
  )
    async throws
  {
    var index = start
    var budget = Self.stepBudget
    session.state.position = nil
    session.state.attempts = 0
    while index < program.instructions.count {
      budget -= 1
      guard budget > 0 else { throw DialogError.loopsWithoutAsking }
      switch program.instructions[index] {
      case .say(_, let prompt, let media):
        outcome.texts.append(prompt.render(session.answers))
        if !media.isEmpty { outcome.media += media }
        index += 1
      case .ask(let ask, _):
        outcome.texts.append(ask.render(session.answers))
        session.state.position = ask.id
        return
      case .jump(let target):
        index = target
      case .goto:
        index = program.instructions.count
      case .branch(_, let cases, let otherwise):
        index = cases.first { $0.predicate(session.answers) }?.target ?? otherwise
      case .run(_, let body):
        try await body(&session.answers)
        index += 1
      case .end(let prompt):
        if let prompt { outcome.texts.append(prompt.render(session.answers)) }
        index = program.instructions.count
      }
    }
    session.state.finished = true
    outcome.completed = true
  }
}

/// A dialog that cannot go on.
public enum DialogError: Error, Sendable, Hashable {
  /// It ran thousands of steps in one turn without asking anything: a `Goto` loop.
  case loopsWithoutAsking
}
