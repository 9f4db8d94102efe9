import ParleyTesting
import Testing

@testable import Parley

struct ShardedDictionaryTests {
  /// Random inserts, replacements, removals and in-place changes, each checked against a
  /// `Dictionary` doing the same: lookups, the count, and at the end every entry and value.
  @Test func itKeepsWhatADictionaryKeeps() {
    var random = SplitMix64(seed: 9)
    var sharded = ShardedDictionary<String, Int>()
    var reference: [String: Int] = [:]
    for step in 0..<60_000 {
      let key = "SM\(Int.random(in: 0..<8_000, using: &random))"
      switch Int.random(in: 0..<10, using: &random) {
      case 0..<5:
        sharded[key] = step
        reference[key] = step
      case 5..<7:
        #expect(sharded.removeValue(forKey: key) == reference.removeValue(forKey: key))
      case 7:
        sharded[key] = nil
        reference[key] = nil
      default:
        let found = sharded.modify(key) { $0 = -$0 }
        #expect(found == (reference[key] != nil))
        if let value = reference[key] { reference[key] = -value }
      }
      #expect(sharded[key] == reference[key])
      #expect(sharded.count == reference.count)
    }
    #expect(reference.count > 1_000)
    let entries = Dictionary(uniqueKeysWithValues: sharded.entries.map { ($0.key, $0.value) })
    #expect(entries == reference)
    #expect(sharded.values.sorted() == reference.values.sorted())
    #expect(sharded.shardSizes.reduce(0, +) == reference.count)
  }

  /// The keys spread over every shard, none holding more than twice its share: a shard taking
  /// most of them would grow as one dictionary does, all at once.
  @Test func keysSpreadOverTheShards() {
    var sharded = ShardedDictionary<String, Int>()
    let count = 100 * ShardedDictionary<String, Int>.shardCount
    for index in 0..<count { sharded["+1617555\(index)"] = index }
    let sizes = sharded.shardSizes
    #expect(sizes.count == ShardedDictionary<String, Int>.shardCount)
    #expect(sizes.min()! > 0 && sizes.max()! <= 200, "\(sizes.min()!)...\(sizes.max()!)")
  }
}
