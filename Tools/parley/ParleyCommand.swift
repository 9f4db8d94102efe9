import ArgumentParser
import Logging
import Parley
import ParleyTesting
import ParleyTwiML
import SampleServers
import SampleSupport
import SurveyBot

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// `parley`: talk to a bot as Twilio would, manage its opt-outs and sessions, draw its dialogs,
/// run the samples.
@main
struct ParleyCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "parley",
    abstract: "Parley's command-line tool: talk to an SMS bot as Twilio would, and manage it.",
    subcommands: [
      Chat.self, Send.self, OptOuts.self, Sessions.self, DialogCommand.self, Serve.self,
    ])
}

/// A failure reported as one line and a non-zero exit.
struct CommandFailure: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

// MARK: Talking to a bot

/// The options that say how the simulated Twilio reaches the app.
struct TwilioOptions: ParsableArguments {
  @Argument(help: "The app's messaging webhook URL, such as http://127.0.0.1:8080/sms.")
  var url: String

  @Option(help: "The sender (the user's phone).")
  var from = "+15005550006"

  @Option(help: "The Twilio number texted.")
  var to = "+15005550001"

  @Option(
    help: "Auth token that signs requests (env TWILIO_AUTH_TOKEN); unsigned when none is given.")
  var authToken: String?

  @Option(help: "Messaging Service the number belongs to (MG…).")
  var messagingServiceSid: String?

  @Option(help: "Where delivery status callbacks of replies go.")
  var statusCallback: String?

  @Option(help: "Webhook method: POST or GET.")
  var method = "POST"

  @Option(help: "Seconds to wait for a response, as Twilio does (15).")
  var timeout = 15

  func simulatorConfiguration() throws -> TwilioSimulator.Configuration {
    guard method == "POST" || method == "GET" else {
      throw ValidationError("--method is POST or GET")
    }
    let token = authToken ?? Environment.string("TWILIO_AUTH_TOKEN")
    return TwilioSimulator.Configuration(
      webhookURL: url, webhookMethod: TwiMLMethod(rawValue: method),
      signing: token.map { .authToken($0) } ?? .none,
      messagingServiceSid: messagingServiceSid, statusCallbackURL: statusCallback,
      timeout: .seconds(timeout))
  }
}

/// Prints what Twilio sent back, and what it would report.
func printExchange(_ exchange: SimulatedExchange) {
  for message in exchange.messages {
    if message.status == .failed {
      print("! not sent to \(message.to): error \(message.errorCode?.rawValue ?? 0)")
      continue
    }
    print("< \(message.body)")
    for url in message.media { print("  [media] \(url)") }
  }
  for warning in exchange.warnings { print("! \(warning)") }
  if let error = exchange.error { print("! \(error)") }
}

struct Chat: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Talk to a bot in the terminal, as Twilio would carry the conversation.",
    discussion: """
      Each line you type is a text from --from to --to. Cookies are kept for the pair as Twilio \
      keeps them. Commands: /retry (send the last message again, same MessageSid), \
      /media URL [TYPE] (attach to the next message), /cookies, /quit.
      """)

  @OptionGroup var twilio: TwilioOptions

  func run() async throws {
    let interactive = isatty(STDIN_FILENO) != 0
    try await TwilioSimulator.withSimulator(try twilio.simulatorConfiguration()) { simulator in
      var last: SimulatedExchange?
      var media: [TwilioSimulator.Media] = []
      if interactive {
        print("Texting \(twilio.url) from \(twilio.from) to \(twilio.to); /quit ends.")
      }
      while true {
        if interactive {
          print("> ", terminator: "")
          fflush(nil)
        }
        guard let line = readLine() else { break }
        let text = line.trimmingCharacters(in: .whitespaces)
        if text == "/quit" { break }
        if text == "/retry" {
          guard let previous = last else {
            print("! nothing to retry")
            continue
          }
          printExchange(await simulator.redeliver(previous))
          continue
        }
        if text == "/cookies" {
          let cookies = simulator.cookies(from: twilio.from, to: twilio.to)
          if cookies.isEmpty { print("(no cookies)") }
          for cookie in cookies { print("\(cookie.name)=\(cookie.value)") }
          continue
        }
        if text.hasPrefix("/media ") {
          let parts = text.split(separator: " ").map(String.init)
          media.append(.init(url: parts[1], contentType: parts.count > 2 ? parts[2] : "image/jpeg"))
          continue
        }
        let exchange = await simulator.send(line, from: twilio.from, to: twilio.to, media: media)
        media = []
        last = exchange
        printExchange(exchange)
      }
    }
  }
}

