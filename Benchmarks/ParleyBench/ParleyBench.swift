import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
  import Glibc
#endif

/// `bash Benchmarks/run.sh`: Parley's throughput, latency, CPU and memory beside a bare SwiftNIO
/// server and Twilio's Flask tutorial stack, all driven by wrk with the same signed webhooks.
@main
enum ParleyBenchMain {
  static func main() async {
    // With PARLEY_BENCH_JOBS_ON_EVENT_LOOPS=1 (`run --compare-pools`), Swift concurrency's jobs run on
    // NIO's event loops instead of the default pool, to measure what that choice is worth.
    if ProcessInfo.processInfo.environment["PARLEY_BENCH_JOBS_ON_EVENT_LOOPS"] == "1" {
      NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
    // With PARLEY_BENCH_LOOP_COUNT=N (`run --compare-event-loops N`), the server's event loop
    // group (NIO's singleton, one loop per core by default) has N loops.
    if let loops = ProcessInfo.processInfo.environment["PARLEY_BENCH_LOOP_COUNT"].flatMap(Int.init),
      loops > 0
    {
      NIOSingletons.groupLoopCountSuggestion = loops
    }
    await ParleyBench.main()
  }
}

struct ParleyBench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ParleyBench", abstract: "Parley's benchmarks.",
    subcommands: [Run.self, Serve.self, Pipeline.self, Requests.self, Seed.self],
    defaultSubcommand: Run.self)
}

/// The rows `run` knows.
enum RowKind: String, CaseIterable, ExpressibleByArgument {
  case bare, memory
  case sqliteNormal = "sqlite-normal"
  case sqliteFull = "sqlite-full"
  case flask
  /// The Flask tutorial under gunicorn's threaded workers, which keep connections alive (the sync
  /// workers of the `flask` row close each one).
  case flaskThreads = "flask-gthread"
  /// Hummingbird answering a fixed TwiML body (`Benchmarks/Peers/HummingbirdPeer`): a Swift
  /// framework on SwiftNIO and Swift concurrency, as Parley's server is, doing no work.
  case hummingbird
  /// Parley's server with the signature check and a fixed reply: no conversation, no store.
  case signatureOnly = "signature-only"
  /// The fsync'd SQLite row with `--stored` conversations already in the store.
  case stored = "sqlite-full-stored"
  /// The `synchronous=NORMAL` row with `--stored` conversations already in the store.
  case storedNormal = "sqlite-normal-stored"
  /// The full pipeline on PostgreSQL (a local server, `PARLEY_POSTGRES_URL`), every commit
  /// durable.
  case postgres

  /// Whether the row runs Parley (the rows `--compare-*` runs again).
  var isParley: Bool { ![.bare, .flask, .flaskThreads, .hummingbird].contains(self) }
  /// Whether the row runs Parley on SQLite.
  var usesSQLite: Bool { [.sqliteFull, .sqliteNormal, .stored, .storedNormal].contains(self) }
}

extension ParleyBench {
  struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run the rows back to back and print their medians.")

