import ArgumentParser
import Foundation
import HTTPTypes
import Logging
import Parley
import ParleySQLite
import SampleSupport

extension ParleyBench {
  /// Parley's app without a socket: `ParleyApplication.respond(to:)` called in-process with the
  /// benchmark's webhooks, to measure (and profile) what a turn costs in Parley itself, apart from
  /// the HTTP server and the load generator.
  struct Pipeline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Time Parley's app in-process (no HTTP): CPU and wall time per turn.")

    @Option(help: "Stores, comma-separated: none, memory, sqlite-normal, sqlite-full.")
    var stores = "none,memory,sqlite-normal,sqlite-full"
    @Option(help: "Turns per run.") var turns = 20_000
    @Option(help: "Runs of each store (the table prints medians).") var repeats = 5
    @Option(help: "Turns in flight at once.") var concurrency = 64
    @Option(help: "Different senders (From numbers).") var senders = 5_000
    @Option(help: "Scratch folder for the SQLite files.") var workDirectory = "/tmp/parley-bench"
    @Flag(
      help: """
        Also split each loaded turn's wall time at its calls into the store, and print where the \
        turns' time went, the slowest hundredth's apart (the store is wrapped to stamp them).
        """)
    var stages = false

    func run() async throws {
      let kinds = try stores.split(separator: ",").map { name in
        guard let kind = BenchStore(rawValue: String(name)), kind != .postgres else {
          throw ValidationError("unknown store \(name) (PostgreSQL runs only as a server row)")
        }
        return kind
      }
      try FileManager.default.createDirectory(
        atPath: workDirectory, withIntermediateDirectories: true)
      // Signed for this address, never connected to: no socket is opened.
      let authority = "127.0.0.1:8089"
      let base = "http://\(authority)"
      // Every run gets webhooks of its own (distinct MessageSids), one more set warms up.
      let webhooks = Workload.webhooks(
        count: turns * (repeats + 1), senders: senders, url: base + "/sms"
      ).map { webhook in
        var head = HTTPRequest(
          method: .post, scheme: nil, authority: authority, path: "/sms")
        head.headerFields[.contentType] = "application/x-www-form-urlencoded"
        head.headerFields[HTTPField.Name("X-Twilio-Signature")!] = webhook.signature
        return WebhookRequest(
          head: head, body: Array(webhook.body.utf8), remoteAddress: "127.0.0.1")
      }
      print(
        "ParleyBench pipeline: \(ProcessInfo.processInfo.activeProcessorCount) cores, "
          + "\(turns) turns per run, \(concurrency) in flight, \(repeats) runs per store")
      print(
        "| store | turns/s | CPU µs per turn | of it, dispatch queues | p50 ms | p99 ms | p99 / mean "
          + "| wall µs per turn at 1 in flight | turns per commit | runs (turns/s) |")
      print("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
      var split: [(BenchStore, [TurnStages])] = []
      for kind in kinds {
        let database = "\(workDirectory)/pipeline-\(kind.rawValue).sqlite"
        for suffix in ["", "-wal", "-shm"] {
          try? FileManager.default.removeItem(atPath: database + suffix)
        }
        // As a served row's app logs (`serve`'s default level): nothing per turn, but its
        // handler is handed each turn's metadata.
        let logger = BenchServer.logger(level: .info)
        let (app, backing) = try await BenchServer.application(
          store: kind, database: database, publicBaseURL: base, logger: logger,
          wrappingStore: stages ? { StampingStore(base: $0) } : { $0 })
        // The store's services run beside the turns, as beside a served row's server.
        let services = backing.map { $0.services + BenchServer.upkeep(of: $0, logger: logger) }
        try await withThrowingTaskGroup { group in
          for service in services ?? [] { group.addTask { try await service.run() } }
          split.append((kind, try await measure(kind, app, backing, webhooks)))
          // Each service returns once cancelled; one that failed on its own throws here.
          group.cancelAll()
          try await group.waitForAll()
        }
      }
      if stages { Self.printStages(split) }
    }

    /// Where the loaded turns' wall time went (`--stages`), in ms: each part's mean and 99th
    /// percentile over every turn, and its mean over the slowest hundredth of the turns.
    static func printStages(_ split: [(BenchStore, [TurnStages])]) {
      print("")
      print("Each loaded turn's wall time split at its calls into the store (ms):")
      print("| store | turns | over | " + TurnStages.columns.joined(separator: " | ") + " |")
      print("|---|--:|---|" + String(repeating: "--:|", count: TurnStages.columns.count))
      let columns = TurnStages.columns.indices
      for (kind, turns) in split where !turns.isEmpty {
        func means(_ turns: some Collection<TurnStages>) -> [Double] {
          columns.map { column in
            turns.reduce(0) { $0 + $1.figures[column] } / Double(turns.count)
          }
        }
        let p99 = columns.map { column in
          percentile(turns.map { $0.figures[column] }.sorted(), 99)
        }
        let slowest = turns.sorted { $0.total < $1.total }.suffix(max(1, turns.count / 100))
        for (over, figures) in [
          ("mean, every turn", means(turns)), ("99th percentile", p99),
          ("mean, slowest 1%", means(slowest)),
        ] {
          let milliseconds = figures.map { String(format: "%.2f", $0 * 1e3) }
          print(
            "| \(kind.rawValue) | \(turns.count) | \(over) | "
              + milliseconds.joined(separator: " | ") + " |")
        }
      }
    }

    /// Drives `app` through a warm-up and ``repeats`` runs of ``turns`` turns, then prints the
    /// store's row; returns the loaded turns' stages (none without ``stages``).
    func measure(
      _ kind: BenchStore, _ app: ParleyApplication, _ backing: SampleStore?,
      _ webhooks: [WebhookRequest]
    ) async throws -> [TurnStages] {
      _ = try await drive(app, webhooks[0..<turns], concurrency: concurrency)
      var rates: [Double] = []
      var cpu: [Double] = []
      var queues: [Double] = []
      // Each loaded turn's wall time, from its call to its answer, over every run.
      var latencies: [Double] = []
      var split: [TurnStages] = []
      // Each run's wall seconds for its last 500 turns, answered one at a time.
      var singles: [Double] = []
      for run in 1...repeats {
        let batch = webhooks[(run * turns)..<((run + 1) * turns)]
        // Most of each run in flight, its last 500 turns one at a time for the latency alone.
        let loaded = batch.dropLast(500)
        let figures = try await drive(app, loaded, concurrency: concurrency)
        rates.append(Double(loaded.count) / figures.wall)
        cpu.append(figures.cpu / Double(loaded.count) * 1e6)
        queues.append(figures.queuesCPU / Double(loaded.count) * 1e6)
        latencies += figures.latencies
        split += figures.stages
        singles.append(try await drive(app, batch.suffix(500), concurrency: 1).wall)
      }
      // Over every turn of this store, the lone ones included (those commit alone).
      let group = (backing?.store as? SQLiteConversationStore).map {
        String(format: "%.1f", $0.commitStatistics.meanGroupSize)
      }
      latencies.sort()
      let mean = latencies.reduce(0, +) / Double(latencies.count)
      let p50 = percentile(latencies, 50)
      let p99 = percentile(latencies, 99)
      let milliseconds = { (seconds: Double) in String(format: "%.2f", seconds * 1e3) }
      print(
        "| \(kind.rawValue) | \(Int(median(rates))) | \(Int(median(cpu))) "
          + "| \(Int(median(queues))) "
          + "| \(milliseconds(p50)) | \(milliseconds(p99)) | \(String(format: "%.2f", p99 / mean)) "
          + "| \(Int(median(singles) / 500 * 1e6)) | \(group ?? "") "
          + "| \(rates.map { String(Int($0)) }.joined(separator: " ")) |")
      return split
    }

    /// Answers `requests` with `concurrency` of them in flight; returns the wall and CPU seconds,
    /// the dispatch queues' share of the CPU (read per thread: a thread that ends during the run
    /// takes its share with it), each turn's wall seconds from its call to its answer, and with
    /// ``stages`` each turn's parts of it. As with wrk's connections, a lane sends its next turn
    /// as soon as its last is answered. On a SQLite store, where every turn waits for the writer,
    /// the lanes' turns are all in flight, so their mean is `concurrency` divided by the rate and
    /// their spread is the pipeline's own (no socket, no load generator).
    /// With no store or the memory store a turn never waits: a lane runs its turns back to back on
    /// a thread of the pool while the others wait to start, and the figures are a turn's own time.
    /// Fails on the first answer that is not 200 (a benchmark of refusals measures nothing).
    func drive(
      _ app: ParleyApplication, _ requests: ArraySlice<WebhookRequest>, concurrency: Int
    ) async throws -> (
      wall: Double, cpu: Double, queuesCPU: Double, latencies: [Double], stages: [TurnStages]
    ) {
      let cpuBefore = ProcessTree.cpuSeconds(of: getpid())
      let queuesBefore = ProcessTree.threadCPUSeconds(of: getpid())[.queues] ?? 0
      let clock = ContinuousClock()
      let started = clock.now
      let stamped = self.stages
      let (latencies, stages) = try await withThrowingTaskGroup(
        of: (latencies: [Double], stages: [TurnStages]).self
      ) { group in
        for lane in 0..<concurrency {
          group.addTask {
            // Lane k answers requests k, k + concurrency, k + 2 × concurrency, …
            var latencies: [Double] = []
            var stages: [TurnStages] = []
            latencies.reserveCapacity(requests.count / concurrency + 1)
            for index in stride(
              from: requests.startIndex + lane, to: requests.endIndex, by: concurrency)
            {
              let sent = clock.now
              // Stamped only with `--stages`: the task-local value costs every turn.
              let stamps = stamped ? TurnStamps() : nil
              let response =
                if let stamps {
                  await TurnStamps.$current.withValue(stamps) {
                    await app.respond(to: requests[index])
                  }
                } else {
                  await app.respond(to: requests[index])
                }
              let answered = clock.now
              latencies.append((answered - sent).timeInterval)
              if let stamps, let split = TurnStages(sent: sent, answered: answered, stamps) {
                stages.append(split)
              }
              guard response.head.status == .ok else {
                throw BenchError("turn \(index) answered \(response.head.status.code)")
              }
            }
            return (latencies, stages)
          }
        }
        var latencies: [Double] = []
        var stages: [TurnStages] = []
        for try await lane in group {
          latencies += lane.latencies
          stages += lane.stages
        }
        return (latencies, stages)
      }
      return (
        wall: (clock.now - started).timeInterval,
        cpu: ProcessTree.cpuSeconds(of: getpid()) - cpuBefore,
        queuesCPU: (ProcessTree.threadCPUSeconds(of: getpid())[.queues] ?? 0) - queuesBefore,
        latencies: latencies, stages: stages
      )
    }
  }
}
