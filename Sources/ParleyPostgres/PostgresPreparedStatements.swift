import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// A statement a turn runs on every use: its text, and its values bound as parameters.
///
/// It goes to the server as a named prepared statement, parsed and planned once per connection
/// (``PostgresConnection/checkedExecute(_:statements:logger:)``). PostgresNIO sends a query's
/// statement unnamed, and the server parses and plans it again on every use: under the benchmark's
/// load the parser and planner were the top of the server's profile.
struct PreparedSQL: Sendable {
  /// The text, with `$1`, `$2`, … for ``binds``.
  var sql: String
  /// The values, in their placeholders' order.
  var binds: [PostgresData]

  init(_ sql: String, binds: [PostgresData] = []) {
    self.sql = sql
    self.binds = binds
  }
}

/// Parameter values, each sent in PostgreSQL's binary format with its type. The server infers
/// each placeholder's type from where it stands when it prepares the statement; these types match
/// the columns they are compared with or stored in.
enum PreparedValue {
  static func text(_ value: String?) -> PostgresData {
    value.map { PostgresData(string: $0) } ?? PostgresData(type: .text, value: nil)
  }

  static func int8(_ value: Int64) -> PostgresData {
    PostgresData(int64: value)
  }

  static func bytea(_ value: [UInt8]) -> PostgresData {
    PostgresData(type: .bytea, value: ByteBuffer(bytes: value))
  }
}

/// The statements each pooled connection has prepared, by their text.
///
/// An entry goes when its connection closes; the server forgets a connection's prepared
/// statements with the connection.
final class PostgresPreparedStatements: Sendable {
  private let prepared = Mutex<[PostgresConnection.ID: [String: PreparedQuery]]>([:])

  init() {}

  /// The statement `sql` as `connection` prepared it, if it did.
  func lookup(_ sql: String, on connection: PostgresConnection) -> PreparedQuery? {
    prepared.withLock { $0[connection.id]?[sql] }
  }

  /// Keeps `statement`, prepared on `connection`, until the connection closes.
  func keep(_ statement: PreparedQuery, for sql: String, on connection: PostgresConnection) {
    let id = connection.id
    let isFirst = prepared.withLock { prepared in
      let isFirst = prepared[id] == nil
      prepared[id, default: [:]][sql] = statement
      return isFirst
    }
    if isFirst {
      connection.closeFuture.whenComplete { [weak self] _ in
        _ = self?.prepared.withLock { $0.removeValue(forKey: id) }
      }
    }
  }

  /// How many connections have statements kept (for tests).
  var connectionCount: Int {
    prepared.withLock { $0.count }
  }
}

/// A row of a prepared statement.
///
/// Every execute asks the server for binary columns, and they arrive so, but PostgresNIO 1.33's
/// future-based `PreparedQuery` describes them with the text format the server gave when the
/// statement was prepared (its async prepared-statement API corrects this; this one does not).
/// Decoded as described, an integer or `bytea` column fails. Here each column is decoded as the
/// binary that it is.
struct PreparedRow {
  fileprivate let row: PostgresRow

  /// The row's columns, in order, as `columns`.
  func decode<each Column: PostgresDecodable>(_ columns: (repeat each Column).Type) throws
    -> (repeat each Column)
  {
    var cells = row.makeIterator()
    return (repeat try Self.next(&cells, as: (each Column).self))
  }

  private static func next<Column: PostgresDecodable>(
    _ cells: inout PostgresRow.Iterator, as column: Column.Type
  ) throws -> Column {
    guard var cell = cells.next() else {
      throw PostgresStoreError("a prepared statement returned fewer columns than expected")
    }
    cell.format = .binary
    return try cell.decode(Column.self)
  }
}

extension PostgresConnection {
  /// Runs `statement` as a named prepared statement, preparing it on first use on this
  /// connection, and collects its rows (``PreparedRow``); fails at once when the connection has
  /// closed.
  ///
  /// As with ``checkedQuery(_:logger:)``, each write happens on the event loop in one step with
  /// the check (``ifOpen(_:)``): PostgresNIO's future-based `prepare(query:)` and
  /// `PreparedQuery.execute` write on the loop when called on it, where its async
  /// prepared-statement API writes from the caller's thread and cannot be checked so.
  func checkedExecute(
    _ statement: PreparedSQL, statements: PostgresPreparedStatements, logger: Logger
  ) async throws -> [PreparedRow] {
    do {
      return try await eventLoop.flatSubmit {
        if let prepared = statements.lookup(statement.sql, on: self) {
          return self.ifOpen { prepared.execute(statement.binds) }
        }
        return self.ifOpen {
          logger.debug("preparing a statement", metadata: ["parley.connection": "\(self.id)"])
          return self.prepare(query: statement.sql)
        }.flatMap { prepared in
          statements.keep(prepared, for: statement.sql, on: self)
          // The prepare's answer arrives on the loop: the check and the write are one step again.
          return self.ifOpen { prepared.execute(statement.binds) }
        }
      }.get().map(PreparedRow.init)
    } catch let error as PostgresError {
      // The future-based API reports errors as PostgresNIO's older `PostgresError`, whose
      // description quotes the server's message.
      switch error {
      case .server(let message):
        throw PostgresStoreError.refused(sqlState: message.fields[.sqlState])
      case .connectionClosed: throw PostgresStoreError.connectionClosed
      case .protocol: throw PostgresStoreError("PostgreSQL protocol error")
      }
    }
  }
}
