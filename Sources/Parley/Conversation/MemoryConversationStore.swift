import Synchronization

/// A conversation store in memory: for tests, demos and single-process apps that may lose their
/// sessions on restart. It commits atomically and sweeps through an expiry heap, like the durable
/// stores do through an index.
public final class MemoryConversationStore: ConversationStore {
  private struct State {
    // Sharded: a plain dictionary grows by moving every entry at once, under the lock every
    // turn takes (``ShardedDictionary``).
    var sessions = ShardedDictionary<ConversationKey, SessionRecord>()
    var dedupe = ShardedDictionary<String, DedupeRecord>()
    /// Expiry entries; an entry is stale when its record's expiry moved on since it was pushed.
    /// A session has one entry, pushed when the session is created (or its key has none) and
    /// pushed again at the session's new expiry when the sweep finds it has moved on: a heap
    /// entry per save and touch held one per turn of the last four hours.
    var sessionExpiries = MinHeap<ExpiryEntry>()
    /// The time of each key's one entry in `sessionExpiries`: the session's, or a deleted
    /// session's until the sweep pops it.
    var sessionSweeps = ShardedDictionary<ConversationKey, Int64>()
    var dedupeExpiries = MinHeap<ExpiryEntry>()
    var optOuts = ShardedDictionary<OptOutKey, OptOutRecord>()
    var audit: [OptOutEvent] = []
    var ledger = OptOutLedger(head: .empty)

    /// Gives `key`'s session an entry in `sessionExpiries` at `expiresAt`, unless its key has one:
    /// the sweep pushes that one again at the session's expiry when it finds it has moved on. (An
    /// expiry moved earlier, by a wall clock set back, is swept at the entry's later time; a
    /// turn reads an expired session as expired either way.)
    mutating func scheduleSweep(of key: ConversationKey, at expiresAt: WallInstant) {
      guard sessionSweeps[key] == nil else { return }
      let time = expiresAt.millisecondsSince1970
      sessionExpiries.push(ExpiryEntry(expiresAt: time, id: key.rawValue))
      sessionSweeps[key] = time
    }

    mutating func apply(_ drafts: [OptOutEventDraft], now: WallInstant) -> [OptOutEvent] {
      drafts.map { draft in
        let event = ledger.append(draft, committedAt: now)
        audit.append(event)
        if let record = OptOutLedger.record(after: event) {
          optOuts[OptOutKey(scope: record.scope, subscriber: record.subscriber)] = record
        }
        return event
      }
    }
  }

  private struct OptOutKey: Hashable, Comparable {
    var scope: OptOutScope
    var subscriber: String
    static func < (lhs: Self, rhs: Self) -> Bool {
      (lhs.scope.rawValue, lhs.subscriber) < (rhs.scope.rawValue, rhs.subscriber)
    }
  }

  private struct ExpiryEntry: Comparable {
    var expiresAt: Int64
    var id: String
    static func < (lhs: Self, rhs: Self) -> Bool {
      (lhs.expiresAt, lhs.id) < (rhs.expiresAt, rhs.id)
    }
  }

  private let state = Mutex(State())

  /// Creates an empty store.
  public init() {}

  public func snapshot(_ request: SnapshotRequest) async throws -> TurnSnapshot {
    state.withLock { state in
      var replay: StoredReply?
      if let messageSid = request.messageSid, let record = state.dedupe[messageSid],
        record.expiresAt > request.now
      {
        replay = record.reply
      }
      let optOuts = request.subscriber.map { subscriber in
        request.scopes.compactMap { state.optOuts[OptOutKey(scope: $0, subscriber: subscriber)] }
      }
      return TurnSnapshot(
        replay: replay, session: state.sessions[request.key], optOuts: optOuts ?? [])
    }
  }

  public func optOutRecords(subscriber: String, scopes: [OptOutScope]) async throws
    -> [OptOutRecord]
  {
    state.withLock { state in
      scopes.compactMap { state.optOuts[OptOutKey(scope: $0, subscriber: subscriber)] }
    }
  }

  @discardableResult
  public func recordOptOutEvents(_ events: [OptOutEventDraft], now: WallInstant) async throws
    -> [OptOutEvent]
  {
    try OptOutEventDraft.check(events)
    return state.withLock { $0.apply(events, now: now) }
  }

  public func optOutRecords(optedOutOnly: Bool, after cursor: OptOutRecord?, limit: Int)
    async throws
    -> [OptOutRecord]
  {
    state.withLock { state in
      let start = cursor.map { OptOutKey(scope: $0.scope, subscriber: $0.subscriber) }
      return state.optOuts.entries
        .filter { (key, record) in
          (!optedOutOnly || record.optedOut) && (start == nil || start! < key)
        }
        .sorted { $0.key < $1.key }
        .prefix(limit)
        .map(\.value)
    }
  }

  public func auditEvents(after sequence: Int64, limit: Int) async throws -> [OptOutEvent] {
    state.withLock { state in
      Array(state.audit.lazy.filter { $0.sequence > sequence }.prefix(limit))
    }
  }

  public func auditHead() async throws -> OptOutAuditChain.Head {
    state.withLock { $0.ledger.head }
  }

  /// Replaces an audit event as it is stored, bypassing the chain: for tests that prove the
  /// chain detects tampering. Never use it otherwise.
  public func tamperWithAuditEvent(_ sequence: Int64, _ change: (inout OptOutEvent) -> Void) {
    state.withLock { state in
      guard let index = state.audit.firstIndex(where: { $0.sequence == sequence }) else { return }
      change(&state.audit[index])
    }
  }

