/// A dictionary split into a fixed number of smaller ones by the key's hash, so that growing it
/// never rehashes more than a small part of its entries at once.
///
/// A Swift `Dictionary` doubles its storage when full and moves every entry in one call: with
/// 98,304 entries like the memory store's dedupe records one insert took 38 ms, with 196,608
/// 81 ms, and every turn waited behind the store's lock meanwhile: the benchmark's memory row,
/// whose store reaches about 130,000 entries in a run, had a slowest request of 56 to 96 ms
/// (medians of four runs) where split it has 25 to 30. Split 256 ways, a store of 400,000
/// entries grows a table of about 1,600 at a time.
struct ShardedDictionary<Key: Hashable, Value> {
  /// The shard is the hash's top eight bits.
  static var shardCount: Int { 256 }

  private var shards: [[Key: Value]]

  init() {
    shards = Array(repeating: [:], count: Self.shardCount)
  }

  private static func shard(of key: Key) -> Int {
    // The top bits: a dictionary picks a bucket by the low bits of a hash seeded for its own
    // storage, but with deterministic hashing (`SWIFT_DETERMINISTIC_HASHING`) every seed is the
    // same, and keys sharded by their low bits would share their bucket's low bits too.
    Int(truncatingIfNeeded: UInt(bitPattern: key.hashValue) >> (UInt.bitWidth - 8))
  }

  subscript(key: Key) -> Value? {
    get { shards[Self.shard(of: key)][key] }
    set { shards[Self.shard(of: key)][key] = newValue }
  }

  /// Changes the value of `key` in place, if there is one; returns whether there was.
  @discardableResult
  mutating func modify(_ key: Key, _ body: (inout Value) -> Void) -> Bool {
    let shard = Self.shard(of: key)
    guard let index = shards[shard].index(forKey: key) else { return false }
    body(&shards[shard].values[index])
    return true
  }

  /// Removes `key`'s entry; returns its value, if there was one.
  @discardableResult
  mutating func removeValue(forKey key: Key) -> Value? {
    shards[Self.shard(of: key)].removeValue(forKey: key)
  }

  /// Every entry, in no particular order.
  var entries: some Sequence<(key: Key, value: Value)> {
    shards.lazy.flatMap { $0.lazy.map { (key: $0.key, value: $0.value) } }
  }

  /// Every value, in no particular order.
  var values: some Sequence<Value> { shards.lazy.flatMap(\.values) }
}

extension ShardedDictionary: Sendable where Key: Sendable, Value: Sendable {}

extension ShardedDictionary {
  /// How many entries each shard holds: for tests of the spread.
  var shardSizes: [Int] { shards.map(\.count) }

  /// The number of entries: for tests (it counts every shard).
  var count: Int { shards.reduce(0) { $0 + $1.count } }
}
