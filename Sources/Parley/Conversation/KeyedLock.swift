import Synchronization

/// Runs work one at a time per key, and work on different keys in parallel.
///
/// Waiters are served in arrival order; the lock is handed directly to the next waiter, so a
/// burst of messages in one conversation is handled in the order they arrived here.
public final class KeyedLock<Key: Hashable & Sendable>: Sendable {
  private struct Waiters {
    var queue: [CheckedContinuation<Void, Never>] = []
  }

  private let state = Mutex<[Key: Waiters]>([:])

  /// Creates a lock.
  public init() {}

  /// Runs `body` while holding the lock for `key`.
  public func withLock<T: Sendable>(
    _ key: Key, _ body: () async throws -> T
  ) async rethrows -> T {
    await acquire(key)
    defer { release(key) }
    return try await body()
  }

  /// The number of keys currently held (for tests and metrics).
  public var heldKeys: Int { state.withLock { $0.count } }

  private func acquire(_ key: Key) async {
    let acquired = state.withLock { table -> Bool in
      if table[key] == nil {
        table[key] = Waiters()
        return true
      }
      return false
    }
    if acquired { return }
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let handedOver = state.withLock { table -> Bool in
        if table[key] == nil {
          // Released between the two critical sections: take it now.
          table[key] = Waiters()
          return true
        }
        table[key]!.queue.append(continuation)
        return false
      }
      if handedOver { continuation.resume() }
    }
  }

  private func release(_ key: Key) {
    let next = state.withLock { table -> CheckedContinuation<Void, Never>? in
      guard var waiters = table[key] else { return nil }
      if waiters.queue.isEmpty {
        table[key] = nil
        return nil
      }
      let next = waiters.queue.removeFirst()
      table[key] = waiters
      return next
    }
    next?.resume()
  }
}