  public func commit(_ writes: TurnWrites) async throws {
    try state.withLock { state in
      // Check everything first, then apply: all or nothing.
      if let dedupe = writes.dedupe, let existing = state.dedupe[dedupe.messageSid],
        existing.expiresAt > writes.now
      {
        throw ConversationStoreError(.duplicateMessage)
      }
      if let write = writes.session {
        let current = state.sessions[write.key]?.version
        guard current == write.expected else {
          throw ConversationStoreError(.conflict, "session changed since it was read")
        }
      }
      if let check = writes.optOutCheck,
        check.scopes.contains(where: {
          state.optOuts[OptOutKey(scope: $0, subscriber: check.subscriber)].map(check.isChange)
            ?? false
        })
      {
        throw OptOutCheck.conflict
      }
      if let dedupe = writes.dedupe {
        state.dedupe[dedupe.messageSid] = dedupe
        state.dedupeExpiries.push(
          ExpiryEntry(expiresAt: dedupe.expiresAt.millisecondsSince1970, id: dedupe.messageSid))
      }
      _ = state.apply(writes.optOutEvents, now: writes.now)
      switch writes.session {
      case .save(let record, _):
        state.sessions[record.key] = record
        state.scheduleSweep(of: record.key, at: record.expiresAt)
      case .touch(let key, _, let updatedAt, let expiresAt):
        // The version check above found the session.
        state.sessions.modify(key) {
          $0.updatedAt = updatedAt
          $0.expiresAt = expiresAt
        }
        state.scheduleSweep(of: key, at: expiresAt)
      case .delete(let key, _):
        state.sessions[key] = nil
      case nil:
        break
      }
    }
  }

  public func sweep(now: WallInstant, limit: Int) async throws -> SweepResult {
    state.withLock { state in
      var result = SweepResult()
      let cutoff = now.millisecondsSince1970
      while result.sessions < limit, let top = state.sessionExpiries.peek, top.expiresAt <= cutoff {
        state.sessionExpiries.pop()
        let key = ConversationKey(rawValue: top.id)
        // A key's one entry (`scheduleSweep`, and the push below).
        assert(state.sessionSweeps[key] == top.expiresAt, "a second sweep entry for a session")
        guard let record = state.sessions[key], record.expiresAt > now else {
          // Expired, or deleted since: its entry goes with it.
          if state.sessions.removeValue(forKey: key) != nil { result.sessions += 1 }
          state.sessionSweeps[key] = nil
          continue
        }
        // Its expiry moved on since the entry was pushed: due then, not now.
        let expiresAt = record.expiresAt.millisecondsSince1970
        state.sessionExpiries.push(ExpiryEntry(expiresAt: expiresAt, id: top.id))
        state.sessionSweeps[key] = expiresAt
      }
      while result.dedupeRecords < limit, let top = state.dedupeExpiries.peek,
        top.expiresAt <= cutoff
      {
        state.dedupeExpiries.pop()
        if let record = state.dedupe[top.id], record.expiresAt <= now {
          state.dedupe[top.id] = nil
          result.dedupeRecords += 1
        }
      }
      return result
    }
  }

  public func session(for key: ConversationKey) async throws -> SessionRecord? {
    state.withLock { $0.sessions[key] }
  }

  public func sessions(after key: ConversationKey?, limit: Int) async throws -> [SessionRecord] {
    state.withLock { state in
      let sorted = state.sessions.values
        .lazy.filter { key == nil || $0.key.rawValue > key!.rawValue }
        .sorted { $0.key.rawValue < $1.key.rawValue }
      return Array(sorted.prefix(limit))
    }
  }

  /// How many expiry entries the sweep has for sessions: at most one per session, and per
  /// session deleted since the sweep last reached its entry. For tests.
  var sessionSweepEntries: Int { state.withLock { $0.sessionExpiries.count } }

  public func deleteSession(for key: ConversationKey) async throws -> Bool {
    state.withLock { $0.sessions.removeValue(forKey: key) != nil }
  }
}

extension SessionWrite {
  /// The conversation the write is about.
  public var key: ConversationKey {
    switch self {
    case .save(let record, _): record.key
    case .touch(let key, _, _, _), .delete(let key, _): key
    }
  }

  /// The version the write expects to find.
  public var expected: SessionVersion? {
    switch self {
    case .save(_, let expected): expected
    case .touch(_, let expected, _, _), .delete(_, let expected): expected
    }
  }
}

/// A binary min-heap.
struct MinHeap<Element: Comparable> {
  private var items: [Element] = []

  var peek: Element? { items.first }
  var count: Int { items.count }

  mutating func push(_ element: Element) {
    items.append(element)
    var child = items.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard items[child] < items[parent] else { break }
      items.swapAt(child, parent)
      child = parent
    }
  }

  @discardableResult
  mutating func pop() -> Element? {
    guard !items.isEmpty else { return nil }
    items.swapAt(0, items.count - 1)
    let top = items.removeLast()
    var parent = 0
    while true {
      let left = 2 * parent + 1
      let right = left + 1
      var smallest = parent
      if left < items.count && items[left] < items[smallest] { smallest = left }
      if right < items.count && items[right] < items[smallest] { smallest = right }
      if smallest == parent { break }
      items.swapAt(parent, smallest)
      parent = smallest
    }
    return top
  }
}
