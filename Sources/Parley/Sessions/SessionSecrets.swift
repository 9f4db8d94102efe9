package import Crypto

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// The secrets that sign (and, in store-less mode, encrypt) session cookies.
///
/// Several secrets allow rotation: the first signs and encrypts, every one is accepted when
/// reading. Add the new secret in front, deploy, and drop the old one four hours later.
/// Keys are derived with HKDF-SHA256, separately for signing and encryption.
public struct SessionSecrets: Sendable {
  // Key bytes (SymmetricKey is not Sendable in swift-crypto 3); keys are made on use.
  private let encryptionMaterial: [[UInt8]]

  /// The keys that sign cookies (HMAC-SHA256), newest first, each absorbed into its HMAC once:
  /// every turn signs a cookie.
  package let signers: [KeyedHMAC<SHA256>]
  /// Keys that encrypt store-less cookies (AES-GCM-256), newest first.
  package var encryptionKeys: [SymmetricKey] { encryptionMaterial.map { SymmetricKey(data: $0) } }

  /// The shortest secret accepted, in bytes.
  public static let minimumLength = 32

  /// Creates secrets from text, newest first.
  ///
  /// - Throws: ``SessionError`` with `.invalidSecret` when there is none or one is shorter than
  ///   ``minimumLength`` bytes.
  public init(_ secrets: [String]) throws(SessionError) {
    guard !secrets.isEmpty else { throw SessionError(.invalidSecret, "no session secret given") }
    for secret in secrets where secret.utf8.count < Self.minimumLength {
      throw SessionError(
        .invalidSecret, "a session secret is shorter than \(Self.minimumLength) bytes")
    }
    self.init(material: secrets.map { Array($0.utf8) })
  }

  /// Creates secrets from one text secret.
  public init(_ secret: String) throws(SessionError) {
    try self.init([secret])
  }

  private init(material: [[UInt8]]) {
    func derive(_ bytes: [UInt8], _ purpose: String) -> [UInt8] {
      HKDF<SHA256>.deriveKey(
        inputKeyMaterial: SymmetricKey(data: bytes), salt: Array("parley".utf8),
        info: Array("parley.session.\(purpose).v1".utf8), outputByteCount: 32
      ).withUnsafeBytes { Array($0) }
    }
    signers = material.map { KeyedHMAC(key: derive($0, "sign")) }
    encryptionMaterial = material.map { derive($0, "encrypt") }
  }

  /// Fresh random secrets: cookies signed with them are unreadable after a restart (sessions in
  /// a store still resume, by conversation). For demos and tests.
  public static func random() -> SessionSecrets {
    SessionSecrets(material: [SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }])
  }
}

/// Why a session could not be used.
public struct SessionError: Error, Sendable, Hashable, CustomStringConvertible {
  public enum Code: String, Sendable, Hashable {
    /// A secret is missing or too short.
    case invalidSecret
    /// `SessionMiddleware` runs without `ConversationMiddleware` before it.
    case missingConversationMiddleware
    /// The handler asked for a session but no session middleware for that type runs.
    case noSessionMiddleware
    /// Store-less state does not fit in a cookie.
    case stateTooLarge
  }

  public var code: Code
  public var detail: String

  public init(_ code: Code, _ detail: String) {
    self.code = code
    self.detail = detail
  }

  public var description: String { detail }
}

enum Base64URL {
  private static let alphabet = Array(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

  /// Unpadded base64url (RFC 4648 §5) of bytes in memory, written directly with no copy of them:
  /// every turn signs a cookie with it. (Call it inside `withUnsafeBytes`.)
  static func encode(_ input: UnsafeRawBufferPointer) -> String {
    String(unsafeUninitializedCapacity: encodedCount(input.count)) { write(input, into: $0) }
  }

  /// Appends the unpadded base64url of `input` to `output`.
  static func append(_ input: UnsafeRawBufferPointer, to output: inout [UInt8]) {
    let start = output.count
    output.append(contentsOf: repeatElement(0, count: encodedCount(input.count)))
    output.withUnsafeMutableBufferPointer { buffer in
      _ = write(input, into: UnsafeMutableBufferPointer(rebasing: buffer[start...]))
    }
  }

  private static func encodedCount(_ count: Int) -> Int { (count * 4 + 2) / 3 }

  /// Writes the base64url of `input` at the start of `output`, which has room for it; returns
  /// how many bytes it wrote.
  private static func write(
    _ input: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<UInt8>
  ) -> Int {
    var written = 0
    func put(_ chunk: UInt32, _ shift: UInt32) {
      output[written] = alphabet[Int((chunk >> shift) & 63)]
      written += 1
    }
    var index = 0
    while index + 3 <= input.count {
      let chunk =
        UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
      put(chunk, 18)
      put(chunk, 12)
      put(chunk, 6)
      put(chunk, 0)
      index += 3
    }
    switch input.count - index {
    case 1:
      let chunk = UInt32(input[index]) << 16
      put(chunk, 18)
      put(chunk, 12)
    case 2:
      let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8
      put(chunk, 18)
      put(chunk, 12)
      put(chunk, 6)
    default:
      break
    }
    return written
  }

  /// The bytes of unpadded base64url text, or nil when it is not valid.
  static func decode(_ text: some StringProtocol) -> [UInt8]? {
    var output: [UInt8] = []
    var chunk: UInt32 = 0
    var bits = 0
    for byte in text.utf8 {
      guard let value = value(of: byte) else { return nil }
      chunk = chunk << 6 | UInt32(value)
      bits += 6
      if bits >= 8 {
        bits -= 8
        output.append(UInt8((chunk >> UInt32(bits)) & 0xFF))
      }
    }
    // A lone sixth bit-group cannot end valid base64; leftover bits must be zero.
    guard bits < 6, chunk & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
    return output
  }

  private static func value(of byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
    case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
    case UInt8(ascii: "-"): 62
    case UInt8(ascii: "_"): 63
    default: nil
    }
  }

  static func isAlphabet(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
      true
    default: false
    }
  }
}
