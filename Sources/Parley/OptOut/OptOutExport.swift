#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// Exports the opt-out audit trail and imports existing opt-out lists.
public enum OptOutExport {
  /// The CSV header of ``csv(_:)``.
  public static let csvColumns = [
    "sequence", "subscriber", "scope", "action", "source", "keyword", "body", "message_sid",
    "account_sid", "received_at", "committed_at", "previous_hash", "hash",
  ]

  /// The events as CSV (RFC 4180, header first, times in ISO 8601 UTC with milliseconds).
  public static func csv(_ events: [OptOutEvent]) -> String {
    var lines = [csvColumns.joined(separator: ",")]
    for event in events {
      let fields: [String] = [
        String(event.sequence), event.subscriber, event.scope.rawValue, event.action.rawValue,
        event.source.rawValue, event.keyword ?? "", event.body ?? "", event.messageSid ?? "",
        event.accountSid ?? "", iso8601(event.receivedAt), iso8601(event.committedAt),
        event.previousHash, event.hash,
      ]
      lines.append(fields.map(CSV.quote).joined(separator: ","))
    }
    return lines.joined(separator: "\r\n") + "\r\n"
  }

  /// The events as a JSON array (times as ISO 8601 strings), for archives and other tools.
  public static func json(_ events: [OptOutEvent]) throws -> String {
    struct Exported: Encodable {
      var sequence: Int64
      var subscriber: String
      var scope: String
      var action: String
      var source: String
      var keyword: String?
      var body: String?
      var messageSid: String?
      var accountSid: String?
      var receivedAt: String
      var committedAt: String
      var previousHash: String
      var hash: String
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    let exported = events.map {
      Exported(
        sequence: $0.sequence, subscriber: $0.subscriber, scope: $0.scope.rawValue,
        action: $0.action.rawValue, source: $0.source.rawValue, keyword: $0.keyword, body: $0.body,
        messageSid: $0.messageSid, accountSid: $0.accountSid, receivedAt: iso8601($0.receivedAt),
        committedAt: iso8601($0.committedAt), previousHash: $0.previousHash, hash: $0.hash)
    }
    return String(decoding: try encoder.encode(exported), as: UTF8.self)
  }

  static func iso8601(_ instant: WallInstant) -> String {
    instant.date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
  }

  /// Reads an existing opt-out list from CSV as events to record (source `import`).
  ///
  /// The header names the columns (case-insensitive, in any order): `subscriber` (or `phone`,
  /// `number`) is required; the scope comes from `scope` (`number:+1…` / `service:MG…`), or from
  /// `messaging_service_sid`, or from `twilio_number` (or `from`); `action` is `opt-out` (default)
  /// or `opt-in`. Rows without a scope take `defaultScope`. Numbers are recorded in E.164 as
  /// Twilio writes them (`+1 (617) 555-0123` as `+16175550123`), so that a webhook's `From` finds
  /// them; a subscriber without `+` and its country code is refused, since it could be any
  /// country's (a Twilio number without `+`, such as a short code, is kept as written).
  ///
  /// - Throws: ``OptOutImportError`` naming the first bad line; nothing is imported then.
  public static func importCSV(_ text: String, defaultScope: OptOutScope?, receivedAt: WallInstant)
    throws(OptOutImportError) -> [OptOutEventDraft]
  {
    let rows: [[String]]
    do {
      rows = try CSV.parse(text)
    } catch {
      throw OptOutImportError(line: error.line, reason: error.reason)
    }
    guard let header = rows.first else { return [] }
    let names = header.map { $0.trimmingASCIISpace().lowercased() }
    func column(_ candidates: String...) -> Int? {
      candidates.lazy.compactMap { names.firstIndex(of: $0) }.first
    }
    guard let subscriberColumn = column("subscriber", "phone", "phone_number", "number") else {
      throw OptOutImportError(line: 1, reason: "no subscriber (or phone) column")
    }
    let scopeColumn = column("scope")
    let serviceColumn = column("messaging_service_sid", "messagingservicesid")
    let numberColumn = column("twilio_number", "from")
    let actionColumn = column("action")
    var drafts: [OptOutEventDraft] = []
    for (offset, row) in rows.dropFirst().enumerated() {
      let line = offset + 2
      func value(_ index: Int?) -> String? {
        guard let index, index < row.count else { return nil }
        let text = row[index].trimmingASCIISpace()
        return text.isEmpty ? nil : text
      }
      if row.allSatisfy({ $0.trimmingASCIISpace().isEmpty }) { continue }
      guard let written = value(subscriberColumn) else {
        throw OptOutImportError(line: line, reason: "no subscriber")
      }
      let controlCharacter = OptOutImportError(
        line: line, reason: "a control character in the subscriber or scope")
      // Recorded as Twilio writes numbers, so that its webhooks' `From` finds the record.
      guard let subscriber = TwilioNumberSpelling.recordedForm(written) else {
        throw written.containsControlCharacter
          ? controlCharacter
          : OptOutImportError(
            line: line,
            reason: "the subscriber must be a number with + and its country code (E.164) "
              + "or a channel address")
      }
      let scope: OptOutScope
      if let text = value(scopeColumn) {
        guard let parsed = OptOutScope(rawValue: text) else {
          throw OptOutImportError(line: line, reason: "scope must be number:… or service:…")
        }
        scope = parsed.recorded
      } else if let service = value(serviceColumn) {
        scope = .messagingService(service)
      } else if let number = value(numberColumn) {
        scope = OptOutScope.number(number).recorded
      } else if let defaultScope {
        scope = defaultScope.recorded
      } else {
        throw OptOutImportError(line: line, reason: "no scope and no default scope")
      }
      let action: OptOutAction
      switch value(actionColumn)?.lowercased() {
      case nil, "opt-out", "optout", "stop": action = .optOut
      case "opt-in", "optin", "start": action = .optIn
      default: throw OptOutImportError(line: line, reason: "action must be opt-out or opt-in")
      }
      let draft = OptOutEventDraft(
        subscriber: subscriber, scope: scope, action: action, source: .import,
        receivedAt: receivedAt)
      // The stores refuse it too, but by its place in the list: here it is named by its line.
      do {
        try OptOutEventDraft.check([draft])
      } catch {
        throw controlCharacter
      }
      drafts.append(draft)
    }
    return drafts
  }
}

extension OptOutScope {
  /// The scope with a number in E.164 written without separators.
  fileprivate var recorded: OptOutScope {
    guard case .number(let number) = self,
      let international = TwilioNumberSpelling.read(number)?.international
    else { return self }
    return .number(international)
  }
}

/// A line of an imported list that could not be read.
public struct OptOutImportError: Error, Sendable, Hashable, CustomStringConvertible {
  /// The line (1 is the header).
  public var line: Int
  /// What was wrong.
  public var reason: String

