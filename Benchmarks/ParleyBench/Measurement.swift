import Foundation
import ParleyTestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// What one run of wrk against one server measured.
struct RunFigures: Sendable {
  /// Requests wrk completed.
  var requests: Double
  /// How long wrk sent requests (its own measure, without its start-up).
  var loadSeconds: Double
  var requestsPerSecond: Double { requests / loadSeconds }
  /// Latency percentiles, the slowest request, the mean and the standard deviation, in ms
  /// (wrk's histogram).
  var p10: Double
  var p50: Double
  var p90: Double
  var p99: Double
  var p999: Double
  var max: Double
  var mean: Double
  var deviation: Double
  /// Cores the server used on average while loaded (CPU seconds / ``loadSeconds``).
  var cores: Double
  /// Peak resident memory of the server's processes, in MiB.
  var peakMiB: Double
  /// KiB the server's processes sent to the disk per request (`write_bytes` of `/proc/PID/io`,
  /// counted as pages are dirtied); nil for a row whose writes another server makes
  /// (``BenchRow/writesItsOwnData``).
  var diskKiBPerRequest: Double? = nil
  /// Socket errors and non-2xx answers.
  var errors: Int
  /// Times a wrk thread started its share of requests over (repeated MessageSids).
  var wraps: Int
  /// Turns per SQLite transaction (per fsync, when every turn is fsync'd), from the line the
  /// server prints when it stops; nil for the rows without SQLite's group commit.
  var turnsPerCommit: Double? = nil
  /// The server's CPU per request in µs, by kind of thread (``ThreadKind``), over the load.
  var cpuPerRequest: [ThreadKind: Double] = [:]
}

/// The threads a Parley server's CPU is spent on, told apart by the names Linux gives them.
enum ThreadKind: String, CaseIterable, Sendable {
  /// Swift concurrency's global pool (libdispatch's root queue threads, `…default-qos`): the
  /// connections' tasks, the app, the middleware.
  case pool = "Swift pool"
  /// libdispatch's serial queues (`…qos.overcommit`): GRDB's SQLite writer and checkpointer.
  case queues = "dispatch queues"
  /// SwiftNIO's event loops (`NIO-…`): the sockets, HTTP parsing and framing.
  case loops = "NIO loops"
  /// Everything else, the server's child processes included (a Python server's workers).
  case other

  init(threadName name: Substring) {
    if name.hasPrefix("NIO-") {
      self = .loops
    } else if name.hasSuffix("default-qos") {
      self = .pool
    } else if name.hasSuffix("qos.overcommit") {
      self = .queues
    } else {
      self = .other
    }
  }
}

/// The line a SQLite row's server prints as it stops, with its group commit's figures:
/// `PARLEY_BENCH_COMMITS turns=… transactions=… largest=…`.
enum CommitLine {
  static let prefix = "PARLEY_BENCH_COMMITS "

  static func line(turns: Int, transactions: Int, largest: Int) -> String {
    "\(prefix)turns=\(turns) transactions=\(transactions) largest=\(largest)"
  }

  /// Turns per transaction from the last such line of a server's output, if it printed one.
  static func turnsPerCommit(in output: String) -> Double? {
    guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix(prefix) }) else {
      return nil
    }
    let values = figures(in: line.dropFirst(prefix.count))
    guard let turns = values["turns"], let transactions = values["transactions"], transactions > 0
    else { return nil }
    return turns / transactions
  }
}

/// The `name=number` fields of a line the benchmark's tools print (wrk's script, the servers).
func figures(in line: Substring) -> [String: Double] {
  var values: [String: Double] = [:]
  for field in line.split(separator: " ") {
    let parts = field.split(separator: "=")
    if parts.count == 2 { values[String(parts[0])] = Double(parts[1]) }
  }
  return values
}

/// Reads what Linux knows about a server's processes (the process and its children).
enum ProcessTree {
  /// `pid` and every process descending from it.
  static func members(of pid: Int32) -> [Int32] {
    var parents: [Int32: [Int32]] = [:]
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for entry in entries {
      guard let child = Int32(entry), let stat = stat(at: "/proc/\(child)/stat") else { continue }
      parents[stat.parent, default: []].append(child)
    }
    var result = [pid]
    var index = 0
    while index < result.count {
      result += parents[result[index]] ?? []
      index += 1
    }
    return result
  }

  /// CPU seconds used by `pid` and its descendants so far.
  static func cpuSeconds(of pid: Int32) -> Double {
    cpuSeconds(of: members(of: pid))
  }

  /// CPU seconds used, and bytes caused to be written to the disk, by `pid` and its descendants
  /// so far, from one walk of `/proc`. Linux counts a written page when it is dirtied, so a write
  /// into a large folio counts the whole folio.
  static func usage(of pid: Int32) -> (cpuSeconds: Double, writtenBytes: Double) {
    let members = members(of: pid)
    return (cpuSeconds(of: members), sums(["write_bytes:"], in: "io", of: members)[0])
  }

