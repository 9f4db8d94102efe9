import GRDB
import Synchronization

/// Runs together the requests that arrive while the database is busy with the previous ones: one
/// access to a connection (one hop to its dispatch queue, one transaction) for the whole batch.
///
/// A request joins the pending batch and waits. The first request of a batch schedules one access;
/// when the connection reaches it (after the batch before), it takes every request pending at that
/// moment. There is no timer: an idle store serves a lone request at once, and a busy one shares
/// each access among all the requests that queued behind the previous one. At most one access is
/// waiting for the connection at a time; the requests that arrive meanwhile join it.
///
/// Each request keeps its own outcome (`process` returns one result per request, in order).
/// A request is not cancellable once queued: cancelling it must not disturb the batch it is in.
final class DatabaseBatcher<Request: Sendable, Response: Sendable>: Sendable {
  /// Gives `body` a connection (or the error that prevented it), on that connection's queue.
  typealias Access =
    @Sendable (_ body: @escaping @Sendable (Result<Database, any Error>) -> Void)
    -> Void
  /// Serves a batch on a connection: one result per request, in order.
  typealias Process =
    @Sendable (_ batch: [Request], _ db: Database) -> [Result<Response, any Error>]

  private struct Pending {
    var request: Request
    var continuation: CheckedContinuation<Response, any Error>
  }

  private struct State {
    var pending: [Pending] = []
    var scheduled = false
    var statistics = BatchStatistics()
  }

  private let access: Access
  private let process: Process
  private let state = Mutex(State())

  init(access: @escaping Access, process: @escaping Process) {
    self.access = access
    self.process = process
  }

  /// How many requests and batches so far.
  var statistics: BatchStatistics { state.withLock { $0.statistics } }

  /// Serves `request` with the batch it joins; returns once that batch is done.
  func submit(_ request: Request) async throws -> Response {
    try await withCheckedThrowingContinuation {
      (continuation: CheckedContinuation<Response, any Error>) in
      let schedule = state.withLock { state in
        state.pending.append(Pending(request: request, continuation: continuation))
        defer { state.scheduled = true }
        return !state.scheduled
      }
      if schedule { access { connection in self.drain(connection) } }
    }
  }

  /// Takes every pending request and serves them as one batch.
  private func drain(_ connection: Result<Database, any Error>) {
    let batch = state.withLock { state in
      defer {
        state.pending = []
        state.scheduled = false
      }
      state.statistics.requests += state.pending.count
      state.statistics.batches += 1
      state.statistics.largestBatch = max(state.statistics.largestBatch, state.pending.count)
      return state.pending
    }
    let outcomes: [Result<Response, any Error>]
    switch connection {
    case .success(let db):
      outcomes = process(batch.map(\.request), db)
    case .failure(let error):
      outcomes = batch.map { _ in .failure(error) }
    }
    precondition(outcomes.count == batch.count, "one outcome per request")
    for (pending, outcome) in zip(batch, outcomes) { pending.continuation.resume(with: outcome) }
  }
}

/// What a ``DatabaseBatcher`` has done since it was made.
struct BatchStatistics: Sendable, Hashable {
  /// Requests served.
  var requests = 0
  /// Accesses to the database they took.
  var batches = 0
  /// The most requests one access served.
  var largestBatch = 0
}
