import Foundation
import Parley

#if canImport(Glibc)
  import Glibc
#endif

/// One server of the benchmark, as it is launched.
struct BenchRow: Sendable {
  /// The name printed in the table.
  var name: String
  /// The executable and its arguments.
  var command: [String]
  /// Extra environment.
  var environment: [String: String] = [:]
  /// Database files deleted before each run (a fresh store every run).
  var freshFiles: [String] = []
  /// A database copied into place (``Runner/copyDatabase(from:to:)``) before each run (the scale
  /// row's stored conversations).
  var copy: (from: String, to: String)?
  /// A PostgreSQL database dropped and created again before each run, on the server at
  /// `PARLEY_POSTGRES_URL`; the row's server gets its URL in the same variable.
  var freshPostgresDatabase: String?
  /// For a row that is another build or setting of a row before it (`--compare-binary` and the
  /// like): that row's index. It runs right beside it.
  var twinOf: Int?

  /// Whether the row's own processes write its data (false for PostgreSQL, whose server does):
  /// only then do their disk writes say what a request costs.
  var writesItsOwnData: Bool { freshPostgresDatabase == nil }
}

/// Runs rows back to back against wrk and prints their figures.
struct Runner {
  var rows: [BenchRow]
  var port: Int
  var duration: Int
  var repeats: Int
  var connections: Int
  var threads: Int
  var script: String
  var requestsFile: String
  var logDirectory: String

  /// Runs every row `repeats` times, the rows in turn within each round (so that a slow minute of
  /// the shared machine touches every row alike), and returns each row's runs.
  ///
  /// A row and its twins (``BenchRow/twinOf``) run one right after the other, first the row and
  /// then its twins in odd rounds, the other way round in even ones: on this shared machine, the
  /// row that ran second was behind by up to 20% in one table, whichever build it was.
  func runAll() throws -> [[RunFigures]] {
    var results = Array(repeating: [RunFigures](), count: rows.count)
    for round in 1...repeats {
      for index in Self.order(of: rows, round: round) {
        let row = rows[index]
        let figures = try measure(row, log: "\(logDirectory)/row\(index + 1)-run\(round).log")
        results[index].append(figures)
        let group = figures.turnsPerCommit.map {
          ", \(String(format: "%.1f", $0)) turns per commit"
        }
        print(
          "  round \(round), \(row.name): \(Int(figures.requestsPerSecond)) req/s, p99 \(format(figures.p99)) ms, errors \(figures.errors)\(group ?? "")"
        )
        fflush(nil)  // every stream: the progress shows while the runs go on
      }
    }
    return results
  }

  /// The indices of `rows` in the order of round `round` (from 1): each row that is no twin,
  /// followed by its twins, or preceded by them in even rounds.
  static func order(of rows: [BenchRow], round: Int) -> [Int] {
    rows.indices.filter { rows[$0].twinOf == nil }.flatMap { index in
      let group = [index] + rows.indices.filter { rows[$0].twinOf == index }
      return round.isMultiple(of: 2) ? Array(group.reversed()) : group
    }
  }

  /// Starts `row`'s server, drives it for `duration` seconds, stops it, and reads from its output
  /// how many turns its commits carried.
  func measure(_ row: BenchRow, log: String) throws -> RunFigures {
    try prepare(row)
    let server = try launch(row, log: log)
    var figures: RunFigures
    do {
      try waitForPort(port)
      figures = try drive(server, seconds: duration)
    } catch {
      stop(server)
      throw error
    }
    stop(server)
    if !row.writesItsOwnData { figures.diskKiBPerRequest = nil }
    let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    figures.turnsPerCommit = CommitLine.turnsPerCommit(in: output)
    return figures
  }

  /// Deletes or copies the row's database files.
  func prepare(_ row: BenchRow) throws {
    let files = FileManager.default
    for file in row.freshFiles + (row.copy.map { [$0.to] } ?? []) {
      for suffix in ["", "-wal", "-shm"] { try? files.removeItem(atPath: file + suffix) }
    }
    if let copy = row.copy { try copyDatabase(from: copy.from, to: copy.to) }
    if let name = row.freshPostgresDatabase {
      let server = try PostgresBench.serverURL()
      for statement in ["DROP DATABASE IF EXISTS \(name) WITH (FORCE)", "CREATE DATABASE \(name)"] {
        try runCommand([
          "/usr/bin/env", "psql", server, "-v", "ON_ERROR_STOP=1", "-q", "-c", statement,
        ])
      }
    }
  }

