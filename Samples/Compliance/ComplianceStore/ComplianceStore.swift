import Crypto
import HTTPTypes
public import Logging
public import Parley

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// An opt-out compliance store: point the messaging webhook of any number of Twilio numbers and
/// Messaging Services at it, and it records every STOP, START and HELP (with its audit trail); a
/// JSON API tells the systems that send texts whether a number may be texted, lists and exports
/// opt-outs and the audit trail, and imports an existing list.
///
/// The API lives under `/v1` and needs `Authorization: Bearer <token>` when a token is set:
///
/// | Request | Answer |
/// | --- | --- |
/// | `GET /v1/may-text?to=+1…&from=+1…&messagingServiceSid=MG…` | `{"to": …, "mayText": true}` |
/// | `GET /v1/opt-outs?limit=100&all=false&afterScope=…&afterSubscriber=…` | `{"optOuts": […], "next": {…}}` |
/// | `GET /v1/audit?after=0&limit=100` | `{"events": […], "head": {…}}` |
/// | `GET /v1/audit/verify` | `{"intact": true, "events": n}` |
/// | `GET /v1/export?format=csv` (or `json`) | the whole audit trail |
/// | `POST /v1/import?scope=number:+1…` with a CSV body | `{"imported": n}` |
public enum ComplianceStore {
  /// The store as a Parley app: the webhook records keywords and answers them (Twilio's own
  /// confirmations are sent by Twilio when Advanced Opt-Out is on; here the standard ones are
  /// sent); other messages get an empty `<Response/>`.
  ///
  /// - Parameter apiToken: The bearer token the API requires; nil leaves the API open, which only
  ///   a local demo should do.
  public static func application(
    store: any ConversationStore, signature: SignaturePolicy, apiToken: String?,
    clock: any WallClock = SystemWallClock(), logger: Logger
  ) -> ParleyApplication {
    let api = ComplianceAPI(store: store, token: apiToken, clock: clock, logger: logger)
    return ParleyApplication.conversational(
      store: store, signature: signature,
      optOut: .enabled(
        OptOutConfiguration(
          helpText: "Reply STOP to stop receiving messages, START to receive them again.")),
      clock: clock, logger: logger
    ) { _ in .empty }
    .routing("/v1") { request in await api.respond(to: request) }
  }
}

/// The JSON API.
struct ComplianceAPI: Sendable {
  let store: any ConversationStore
  let token: String?
  let clock: any WallClock
  let logger: Logger

  struct Failure: Error {
    let status: HTTPResponse.Status
    let message: String
  }

  func respond(to request: WebhookRequest) async -> WebhookResponse {
    do {
      try authorize(request)
      let query = Self.query(request)
      switch (request.head.method, request.path) {
      case (.get, "/v1/may-text"): return try await mayText(query)
      case (.get, "/v1/opt-outs"): return try await optOuts(query)
      case (.get, "/v1/audit"): return try await audit(query)
      case (.get, "/v1/audit/verify"): return try await verify()
      case (.get, "/v1/export"): return try await export(query)
      case (.post, "/v1/import"): return try await importList(request, query: query)
      case (_, "/v1/may-text"), (_, "/v1/opt-outs"), (_, "/v1/audit"), (_, "/v1/audit/verify"),
        (_, "/v1/export"), (_, "/v1/import"):
        throw Failure(status: .methodNotAllowed, message: "method not allowed")
      default:
        throw Failure(status: .notFound, message: "no such endpoint")
      }
    } catch let failure as Failure {
      logger.info(
        "compliance API refused a request",
        metadata: [
          "parley.status": "\(failure.status.code)", "parley.reason": "\(failure.message)",
        ])
      return Self.json(["error": failure.message], status: failure.status)
    } catch {
      logger.error("compliance API failed", metadata: ["parley.error": "\(type(of: error))"])
      return Self.json(["error": "internal error"], status: .internalServerError)
    }
  }

  private func authorize(_ request: WebhookRequest) throws {
    guard let token else { return }
    let given = request.head.headerFields[.authorization] ?? ""
    let expected = "Bearer \(token)"
    // Compare digests, so the time taken says nothing about the token.
    guard SHA256.hash(data: Array(given.utf8)) == SHA256.hash(data: Array(expected.utf8)) else {
      throw Failure(status: .unauthorized, message: "missing or wrong bearer token")
    }
  }

  private func mayText(_ query: [String: String]) async throws -> WebhookResponse {
    guard let to = query["to"], !to.isEmpty else {
      throw Failure(status: .badRequest, message: "give the recipient as ?to=")
    }
    let from = query["from"]
    let service = query["messagingServiceSid"]
    guard from != nil || service != nil else {
      throw Failure(
        status: .badRequest, message: "give the sender as ?from= or ?messagingServiceSid=")
    }
    let allowed = try await store.mayText(to, from: from, messagingService: service)
    return Self.json(MayText(to: to, mayText: allowed))
  }

