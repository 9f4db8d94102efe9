package import Crypto
package import HTTPTypes

/// The cookie attributes Parley sets, and reading cookies back from a request.
public struct SessionCookieOptions: Sendable, Hashable {
  /// The cookie's name.
  public var name: String
  /// Add `Secure` (only when every webhook URL is https).
  public var secure: Bool

  /// Creates options.
  public init(name: String = "parley_session", secure: Bool = false) {
    self.name = name
    self.secure = secure
  }

  /// Twilio caps cookie lifetimes at four hours.
  public static let maximumAge: Int64 = 14_400

  /// A `Set-Cookie` value; `maxAge` is capped at four hours.
  func setCookie(value: String, maxAge: Duration) -> String {
    let seconds = min(Self.maximumAge, max(0, maxAge.components.seconds))
    // Written into one string of its final size (interpolated, it grew three times per turn).
    var field = ""
    field.reserveCapacity(name.utf8.count + value.utf8.count + 64)
    field += name
    field += "="
    field += value
    field += "; Max-Age="
    field += String(seconds)
    field += "; Path=/; HttpOnly"
    if secure { field += "; Secure" }
    return field
  }

  /// The values of the cookie called ``name`` in `fields`' `Cookie` headers.
  package func values(in fields: HTTPFields) -> [Substring] {
    var values: [Substring] = []
    for header in fields[values: .cookie] {
      for pair in header.split(separator: ";") {
        let trimmed = pair.drop { $0 == " " || $0 == "\t" }
        guard let equals = trimmed.firstIndex(of: "=") else { continue }
        if trimmed[..<equals] == name {
          values.append(trimmed[trimmed.index(after: equals)...])
        }
      }
    }
    return values
  }
}

/// The signed pointer a stored session's cookie carries: `v1.<id>.<generation>.<conversation tag>.<mac>`.
///
/// Every character is in `[A-Za-z0-9._-]`, which Twilio accepts in a cookie value.
package struct SignedSessionPointer: Hashable {
  package var sessionID: String
  package var generation: Int64
  package var conversationTag: String

  package init(sessionID: String, generation: Int64, key: ConversationKey) {
    self.sessionID = sessionID
    self.generation = generation
    self.conversationTag = Self.tag(for: key)
  }

  private init(sessionID: String, generation: Int64, conversationTag: String) {
    self.sessionID = sessionID
    self.generation = generation
    self.conversationTag = conversationTag
  }

  /// A short digest binding the cookie to its conversation, so a cookie replayed on another
  /// conversation is recognised as foreign.
  static func tag(for key: ConversationKey) -> String {
    // Hashed and encoded in place: through `Array(utf8)` and the digest's `prefix(9)`, every turn
    // made three allocations for these twelve characters.
    var text = key.rawValue
    let digest = text.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
    return digest.withUnsafeBytes {
      Base64URL.encode(UnsafeRawBufferPointer(rebasing: $0.prefix(9)))
    }
  }

  /// The cookie's value: `v1.<id>.<generation>.<tag>`, a dot and the base64url of its MAC,
  /// written as bytes once (every turn signs one).
  package func signed(with signer: KeyedHMAC<SHA256>) -> String {
    let dot = UInt8(ascii: ".")
    var bytes: [UInt8] = []
    // "v1.", three dots, at most 20 digits of generation and 43 of base64url MAC: 69 more.
    bytes.reserveCapacity(sessionID.utf8.count + conversationTag.utf8.count + 69)
    bytes += "v1.".utf8
    bytes += sessionID.utf8
    bytes.append(dot)
    bytes += String(generation).utf8
    bytes.append(dot)
    bytes += conversationTag.utf8
    let mac = signer.code(for: bytes)
    bytes.append(dot)
    mac.withUnsafeBytes { Base64URL.append($0, to: &bytes) }
    return String(decoding: bytes, as: UTF8.self)
  }

  package enum Problem: String, Error {
    case malformed = "malformed"
    case badSignature = "bad signature"
  }

  /// Verifies a cookie value against every key, in constant time per key.
  package static func verify(_ value: Substring, keys: [KeyedHMAC<SHA256>]) -> Result<Self, Problem>
  {
    let parts = value.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 5, parts[0] == "v1", let generation = Int64(parts[2]), generation >= 0,
      let mac = Base64URL.decode(parts[4]), !parts[1].isEmpty,
      parts[1].utf8.allSatisfy(Base64URL.isAlphabet), parts[3].utf8.allSatisfy(Base64URL.isAlphabet)
    else { return .failure(.malformed) }
    let payload = Array(value[..<value.lastIndex(of: ".")!].utf8)
    for key in keys where key.isValid(mac, for: payload) {
      return .success(
        SignedSessionPointer(
          sessionID: String(parts[1]), generation: generation, conversationTag: String(parts[3])))
    }
    return .failure(.badSignature)
  }
}
