import Parley

/// The ten-minute buckets the PostgreSQL store finds sessions to sweep by.
///
/// Every turn slides its session's expiry. Indexed on `expires_at`, no such update could be a
/// heap-only (HOT) update: each wrote a new entry into both of the table's indexes, and left a
/// dead one in each for vacuum. The store indexes the bucket instead, a column PostgreSQL derives
/// from the expiry (`GENERATED ALWAYS AS (expires_at / 600000)`), which a turn changes only when
/// it moves the expiry into a later ten minutes. The sweep deletes the sessions whose bucket has
/// ended: each at most ten minutes after it expired. Only the sweep computes a bucket here; the
/// width must stay the generated column's.
enum SessionExpiryBucket {
  /// The width of a bucket: ten minutes.
  static let milliseconds: Int64 = 600_000

  /// The bucket `instant` falls in.
  static func of(_ instant: WallInstant) -> Int64 {
    instant.millisecondsSince1970 / milliseconds
  }
}
