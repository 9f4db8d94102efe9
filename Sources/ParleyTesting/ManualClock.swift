public import Parley
import Synchronization

#if canImport(FoundationEssentials)
  public import FoundationEssentials
#else
  public import Foundation
#endif

/// A wall clock that moves only when told to, so tests cross the four-hour session boundary,
/// dedupe windows and sweeps without waiting.
///
/// ```swift
/// let clock = ManualClock()
/// clock.advance(by: .seconds(4 * 3600 - 1))  // 3:59:59 later: the session resumes
/// ```
public final class ManualClock: WallClock {
  private struct Sleeper {
    var id: Int
    var deadline: WallInstant
    var continuation: CheckedContinuation<Void, any Error>
  }

  private struct State {
    var now: WallInstant
    var sleepers: [Sleeper] = []
    var nextID = 0
  }

  private let state: Mutex<State>

  /// Creates a clock showing `start` (by default a fixed date, so runs are repeatable).
  public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
    state = Mutex(State(now: WallInstant(start)))
  }

  public var now: WallInstant { state.withLock { $0.now } }

  public var minimumResolution: Duration { .milliseconds(1) }

  /// Moves the clock forward and wakes the sleepers whose deadline passed.
  public func advance(by duration: Duration) {
    let due = state.withLock { state -> [Sleeper] in
      state.now = state.now.advanced(by: duration)
      let now = state.now
      let due = state.sleepers.filter { $0.deadline <= now }
      state.sleepers.removeAll { $0.deadline <= now }
      return due
    }
    for sleeper in due { sleeper.continuation.resume() }
  }

  public func sleep(until deadline: WallInstant, tolerance: Duration? = nil) async throws {
    let id = state.withLock { state -> Int in
      state.nextID += 1
      return state.nextID
    }
    try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation {
        (continuation: CheckedContinuation<Void, any Error>) in
        let resumeNow = state.withLock { state -> Bool in
          if deadline <= state.now || Task.isCancelled { return true }
          state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
          return false
        }
        if resumeNow { continuation.resume() }
      }
      try Task.checkCancellation()
    } onCancel: {
      let cancelled = state.withLock { state -> Sleeper? in
        guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
        return state.sleepers.remove(at: index)
      }
      cancelled?.continuation.resume(throwing: CancellationError())
    }
  }
}
