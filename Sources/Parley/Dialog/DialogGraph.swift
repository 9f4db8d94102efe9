extension DialogEngine {
  /// The dialog as a Mermaid flowchart (paste it into any Markdown that renders Mermaid).
  public func mermaid() -> String {
    var lines = ["flowchart TD"]
    let (nodes, edges) = graph()
    for node in nodes {
      let text = node.label.replacingOccurrences(of: "\"", with: "#quot;").replacingOccurrences(
        of: "\n", with: "<br/>")
      switch node.shape {
      case .start: lines.append("  \(node.id)([\"\(text)\"])")
      case .say: lines.append("  \(node.id)[\"\(text)\"]")
      case .ask: lines.append("  \(node.id)[/\"\(text)\"/]")
      case .branch: lines.append("  \(node.id){\"\(text)\"}")
      case .run: lines.append("  \(node.id)[[\"\(text)\"]]")
      case .end: lines.append("  \(node.id)((\"\(text)\"))")
      }
    }
    for edge in edges {
      if let label = edge.label {
        lines.append(
          "  \(edge.from) -->|\"\(label.replacingOccurrences(of: "\"", with: "#quot;"))\"| \(edge.to)"
        )
      } else {
        lines.append("  \(edge.from) --> \(edge.to)")
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// The dialog as a Graphviz DOT digraph (`dot -Tpng`).
  public func dot() -> String {
    var lines = ["digraph dialog {", "  rankdir=TB;", "  node [fontname=\"Helvetica\"];"]
    let (nodes, edges) = graph()
    func quoted(_ text: String) -> String {
      "\""
        + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
          of: "\"", with: "\\\""
        )
        .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
    for node in nodes {
      let shape =
        switch node.shape {
        case .start: "oval"
        case .say: "box"
        case .ask: "parallelogram"
        case .branch: "diamond"
        case .run: "component"
        case .end: "doublecircle"
        }
      lines.append("  \(node.id) [shape=\(shape), label=\(quoted(node.label))];")
    }
    for edge in edges {
      lines.append(
        "  \(edge.from) -> \(edge.to)" + (edge.label.map { " [label=\(quoted($0))]" } ?? "") + ";")
    }
    lines.append("}")
    return lines.joined(separator: "\n") + "\n"
  }

  struct GraphNode {
    enum Shape { case start, say, ask, branch, run, end }
    var id: String
    var shape: Shape
    var label: String
  }

  struct GraphEdge {
    var from: String
    var to: String
    var label: String?
  }

  /// Nodes for the visible steps, edges following the program's control flow through jumps.
  func graph() -> ([GraphNode], [GraphEdge]) {
    let instructions = program.instructions
    var nodes = [GraphNode(id: "start", shape: .start, label: "start")]
    var endNeeded = false
    func nodeID(_ index: Int) -> String { "s\(index)" }
    /// The visible step control reaches from `index`, following jumps; nil means the end.
    func target(_ index: Int) -> String {
      var current = index
      var seen: Set<Int> = []
      while current < instructions.count, seen.insert(current).inserted {
        if case .jump(let next) = instructions[current] {
          current = next
        } else {
          return nodeID(current)
        }
      }
      endNeeded = true
      return "finish"
    }
    var edges = [GraphEdge(from: "start", to: target(0), label: nil)]
    for (index, instruction) in instructions.enumerated() {
      switch instruction {
      case .jump:
        continue
      case .say(_, let prompt, _):
        nodes.append(GraphNode(id: nodeID(index), shape: .say, label: prompt.template))
        edges.append(GraphEdge(from: nodeID(index), to: target(index + 1), label: nil))
      case .ask(let ask, let fallback):
        let label =
          ask.prompt.template
          + (ask.options.isEmpty ? "" : "\n" + ask.options.joined(separator: " / "))
        nodes.append(GraphNode(id: nodeID(index), shape: .ask, label: "\(ask.id): \(label)"))
        edges.append(GraphEdge(from: nodeID(index), to: target(index + 1), label: ask.accepts))
        if let fallback {
          edges.append(
            GraphEdge(
              from: nodeID(index), to: target(fallback), label: "after \(ask.retries) retries"))
        }
      case .goto(let label):
        nodes.append(GraphNode(id: nodeID(index), shape: .end, label: "Goto \(label)?"))
      case .branch(let id, let cases, let otherwise):
        nodes.append(GraphNode(id: nodeID(index), shape: .branch, label: id))
        for branch in cases {
          edges.append(
            GraphEdge(from: nodeID(index), to: target(branch.target), label: branch.name))
        }
        edges.append(GraphEdge(from: nodeID(index), to: target(otherwise), label: "otherwise"))
      case .run(let id, _):
        nodes.append(GraphNode(id: nodeID(index), shape: .run, label: id))
        edges.append(GraphEdge(from: nodeID(index), to: target(index + 1), label: nil))
      case .end(let prompt):
        nodes.append(GraphNode(id: nodeID(index), shape: .say, label: prompt?.template ?? "end"))
        edges.append(GraphEdge(from: nodeID(index), to: "finish", label: nil))
        endNeeded = true
      }
    }
    if endNeeded { nodes.append(GraphNode(id: "finish", shape: .end, label: "end")) }
    return (nodes, edges)
  }
}

extension String {
  fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
    guard !target.isEmpty else { return self }
    var result = ""
    var rest = self[...]
    while let range = rest.range(of: target) {
      result += rest[..<range.lowerBound]
      result += replacement
      rest = rest[range.upperBound...]
    }
    return result + rest
  }
}