struct Send: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Send one text and print the replies; exits non-zero when Twilio would report an error.")

  @OptionGroup var twilio: TwilioOptions

  @Argument(help: "The text.")
  var body: String

  @Option(help: "A media URL to attach (repeatable).")
  var media: [String] = []

  func run() async throws {
    let exchange = try await TwilioSimulator.withSimulator(try twilio.simulatorConfiguration()) {
      await $0.send(
        body, from: twilio.from, to: twilio.to,
        media: media.map { .init(url: $0, contentType: "image/jpeg") })
    }
    for message in exchange.messages where message.status != .failed {
      print(message.body)
      for url in message.media { print(url) }
    }
    if let error = exchange.error { throw CommandFailure("\(error)") }
  }
}

// MARK: Stores

/// Runs `body` with the store the options name, its services (the PostgreSQL client) running
/// beside it.
func withStore<T: Sendable>(
  _ options: DatabaseOptions, _ body: @Sendable @escaping (any ConversationStore) async throws -> T
) async throws -> T {
  var logger = Logger(label: "parley")
  logger.logLevel = .warning
  let backend = try options.makeStore(logger: logger)
  return try await withThrowingTaskGroup(of: T?.self) { group in
    for service in backend.services {
      group.addTask {
        try await service.run()
        return nil
      }
    }
    try await backend.prepare()
    let result = try await body(backend.store)
    group.cancelAll()
    while (try? await group.next()) != nil {}
    return result
  }
}

struct OptOuts: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "optouts", abstract: "List, export and import opt-outs.",
    subcommands: [List.self, Export.self, Import.self, Verify.self])

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the opted-out numbers.")
    @OptionGroup var database: DatabaseOptions
    @Flag(help: "Include numbers that opted back in.") var all = false

    func run() async throws {
      let all = self.all
      let count = try await withStore(database) { store in
        var cursor: OptOutRecord?
        var count = 0
        while true {
          let page = try await store.optOutRecords(optedOutOnly: !all, after: cursor, limit: 1000)
          for record in page {
            print(
              "\(record.subscriber)\t\(record.scope.rawValue)\t\(record.optedOut ? "opted-out" : "opted-in")\t\(record.updatedAt.date.formatted(.iso8601))"
            )
          }
          count += page.count
          guard page.count == 1000 else { return count }
          cursor = page.last
        }
      }
      if count == 0 { print("(none)") }
    }
  }

  struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the audit trail (every STOP, START, HELP and import) as CSV or JSON.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "csv or json.") var format = "csv"

    func validate() throws {
      guard format == "csv" || format == "json" else {
        throw ValidationError("--format is csv or json")
      }
    }

    func run() async throws {
      let format = self.format
      let text = try await withStore(database) { store in
        let events = try await store.allAuditEvents()
        return format == "csv" ? OptOutExport.csv(events) : try OptOutExport.json(events) + "\n"
      }
      print(text, terminator: "")
    }
  }

  struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Record an existing opt-out list from a CSV file (column subscriber, and scope).")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The CSV file.") var file: String
    @Option(help: "Scope of rows that name none: number:+1… or service:MG….") var scope: String?

    func run() async throws {
      let text: String
      do {
        text = try String(contentsOfFile: file, encoding: .utf8)
      } catch {
        throw CommandFailure("cannot read \(file)")
      }
      var defaultScope: OptOutScope?
      if let scope {
        guard let parsed = OptOutScope(rawValue: scope) else {
          throw ValidationError("--scope is number:+1… or service:MG…")
        }
        defaultScope = parsed
      }
      let now = SystemWallClock().now
      let drafts: [OptOutEventDraft]
      do {
        drafts = try OptOutExport.importCSV(text, defaultScope: defaultScope, receivedAt: now)
      } catch {
        throw CommandFailure("\(file): \(error)")
      }
      try await withStore(database) { store in
        if !drafts.isEmpty { try await store.recordOptOutEvents(drafts, now: now) }
      }
      print("imported \(drafts.count) events")
    }
  }

  struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check the audit trail's hash chain.")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
      let verdict = try await withStore(database) { try await $0.verifyAuditTrail() }
      guard verdict.isIntact else { throw CommandFailure("audit trail broken: \(verdict)") }
      print("audit trail intact")
    }
  }
}

