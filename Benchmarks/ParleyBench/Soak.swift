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
    // code first runs, SQLite's shared-memory index); and within the heap, what the C allocator
    // has handed out and not had back ("in use": a leak grows it) apart from what it holds, freed
    // memory kept in the arenas of the threads that used it.
    print(
      "| segment | req/s | p99 ms | errors | RSS MiB after | heap MiB after | malloc in use MiB "
        + "| malloc held MiB | peak MiB |")
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    let start = ProcessTree.memoryMiB(of: pid)
    let startAllocator = allocator()
    print(
      "| start | | | | \(Int(start.resident.rounded())) | \(String(format: "%.1f", start.anonymous)) "
        + "| \(mebibytes(startAllocator?.inUse)) | \(mebibytes(startAllocator?.held)) | |")
    var resident: [Double] = []
    var heap: [Double] = []
    var inUse: [Double] = []
    var held: [Double] = []
    let file = "\(workDirectory)/soak-requests.txt"
    for number in 1...max(1, seconds / segment) {
      // Fresh MessageSids for each segment (the senders stay the same conversations).
      try Workload.writeRequests(
        count: requests, senders: senders, url: url, to: file, seed: 0x50AC + UInt64(number))
      let figures = try runner.drive(server, seconds: segment, requests: file)
      let memory = ProcessTree.memoryMiB(of: pid)
      let allocated = allocator()
      resident.append(memory.resident)
      heap.append(memory.anonymous)
      if let allocated {
        inUse.append(Double(allocated.inUse) / 1_048_576)
        held.append(Double(allocated.held) / 1_048_576)
      }
      print(
        "| \(number) | \(Int(figures.requestsPerSecond.rounded())) | \(format(figures.p99)) | \(figures.errors)\(figures.wraps > 0 ? " (wrapped)" : "") | \(Int(memory.resident.rounded())) | \(String(format: "%.1f", memory.anonymous)) | \(mebibytes(allocated?.inUse)) | \(mebibytes(allocated?.held)) | \(Int(figures.peakMiB.rounded())) |"
      )
      fflush(nil)  // every stream: the progress shows while the runs go on
    }
    print("\n" + Self.growth("resident memory", resident, digits: 0))
    print(Self.growth("heap", heap, digits: 1))
    print(Self.growth("malloc in use", inUse, digits: 1))
    print(Self.growth("malloc held", held, digits: 1))
  }

  /// The server's allocator figures (`serve` answers them at ``AllocatorFigures/path``), read
  /// between segments while no load runs; nil if the server did not answer them.
  private func allocator() -> AllocatorFigures? {
    httpGet(port: runner.port, path: AllocatorFigures.path)
      .flatMap { $0.split(separator: "\n").first }
      .flatMap { AllocatorFigures(line: $0) }
  }

  private func mebibytes(_ bytes: Int?) -> String {
    bytes.map { String(format: "%.1f", Double($0) / 1_048_576) } ?? ""
  }

  /// How a figure read after each segment moved from the first segment to the last.
  static func growth(_ name: String, _ values: [Double], digits: Int) -> String {
    guard let first = values.first, let last = values.last else { return "" }
    let number = "%.\(digits)f"
    return
      "\(name) after the first segment \(String(format: number, first)) MiB, after the last \(String(format: number, last)) MiB (\(String(format: "%+.1f", (last - first) / first * 100))%)"
  }
}