  /// The unit of `stat`'s CPU times.
  private static let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))

  private static func cpuSeconds(of members: [Int32]) -> Double {
    return members.compactMap { stat(at: "/proc/\($0)/stat") }.reduce(0) { $0 + $1.cpuTicks }
      / ticks
  }

  /// CPU seconds used so far by the threads of `pid` itself, by kind (its children not
  /// included: ``usage(of:)`` has the whole tree's).
  static func threadCPUSeconds(of pid: Int32) -> [ThreadKind: Double] {
    var seconds: [ThreadKind: Double] = [:]
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    for task in tasks {
      guard let stat = stat(at: "/proc/\(pid)/task/\(task)/stat") else { continue }
      seconds[ThreadKind(threadName: stat.name), default: 0] += stat.cpuTicks / ticks
    }
    return seconds
  }

  /// The sum of the peak resident memory (`VmHWM`) of `pid` and its descendants, in MiB.
  static func peakMiB(of pid: Int32) -> Double {
    sums(["VmHWM:"], in: "status", of: members(of: pid))[0] / 1024
  }

  /// The sums of the resident memory (`VmRSS`) of `pid` and its descendants, and of its
  /// anonymous part (`RssAnon`: the heap and the stacks, not the mapped files), in MiB.
  static func memoryMiB(of pid: Int32) -> (resident: Double, anonymous: Double) {
    let kiB = sums(["VmRSS:", "RssAnon:"], in: "status", of: members(of: pid))
    return (kiB[0] / 1024, kiB[1] / 1024)
  }

  /// A process's or a thread's `stat` file (`/proc/PID/stat`, `/proc/PID/task/TID/stat`): its
  /// name, its parent and the CPU it used, in clock ticks.
  private static func stat(at path: String) -> (name: Substring, parent: Int32, cpuTicks: Double)? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
      let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")")
    else { return nil }
    // Fields after the command name: state ppid ... utime(14) stime(15), numbered from 1.
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let parent = Int32(fields[1]), let user = Double(fields[11]),
      let system = Double(fields[12])
    else { return nil }
    return (text[text.index(after: open)..<close], parent, user + system)
  }

  /// For each of `names`, the sum over `members` of the number on its line (`name value …`) in
  /// `/proc/PID/<file>`; a file or line that cannot be read counts 0.
  private static func sums(_ names: [String], in file: String, of members: [Int32]) -> [Double] {
    var totals = names.map { _ in 0.0 }
    for member in members {
      guard let text = try? String(contentsOfFile: "/proc/\(member)/\(file)", encoding: .utf8)
      else { continue }
      for line in text.split(separator: "\n") {
        guard let index = names.firstIndex(where: { line.hasPrefix($0) }) else { continue }
        let value = line.dropFirst(names[index].count).split(whereSeparator: \.isWhitespace).first
        totals[index] += value.flatMap { Double($0) } ?? 0
      }
    }
    return totals
  }
}

/// Runs `command` (its first element the program's path) to its end.
func runCommand(_ command: [String]) throws {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: command[0])
  process.arguments = Array(command.dropFirst())
  try process.run()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    throw BenchError("\(command.joined(separator: " ")) exited with \(process.terminationStatus)")
  }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`.
func waitForPort(_ port: Int, timeout: Duration = .seconds(60)) throws {
  let deadline = ContinuousClock.now + timeout
  while ContinuousClock.now < deadline {
    if let fd = connectToLoopback(port: port) {
      close(fd)
      return
    }
    usleep(50_000)
  }
  throw BenchError("nothing listens on port \(port) after \(timeout)")
}

/// The body of a `GET` of `path` from the server on `port` (HTTP/1.1, the connection closed after
/// the response); nil if it cannot be read, or if the server has not answered in 10 s.
func httpGet(port: Int, path: String) -> Substring? {
  guard let fd = connectToLoopback(port: port) else { return nil }
  defer { close(fd) }
  var patience = timeval(tv_sec: 10, tv_usec: 0)
  guard
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, socklen_t(MemoryLayout<timeval>.size)) == 0
  else { return nil }
  let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
  guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else {
    return nil
  }
  var response: [UInt8] = []
  var buffer = [UInt8](repeating: 0, count: 4096)
  while true {
    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    if count <= 0 { break }
    response += buffer[0..<count]
  }
  let text = String(decoding: response, as: UTF8.self)
  guard text.hasPrefix("HTTP/1.1 200"), let end = text.range(of: "\r\n\r\n") else { return nil }
  return text[end.upperBound...]
}

/// The median of `values` (the mean of the middle two for an even count).
func median(_ values: [Double]) -> Double {
  let sorted = values.sorted()
  guard !sorted.isEmpty else { return .nan }
  let middle = sorted.count / 2
  return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// The value below which `percent` % of `sorted` (ascending, not empty) lies: the nearest rank,
/// as `pipeline` reads its turns' p50 and p99.
func percentile(_ sorted: [Double], _ percent: Int) -> Double {
  sorted[min(sorted.count - 1, sorted.count * percent / 100)]
}

/// A benchmark failure, said in one line.
struct BenchError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