  public var description: String { "line \(line): \(reason)" }
}

/// RFC 4180 CSV: quoted fields may hold commas, quotes (doubled) and line breaks.
enum CSV {
  struct ParseError: Error {
    var line: Int
    var reason: String
  }

  static func quote(_ field: String) -> String {
    let needsQuotes = field.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
    guard needsQuotes else { return field }
    return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  static func parse(_ text: String) throws(ParseError) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var inQuotes = false
    var line = 1
    var quoteLine = 1
    var iterator = text.unicodeScalars.makeIterator()
    var pending: Unicode.Scalar? = iterator.next()
    var fieldStarted = false
    while let scalar = pending {
      pending = iterator.next()
      if inQuotes {
        if scalar == "\"" {
          if pending == "\"" {
            field.unicodeScalars.append("\"")
            pending = iterator.next()
          } else {
            inQuotes = false
          }
        } else {
          if scalar == "\n" { line += 1 }
          field.unicodeScalars.append(scalar)
        }
        continue
      }
      switch scalar {
      case "\"" where !fieldStarted:
        inQuotes = true
        quoteLine = line
        fieldStarted = true
      case ",":
        row.append(field)
        field = ""
        fieldStarted = false
      case "\r" where pending == "\n":
        continue
      case "\n", "\r":
        row.append(field)
        rows.append(row)
        row = []
        field = ""
        fieldStarted = false
        line += 1
      default:
        field.unicodeScalars.append(scalar)
        fieldStarted = true
      }
    }
    if inQuotes { throw ParseError(line: quoteLine, reason: "unterminated quoted field") }
    if fieldStarted || !row.isEmpty || !field.isEmpty {
      row.append(field)
      rows.append(row)
    }
    return rows
  }
}
