import Logging
import Parley
import ParleyTesting
import Synchronization
import Testing

/// A handler that, like swift-log's `StreamLogHandler`, does work whenever its metadata changes:
/// it counts the changes, and records each line with the metadata it would print.
private struct CountingHandler: LogHandler {
  final class Record: Sendable {
    let changes = Atomic<Int>(0)
    let lines = Mutex<[(message: String, metadata: [String: String])]>([])
  }

  let record: Record
  var logLevel: Logger.Level = .info
  var metadata: Logger.Metadata = [:] {
    didSet { record.changes.add(1, ordering: .relaxed) }
  }

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  func log(event: LogEvent) {
    let all = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
    record.lines.withLock { $0.append(("\(event.message)", all)) }
  }
}

struct TurnLoggerTests {
  let from = "+16175550123"
  let to = "+14155550199"

  @Test func aTurnsMetadataReachesItsLinesWithoutChangingTheAppsHandler() async throws {
    let record = CountingHandler.Record()
    var handler = CountingHandler(record: record)
    handler.metadata = ["app": "survey"]
    let logger = Logger(label: "test") { _ in handler }
    #expect(record.changes.load(ordering: .relaxed) == 1)
    let app = ParleyApplication(logger: logger) { turn in
      if turn.message.body == "log" {
        var logger = turn.logger
        logger[metadataKey: "step"] = "name"
        logger.info("asked", metadata: ["parley.to": "line's own"])
      }
      return .message("ok")
    }
    let client = ParleyTestClient(application: app)
    for _ in 0..<3 { #expect(await client.send("quiet", from: from, to: to).status == .ok) }
    #expect(await client.send("log", from: from, to: to).status == .ok)

    // Four turns, one line, and not one change to the app's handler's metadata: a handler that
    // renders its metadata on each change (StreamLogHandler) renders nothing for a quiet turn.
    #expect(record.changes.load(ordering: .relaxed) == 1)
    let lines = record.lines.withLock { $0 }
    #expect(lines.count == 1)
    let line = try #require(lines.first)
    #expect(line.message == "asked")
    #expect(line.metadata["app"] == "survey")
    #expect(line.metadata["step"] == "name")
    #expect(line.metadata["parley.from"] == "+16*******23")
    #expect(line.metadata["parley.message_sid"]?.hasPrefix("SM") == true)
    // The line's own value wins over the turn's, as it does over a handler's.
    #expect(line.metadata["parley.to"] == "line's own")
    #expect(!line.metadata.values.contains { $0.contains("6175550123") })
  }

  @Test func theTurnsHandlerReadsAndChangesLikeTheOneItWraps() throws {
    let record = CountingHandler.Record()
    var inner = CountingHandler(record: record)
    inner.metadata = ["app": "survey", "region": "eu"]
    var handler = TurnLogHandler(wrapping: inner, metadata: ["turn": "1", "region": "us"])
    #expect(handler.metadata == ["app": "survey", "region": "us", "turn": "1"])
    #expect(handler[metadataKey: "region"] == "us")
    #expect(handler[metadataKey: "app"] == "survey")

    // A value set is kept beside the wrapped handler, which does not change.
    handler[metadataKey: "step"] = "age"
    #expect(record.changes.load(ordering: .relaxed) == 1)
    // A value removed is gone from both: the wrapped handler's own copy too.
    handler[metadataKey: "app"] = nil
    handler[metadataKey: "turn"] = nil
    #expect(handler[metadataKey: "app"] == nil)
    #expect(handler.metadata == ["region": "us", "step": "age"])
    #expect(record.changes.load(ordering: .relaxed) == 2)

    // The level is the wrapped handler's.
    handler.logLevel = .error
    #expect((handler.wrapped as? CountingHandler)?.logLevel == .error)

    // Wrapping again merges into one layer instead of nesting.
    let again = TurnLogHandler(wrapping: handler, metadata: ["step": "done"])
    #expect(again.wrapped is CountingHandler)
    #expect(again.metadata == ["region": "us", "step": "done"])

    // The whole dictionary set goes to the wrapped handler, and is all there is.
    handler.metadata = ["only": "this"]
    #expect(handler.metadata == ["only": "this"])
    #expect((handler.wrapped as? CountingHandler)?.metadata == ["only": "this"])

    handler.log(
      event: LogEvent(
        level: .error, message: "m", metadata: nil, source: "s", file: "f", function: "g",
        line: 1))
    #expect(record.lines.withLock { $0.map(\.metadata) } == [["only": "this"]])
  }
}
