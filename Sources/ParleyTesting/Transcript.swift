public import Parley

/// Plain-text conversation tests, read from golden files:
///
/// ```text
/// # A comment.
/// > hello
/// < Hi! What's your name?
/// > Ada
/// < Thanks, Ada! Pick one:
/// | 1. Red
/// | 2. Blue
/// ! wait 4h
/// ! restart
/// ```
///
/// `> text` is sent by the user; each `< text` is one expected `<Message>` (a `| text` line
/// continues it on a new line); after a `>` line the replies must be exactly those that follow.
/// `! wait 4h` (or `30m`, `3h59m59s`, `10s`) moves the clock; `! restart` builds the app anew, as
/// after a process restart.
public struct Transcript: Sendable {
  /// One step of a transcript.
  public enum Step: Sendable, Hashable {
    case send(String, expected: [String], line: Int)
    case wait(Duration, line: Int)
    case restart(line: Int)
  }

  /// The steps, in order.
  public let steps: [Step]

  /// Why a transcript could not be read or did not play out.
  public struct Failure: Error, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "transcript line \(line): \(message)" }
  }

  /// Reads a transcript.
  public init(_ text: String) throws {
    var steps: [Step] = []
    var pending: (text: String, expected: [String], line: Int)?
    func flush() {
      if let current = pending {
        steps.append(.send(current.text, expected: current.expected, line: current.line))
      }
      pending = nil
    }
    for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false)
      .enumerated()
    {
      let line = offset + 1
      let content = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
      if content.isEmpty || content.hasPrefix("#") { continue }
      let marker = content.prefix(2)
      let rest = String(content.dropFirst(2))
      switch marker {
      case "> ", ">":
        flush()
        pending = (content.count > 1 ? rest : "", [], line)
      case "< ", "<":
        guard pending != nil else {
          throw Failure(line: line, message: "a reply before any message")
        }
        pending!.expected.append(content.count > 1 ? rest : "")
      case "| ", "|":
        guard pending != nil, !pending!.expected.isEmpty else {
          throw Failure(line: line, message: "a continuation without a reply")
        }
        pending!.expected[pending!.expected.count - 1] += "\n" + (content.count > 1 ? rest : "")
      case "! ":
        flush()
        let words = rest.split(separator: " ")
        if words.first == "wait", words.count == 2, let duration = Self.duration(String(words[1])) {
          steps.append(.wait(duration, line: line))
        } else if words == ["restart"] {
          steps.append(.restart(line: line))
        } else {
          throw Failure(line: line, message: "unknown directive \(rest)")
        }
      default:
        throw Failure(line: line, message: "lines start with >, <, |, ! or #")
      }
    }
    flush()
    self.steps = steps
  }

  static func duration(_ text: String) -> Duration? {
    var seconds: Int64 = 0
    var number: Int64 = 0
    var sawUnit = false
    for character in text {
      if let digit = character.wholeNumberValue {
        number = number * 10 + Int64(digit)
      } else {
        switch character {
        case "h": seconds += number * 3600
        case "m": seconds += number * 60
        case "s": seconds += number
        default: return nil
        }
        number = 0
        sawUnit = true
      }
    }
    return sawUnit && number == 0 ? .seconds(seconds) : nil
  }

  /// Throws a failure naming both lists when the replies to `text` are not the expected ones.
  static func check(_ actual: [String], expected: [String], after text: String, line: Int)
    throws(Failure)
  {
    guard actual != expected else { return }
    throw Failure(
      line: line,
      message:
        "after \"\(text)\"\n  expected: \(expected.map(\.debugDescription))\n  actual:   \(actual.map(\.debugDescription))"
    )
  }

  /// Plays the transcript as `from` texting `to`, building the app with `makeClient` at the start
  /// and at every `! restart`, moving `clock` at every `! wait`.
  public func play(
    from: String = "+16175550123", to: String = "+14155550199", clock: ManualClock,
    makeClient: () throws -> ParleyTestClient
  ) async throws {
    var client = try makeClient()
    for step in steps {
      switch step {
      case .send(let text, let expected, let line):
        let reply = await client.send(text, from: from, to: to)
        guard reply.status == .ok else {
          throw Failure(
            line: line, message: "status \(reply.status.code) for \"\(text)\": \(reply.body)")
        }
        try Self.check(reply.texts, expected: expected, after: text, line: line)
      case .wait(let duration, _):
        clock.advance(by: duration)
      case .restart:
        client = try makeClient()
      }
    }
  }
}

extension Transcript {
  /// Plays the transcript over HTTP through `simulator`, as `from` texting `to`: against a real
  /// process, end to end. The app's clock is its own, so `! wait` and `! restart` steps are
  /// refused here (play those in process with a ``ManualClock``).
  public func play(
    on simulator: TwilioSimulator, from: String = "+16175550123", to: String = "+14155550199"
  ) async throws {
    for step in steps {
      switch step {
      case .send(let text, let expected, let line):
        let exchange = await simulator.send(text, from: from, to: to)
        if let error = exchange.error {
          throw Failure(line: line, message: "\(error) for \"\(text)\"")
        }
        try Self.check(exchange.replies, expected: expected, after: text, line: line)
      case .wait(_, let line), .restart(let line):
        throw Failure(line: line, message: "waits and restarts need an in-process app")
      }
    }
  }
}

/// Drives a dialog alone, without HTTP or a store: for unit tests of a flow.
///
/// ```swift
/// var tester = DialogTester(SurveyDialog())
/// #expect(try await tester.send("hi").first == "Hi! This is the Parley survey…")
/// ```
public struct DialogTester<Answers: DialogAnswers>: Sendable {
  /// The engine.
  public let engine: DialogEngine<Answers>
  /// The conversation's state so far.
  public var session = DialogSession<Answers>()

  /// Compiles `dialog`.
  public init(_ dialog: some DialogComponent<Answers>, configuration: DialogConfiguration = .init())
  {
    engine = DialogEngine(dialog, configuration: configuration)
  }

  /// Sends `text` and returns the texts the dialog answers.
  public mutating func send(_ text: String) async throws -> [String] {
    try await engine.advance(&session, input: text).texts
  }

  /// The answers so far.
  public var answers: Answers { session.answers }
}
