#if canImport(FoundationEssentials)
  public import FoundationEssentials
#else
  public import Foundation
#endif

/// An instant of wall-clock time, as sessions, dedupe records and audit rows store it.
public struct WallInstant: InstantProtocol, Codable, Sendable, Hashable, Comparable {
  /// The instant as a date.
  public var date: Date

  /// Creates an instant from a date.
  public init(_ date: Date) { self.date = date }

  /// Milliseconds since 1970, the form stores keep.
  public var millisecondsSince1970: Int64 {
    Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
  }

  /// Creates an instant from milliseconds since 1970.
  public init(millisecondsSince1970 milliseconds: Int64) {
    self.date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
  }

  public func advanced(by duration: Duration) -> WallInstant {
    WallInstant(date.addingTimeInterval(duration.timeInterval))
  }

  public func duration(to other: WallInstant) -> Duration {
    .milliseconds(other.millisecondsSince1970 - millisecondsSince1970)
  }

  public static func < (lhs: WallInstant, rhs: WallInstant) -> Bool { lhs.date < rhs.date }
}

extension Duration {
  /// The duration in seconds, as a floating-point number.
  public var timeInterval: Double {
    let (seconds, attoseconds) = components
    return Double(seconds) + Double(attoseconds) / 1e18
  }
}

/// A clock that tells wall time. Parley reads the time only through one, so tests can cross the
/// four-hour session boundary without waiting (`ManualClock` in ParleyTesting).
public protocol WallClock: Clock, Sendable
where Instant == WallInstant, Duration == Swift.Duration {}

/// The system's wall clock.
public struct SystemWallClock: WallClock {
  /// Creates the clock.
  public init() {}

  public var now: WallInstant { WallInstant(Date()) }

  public var minimumResolution: Duration { .milliseconds(1) }

  public func sleep(until deadline: WallInstant, tolerance: Duration? = nil) async throws {
    let remaining = now.duration(to: deadline)
    if remaining > .zero {
      try await Task.sleep(for: remaining, tolerance: tolerance, clock: .continuous)
    }
  }
}
