public import Logging

/// The handler of a turn's logger: the app's own handler, with the turn's metadata (message id,
/// masked numbers) kept beside it and handed to the app's handler only with a line it emits.
///
/// Setting metadata on a handler is not free for every handler: swift-log's `StreamLogHandler`
/// renders all of its metadata into a string on each change, masked numbers included, whether or
/// not a line is ever logged. A turn used to set its three values on the app's handler, and that
/// render was about 2% of a served turn's CPU on a server that logs nothing per turn. Here the
/// values wait in ``TurnLogHandler`` and reach the app's handler as a line's metadata, so they are
/// rendered only when a line is.
///
/// What a handler sees is unchanged: `metadata` reads the app's handler's metadata with the
/// turn's on top, and a line carries the turn's metadata under its own (a line's own values win,
/// as they do over a handler's). One difference: the app's handler receives the turn's values as
/// the line's metadata rather than its own, so a `Logger.MetadataProvider` on that handler no
/// longer overrides them. Setting the whole `metadata` hands it to the app's handler.
public struct TurnLogHandler: LogHandler {
  /// The app's handler, which emits the lines.
  public private(set) var wrapped: any LogHandler
  /// Values set on this logger and not yet given to `wrapped`.
  private var overlay: Logger.Metadata

  /// Wraps `handler`, with `metadata` on top of its own. A `TurnLogHandler` given as `handler` is
  /// not wrapped again: its values and `metadata` are merged, `metadata`'s winning.
  public init(wrapping handler: any LogHandler, metadata: Logger.Metadata) {
    if let turn = handler as? TurnLogHandler {
      wrapped = turn.wrapped
      overlay = turn.overlay.merging(metadata) { _, new in new }
    } else {
      wrapped = handler
      overlay = metadata
    }
  }

  /// The wrapped handler's level.
  public var logLevel: Logger.Level {
    get { wrapped.logLevel }
    set { wrapped.logLevel = newValue }
  }

  /// The wrapped handler's metadata provider.
  public var metadataProvider: Logger.MetadataProvider? {
    get { wrapped.metadataProvider }
    set { wrapped.metadataProvider = newValue }
  }

  /// The wrapped handler's metadata with this logger's values on top. Setting it gives the whole
  /// dictionary to the wrapped handler (which may render it) and clears this logger's values.
  public var metadata: Logger.Metadata {
    get {
      overlay.isEmpty ? wrapped.metadata : wrapped.metadata.merging(overlay) { _, turn in turn }
    }
    set {
      wrapped.metadata = newValue
      overlay = [:]
    }
  }

  /// One value: this logger's if it set one, else the wrapped handler's. Setting a value keeps
  /// it here; removing one removes it from the wrapped handler too.
  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { overlay[key] ?? wrapped[metadataKey: key] }
    set {
      // A value removed must also leave the wrapped handler, where it may have been set before
      // this logger existed; that is the one change the wrapped handler sees.
      if newValue == nil, wrapped[metadataKey: key] != nil { wrapped[metadataKey: key] = nil }
      overlay[key] = newValue
    }
  }

  /// Emits through the wrapped handler, this logger's values added to the line's own.
  public func log(event: LogEvent) {
    guard !overlay.isEmpty else { return wrapped.log(event: event) }
    var event = event
    if let explicit = event.metadata {
      event.metadata = overlay.merging(explicit) { _, line in line }
    } else {
      event.metadata = overlay
    }
    wrapped.log(event: event)
  }
}
