import Crypto

/// One append-only entry of the opt-out audit trail.
///
/// Events are chained: each carries the hash of the one before it, and its own hash covers all
/// its fields and that previous hash, so an edited, removed or reordered event breaks the chain
/// (see ``OptOutAuditChain/verify(_:head:)``).
public struct OptOutEvent: Sendable, Hashable, Codable {
  /// Position in the trail, from 1, without gaps.
  public var sequence: Int64
  /// The subscriber's number.
  public var subscriber: String
  /// Where it applies.
  public var scope: OptOutScope
  /// What happened.
  public var action: OptOutAction
  /// Where it came from.
  public var source: OptOutSource
  /// The keyword matched (`STOP`, `UNSUBSCRIBE`, …), if any.
  public var keyword: String?
  /// The message text as received, if any (a NUL, which SQL text cannot keep, as U+FFFD).
  public var body: String?
  /// The inbound (or failed outbound) message, if any.
  public var messageSid: String?
  /// The account, if known.
  public var accountSid: String?
  /// When Parley received it.
  public var receivedAt: WallInstant
  /// When it was committed.
  public var committedAt: WallInstant
  /// The previous event's hash (64 zeros for the first).
  public var previousHash: String
  /// This event's hash (hex SHA-256).
  public var hash: String

  /// Creates an event as a store reads it back.
  public init(
    sequence: Int64, subscriber: String, scope: OptOutScope, action: OptOutAction,
    source: OptOutSource, keyword: String?, body: String?, messageSid: String?,
    accountSid: String?, receivedAt: WallInstant, committedAt: WallInstant, previousHash: String,
    hash: String
  ) {
    self.sequence = sequence
    self.subscriber = subscriber
    self.scope = scope
    self.action = action
    self.source = source
    self.keyword = keyword
    self.body = body
    self.messageSid = messageSid
    self.accountSid = accountSid
    self.receivedAt = receivedAt
    self.committedAt = committedAt
    self.previousHash = previousHash
    self.hash = hash
  }

  /// The hash of nothing: the first event's ``previousHash``.
  public static let genesisHash = String(repeating: "0", count: 64)
}

/// An event before the store gives it its place in the chain.
public struct OptOutEventDraft: Sendable, Hashable {
  public var subscriber: String
  public var scope: OptOutScope
  public var action: OptOutAction
  public var source: OptOutSource
  public var keyword: String?
  public var body: String?
  public var messageSid: String?
  public var accountSid: String?
  public var receivedAt: WallInstant

  public init(
    subscriber: String, scope: OptOutScope, action: OptOutAction, source: OptOutSource,
    keyword: String? = nil, body: String? = nil, messageSid: String? = nil,
    accountSid: String? = nil,
    receivedAt: WallInstant
  ) {
    self.subscriber = subscriber
    self.scope = scope
    self.action = action
    self.source = source
    self.keyword = keyword
    self.body = body
    self.messageSid = messageSid
    self.accountSid = accountSid
    self.receivedAt = receivedAt
  }

  /// Refuses drafts whose subscriber, scope, MessageSid or AccountSid holds a control character.
  ///
  /// These key and identify the opt-out. At a NUL, SQLite's text binding keeps only what comes
  /// before it (another number) and PostgreSQL's text refuses the value; no real number or SID
  /// holds one. Every store's ``OptOutStore/recordOptOutEvents(_:now:)`` calls this first.
  ///
  /// - Throws: ``InvalidOptOutEvent`` naming the first bad draft and field.
  public static func check(_ drafts: [OptOutEventDraft]) throws(InvalidOptOutEvent) {
    for (index, draft) in drafts.enumerated() {
      if let field = firstFieldWithControlCharacter([
        "subscriber": draft.subscriber, "scope": draft.scope.rawValue,
        "messageSid": draft.messageSid, "accountSid": draft.accountSid,
      ]) {
        throw InvalidOptOutEvent(index: index, field: field)
      }
    }
  }

  /// Whether the event changes the subscriber's opt-out state (and how).
  public var newState: Bool? {
    switch action {
    case .optOut: true
    case .optIn: false
    case .help, .flaggedForReview: nil
    }
  }
}

