/// Parley's own ``DialogState`` and ``DialogSession``, which every turn of a dialog decodes and
/// encodes again, read and written by ``StoredJSON`` without going through `Codable`'s containers
/// (``StoredJSONFastPath``).
///
/// The state's synthesized `Codable` conformance went through a keyed container per state, a box
/// per container and a generic call per member: in the in-process profile of the memory store,
/// about 6% of a turn's samples. Without them, `ParleyBench pipeline --stores memory` spent 98,
/// 100 and 108 µs of CPU per turn against 119, 118 and 122 before, alternated in one session.
/// The text written here is the one ``JSONWriter`` writes for the tree that conformance builds,
/// member for member (`position` and `fingerprint` left out when nil, as `encodeIfPresent` does),
/// so the bytes are the same. A tree that is not the plain shape the fast path knows (a member
/// missing or null where the type needs a value, a number written as `2.0`, any other type) goes
/// through the synthesized conformance instead, which decodes what it can and throws its own
/// errors. `StoredJSONTests` compares both
/// paths, and Foundation's coder, on random states.
extension DialogState: StoredJSONFastPath {
  /// The names of the synthesized `CodingKeys`, in byte order (the order they are written in).
  private enum Member {
    static let attempts = "attempts"
    static let fingerprint = "fingerprint"
    static let finished = "finished"
    static let history = "history"
    static let position = "position"
  }

  /// The text that ``JSONWriter`` writes for the tree `encode(to:)` builds with ``StoredJSON``'s
  /// encoder: the members in the byte order of their names, written here in that order rather
  /// than built as a tree of an object, an array and their lists, and then sorted. With the
  /// session's two members written the same way, a survey turn on the memory store made 8 fewer
  /// allocations (50 against 58 beyond the signature-only app's) and its session's encoding fell
  /// from 1.13 to 0.84 times its decoding's samples in the in-process profile.
  var storedJSON: EncodedJSON {
    var text: [UInt8] = []
    text.reserveCapacity(96 + history.reduce(0) { $0 + $1.utf8.count + 3 })
    write(into: &text)
    return .text(text)
  }

  /// Appends ``storedJSON``'s text to `output`.
  func write(into output: inout [UInt8]) {
    JSONWriter.writeMember(Member.attempts, first: true, into: &output)
    output.append(contentsOf: String(attempts).utf8)
    if let fingerprint {
      JSONWriter.writeMember(Member.fingerprint, into: &output)
      JSONWriter.writeString(fingerprint, into: &output)
    }
    JSONWriter.writeMember(Member.finished, into: &output)
    output.append(contentsOf: (finished ? "true" : "false").utf8)
    JSONWriter.writeMember(Member.history, into: &output)
    output.append(UInt8(ascii: "["))
    for (index, item) in history.enumerated() {
      if index > 0 { output.append(UInt8(ascii: ",")) }
      JSONWriter.writeString(item, into: &output)
    }
    output.append(UInt8(ascii: "]"))
    if let position {
      JSONWriter.writeMember(Member.position, into: &output)
      JSONWriter.writeString(position, into: &output)
    }
    output.append(UInt8(ascii: "}"))
  }

  /// The state in `node`, if it has the plain shape: an object with `attempts` an integer in
  /// plain digits, `finished` a boolean, `history` an array of strings, and `position` and
  /// `fingerprint` strings, null or missing. Of a member given twice, the first (as the keyed
  /// container reads it); members of other names are ignored, as the synthesized decoder does.
  /// Nil for anything else: the caller then decodes through `init(from:)`.
  init?(storedJSON node: JSONNode) {
    guard case .object(let members) = node else { return nil }
    var attempts: Int?
    var finished: Bool?
    var history: [String]?
    var position: String??
    var fingerprint: String??
    for member in members {
      switch member.key {
      case Member.attempts where attempts == nil:
        guard case .number(let text) = member.value, let value = Int(text) else { return nil }
        attempts = value
      case Member.finished where finished == nil:
        guard case .bool(let flag) = member.value else { return nil }
        finished = flag
      case Member.history where history == nil:
        guard case .array(let items) = member.value else { return nil }
        var strings: [String] = []
        strings.reserveCapacity(items.count)
        for item in items {
          guard case .string(let text) = item else { return nil }
          strings.append(text)
        }
        history = strings
      case Member.position where position == nil:
        guard let text = Self.optionalString(member.value) else { return nil }
        position = text
      case Member.fingerprint where fingerprint == nil:
        guard let text = Self.optionalString(member.value) else { return nil }
        fingerprint = text
      default:
        continue
      }
    }
    guard let attempts, let finished, let history else { return nil }
    self.init()
    self.attempts = attempts
    self.finished = finished
    self.history = history
    self.position = position ?? nil
    self.fingerprint = fingerprint ?? nil
  }

  static func storedJSON<T>(of value: T) -> EncodedJSON? {
    reinterpret(value, as: DialogState.self).storedJSON
  }

  static func fromStoredJSON<T>(_ node: JSONNode, as type: T.Type) -> T? {
    DialogState(storedJSON: node).map { reinterpret($0, as: T.self) }
  }

  /// A string member that may be null: `.some(nil)` for null, nil for another type.
  private static func optionalString(_ node: JSONNode) -> String?? {
    switch node {
    case .null: .some(nil)
    case .string(let text): .some(text)
    default: nil
    }
  }
}

/// A dialog's session: its ``DialogState`` through the fast path above, its answers (the app's
/// own type) through their `Codable` conformance. Its own container was about half of the time
/// left in decoding a session after the state's fast path; without it the JSON went from 16.6% to
/// 15.0% of the app's samples in the in-process profile of the memory store.
extension DialogSession: StoredJSONFastPath {
  private typealias Member = DialogSessionMember

  static func storedJSON<T>(of value: T) -> EncodedJSON? {
    let session = reinterpret(value, as: Self.self)
    guard
      let answers = try? JSONTreeEncoder.box(
        session.answers, codingPath: [JSONCodingKey(stringValue: Member.answers)])
    else { return nil }
    // The two members in byte order, written straight into one text.
    var text: [UInt8] = []
    text.reserveCapacity(256)
    JSONWriter.writeMember(Member.answers, first: true, into: &text)
    JSONWriter.write(answers, into: &text)
    JSONWriter.writeMember(Member.state, into: &text)
    session.state.write(into: &text)
    text.append(UInt8(ascii: "}"))
    return .text(text)
  }

  static func fromStoredJSON<T>(_ node: JSONNode, as type: T.Type) -> T? {
    // Of a member given twice, the first, as the keyed container reads it.
    guard case .object(let members) = node,
      let stateNode = members.first(where: { $0.key == Member.state })?.value,
      let answersNode = members.first(where: { $0.key == Member.answers })?.value,
      let state = DialogState(storedJSON: stateNode),
      let answers = try? JSONTreeDecoder.unbox(
        answersNode, as: Answers.self, codingPath: [JSONCodingKey(stringValue: Member.answers)])
    else { return nil }
    var session = Self()
    session.state = state
    session.answers = answers
    return reinterpret(session, as: T.self)
  }
}

/// The names of `DialogSession`'s synthesized `CodingKeys` (a generic type holds no static
/// stored property of its own).
private enum DialogSessionMember {
  static let answers = "answers"
  static let state = "state"
}
