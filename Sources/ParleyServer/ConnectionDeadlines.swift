import NIOCore
import Parley

/// Where a connection is between its requests and their answers, and the deadline that follows
/// from it. Kept by the two handlers that enforce the deadlines, `DeadlineHandler` (raw bytes) and
/// `HTTPExchangeHandler` (requests and responses), which also tells graceful shutdown whether the
/// connection is idle. Lives on the channel's event loop and is only touched there.
final class ConnectionDeadlines {
  enum State {
    /// Waiting for the first byte of the next request.
    case idle
    /// Bytes of a request are arriving; the request deadline runs.
    case receiving
    /// Whole requests arrived and are not all answered; the app is working on them. No deadline:
    /// that time is ours.
    case busy
  }

  let requestTimeout: TimeAmount
  let idleTimeout: TimeAmount
  var state: State = .idle
  /// Part of a next request arrived, not the whole of it: bytes while busy, or its head. Once
  /// the requests before it are answered, its request deadline runs.
  var nextRequestStarted = false
  /// Whole requests that arrived and have not been answered yet: a client may pipeline several
  /// (they queue in the connection's async channel, answered in order).
  var unanswered = 0
  /// When the current state's deadline passes; nil while busy.
  private var deadline: NIODeadline?
  /// The one timer, and when it fires. It may fire before `deadline` (a deadline set since then
  /// lies further out): it then schedules itself again, rather than each request cancelling and
  /// scheduling timers (two of each per request showed in the server's profile).
  private var timer: (task: Scheduled<Void>, firesAt: NIODeadline)?
  /// Called on the event loop when a deadline passes.
  var onExpiry: ((State) -> Void)?

  init(requestTimeout: TimeAmount, idleTimeout: TimeAmount) {
    self.requestTimeout = requestTimeout
    self.idleTimeout = idleTimeout
  }

  private func arm(_ amount: TimeAmount, on loop: any EventLoop) {
    let deadline = loop.now + amount
    self.deadline = deadline
    if let timer, timer.firesAt <= deadline { return }
    schedule(at: deadline, on: loop)
  }

  private func schedule(at instant: NIODeadline, on loop: any EventLoop) {
    timer?.task.cancel()
    let loopBound = NIOLoopBound(self, eventLoop: loop)
    let task = loop.scheduleTask(deadline: instant) {
      loopBound.value.timerFired(on: loop)
    }
    timer = (task, instant)
  }

  private func timerFired(on loop: any EventLoop) {
    timer = nil
    guard let deadline else { return }  // busy: the app's time runs no deadline
    if deadline <= loop.now {
      self.deadline = nil
      onExpiry?(state)
    } else {
      schedule(at: deadline, on: loop)
    }
  }

  func bytesArrived(on loop: any EventLoop) {
    switch state {
    case .idle:
      state = .receiving
      arm(requestTimeout, on: loop)
    case .receiving:
      break
    case .busy:
      nextRequestStarted = true
    }
  }

  /// A request's head arrived.
  func requestStarted() {
    nextRequestStarted = true
  }

  /// A request's end arrived: it is whole, and the app's to answer.
  ///
  /// This forgets the bytes seen before it, which were this request's. Bytes of a next request
  /// that came in the same read as this one's end are forgotten with them: that request, should
  /// it stall before its head is whole, then gets the idle deadline rather than the request's.
  func requestReceived() {
    nextRequestStarted = false
    unanswered += 1
    state = .busy
    deadline = nil
  }

  /// A response ended (for a whole request, or refusing one that is not).
  func responseSent(on loop: any EventLoop) {
    unanswered = max(0, unanswered - 1)
    // Requests that arrived whole while the app answered this one: the app's time still.
    guard unanswered == 0 else { return }
    if nextRequestStarted {
      nextRequestStarted = false
      state = .receiving
      arm(requestTimeout, on: loop)
    } else {
      state = .idle
      arm(idleTimeout, on: loop)
    }
  }

  func cancel() {
    timer?.task.cancel()
    timer = nil
    deadline = nil
    onExpiry = nil
  }
}

/// First in the pipeline: sees raw bytes, so a request's deadline starts at its first byte, even
/// while its header is still trickling in. On expiry it answers 408 (or closes an idle connection).
final class DeadlineHandler: ChannelInboundHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer
  typealias OutboundOut = ByteBuffer

  let deadlines: ConnectionDeadlines

  init(deadlines: ConnectionDeadlines) {
    self.deadlines = deadlines
  }

  static let timeoutResponse = WebhookResponse.refusal(
    .requestTimeout, "request not received before deadline"
  ).encoded(keepAlive: false, requestMethod: nil, allocator: ByteBufferAllocator())

  func handlerAdded(context: ChannelHandlerContext) {
    let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
    deadlines.onExpiry = { state in
      let context = loopBound.value
      if state == .receiving {
        context.writeAndFlush(NIOAny(Self.timeoutResponse)).whenComplete { _ in
          loopBound.value.close(promise: nil)
        }
      } else {
        context.close(promise: nil)
      }
    }
    if context.channel.isActive {
      deadlines.responseSent(on: context.eventLoop)
    }
  }

  func channelActive(context: ChannelHandlerContext) {
    deadlines.responseSent(on: context.eventLoop)
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    deadlines.bytesArrived(on: context.eventLoop)
    context.fireChannelRead(data)
  }

  func channelInactive(context: ChannelHandlerContext) {
    deadlines.cancel()
    context.fireChannelInactive()
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    deadlines.cancel()
  }
}