  /// Copies a database file so that it is as a long-running server's file is: on disk, and in
  /// the page cache as single 4 KiB pages, none of them dirty.
  ///
  /// Copied with `FileManager.copyItem`, the file's 636 MB sat dirty in the page cache in 64 KiB
  /// folios (Linux 6.18's ext4 gives a large write large folios). The server's first checkpoint
  /// then fsync'd the whole copy, and each page a checkpoint wrote after it dirtied, and sent to
  /// the disk, the 64 KiB around it: 140 KB written to the disk per request, against 22 KB for a
  /// file whose pages are cached one by one (`/proc/PID/io`'s `write_bytes` over 6 s of load),
  /// as SQLite's own random reads cache them. Written 4 KiB at a time, the copy gets single-page
  /// folios, and the fsync leaves them clean.
  func copyDatabase(from source: String, to destination: String) throws {
    #if canImport(Glibc)
      let input = open(source, O_RDONLY)
      guard input >= 0 else { throw BenchError("cannot open \(source): errno \(errno)") }
      defer { close(input) }
      let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
      guard output >= 0 else { throw BenchError("cannot create \(destination): errno \(errno)") }
      defer { close(output) }
      let pageSize = 4096
      var page = [UInt8](repeating: 0, count: pageSize)
      while true {
        let count = page.withUnsafeMutableBytes { read(input, $0.baseAddress, pageSize) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { throw BenchError("cannot read \(source): errno \(errno)") }
        if count == 0 { break }
        var written = 0
        while written < count {
          let result = page.withUnsafeBytes {
            write(output, $0.baseAddress! + written, count - written)
          }
          if result < 0 && errno == EINTR { continue }
          guard result > 0 else { throw BenchError("cannot write \(destination): errno \(errno)") }
          written += result
        }
      }
      guard fsync(output) == 0 else {
        throw BenchError("cannot fsync \(destination): errno \(errno)")
      }
    #else
      try FileManager.default.copyItem(atPath: source, toPath: destination)
    #endif
  }

  /// Launches the row's server with its output in `log`.
  func launch(_ row: BenchRow, log: String) throws -> Process {
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: row.command[0])
    process.arguments = Array(row.command.dropFirst())
    process.environment = ProcessInfo.processInfo.environment.merging(row.environment) { $1 }
    process.standardOutput = output
    process.standardError = output
    try process.run()
    return process
  }

  /// Runs wrk for `seconds` against the server and reads the server's CPU and memory.
  func drive(_ server: Process, seconds: Int, requests: String? = nil) throws -> RunFigures {
    let pid = server.processIdentifier
    let before = ProcessTree.usage(of: pid)
    let threadsBefore = ProcessTree.threadCPUSeconds(of: pid)
    let line = try runWrk(seconds: seconds, requests: requests ?? requestsFile)
    let after = ProcessTree.usage(of: pid)
    let threadsAfter = ProcessTree.threadCPUSeconds(of: pid)
    guard server.isRunning else { throw BenchError("the server exited during the run") }
    var figures = try parse(line)
    // Over the load's own duration, as wrk timed it. wrk first spends about 4 s reading and
    // formatting the webhooks, while the server idles; divided by wrk's whole wall time, a
    // server busy 1.7 cores under load read as 1.4.
    figures.cores = (after.cpuSeconds - before.cpuSeconds) / figures.loadSeconds
    figures.peakMiB = ProcessTree.peakMiB(of: pid)
    if figures.requests > 0 {
      figures.diskKiBPerRequest =
        (after.writtenBytes - before.writtenBytes) / 1024 / figures.requests
      // Over wrk's whole run, its start-up included, where `cores` takes the load's duration:
      // the server idles while wrk starts, so the CPU is the load's.
      let perRequest = 1e6 / figures.requests
      var named = 0.0
      for kind in ThreadKind.allCases where kind != .other {
        let used = (threadsAfter[kind] ?? 0) - (threadsBefore[kind] ?? 0)
        figures.cpuPerRequest[kind] = used * perRequest
        named += used
      }
      figures.cpuPerRequest[.other] =
        (after.cpuSeconds - before.cpuSeconds - named) * perRequest
    }
    return figures
  }

