public import Logging
import Synchronization

/// Collects what an app logs, so tests can check it (an error was logged; no phone number
/// appears in clear).
///
/// ```swift
/// let log = LogRecorder()
/// let app = ParleyApplication(logger: log.logger) { … }
/// #expect(log.contains("handler failed"))
/// ```
public final class LogRecorder: Sendable {
  /// One log record.
  public struct Line: Sendable {
    /// Its level.
    public var level: Logger.Level
    /// Its message.
    public var message: String
    /// Its metadata (the logger's and the record's), rendered as text.
    public var metadata: [String: String]

    /// The message followed by the metadata, sorted: what a log line would show.
    public var rendered: String {
      ([message] + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }).joined(
        separator: " ")
    }
  }

  private let storage = Mutex<[Line]>([])

  /// Creates an empty recorder.
  public init() {}

  /// Every record so far, in order.
  public var lines: [Line] { storage.withLock { $0 } }

  /// Whether a record has this message (and, if given, this metadata value).
  public func contains(_ message: String, _ key: String? = nil, _ value: String? = nil) -> Bool {
    lines.contains { line in
      line.message == message && (key == nil || line.metadata[key!] == value)
    }
  }

  /// A logger that records into this recorder, at every level.
  public var logger: Logger {
    var logger = Logger(label: "test") { _ in Handler(recorder: self) }
    logger.logLevel = .trace
    return logger
  }

  struct Handler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
      get { metadata[key] }
      set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
      let all = metadata.merging(event.metadata ?? [:]) { $1 }
      recorder.storage.withLock {
        $0.append(
          Line(level: event.level, message: "\(event.message)", metadata: all.mapValues { "\($0)" })
        )
      }
    }
  }
}