    @Option(
      help: "Rows, comma-separated: \(RowKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var rows = "bare,sqlite-full,sqlite-normal,memory,flask"
    @Option(help: "Seconds of load per run.") var duration = 10
    @Option(help: "Runs of each row (the table prints medians).") var repeats = 3
    @Option(help: "Open connections.") var connections = 64
    @Option(help: "wrk threads.") var threads = 2
    @Option(help: "Distinct signed webhooks generated (each sent once unless a run wraps).")
    var requests = 300_000
    @Option(help: "Different senders (From numbers).") var senders = 5_000
    @Option(help: "Conversations stored before the *-stored rows run.") var stored = 1_000_000
    @Option(help: "Seconds of a soak of the fsync'd row instead of the table (0: no soak).")
    var soak = 0
    @Option(help: "Loopback port the servers listen on.") var port = 8089
    @Option(help: "Folder of the Python virtualenv with flask, gunicorn and twilio.")
    var pythonEnvironment = "Benchmarks/.venv"
    @Option(help: "Folder of webhooks.lua and flask_app.py.") var benchmarks = "Benchmarks"
    @Option(help: "The Hummingbird peer's executable (run.sh builds it when the row is asked for).")
    var hummingbirdPeer = ".build/peers/hummingbird/release/HummingbirdPeer"
    @Option(
      help: "Another ParleyBench binary (an earlier commit's): its Parley rows run beside these.")
    var compareBinary: String?
    @Flag(help: "Also run each Parley row with Swift concurrency's jobs on NIO's event loops.")
    var comparePools = false
    @Option(
      help: ArgumentHelp(
        "Also run each SQLite row with SQLite's WAL auto-checkpoint at this many pages (0: off, the WAL then grows without bound; SQLite's default is 1000). Repeatable.",
        valueName: "pages"))
    var compareWalAutocheckpoint: [Int] = []
    @Flag(
      help:
        "Also run each SQLite row without SQLiteCheckpointer (every checkpoint inside a commit).")
    var compareWithoutCheckpointer = false
    @Option(
      help: ArgumentHelp(
        "Also run each Parley row with this many event loops (NIO's default is one per core). Repeatable.",
        valueName: "loops"))
    var compareEventLoops: [Int] = []
    @Option(help: "Scratch folder (databases, request files, server logs).")
    var workDirectory = "/tmp/parley-bench"

    func run() throws {
      try FileManager.default.createDirectory(
        atPath: workDirectory, withIntermediateDirectories: true)
      let requestsFile = "\(workDirectory)/requests.txt"
      let url = "http://127.0.0.1:\(port)/sms"
      try Workload.writeRequests(count: requests, senders: senders, url: url, to: requestsFile)
      let kinds = try rows.split(separator: ",").map { name in
        guard let kind = RowKind(rawValue: String(name)) else {
          throw ValidationError("unknown row \(name)")
        }
        return kind
      }
      let seedFile = "\(workDirectory)/stored-\(stored).sqlite"
      // The compared build seeds its own copy: an older build may not open a newer schema, and a
      // seed it migrated would start the newer build with the whole table in its write-ahead log.
      let comparedSeedFile = seedFile + "-compared-seed"
      if kinds.contains(.stored) || kinds.contains(.storedNormal) || soak > 0 {
        try Workload.ensureSeed(at: seedFile) { path in
          try Workload.seed(count: stored, path: path)
        }
        if let compareBinary {
          try Workload.ensureSeed(at: comparedSeedFile) { path in
            try runCommand([compareBinary, "seed", "--count", "\(stored)", "--database", path])
          }
        }
      }
      let rows = try kinds.map { try row($0, seedFile: seedFile) }
      var benchRows = rows
      if let compareBinary {
        benchRows += twins(
          of: rows, kinds: kinds,
          named: URL(fileURLWithPath: compareBinary).lastPathComponent
        ) { twin in
          twin.command[0] = compareBinary
          for index in twin.freshFiles.indices { twin.freshFiles[index] += "-compared" }
          // The only copy a row makes is of the seed.
          if let copy = twin.copy { twin.copy = (comparedSeedFile, copy.to + "-compared") }
          if let database = twin.command.firstIndex(of: "--database") {
            twin.command[database + 1] += "-compared"
          }
        }
      }
      if comparePools {
        benchRows += twins(of: rows, kinds: kinds, named: "jobs on event loops") {
          $0.environment["PARLEY_BENCH_JOBS_ON_EVENT_LOOPS"] = "1"
        }
      }
      for pages in compareWalAutocheckpoint {
        benchRows += twins(
          of: rows, kinds: kinds, where: \.usesSQLite,
          named: "WAL auto-checkpoint \(pages) pages"
        ) {
          $0.environment["PARLEY_BENCH_WAL_AUTOCHECKPOINT"] = String(pages)
        }
      }
      for loops in compareEventLoops {
        guard loops > 0 else { throw ValidationError("--compare-event-loops needs 1 or more") }
        benchRows += twins(of: rows, kinds: kinds, named: "\(loops) event loops") {
          $0.environment["PARLEY_BENCH_LOOP_COUNT"] = String(loops)
        }
      }
      if compareWithoutCheckpointer {
        benchRows += twins(
          of: rows, kinds: kinds, where: \.usesSQLite, named: "no checkpointer"
        ) {
          $0.environment["PARLEY_BENCH_CHECKPOINTER"] = "0"
        }
      }
      let runner = Runner(
        rows: benchRows, port: port, duration: duration,
        repeats: repeats, connections: connections, threads: threads,
        script: "\(benchmarks)/webhooks.lua", requestsFile: requestsFile,
        logDirectory: workDirectory)
      let cores = sysconf(Int32(_SC_NPROCESSORS_ONLN))
      if soak > 0 {
        try Soak(
          runner: runner, row: row(.stored, seedFile: seedFile), seconds: soak, url: url,
          senders: senders, requests: requests, workDirectory: workDirectory
        ).run(cores: cores)
        return
      }
      print(
        "ParleyBench: \(cores) cores, wrk -t\(threads) -c\(connections) -d\(duration)s, \(repeats) runs per row, \(requests) distinct signed webhooks from \(senders) senders"
      )
      let results = try runner.runAll()
      print("")
      printTable(rows: runner.rows, results: results)
      print("")
      printCPUTable(rows: runner.rows, results: results)
      print("")
      printLatencyTable(rows: runner.rows, results: results, connections: connections)
      printTargets(kinds: kinds, results: results)
    }

    /// Copies of the Parley rows among `rows` (those whose kind passes `include`), each changed by
    /// `change`, `named` in parentheses. `rows` are the table's own rows, one per kind of `kinds`
    /// in the same order, and each copy is the twin of the row it copies.
    func twins(
      of rows: [BenchRow], kinds: [RowKind], where include: (RowKind) -> Bool = { _ in true },
      named name: String, _ change: (inout BenchRow) -> Void
    ) -> [BenchRow] {
      kinds.indices.filter { kinds[$0].isParley && include(kinds[$0]) }.map { index in
        var twin = rows[index]
        twin.name += " (\(name))"
        twin.twinOf = index
        change(&twin)
        return twin
      }
    }

    /// How `kind` is launched.
    func row(_ kind: RowKind, seedFile: String) throws -> BenchRow {
      let this = CommandLine.arguments[0]
      let serve = [this, "serve", "--port", String(port)]
      let database = "\(workDirectory)/\(kind.rawValue).sqlite"
      switch kind {
      case .bare:
        return BenchRow(name: "bare SwiftNIO, fixed TwiML", command: serve + ["--kind", "bare"])
      case .memory:
        return BenchRow(
          name: "Parley, memory store", command: serve + ["--store", "memory"])
      case .signatureOnly:
        return BenchRow(
          name: "ParleyServer, signature check, fixed reply", command: serve + ["--store", "none"])
      case .sqliteNormal:
        return BenchRow(
          name: "Parley, SQLite synchronous=NORMAL",
          command: serve + ["--store", "sqlite-normal", "--database", database],
          freshFiles: [database])
      case .sqliteFull:
        return BenchRow(
          name: "Parley, SQLite fsync'd per turn",
          command: serve + ["--store", "sqlite-full", "--database", database],
          freshFiles: [database])
      case .stored:
        return BenchRow(
          name: "Parley, SQLite fsync'd, \(stored) stored",
          command: serve + ["--store", "sqlite-full", "--database", database],
          copy: (seedFile, database))
      case .storedNormal:
        return BenchRow(
          name: "Parley, SQLite NORMAL, \(stored) stored",
          command: serve + ["--store", "sqlite-normal", "--database", database],
          copy: (seedFile, database))
      case .postgres:
        return BenchRow(
          name: "Parley, PostgreSQL (local, fsync'd)",
          command: serve + ["--store", "postgres"],
          environment: ["PARLEY_POSTGRES_URL": try PostgresBench.rowURL()],
          freshPostgresDatabase: PostgresBench.database)
      case .hummingbird:
        return BenchRow(
          name: "Hummingbird, fixed TwiML", command: [hummingbirdPeer, String(port)])
      case .flask, .flaskThreads:
        let cores = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        let threads = kind == .flaskThreads ? ["--worker-class", "gthread", "--threads", "8"] : []
        return BenchRow(
          name: "Flask tutorial, gunicorn -w \(cores)" + (kind == .flaskThreads ? " gthread" : ""),
          command: [
            "\(pythonEnvironment)/bin/gunicorn", "--workers", String(cores), "--bind",
            "127.0.0.1:\(port)", "--chdir", benchmarks,
          ] + threads + ["flask_app:app"],
          environment: ["TWILIO_AUTH_TOKEN": Workload.authToken])
      }
    }

    /// The ratios the issue's targets are about, when their rows ran.
    func printTargets(kinds: [RowKind], results: [[RunFigures]]) {
      func rate(_ kind: RowKind) -> Double? {
        kinds.firstIndex(of: kind).map { median(results[$0].map(\.requestsPerSecond)) }
      }
      func say(_ text: String, _ numerator: RowKind, _ denominator: RowKind) {
        guard let top = rate(numerator), let bottom = rate(denominator) else { return }
        print("  \(text): \(String(format: "%.2f", top / bottom))")
      }
      print("")
      say("fsync'd Parley / bare SwiftNIO", .sqliteFull, .bare)
      say("fsync'd Parley / Flask tutorial", .sqliteFull, .flask)
      say("fsync'd Parley / Flask tutorial, gthread workers", .sqliteFull, .flaskThreads)
      say("fsync'd Parley / synchronous=NORMAL", .sqliteFull, .sqliteNormal)
      say("Hummingbird, fixed reply / bare SwiftNIO", .hummingbird, .bare)
      say("ParleyServer, signature check / Hummingbird, fixed reply", .signatureOnly, .hummingbird)
      say("fsync'd Parley / Hummingbird, fixed reply", .sqliteFull, .hummingbird)
      say("fsync'd Parley with \(stored) stored / empty", .stored, .sqliteFull)
      say("NORMAL Parley with \(stored) stored / empty", .storedNormal, .sqliteNormal)
      if let index = kinds.firstIndex(of: .sqliteFull) {
        print(
          "  fsync'd Parley p99 at \(connections) connections: \(format(median(results[index].map(\.p99)))) ms"
        )
      }
    }
  }

  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one benchmark server.")

