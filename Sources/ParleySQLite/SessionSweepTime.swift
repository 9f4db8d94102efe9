import Parley

/// The time the SQLite store finds a session to sweep by, which trails its expiry.
///
/// Every turn slides its session's expiry. Indexed on `expires_at`, each slide moved the session's
/// entry in that index: the old entry, on a page as random as the conversation, was deleted and a
/// new one written at the index's end, a dirty page per turn for the log and the fsync. The store
/// indexes `sweep_at` instead, which a turn sets to the new expiry only when the expiry leaves
/// ``window`` after it; a slide within the window writes the row alone. The schema holds every row
/// to `sweep_at <= expires_at <= sweep_at + window`, so a session whose `sweep_at` is a window in
/// the past has expired: the sweep deletes each session at most ten minutes after it expired, as
/// the PostgreSQL store's ten-minute buckets do. (Sessions are read with their expiry and treated
/// as gone once it has passed, swept or not.)
enum SessionSweepTime {
  /// How far `sweep_at` may trail `expires_at`, in milliseconds: ten minutes. The schema's `CHECK`
  /// (migrations "v4 sessions found for sweeping by a trailing sweep time" and "v5 dedupe entries
  /// beside their conversation's session") holds the same figure.
  static let window: Int64 = 600_000

  /// The latest `sweep_at` of a session sure to have expired by `now`.
  static func sweepable(at now: WallInstant) -> Int64 {
    now.millisecondsSince1970 - window
  }
}
