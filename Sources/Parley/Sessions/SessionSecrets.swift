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
  private let signingMaterial: [[UInt8]]
  private let encryptionMaterial: [[UInt8]]

  /// Keys that sign cookies (HMAC-SHA256), newest first.
  package var signingKeys: [SymmetricKey] { signingMaterial.map { SymmetricKey(data: $0) } }
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
    signingMaterial = material.map { derive($0, "sign") }
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
  static func encode(_ bytes: some Sequence<UInt8>) -> String {
    Data(bytes).base64EncodedString()
      .replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }

  static func decode(_ text: some StringProtocol) -> [UInt8]? {
    guard text.utf8.allSatisfy({ isAlphabet($0) }) else { return nil }
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(
      of: "_", with: "/")
    while base64.utf8.count % 4 != 0 { base64 += "=" }
    return Data(base64Encoded: base64).map { Array($0) }
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
