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