  /// Runs wrk and returns its `PARLEY_BENCH` line.
  func runWrk(seconds: Int, requests: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "wrk", "-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--timeout", "10s",
      "-s", script, "http://127.0.0.1:\(port)/sms",
    ]
    // The script's threads wait for this file, which its last thread's init() leaves.
    let ready = requests + ".ready"
    try? FileManager.default.removeItem(atPath: ready)
    defer { try? FileManager.default.removeItem(atPath: ready) }
    process.environment = ProcessInfo.processInfo.environment.merging([
      "PARLEY_BENCH_REQUESTS": requests, "PARLEY_BENCH_THREADS": String(threads),
      "PARLEY_BENCH_HOST": "127.0.0.1:\(port)", "PARLEY_BENCH_READY": ready,
    ]) { $1 }
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let output = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0,
      let line = output.split(separator: "\n").first(where: { $0.hasPrefix("PARLEY_BENCH ") })
    else { throw BenchError("wrk failed (status \(process.terminationStatus)):\n\(output)") }
    return String(line)
  }

  /// Reads wrk's figures.
  func parse(_ line: String) throws -> RunFigures {
    let values = figures(in: line.drop { $0 != " " })
    func value(_ name: String) throws -> Double {
      guard let value = values[name] else { throw BenchError("wrk printed no \(name): \(line)") }
      return value
    }
    let errors = try ["connect", "read", "write", "timeout", "status"].map(value).reduce(0, +)
    let loadSeconds = try value("duration_us") / 1e6
    return RunFigures(
      requests: try value("requests"), loadSeconds: loadSeconds,
      p10: try value("p10_us") / 1000, p50: try value("p50_us") / 1000,
      p90: try value("p90_us") / 1000, p99: try value("p99_us") / 1000,
      p999: try value("p999_us") / 1000, max: try value("max_us") / 1000,
      mean: try value("mean_us") / 1000, deviation: try value("stdev_us") / 1000, cores: 0,
      peakMiB: 0, errors: Int(errors),
      wraps: Int(try value("wraps")))
  }

  /// Stops a server: SIGTERM, then SIGKILL after 10 s.
  func stop(_ server: Process) {
    guard server.isRunning else { return }
    kill(server.processIdentifier, SIGTERM)
    let deadline = ContinuousClock.now + .seconds(10)
    while server.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
    if server.isRunning {
      for member in ProcessTree.members(of: server.processIdentifier) { kill(member, SIGKILL) }
    }
    server.waitUntilExit()
  }
}

/// Prints the medians of each row, with ratios to the first row.
func printTable(rows: [BenchRow], results: [[RunFigures]]) {
  let header = [
    "row", "req/s", "vs row 1", "p50 ms", "p99 ms", "max ms", "CPU cores", "peak MiB",
    "disk KiB/req", "errors", "turns/commit", "req/s of each run",
  ]
  let first = median(results[0].map(\.requestsPerSecond))
  var lines = [header]
  for (row, runs) in zip(rows, results) {
    let rate = median(runs.map(\.requestsPerSecond))
    lines.append([
      row.name, String(Int(rate.rounded())), String(format: "%.2f", rate / first),
      format(median(runs.map(\.p50))), format(median(runs.map(\.p99))),
      format(median(runs.map(\.max))), String(format: "%.2f", median(runs.map(\.cores))),
      String(Int(median(runs.map(\.peakMiB)).rounded())),
      runs.contains { $0.diskKiBPerRequest == nil }
        ? "" : String(format: "%.1f", median(runs.compactMap(\.diskKiBPerRequest))),
      String(runs.map(\.errors).reduce(0, +))
        + (runs.contains { $0.wraps > 0 } ? " (wrapped)" : ""),
      runs.compactMap(\.turnsPerCommit).isEmpty
        ? "" : String(format: "%.1f", median(runs.compactMap(\.turnsPerCommit))),
      runs.map { String(Int($0.requestsPerSecond.rounded())) }.joined(separator: " "),
    ])
  }
  printAligned(lines, listInLastColumn: true)
}

