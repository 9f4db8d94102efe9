import Foundation
import ParleyFuzzing
import Testing

/// Replays each fuzz target's seed corpus and every crashing input ever found (kept in
/// `Fuzz/Crashes/<target>/` once fixed) through the same code the fuzzers run.
struct FuzzReplayTests {
  static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz")

  static func inputs(_ target: String) -> [URL] {
    ["Corpus", "Crashes"].flatMap { kind in
      let directory = fuzzDirectory.appendingPathComponent(kind).appendingPathComponent(target)
      let files =
        (try? FileManager.default.contentsOfDirectory(
          at: directory, includingPropertiesForKeys: nil)) ?? []
      return files.filter { !$0.lastPathComponent.hasPrefix(".") }
    }
  }

  @Test(arguments: ["form", "cookie", "twiml", "http", "json"])
  func replay(target: String) throws {
    let run = try #require(FuzzTargets.all[target])
    let files = Self.inputs(target)
    #expect(!files.isEmpty, "no seed corpus for \(target)")
    for file in files {
      run(Array(try Data(contentsOf: file)))
    }
  }
}
