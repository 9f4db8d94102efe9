import Foundation
import Testing

/// README's examples are the samples' real code: every Swift block that names a sample file as its
/// first line must appear, verbatim, in that file.
struct ReadmeTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  static func sourceBlocks() throws -> [(path: String, code: String)] {
    let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
    var blocks: [(String, String)] = []
    var remaining = readme[...]
    while let start = remaining.range(of: "```swift\n") {
      let rest = remaining[start.upperBound...]
      guard let end = rest.range(of: "```") else { break }
      let block = rest[..<end.lowerBound]
      remaining = rest[end.upperBound...]
      guard block.hasPrefix("// Samples/") else { continue }
      let newline = block.firstIndex(of: "\n")!
      var path = String(block[block.index(block.startIndex, offsetBy: 3)..<newline])
      if path.hasSuffix(" (excerpt)") { path.removeLast(" (excerpt)".count) }
      blocks.append((path, String(block[block.index(after: newline)...])))
    }
    return blocks
  }

  @Test func everySampleExampleInTheReadmeIsTheSamplesCode() throws {
    let blocks = try Self.sourceBlocks()
    #expect(blocks.count >= 3)
    for block in blocks {
      let file = try String(
        contentsOf: Self.root.appendingPathComponent(block.path), encoding: .utf8)
      #expect(
        file.contains(block.code), "README's example from \(block.path) differs from the file")
    }
  }
}