struct Sessions: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List, show and purge conversation sessions.",
    subcommands: [List.self, Show.self, Purge.self])

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print every session's key and expiry.")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
      let count = try await withStore(database) { store in
        var cursor: ConversationKey?
        var count = 0
        while true {
          let page = try await store.sessions(after: cursor, limit: 1000)
          for record in page {
            print(
              "\(record.key.rawValue)\tgeneration \(record.generation)\texpires \(record.expiresAt.date.formatted(.iso8601))"
            )
          }
          count += page.count
          guard page.count == 1000 else { return count }
          cursor = page.last?.key
        }
      }
      if count == 0 { print("(none)") }
    }
  }

  struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print one session's data.")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The conversation key, as `list` prints it.") var key: String

    func run() async throws {
      let key = ConversationKey(rawValue: self.key)
      guard let record = try await withStore(database, { try await $0.session(for: key) }) else {
        throw CommandFailure("no session \(self.key)")
      }
      print("key: \(record.key.rawValue)")
      print("id: \(record.id)")
      print("generation: \(record.generation)")
      print("created: \(record.createdAt.date.formatted(.iso8601))")
      print("updated: \(record.updatedAt.date.formatted(.iso8601))")
      print("expires: \(record.expiresAt.date.formatted(.iso8601))")
      print("data: \(String(decoding: record.data, as: UTF8.self))")
    }
  }

  struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Delete expired sessions (and dedupe records), or one session, or all of them.")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "One conversation key to delete.") var key: String?
    @Flag(help: "Delete every session, expired or not.") var all = false

    func run() async throws {
      let key = self.key
      let all = self.all
      let message = try await withStore(database) { store -> String in
        if let key {
          let deleted = try await store.deleteSession(for: ConversationKey(rawValue: key))
          guard deleted else { throw CommandFailure("no session \(key)") }
          return "deleted 1 session"
        }
        if all {
          var count = 0
          while true {
            let page = try await store.sessions(after: nil, limit: 1000)
            for record in page where try await store.deleteSession(for: record.key) { count += 1 }
            if page.count < 1000 { return "deleted \(count) sessions" }
          }
        }
        var total = SweepResult(sessions: 0, dedupeRecords: 0)
        while true {
          let swept = try await store.sweep(now: SystemWallClock().now, limit: 1000)
          total = SweepResult(
            sessions: total.sessions + swept.sessions,
            dedupeRecords: total.dedupeRecords + swept.dedupeRecords)
          if swept.sessions < 1000 && swept.dedupeRecords < 1000 { break }
        }
        return "deleted \(total.sessions) expired sessions, \(total.dedupeRecords) dedupe records"
      }
      print(message)
    }
  }
}

// MARK: Dialogs and samples

struct DialogCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "dialog", abstract: "Work with dialogs.", subcommands: [Graph.self])

  struct Graph: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print a dialog's flow as a Mermaid or Graphviz graph.",
      discussion:
        "Dialogs known to this tool: survey. An app draws its own with DialogEngine(...).mermaid()."
    )
    @Argument(help: "The dialog.") var name = "survey"
    @Option(help: "mermaid or dot.") var format = "mermaid"

    func run() throws {
      guard name == "survey" else { throw CommandFailure("no dialog named \(name); known: survey") }
      let engine = DialogEngine(SurveyDialog())
      switch format {
      case "mermaid": print(engine.mermaid())
      case "dot": print(engine.dot())
      default: throw ValidationError("--format is mermaid or dot")
      }
    }
  }
}

struct Serve: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a sample: the same program as its own executable.",
    subcommands: [
      EchoServer.self, CounterServer.self, SurveyCommand.self, ChatbotServer.self,
      ComplianceServer.self,
    ])
}
