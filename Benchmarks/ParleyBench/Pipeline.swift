import ArgumentParser
import Foundation
import HTTPTypes
import Logging
import Parley
import ParleySQLite

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
        "| store | turns/s | CPU µs per turn | wall µs per turn at 1 in flight | turns per commit "
          + "| runs (turns/s) |")
      print("|---|--:|--:|--:|--:|---|")
      for kind in kinds {
        let database = "\(workDirectory)/pipeline-\(kind.rawValue).sqlite"
        for suffix in ["", "-wal", "-shm"] {
          try? FileManager.default.removeItem(atPath: database + suffix)
        }
        let (app, backing) = try await BenchServer.application(
          store: kind, database: database, publicBaseURL: base,
          // As a served row's app logs (`serve`'s default level): nothing per turn, but its
          // handler is handed each turn's metadata.
          logger: BenchServer.logger(level: .info))
        _ = try await drive(app, webhooks[0..<turns], concurrency: concurrency)
        var rates: [Double] = []
        var cpu: [Double] = []
        for run in 1...repeats {
          let batch = webhooks[(run * turns)..<((run + 1) * turns)]
          // Most of each run in flight, its last 500 turns one at a time for the latency alone.
          let loaded = batch.dropLast(500)
          let figures = try await drive(app, loaded, concurrency: concurrency)
          rates.append(Double(loaded.count) / figures.wall)
          cpu.append(figures.cpu / Double(loaded.count) * 1e6)
          let single = try await drive(app, batch.suffix(500), concurrency: 1)
          if run == repeats {
            // Over every turn of this store, the lone ones included (those commit alone).
            let group = (backing?.store as? SQLiteConversationStore).map {
              String(format: "%.1f", $0.commitStatistics.meanGroupSize)
            }
            print(
              "| \(kind.rawValue) | \(Int(median(rates))) | \(Int(median(cpu))) "
                + "| \(Int(single.wall / 500 * 1e6)) | \(group ?? "") "
                + "| \(rates.map { String(Int($0)) }.joined(separator: " ")) |")
          }
        }
      }
    }

    /// Answers `requests` with `concurrency` of them in flight; returns the wall and CPU seconds.
    /// Fails on the first answer that is not 200 (a benchmark of refusals measures nothing).
    func drive(
      _ app: ParleyApplication, _ requests: ArraySlice<WebhookRequest>, concurrency: Int
    ) async throws -> (wall: Double, cpu: Double) {
      let cpuBefore = ProcessTree.cpuSeconds(of: getpid())
      let clock = ContinuousClock()
      let started = clock.now
      try await withThrowingTaskGroup { group in
        for lane in 0..<concurrency {
          group.addTask {
            // Lane k answers requests k, k + concurrency, k + 2 × concurrency, …
            for index in stride(
              from: requests.startIndex + lane, to: requests.endIndex, by: concurrency)
            {
              let response = await app.respond(to: requests[index])
              guard response.head.status == .ok else {
                throw BenchError("turn \(index) answered \(response.head.status.code)")
              }
            }
          }
        }
        try await group.waitForAll()
      }
      let wall = (clock.now - started).timeInterval
      return (wall, ProcessTree.cpuSeconds(of: getpid()) - cpuBefore)
    }
  }
}