/// Building and checking the audit trail's hash chain. Stores call ``seal(_:sequence:previousHash:committedAt:)``
/// inside the transaction that appends the event.
public enum OptOutAuditChain {
  /// Gives a draft its place in the chain.
  public static func seal(
    _ draft: OptOutEventDraft, sequence: Int64, previousHash: String, committedAt: WallInstant
  ) -> OptOutEvent {
    // A NUL in the free text would be cut off by SQLite's text binding (and the stored event
    // would no longer match its hash) and refused by PostgreSQL's text type (and the opt-out not
    // recorded): it is kept as U+FFFD, before the hash covers it.
    func storable(_ text: String?) -> String? {
      guard let text, text.utf8.contains(0) else { return text }
      return String(text.unicodeScalars.map { $0 == "\u{0}" ? "\u{FFFD}" : Character($0) })
    }
    var event = OptOutEvent(
      sequence: sequence, subscriber: draft.subscriber, scope: draft.scope, action: draft.action,
      source: draft.source, keyword: storable(draft.keyword), body: storable(draft.body),
      messageSid: draft.messageSid,
      accountSid: draft.accountSid, receivedAt: draft.receivedAt, committedAt: committedAt,
      previousHash: previousHash, hash: "")
    event.hash = hash(of: event)
    return event
  }

  /// The hash an event must carry: SHA-256 over every field but the hash, each length-prefixed so
  /// that no two different events share a canonical form.
  public static func hash(of event: OptOutEvent) -> String {
    let fields: [String?] = [
      String(event.sequence), event.subscriber, event.scope.rawValue, event.action.rawValue,
      event.source.rawValue, event.keyword, event.body, event.messageSid, event.accountSid,
      String(event.receivedAt.millisecondsSince1970),
      String(event.committedAt.millisecondsSince1970),
      event.previousHash,
    ]
    var canonical: [UInt8] = []
    for field in fields {
      if let field {
        canonical += Array("\(field.utf8.count):".utf8) + Array(field.utf8)
      } else {
        canonical += Array("-;".utf8)
      }
    }
    return SHA256.hash(data: canonical).map { byte in
      let digits = Array("0123456789abcdef")
      return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }.joined()
  }

  /// The latest sequence and hash, kept by the store beside the trail so that removing the last
  /// events is detected too.
  public struct Head: Sendable, Hashable, Codable {
    public var sequence: Int64
    public var hash: String

    public init(sequence: Int64, hash: String) {
      self.sequence = sequence
      self.hash = hash
    }

    /// The head of an empty trail.
    public static let empty = Head(sequence: 0, hash: OptOutEvent.genesisHash)
  }

  /// What a verification found.
  public enum Verdict: Sendable, Hashable, CustomStringConvertible {
    /// Every event is intact, in order, and the head matches.
    case intact(events: Int)
    /// The event at `sequence` was edited, removed or reordered.
    case broken(sequence: Int64, reason: String)

    public var isIntact: Bool { if case .intact = self { true } else { false } }

    public var description: String {
      switch self {
      case .intact(let events): "intact (\(events) events)"
      case .broken(let sequence, let reason): "broken at event \(sequence): \(reason)"
      }
    }
  }

  /// Checks a whole trail (in sequence order) against its head.
  public static func verify(_ events: [OptOutEvent], head: Head) -> Verdict {
    var expectedSequence: Int64 = 1
    var previous = OptOutEvent.genesisHash
    for event in events {
      guard event.sequence == expectedSequence else {
        return .broken(
          sequence: expectedSequence, reason: "missing (found \(event.sequence) instead)")
      }
      guard event.previousHash == previous else {
        return .broken(sequence: event.sequence, reason: "does not follow the event before it")
      }
      guard hash(of: event) == event.hash else {
        return .broken(
          sequence: event.sequence, reason: "edited: its hash does not match its fields")
      }
      previous = event.hash
      expectedSequence += 1
    }
    guard head.sequence == expectedSequence - 1, head.hash == previous else {
      return .broken(
        sequence: expectedSequence, reason: "events after \(expectedSequence - 1) are missing")
    }
    return .intact(events: events.count)
  }
}

/// An opt-out event refused before anything was recorded: one of its keys holds a control
/// character (see ``OptOutEventDraft/check(_:)``).
public struct InvalidOptOutEvent: Error, Sendable, Hashable, CustomStringConvertible {
  /// The draft's position in the list given.
  public var index: Int
  /// The field: `subscriber`, `scope`, `messageSid` or `accountSid`.
  public var field: String

  /// Creates the error.
  public init(index: Int, field: String) {
    self.index = index
    self.field = field
  }

  public var description: String { "opt-out event \(index): a control character in its \(field)" }
}

/// A question about opt-outs refused: one of its keys holds a control character (see
/// ``OptOutStore/mayText(_:from:messagingService:)``).
public struct InvalidOptOutQuery: Error, Sendable, Hashable, CustomStringConvertible {
  /// The field: `subscriber`, `number` or `messagingService`.
  public var field: String

  /// Creates the error.
  public init(field: String) { self.field = field }

  public var description: String { "opt-out query: a control character in its \(field)" }
}
