package import Crypto

#if canImport(FoundationEssentials)
  package import FoundationEssentials
#else
  package import Foundation
#endif

/// An HMAC with its key already absorbed, made once and shared by every turn: each use copies it
/// and adds only the message, instead of keying a new HMAC (two hash blocks and a few
/// allocations) for each message.
///
/// `@unchecked Sendable` because swift-crypto 3 marks neither `SymmetricKey` nor `HMAC`
/// `Sendable`. The value is never changed after `init`; its hash states are values whose digest
/// context is copied before any update (copy on write) and copied again to finalize, so concurrent
/// uses only ever read the shared one.
package struct KeyedHMAC<H: HashFunction>: @unchecked Sendable {
  private let keyed: HMAC<H>

  /// Absorbs `key`.
  package init(key: SymmetricKey) {
    keyed = HMAC<H>(key: key)
  }

  /// Absorbs the key given as bytes.
  package init(key: some ContiguousBytes) {
    self.init(key: SymmetricKey(data: key))
  }

  /// The authentication code of `message`.
  package func code(for message: [UInt8]) -> HashedAuthenticationCode<H> {
    var authenticator = keyed
    authenticator.update(data: message)
    return authenticator.finalize()
  }

  /// Whether `expected` authenticates `message`, compared in constant time.
  ///
  /// Compared over the code's bytes, where swift-crypto's `==` with a `DataProtocol` walks both
  /// generically: that comparison of a 20-byte code was 14% of a webhook's signature check.
  package func isValid(_ expected: some ContiguousBytes, for message: [UInt8]) -> Bool {
    self.code(for: message).withUnsafeBytes { actual in
      expected.withUnsafeBytes { constantTimeEquals(actual, $0) }
    }
  }
}

/// Whether two byte strings are equal, in a time that depends on their lengths only.
func constantTimeEquals(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
  guard lhs.count == rhs.count else { return false }
  var difference: UInt8 = 0
  for index in 0..<lhs.count { difference |= lhs[index] ^ rhs[index] }
  return difference == 0
}

/// The same comparison of two arrays.
func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
  lhs.withUnsafeBytes { left in rhs.withUnsafeBytes { constantTimeEquals(left, $0) } }
}
