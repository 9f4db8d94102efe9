import GRDB
import GRDBSQLite

/// A value bound to a `?` of the hot path's statements.
enum SQLiteArgument: Sendable {
  /// Bound whole, with its length. GRDB binds text up to its first NUL, so that a key with a NUL
  /// found another key's row ("+16175550123\u{0}9" read "+16175550123"'s opt-outs). Keys written
  /// by Parley never hold a control character (inbound identifiers and opt-out events are refused
  /// with one), so such a key finds nothing, as in the memory store.
  case text(String)
  case integer(Int64)
  case blob([UInt8])
}

/// One result row of `Database.firstRow` or `Database.allRows`, read column by column through
/// SQLite's C interface. Each accessor requires the column's stored type: a value of another type
/// (a row not written by Parley, or damaged) is an error, never converted.
struct SQLiteRow {
  fileprivate let handle: SQLiteStatement
  fileprivate let sql: String

  /// The integer in `column` (0-based).
  func integer(_ column: CInt) throws -> Int64 {
    try expect(SQLITE_INTEGER, column)
    return sqlite3_column_int64(handle, column)
  }

  /// The text in `column` (0-based).
  func text(_ column: CInt) throws -> String {
    try expect(SQLITE_TEXT, column)
    guard let start = sqlite3_column_text(handle, column) else { return "" }
    let count = Int(sqlite3_column_bytes(handle, column))
    return String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
  }

  /// The bytes of the blob in `column` (0-based).
  func bytes(_ column: CInt) throws -> [UInt8] {
    try expect(SQLITE_BLOB, column)
    guard let start = sqlite3_column_blob(handle, column) else { return [] }
    let count = Int(sqlite3_column_bytes(handle, column))
    return Array(UnsafeRawBufferPointer(start: start, count: count))
  }

  private func expect(_ type: CInt, _ column: CInt) throws {
    let stored = sqlite3_column_type(handle, column)
    guard stored == type else {
      let name = sqlite3_column_name(handle, column).map { String(cString: $0) } ?? "\(column)"
      throw DatabaseError(
        resultCode: .SQLITE_MISMATCH,
        message: "column \(name) holds type \(stored) where \(type) was expected", sql: sql)
    }
  }
}

/// SQLite copies a value bound with this destructor before the call returns.
private let transient = unsafeBitCast(
  OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

extension Database {
  /// Runs the cached query `sql` with `arguments` bound to its `?`s in order; returns its first
  /// row as `decode` reads it, nil when there is none.
  ///
  /// Every turn's snapshot reads two of these and a list (``allRows(_:_:_:)``), and its commit
  /// runs two or three statements through ``run(_:_:)``. GRDB's records build a dictionary of the
  /// statement's column names for each query, and its arguments and cursors allocate: that was
  /// nearly all the time of a snapshot read, SQLite's own work a small part of it. Here the
  /// statement is GRDB's cached one, stepped and read directly, and left reset.
  func firstRow<T>(
    _ sql: String, _ arguments: [SQLiteArgument], _ decode: (SQLiteRow) throws -> T
  ) throws -> T? {
    let handle = try bound(sql, arguments)
    defer { finish(handle) }
    return try step(handle, sql) ? decode(SQLiteRow(handle: handle, sql: sql)) : nil
  }

  /// Runs the cached query `sql` with `arguments` bound to its `?`s in order; returns its rows as
  /// `decode` reads them, leaving out those it reads as nil.
  func allRows<T>(
    _ sql: String, _ arguments: [SQLiteArgument], _ decode: (SQLiteRow) throws -> T?
  ) throws -> [T] {
    let handle = try bound(sql, arguments)
    defer { finish(handle) }
    var rows: [T] = []
    while try step(handle, sql) {
      if let row = try decode(SQLiteRow(handle: handle, sql: sql)) { rows.append(row) }
    }
    return rows
  }

  /// Runs the cached statement `sql` (an INSERT, UPDATE or DELETE) with `arguments` bound to its
  /// `?`s in order; returns how many rows it changed. A failure throws GRDB's `DatabaseError` with
  /// SQLite's extended result code, as GRDB's own `execute` does.
  ///
  /// Not for statements that begin, commit or name savepoints: GRDB keeps track of those.
  func run(_ sql: String, _ arguments: [SQLiteArgument]) throws -> Int {
    let handle = try bound(sql, arguments)
    defer { finish(handle) }
    while try step(handle, sql) {}
    return changesCount
  }

  /// The cached statement `sql`, reset, with `arguments` bound to its `?`s in order (SQLite
  /// copies text and blobs: binding them in place was measured and not kept, see
  /// Benchmarks/README.md). The caller steps it and `finish`es it; a failure to bind finishes it.
  private func bound(_ sql: String, _ arguments: [SQLiteArgument]) throws -> SQLiteStatement {
    let handle = try cachedStatement(sql: sql).sqliteStatement
    sqlite3_reset(handle)
    guard sqlite3_bind_parameter_count(handle) == CInt(arguments.count) else {
      throw DatabaseError(
        resultCode: .SQLITE_RANGE, message: "\(arguments.count) arguments given", sql: sql)
    }
    for (offset, argument) in arguments.enumerated() {
      let index = CInt(offset + 1)
      let code =
        switch argument {
        case .text(let text):
          text.withCString {
            sqlite3_bind_text(handle, index, $0, CInt(text.utf8.count), transient)
          }
        case .integer(let value): sqlite3_bind_int64(handle, index, value)
        case .blob(let bytes) where bytes.isEmpty: sqlite3_bind_zeroblob(handle, index, 0)
        case .blob(let bytes):
          bytes.withUnsafeBytes {
            sqlite3_bind_blob(handle, index, $0.baseAddress, CInt($0.count), transient)
          }
        }
      guard code == SQLITE_OK else {
        finish(handle)
        throw DatabaseError(
          resultCode: ResultCode(rawValue: code), message: lastErrorMessage, sql: sql)
      }
    }
    return handle
  }

  /// Steps once: true for a row, false when done.
  private func step(_ handle: SQLiteStatement, _ sql: String) throws -> Bool {
    let code = sqlite3_step(handle)
    if code == SQLITE_ROW { return true }
    if code == SQLITE_DONE { return false }
    throw DatabaseError(resultCode: ResultCode(rawValue: code), message: lastErrorMessage, sql: sql)
  }

  /// Leaves the statement as GRDB expects a cached one: reset, with no values bound.
  private func finish(_ handle: SQLiteStatement) {
    sqlite3_reset(handle)
    sqlite3_clear_bindings(handle)
  }
}
