/// A problem the dialog linter found. Run ``DialogEngine/lint()`` at start-up and in tests.
public enum DialogLintIssue: Sendable, Hashable, CustomStringConvertible {
  /// Two steps or labels share an id (conversations could resume at the wrong one).
  case duplicateID(String)
  /// A step no path reaches.
  case unreachable(step: String)
  /// A `Goto` to a label that does not exist.
  case gotoToNowhere(label: String)
  /// A question that cannot be answered (a menu without options).
  case askWithNoWayOut(id: String)
  /// A message longer than two segments' worth (320 characters).
  case messageTooLong(step: String, length: Int)
  /// The first message does not tell people how to opt out.
  case firstMessageWithoutOptOutHint

  /// The longest message the linter accepts.
  public static let maximumMessageLength = 320

  public var description: String {
    switch self {
    case .duplicateID(let id): "the id \"\(id)\" is used more than once"
    case .unreachable(let step): "step \(step) is never reached"
    case .gotoToNowhere(let label): "Goto(\"\(label)\") has no Label(\"\(label)\")"
    case .askWithNoWayOut(let id): "question \"\(id)\" cannot be answered"
    case .messageTooLong(let step, let length):
      "step \(step) sends \(length) characters, more than \(Self.maximumMessageLength)"
    case .firstMessageWithoutOptOutHint:
      "the first message does not say how to opt out (e.g. \"Reply STOP to opt out\")"
    }
  }
}

extension DialogEngine {
  /// Checks the dialog and returns every problem found.
  public func lint() -> [DialogLintIssue] {
    var issues: [DialogLintIssue] = program.duplicates.map(DialogLintIssue.duplicateID)
    issues += program.missingLabels.map { DialogLintIssue.gotoToNowhere(label: $0) }
    let reachable = program.reachable
    var firstText: String?
    for (index, instruction) in program.instructions.enumerated() {
      let name = stepName(index)
      switch instruction {
      case .say(_, let prompt, _):
        if firstText == nil && reachable.contains(index) { firstText = prompt.template }
        if prompt.template.count > DialogLintIssue.maximumMessageLength {
          issues.append(.messageTooLong(step: name, length: prompt.template.count))
        }
      case .ask(let ask, _):
        if firstText == nil && reachable.contains(index) { firstText = ask.prompt.template }
        if ask.kind == .choose && ask.options.isEmpty {
          issues.append(.askWithNoWayOut(id: ask.id))
        }
        let length = ask.prompt.template.count + ask.options.reduce(0) { $0 + $1.count + 4 }
        if length > DialogLintIssue.maximumMessageLength {
          issues.append(.messageTooLong(step: name, length: length))
        }
      case .end(let prompt?):
        if prompt.template.count > DialogLintIssue.maximumMessageLength {
          issues.append(.messageTooLong(step: name, length: prompt.template.count))
        }
      case .jump, .goto, .branch, .run, .end:
        break
      }
      if !reachable.contains(index), isVisible(instruction) {
        issues.append(.unreachable(step: name))
      }
    }
    if let firstText, !firstText.uppercased().contains("STOP") {
      issues.append(.firstMessageWithoutOptOutHint)
    }
    return issues
  }

  /// Jumps are plumbing; the others are steps a person wrote.
  private func isVisible(_ instruction: DialogProgram<Answers>.Instruction) -> Bool {
    if case .jump = instruction { return false }
    return true
  }

  func stepName(_ index: Int) -> String {
    switch program.instructions[index] {
    case .say(let id, _, _): id
    case .ask(let ask, _): ask.id
    case .jump: "jump-\(index)"
    case .goto(let label): "goto-\(label)"
    case .branch(let id, _, _): id
    case .run(let id, _): id
    case .end: "end-\(index)"
    }
  }
}