    enum Kind: String, ExpressibleByArgument { case bare, parley }
    @Option(help: "bare (SwiftNIO, fixed TwiML) or parley.") var kind = Kind.parley
    @Option(help: "none, memory, sqlite-normal or sqlite-full.") var store = "sqlite-full"
    @Option(help: "SQLite file.") var database = "/tmp/parley-bench/bench.sqlite"
    @Option var port = 8089
    @Option(help: "Log level.") var logLevel = "info"

    func run() async throws {
      switch kind {
      case .bare:
        try await BareServer.run(host: "127.0.0.1", port: port)
      case .parley:
        guard let store = BenchStore(rawValue: store) else {
          throw ValidationError("unknown store \(store)")
        }
        try await BenchServer.run(
          store: store, database: database, port: port,
          logLevel: Logger.Level(rawValue: logLevel) ?? .notice)
      }
    }
  }

  struct Requests: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write signed webhooks for wrk (lines of signature<TAB>body).")
    @Option var count = 100_000
    @Option var senders = 5_000
    @Option var url = "http://127.0.0.1:8089/sms"
    @Option var output = "/tmp/parley-bench/requests.txt"

    func run() throws {
      try Workload.writeRequests(count: count, senders: senders, url: url, to: output)
    }
  }

  struct Seed: ParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Store conversations in a SQLite database, as the survey leaves them.")
    @Option var count = 1_000_000
    @Option var database = "/tmp/parley-bench/stored.sqlite"

    func run() throws {
      try Workload.seed(count: count, path: database)
    }
  }
}
