public import Foundation
import GRDB
import Parley
public import ParleySQLite

/// Completed surveys, in the same SQLite file as Parley's stores.
public struct SurveyResponses: Sendable {
  let database: SQLiteDatabase

  /// Opens the responses table in `database` (creating it with a named migration).
  public init(database: SQLiteDatabase) throws {
    self.database = database
    var migrator = DatabaseMigrator()
    migrator.registerMigration("survey v1 responses") { db in
      try db.execute(
        sql: """
          CREATE TABLE survey_response (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            respondent TEXT NOT NULL,
            completed_at TEXT NOT NULL,
            name TEXT, age INTEGER, student INTEGER, colour TEXT, email TEXT
          )
          """)
    }
    try migrator.migrate(database.pool)
  }

  /// Saves one completed survey.
  public func save(_ answers: SurveyAnswers, respondent: String, at date: Date) async throws {
    try await database.pool.write { db in
      try db.execute(
        sql: """
          INSERT INTO survey_response (respondent, completed_at, name, age, student, colour, email)
          VALUES (?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          respondent, date.formatted(.iso8601), answers.name, answers.age, answers.student,
          answers.colour,
          answers.email,
        ])
    }
  }

  /// Every response as CSV (RFC 4180), oldest first.
  public func csv() async throws -> String {
    let rows: [[String]] = try await database.pool.read { db in
      try Row.fetchAll(
        db,
        sql:
          "SELECT respondent, completed_at, name, age, student, colour, email FROM survey_response ORDER BY id"
      ).map { row in row.databaseValues.map(Self.text) }
    }
    func field(_ text: String) -> String {
      text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
        ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }
    let lines =
      ["respondent,completed_at,name,age,student,colour,email"]
      + rows.map { $0.map(field).joined(separator: ",") }
    return lines.joined(separator: "\r\n") + "\r\n"
  }

  static func text(_ value: DatabaseValue) -> String {
    switch value.storage {
    case .null: ""
    case .int64(let number): String(number)
    case .double(let number): String(number)
    case .string(let string): string
    case .blob: ""
    }
  }
}
