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
    print(
      "| start | | | | \(Int(ProcessTree.residentMiB(of: pid).rounded())) | \(String(format: "%.1f", ProcessTree.anonymousMiB(of: pid))) | |"
    )
    var resident: [Double] = []
    var heap: [Double] = []
    let file = "\(workDirectory)/soak-requests.txt"
    for number in 1...max(1, seconds / segment) {
      // Fresh MessageSids for each segment (the senders stay the same conversations).
      try Workload.writeRequests(
        count: requests, senders: senders, url: url, to: file, seed: 0x50AC + UInt64(number))
      let figures = try runner.drive(server, seconds: segment, requests: file)
      let rss = ProcessTree.residentMiB(of: pid)
      let anonymous = ProcessTree.anonymousMiB(of: pid)
      resident.append(rss)
      heap.append(anonymous)
      print(
        "| \(number) | \(Int(figures.requestsPerSecond.rounded())) | \(format(figures.p99)) | \(figures.errors)\(figures.wraps > 0 ? " (wrapped)" : "") | \(Int(rss.rounded())) | \(String(format: "%.1f", anonymous)) | \(Int(figures.peakMiB.rounded())) |"
      )
      fflush(nil)  // every stream: the progress shows while the runs go on
    }
    if let first = resident.first, let last = resident.last {
      print(
        "\nresident memory after the first segment \(Int(first.rounded())) MiB, after the last \(Int(last.rounded())) MiB (\(String(format: "%+.1f", (last - first) / first * 100))%)"
      )
    }
    if let first = heap.first, let last = heap.last {
      print(
        "heap after the first segment \(String(format: "%.1f", first)) MiB, after the last \(String(format: "%.1f", last)) MiB (\(String(format: "%+.1f", (last - first) / first * 100))%)"
      )
    }
  }
}
