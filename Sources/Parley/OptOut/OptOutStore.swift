/// Where opt-outs and their audit trail live. Opt-out records are compliance records: kept for
/// years, never removed with a session, and every change is an event in a hash-chained,
/// append-only audit trail.
///
/// Stores that are also a ``ConversationStore`` apply the opt-out events of a turn in the same
/// transaction as the rest of the turn (``TurnWrites/optOutEvents``).
public protocol OptOutStore: Sendable {
  /// The records of `subscriber` in `scopes` (only those that exist).
  func optOutRecords(subscriber: String, scopes: [OptOutScope]) async throws -> [OptOutRecord]

  /// Appends events outside a turn (API, status callbacks, imports), durably, in one transaction.
  /// Returns them sealed into the chain.
  ///
  /// Give numbers as Twilio's webhooks write them (E.164: `+16175550123`): the checks read every
  /// spelling of the number they are asked about, but find a record only under its own key.
  /// ``OptOutExport/importCSV(_:defaultScope:receivedAt:)`` writes a list's numbers that way.
  @discardableResult
  func recordOptOutEvents(_ events: [OptOutEventDraft], now: WallInstant) async throws
    -> [OptOutEvent]

  /// Records ordered by scope then subscriber, after `cursor`, at most `limit`; only opted-out
  /// ones when `optedOutOnly`.
  func optOutRecords(optedOutOnly: Bool, after cursor: OptOutRecord?, limit: Int) async throws
    -> [OptOutRecord]

  /// Audit events with a sequence above `sequence`, in order, at most `limit`.
  func auditEvents(after sequence: Int64, limit: Int) async throws -> [OptOutEvent]

  /// The latest sequence and hash of the audit trail.
  func auditHead() async throws -> OptOutAuditChain.Head
}

extension OptOutStore {
  /// Whether `subscriber` may be texted from `number` (and, if the number belongs to one, from
  /// `messagingService`): false when they are opted out in either scope.
  ///
  /// For apps that also send through Twilio's REST API. The numbers are read as Twilio reads them:
  /// `+1 (617) 555-0123` is `+16175550123`, and a subscriber written without `+` takes the
  /// country code of `number`, in each local format that country's numbers may be written in
  /// (`(617) 555-0123` from a `+1` number is `+16175550123`); the answer is false when any of
  /// those readings is opted out. Throws ``InvalidOptOutQuery`` when a number or the service holds
  /// a control character: no such key is ever recorded, so the answer would say nothing about the
  /// number meant.
  public func mayText(_ subscriber: String, from number: String?, messagingService: String? = nil)
    async throws -> Bool
  {
    try Self.checkQuery(subscriber: subscriber, number: number, messagingService: messagingService)
    return try await mayText(
      TwilioNumberSpelling.addressing(subscriber, from: number), messagingService: messagingService)
  }

  /// Throws ``InvalidOptOutQuery`` for a control character in any of the three.
  static func checkQuery(subscriber: String, number: String?, messagingService: String?) throws {
    if let field = firstFieldWithControlCharacter([
      "subscriber": subscriber, "number": number, "messagingService": messagingService,
    ]) {
      throw InvalidOptOutQuery(field: field)
    }
  }

  /// False when any address of `addressing`'s recipient is opted out from any of its sender's or
  /// from `messagingService`.
  func mayText(_ addressing: TwilioNumberSpelling.Addressing, messagingService: String?)
    async throws -> Bool
  {
    var scopes = addressing.senders.map(OptOutScope.number)
    if let messagingService { scopes.append(.messagingService(messagingService)) }
    for subscriber in addressing.recipients
    where try await optOutRecords(subscriber: subscriber, scopes: scopes).contains(
      where: \.optedOut)
    {
      return false
    }
    return true
  }

  /// The whole audit trail, read in batches of `batchSize`, oldest first.
  public func allAuditEvents(batchSize: Int = 1000) async throws -> [OptOutEvent] {
    var events: [OptOutEvent] = []
    var after: Int64 = 0
    while true {
      let batch = try await auditEvents(after: after, limit: batchSize)
      events += batch
      guard let last = batch.last, batch.count == batchSize else { return events }
      after = last.sequence
    }
  }

  /// Reads the whole audit trail and checks its chain.
  public func verifyAuditTrail(batchSize: Int = 1000) async throws -> OptOutAuditChain.Verdict {
    let head = try await auditHead()
    return OptOutAuditChain.verify(try await allAuditEvents(batchSize: batchSize), head: head)
  }
}

/// Applies sealed events to a store's records and head: shared by the stores so that every one
/// computes the chain the same way.
public struct OptOutLedger: Sendable {
  /// The head before the events.
  public var head: OptOutAuditChain.Head

  public init(head: OptOutAuditChain.Head) { self.head = head }

  /// Seals `draft` after the current head and advances it.
  public mutating func append(_ draft: OptOutEventDraft, committedAt: WallInstant) -> OptOutEvent {
    let event = OptOutAuditChain.seal(
      draft, sequence: head.sequence + 1, previousHash: head.hash, committedAt: committedAt)
    head = OptOutAuditChain.Head(sequence: event.sequence, hash: event.hash)
    return event
  }

  /// The record an event leaves behind, if it changes the state.
  public static func record(after event: OptOutEvent) -> OptOutRecord? {
    let optedOut: Bool
    switch event.action {
    case .optOut: optedOut = true
    case .optIn: optedOut = false
    case .help, .flaggedForReview: return nil
    }
    return OptOutRecord(
      subscriber: event.subscriber, scope: event.scope, optedOut: optedOut,
      updatedAt: event.committedAt,
      eventSequence: event.sequence)
  }
}