  private func optOuts(_ query: [String: String]) async throws -> WebhookResponse {
    let limit = try Self.limit(query)
    var cursor: OptOutRecord?
    if let scopeText = query["afterScope"], let subscriber = query["afterSubscriber"] {
      guard let scope = OptOutScope(rawValue: scopeText) else {
        throw Failure(status: .badRequest, message: "afterScope is not a scope")
      }
      cursor = OptOutRecord(
        subscriber: subscriber, scope: scope, optedOut: true,
        updatedAt: WallInstant(millisecondsSince1970: 0), eventSequence: 0)
    }
    let all = query["all"] == "true"
    let records = try await store.optOutRecords(optedOutOnly: !all, after: cursor, limit: limit)
    let next =
      records.count == limit
      ? records.last.map { Cursor(afterScope: $0.scope.rawValue, afterSubscriber: $0.subscriber) }
      : nil
    return Self.json(
      OptOutPage(
        optOuts: records.map {
          RecordJSON(
            subscriber: $0.subscriber, scope: $0.scope.rawValue, optedOut: $0.optedOut,
            updatedAt: $0.updatedAt.date, eventSequence: $0.eventSequence)
        }, next: next))
  }

  private func audit(_ query: [String: String]) async throws -> WebhookResponse {
    let limit = try Self.limit(query)
    guard let after = Int64(query["after"] ?? "0"), after >= 0 else {
      throw Failure(status: .badRequest, message: "after is not a sequence number")
    }
    let events = try await store.auditEvents(after: after, limit: limit)
    let head = try await store.auditHead()
    let text = try OptOutExport.json(events)
    let body =
      "{\"events\":\(text),\"head\":{\"sequence\":\(head.sequence),\"hash\":\"\(head.hash)\"}}"
    return WebhookResponse(status: .ok, contentType: "application/json", body: body)
  }

  private func verify() async throws -> WebhookResponse {
    let verdict = try await store.verifyAuditTrail()
    return Self.json(Verification(intact: verdict.isIntact, detail: "\(verdict)"))
  }

  private func export(_ query: [String: String]) async throws -> WebhookResponse {
    let events = try await store.allAuditEvents()
    switch query["format"] ?? "csv" {
    case "csv":
      return WebhookResponse(
        status: .ok, contentType: "text/csv; charset=utf-8", body: OptOutExport.csv(events))
    case "json":
      return WebhookResponse(
        status: .ok, contentType: "application/json", body: try OptOutExport.json(events))
    default:
      throw Failure(status: .badRequest, message: "format is csv or json")
    }
  }

  private func importList(_ request: WebhookRequest, query: [String: String]) async throws
    -> WebhookResponse
  {
    var scope: OptOutScope?
    if let text = query["scope"] {
      guard let parsed = OptOutScope(rawValue: text) else {
        throw Failure(status: .badRequest, message: "scope is number:+1… or service:MG…")
      }
      scope = parsed
    }
    let now = clock.now
    let drafts: [OptOutEventDraft]
    do {
      drafts = try OptOutExport.importCSV(
        String(decoding: request.body, as: UTF8.self), defaultScope: scope, receivedAt: now)
    } catch {
      throw Failure(status: .badRequest, message: "\(error)")
    }
    if !drafts.isEmpty { try await store.recordOptOutEvents(drafts, now: now) }
    logger.notice("opt-out list imported", metadata: ["parley.events": "\(drafts.count)"])
    return Self.json(["imported": drafts.count])
  }

  // MARK: JSON

  struct MayText: Codable {
    let to: String
    let mayText: Bool
  }
  struct Cursor: Codable {
    let afterScope: String
    let afterSubscriber: String
  }
  struct RecordJSON: Codable {
    let subscriber: String
    let scope: String
    let optedOut: Bool
    let updatedAt: Date
    let eventSequence: Int64
  }
  struct OptOutPage: Codable {
    let optOuts: [RecordJSON]
    let next: Cursor?
  }
  struct Verification: Codable {
    let intact: Bool
    let detail: String
  }

  static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> WebhookResponse {
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .iso8601
    encoder.outputFormatting = [.sortedKeys]
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    return WebhookResponse(
      status: status, contentType: "application/json", body: String(decoding: data, as: UTF8.self))
  }

  static func limit(_ query: [String: String]) throws -> Int {
    guard let limit = Int(query["limit"] ?? "100"), (1...1000).contains(limit) else {
      throw Failure(status: .badRequest, message: "limit is 1 to 1000")
    }
    return limit
  }

  static func query(_ request: WebhookRequest) -> [String: String] {
    guard let query = request.query,
      let form = try? FormParameters(decoding: String(query))
    else { return [:] }
    var values: [String: String] = [:]
    for pair in form.pairs where values[pair.name] == nil { values[pair.name] = pair.value }
    return values
  }
}