/// Prints each row's median CPU per request by kind of thread (``ThreadKind``): where a row's CPU
/// goes, and what differs between two rows.
func printCPUTable(rows: [BenchRow], results: [[RunFigures]]) {
  let kinds = ThreadKind.allCases
  var lines = [["CPU µs per request", "total"] + kinds.map(\.rawValue)]
  for (row, runs) in zip(rows, results) {
    let medians = kinds.map { kind in median(runs.map { $0.cpuPerRequest[kind] ?? 0 }) }
    let total = median(runs.map { $0.cpuPerRequest.values.reduce(0, +) })
    lines.append([row.name] + ([total] + medians).map { String(format: "%.1f", $0) })
  }
  printAligned(lines, listInLastColumn: false)
}

/// Prints each row's median latency distribution beside what the closed loop makes its mean:
/// with `connections` requests always in flight, the mean latency is `connections` divided by
/// the rate (Little's law), so a row's p99 is its spread (p99 over the mean) times that.
func printLatencyTable(rows: [BenchRow], results: [[RunFigures]], connections: Int) {
  var lines = [
    [
      "latency ms", "mean", "std dev", "p10", "p50", "p90", "p99", "p99.9", "p99 / mean",
      "\(connections) / rate",
    ]
  ]
  for (row, runs) in zip(rows, results) {
    let mean = median(runs.map(\.mean))
    let closedLoop = Double(connections) / median(runs.map(\.requestsPerSecond)) * 1000
    lines.append(
      [row.name]
        + [
          mean, median(runs.map(\.deviation)), median(runs.map(\.p10)), median(runs.map(\.p50)),
          median(runs.map(\.p90)), median(runs.map(\.p99)), median(runs.map(\.p999)),
        ].map(format)
        + [
          String(format: "%.2f", median(runs.map { $0.p99 / $0.mean })), format(closedLoop),
        ])
  }
  printAligned(lines, listInLastColumn: false)
}

/// Prints `lines` as a Markdown table, the first line its header, the first column left-aligned
/// and the others right-aligned, but for the last if it holds a list.
private func printAligned(_ lines: [[String]], listInLastColumn: Bool) {
  let header = lines[0]
  let widths = header.indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
  for (number, line) in lines.enumerated() {
    let cells = line.enumerated().map { column, cell in
      column == 0 || (listInLastColumn && column == line.count - 1)
        ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        : String(repeating: " ", count: widths[column] - cell.count) + cell
    }
    print("| " + cells.joined(separator: " | ") + " |")
    if number == 0 {
      print(
        "|"
          + widths.enumerated().map { column, width in
            String(repeating: "-", count: width + 1)
              + (column == 0 || (listInLastColumn && column == widths.count - 1) ? "-" : ":")
          }.joined(separator: "|") + "|")
    }
  }
}

/// A latency in milliseconds, to a precision that suits it.
func format(_ milliseconds: Double) -> String {
  milliseconds < 10 ? String(format: "%.2f", milliseconds) : String(format: "%.1f", milliseconds)
}

/// The PostgreSQL server of the `postgres` row.
enum PostgresBench {
  /// The server's URL, from `PARLEY_POSTGRES_URL` (`eval "$(bash Scripts/postgres.sh start)"`;
  /// `Benchmarks/run.sh` starts one when the row is asked for).
  static func serverURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["PARLEY_POSTGRES_URL"] else {
      throw BenchError("the postgres row needs PARLEY_POSTGRES_URL (Scripts/postgres.sh start)")
    }
    return url
  }

  /// The database the row's server uses, made afresh before each run.
  static let database = "parley_bench"

  /// The URL of ``database`` on that server.
  static func rowURL() throws -> String {
    guard var components = URLComponents(string: try serverURL()) else {
      throw BenchError("PARLEY_POSTGRES_URL is not a URL")
    }
    components.path = "/\(database)"
    guard let url = components.string else { throw BenchError("PARLEY_POSTGRES_URL is not a URL") }
    return url
  }
}
