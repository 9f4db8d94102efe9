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
/// It keeps the two hash states of RFC 2104, the inner one having absorbed the key's block XOR
/// `ipad` and the outer one the same block XOR `opad`, and feeds them the message and the inner
/// digest through `HashFunction.update(bufferPointer:)`, as swift-crypto's `HMAC` does. `HMAC`
/// itself only takes its data as a generic `DataProtocol`, which it walks region by region in
/// code that is not specialized for the caller, looking up generic metadata on each call: in the
/// in-process profile of the memory store, `HMAC`'s frames were in 4.95% of the app's samples
/// and the hash's own blocks in 0.93%; with these states, 0.45% and 0.96%. `KeyedHMACTests`
/// checks the codes against `HMAC`'s for keys shorter than, as long as and longer than a block,
/// and for messages of every length around a block.
///
/// `@unchecked Sendable` because swift-crypto 3 does not mark its hash functions `Sendable`. The
/// value is never changed after `init`; its hash states are values whose digest context is copied
/// before any update (copy on write) and copied again to finalize, so concurrent uses only ever
/// read the shared one.
package struct KeyedHMAC<H: HashFunction>: @unchecked Sendable {
  /// The hash state that has absorbed the key's block XOR `ipad` (0x36 bytes).
  private let inner: H
  /// The hash state that has absorbed the key's block XOR `opad` (0x5c bytes).
  private let outer: H

  /// Absorbs `key` (bytes, or a `SymmetricKey`): hashed first if it is longer than the hash's
  /// block, then padded with zeros to the block (RFC 2104, section 2).
  package init(key: some ContiguousBytes) {
    var block = [UInt8](repeating: 0, count: H.blockByteCount)
    key.withUnsafeBytes { bytes in
      if bytes.count > block.count {
        var hasher = H()
        hasher.update(bufferPointer: bytes)
        hasher.finalize().withUnsafeBytes { block.replaceSubrange(0..<$0.count, with: $0) }
      } else {
        block.replaceSubrange(0..<bytes.count, with: bytes)
      }
    }
    func absorbing(_ pad: UInt8) -> H {
      var hasher = H()
      block.map { $0 ^ pad }.withUnsafeBytes { hasher.update(bufferPointer: $0) }
      return hasher
    }
    inner = absorbing(0x36)
    outer = absorbing(0x5c)
  }

  /// The authentication code of `message`: the digest of the outer hash.
  package func code(for message: [UInt8]) -> H.Digest {
    var inner = self.inner
    message.withUnsafeBytes { inner.update(bufferPointer: $0) }
    var outer = self.outer
    inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
    return outer.finalize()
  }

  /// Whether `expected` authenticates `message`, compared in constant time.
  ///
  /// Compared over the code's bytes, where swift-crypto's `==` with a `DataProtocol` walks both
  /// generically: that comparison of a 20-byte code was 14% of a webhook's signature check.
  package func isValid(_ expected: some ContiguousBytes, for message: [UInt8]) -> Bool {
    code(for: message).withUnsafeBytes { actual in
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
