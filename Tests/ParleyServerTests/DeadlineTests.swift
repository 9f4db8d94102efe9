import NIOCore
import NIOEmbedded
import Testing

@testable import ParleyServer

/// The connection deadlines on an event loop whose clock the test moves.
struct ConnectionDeadlineTests {
  final class Expiries {
    var states: [ConnectionDeadlines.State] = []
  }

  func opened() -> (ConnectionDeadlines, EmbeddedEventLoop, Expiries) {
    let loop = EmbeddedEventLoop()
    let deadlines = ConnectionDeadlines(requestTimeout: .seconds(10), idleTimeout: .seconds(60))
    let expiries = Expiries()
    deadlines.onExpiry = { expiries.states.append($0) }
    deadlines.responseSent(on: loop)  // as when the connection opens: idle
    return (deadlines, loop, expiries)
  }

  /// Nothing expires for `amount` less a millisecond; at `amount`, the deadline of `state` does.
  func expectExpiry(
    of state: ConnectionDeadlines.State, after amount: TimeAmount, on loop: EmbeddedEventLoop,
    _ expiries: Expiries, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    loop.advanceTime(by: amount - .milliseconds(1))
    #expect(expiries.states.isEmpty, sourceLocation: sourceLocation)
    loop.advanceTime(by: .milliseconds(1))
    #expect(expiries.states == [state], sourceLocation: sourceLocation)
  }

  /// One request every second for 100 seconds, each answered in 10 ms: the timer set for an
  /// earlier deadline keeps firing early and moving on, and nothing expires.
  func serveQuickRequests(_ deadlines: ConnectionDeadlines, _ loop: EmbeddedEventLoop) {
    for _ in 0..<100 {
      loop.advanceTime(by: .seconds(1))
      deadlines.bytesArrived(on: loop)
      loop.advanceTime(by: .milliseconds(5))
      deadlines.requestReceived()
      loop.advanceTime(by: .milliseconds(5))
      deadlines.responseSent(on: loop)
    }
  }

  @Test func aRequestAfterManyQuickOnesStillExpiresAtItsOwnDeadline() {
    let (deadlines, loop, expiries) = opened()
    serveQuickRequests(deadlines, loop)
    #expect(expiries.states.isEmpty)
    loop.advanceTime(by: .seconds(1))
    deadlines.bytesArrived(on: loop)  // the first byte of a request that never completes
    expectExpiry(of: .receiving, after: .seconds(10), on: loop, expiries)
  }

  @Test func anIdleConnectionExpiresAtTheIdleTimeoutAfterItsLastResponse() {
    let (deadlines, loop, expiries) = opened()
    serveQuickRequests(deadlines, loop)
    expectExpiry(of: .idle, after: .seconds(60), on: loop, expiries)
  }

  @Test func theAppsOwnTimeRunsNoDeadline() {
    let (deadlines, loop, expiries) = opened()
    deadlines.bytesArrived(on: loop)
    deadlines.requestReceived()
    loop.advanceTime(by: .seconds(300))  // the app works for five minutes
    #expect(expiries.states.isEmpty)
    deadlines.responseSent(on: loop)
    loop.advanceTime(by: .seconds(60))
    #expect(expiries.states == [.idle])
  }

  @Test func aPipelinedRequestsDeadlineStartsWhenTheResponseBeforeItIsSent() {
    let (deadlines, loop, expiries) = opened()
    deadlines.bytesArrived(on: loop)
    deadlines.requestReceived()
    loop.advanceTime(by: .seconds(30))
    deadlines.bytesArrived(on: loop)  // the next request's bytes, while busy
    loop.advanceTime(by: .seconds(30))
    deadlines.responseSent(on: loop)
    expectExpiry(of: .receiving, after: .seconds(10), on: loop, expiries)
  }

  @Test func requestsPipelinedWholeWaitForTheAppWithNoDeadline() {
    let (deadlines, loop, expiries) = opened()
    deadlines.bytesArrived(on: loop)  // three requests in one read
    for _ in 0..<3 {
      deadlines.requestStarted()
      deadlines.requestReceived()
    }
    for _ in 0..<2 {
      loop.advanceTime(by: .seconds(300))  // the app works five minutes on each
      deadlines.responseSent(on: loop)
    }
    loop.advanceTime(by: .seconds(300))
    #expect(expiries.states.isEmpty)
    deadlines.responseSent(on: loop)
    expectExpiry(of: .idle, after: .seconds(60), on: loop, expiries)
  }

  @Test func aRequestWhoseHeadArrivedWhileBusyGetsTheRequestDeadline() {
    let (deadlines, loop, expiries) = opened()
    deadlines.bytesArrived(on: loop)
    deadlines.requestStarted()
    deadlines.requestReceived()
    deadlines.requestStarted()  // the next request's head, in the same read; its body is late
    loop.advanceTime(by: .seconds(30))
    deadlines.responseSent(on: loop)
    expectExpiry(of: .receiving, after: .seconds(10), on: loop, expiries)
  }

  @Test func aClosedConnectionNeverExpires() {
    let (deadlines, loop, expiries) = opened()
    deadlines.bytesArrived(on: loop)
    deadlines.cancel()
    loop.advanceTime(by: .seconds(600))
    #expect(expiries.states.isEmpty)
  }
}
