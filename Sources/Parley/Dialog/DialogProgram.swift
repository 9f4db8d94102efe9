import Crypto

/// A dialog compiled to a flat program: steps with stable ids, jumps resolved. The engine runs
/// it; the linter and the graph exports read it.
struct DialogProgram<Answers: DialogAnswers>: Sendable {
  enum Instruction: Sendable {
    case say(id: String, Prompt<Answers>, media: [String])
    case ask(AskNode<Answers>, fallback: Int?)
    case jump(Int)
    case goto(String)  // unresolved (a Goto to nowhere); the engine ends there
    case branch(
      id: String, cases: [(name: String, predicate: @Sendable (Answers) -> Bool, target: Int)],
      otherwise: Int)
    case run(id: String, @Sendable (inout Answers) async throws -> Void)
    case end(Prompt<Answers>?)
  }

  var instructions: [Instruction] = []
  var labels: [String: Int] = [:]
  var askIndex: [String: Int] = [:]
  /// Ids and labels defined more than once.
  var duplicates: [String] = []
  /// Goto targets that no label defines.
  var missingLabels: [String] = []
  /// A digest of the structure: changes when a deploy changes the dialog.
  var fingerprint = ""

  init(_ nodes: [DialogNode<Answers>]) {
    var pendingGotos: [(index: Int, label: String)] = []
    var sayCount = 0
    compile(nodes, pendingGotos: &pendingGotos, sayCount: &sayCount)
    for (index, label) in pendingGotos {
      if let target = labels[label] {
        instructions[index] = .jump(target)
      } else {
        missingLabels.append(label)
      }
    }
    fingerprint = Self.digest(instructions)
  }

  private mutating func compile(
    _ nodes: [DialogNode<Answers>], pendingGotos: inout [(index: Int, label: String)],
    sayCount: inout Int
  ) {
    for node in nodes {
      switch node {
      case .say(let id, let prompt, let media):
        sayCount += 1
        instructions.append(.say(id: id ?? "say-\(sayCount)", prompt, media: media))
      case .ask(let ask):
        if askIndex[ask.id] != nil || labels[ask.id] != nil { duplicates.append(ask.id) }
        askIndex[ask.id] = instructions.count
        let askAt = instructions.count
        instructions.append(.ask(ask, fallback: nil))
        if let fallback = ask.fallback {
          let skip = instructions.count
          instructions.append(.jump(-1))
          let fallbackStart = instructions.count
          compile(fallback, pendingGotos: &pendingGotos, sayCount: &sayCount)
          instructions[skip] = .jump(instructions.count)
          instructions[askAt] = .ask(ask, fallback: fallbackStart)
        }
      case .branch(let id, let cases, let otherwise):
        let branchAt = instructions.count
        instructions.append(.jump(-1))
        var resolved: [(name: String, predicate: @Sendable (Answers) -> Bool, target: Int)] = []
        var exits: [Int] = []
        for branch in cases {
          resolved.append((branch.name, branch.predicate, instructions.count))
          compile(branch.body, pendingGotos: &pendingGotos, sayCount: &sayCount)
          exits.append(instructions.count)
          instructions.append(.jump(-1))
        }
        let otherwiseStart = instructions.count
        compile(otherwise, pendingGotos: &pendingGotos, sayCount: &sayCount)
        let end = instructions.count
        for exit in exits { instructions[exit] = .jump(end) }
        instructions[branchAt] = .branch(id: id, cases: resolved, otherwise: otherwiseStart)
      case .label(let name):
        if labels[name] != nil || askIndex[name] != nil { duplicates.append(name) }
        labels[name] = instructions.count
      case .goto(let label):
        pendingGotos.append((instructions.count, label))
        instructions.append(.goto(label))
      case .run(let id, let body):
        instructions.append(.run(id: id, body))
      case .end(let prompt):
        instructions.append(.end(prompt))
      }
    }
  }

  /// The instructions control can reach from `index`.
  func successors(of index: Int) -> [Int] {
    switch instructions[index] {
    case .say, .run: [index + 1]
    case .ask(_, let fallback): [index + 1] + (fallback.map { [$0] } ?? [])
    case .jump(let target): [target]
    case .goto, .end: []
    case .branch(_, let cases, let otherwise): cases.map(\.target) + [otherwise]
    }
  }

  /// Every instruction reachable from the start.
  var reachable: Set<Int> {
    var seen: Set<Int> = []
    var stack = [0]
    while let index = stack.popLast() {
      guard index < instructions.count, seen.insert(index).inserted else { continue }
      stack += successors(of: index)
    }
    return seen
  }

  static func digest(_ instructions: [Instruction]) -> String {
    var text = ""
    for instruction in instructions {
      switch instruction {
      case .say(let id, let prompt, _): text += "say:\(id):\(prompt.template)\n"
      case .ask(let ask, let fallback):
        text += "ask:\(ask.id):\(ask.kind.rawValue):\(ask.accepts):\(fallback ?? -1)\n"
      case .jump(let target): text += "jump:\(target)\n"
      case .goto(let label): text += "goto:\(label)\n"
      case .branch(let id, let cases, let otherwise):
        text +=
          "branch:\(id):\(cases.map { "\($0.name)>\($0.target)" }.joined(separator: ",")):\(otherwise)\n"
      case .run(let id, _): text += "run:\(id)\n"
      case .end(let prompt): text += "end:\(prompt?.template ?? "")\n"
      }
    }
    return SHA256.hash(data: Array(text.utf8)).prefix(12).map { String($0, radix: 16) }.joined()
  }
}
