import Foundation

/// Minutes of load on one server, in segments of fresh webhooks, with its resident memory read
/// after each: memory that grows with the traffic shows as a rising column.
struct Soak {
  var runner: Runner
  var row: BenchRow
  var seconds: Int
  var url: String
  var senders: Int
  var requests: Int
  var workDirectory: String
  /// Seconds of each segment.
  var segment = 60

  func run(cores: Int) throws {
    print(
      "ParleyBench soak: \(cores) cores, \(row.name), \(seconds) s in segments of \(segment) s, wrk -t\(runner.threads) -c\(runner.connections)"
    )
    try runner.prepare(row)
    let server = try runner.launch(row, log: "\(workDirectory)/soak.log")
    defer { runner.stop(server) }
    try waitForPort(runner.port)
    let pid = server.processIdentifier
    // The heap (anonymous memory) apart from the mapped files (the executable's pages as its
    // code first runs, SQLite's shared-memory index): a leak shows in the first.
    print("| segment | req/s | p99 ms | errors | RSS MiB after | heap MiB after | peak MiB |")
    print("|--:|--:|--:|--:|--:|--:|--:|")
    let start = ProcessTree.memoryMiB(of: pid)
    print(
      "| start | | | | \(Int(start.resident.rounded())) | \(String(format: "%.1f", start.anonymous)) | |"
    )
    var resident: [Double] = []
    var heap: [Double] = []
    let file = "\(workDirectory)/soak-requests.txt"
    for number in 1...max(1, seconds / segment) {
      // Fresh MessageSids for each segment (the senders stay the same conversations).
      try Workload.writeRequests(
        count: requests, senders: senders, url: url, to: file, seed: 0x50AC + UInt64(number))
      let figures = try runner.drive(server, seconds: segment, requests: file)
      let memory = ProcessTree.memoryMiB(of: pid)
      resident.append(memory.resident)
      heap.append(memory.anonymous)
      print(
        "| \(number) | \(Int(figures.requestsPerSecond.rounded())) | \(format(figures.p99)) | \(figures.errors)\(figures.wraps > 0 ? " (wrapped)" : "") | \(Int(memory.resident.rounded())) | \(String(format: "%.1f", memory.anonymous)) | \(Int(figures.peakMiB.rounded())) |"
      )
      fflush(nil)  // every stream: the progress shows while the runs go on
    }
    print("\n" + Self.growth("resident memory", resident, digits: 0))
    print(Self.growth("heap", heap, digits: 1))
  }

  /// How a figure read after each segment moved from the first segment to the last.
  static func growth(_ name: String, _ values: [Double], digits: Int) -> String {
    guard let first = values.first, let last = values.last else { return "" }
    let number = "%.\(digits)f"
    return
      "\(name) after the first segment \(String(format: number, first)) MiB, after the last \(String(format: number, last)) MiB (\(String(format: "%+.1f", (last - first) / first * 100))%)"
  }
}
