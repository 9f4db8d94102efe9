import Crypto
import Parley
import ParleyTesting
import Testing

/// `KeyedHMAC` builds RFC 2104's HMAC from swift-crypto's hash functions; its codes must be the
/// ones swift-crypto's `HMAC` gives, for keys shorter than, as long as and longer than the hash's
/// block (which are hashed first) and for messages of every length around a block.
struct KeyedHMACTests {
  /// Keys of these lengths: empty, short, a block less one, a block, a block and one, and longer
  /// than a SHA-256 block by more than its digest.
  static let keyLengths = [0, 1, 20, 32, 63, 64, 65, 128, 200]

  @Test(arguments: keyLengths)
  func sha1CodesAreSwiftCryptos(keyLength: Int) {
    var generator = SplitMix64(seed: UInt64(keyLength) &+ 1)
    let key = Self.bytes(keyLength, using: &generator)
    let keyed = KeyedHMAC<Insecure.SHA1>(key: key)
    for length in 0...140 {
      let message = Self.bytes(length, using: &generator)
      let expected = Array(
        HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key)))
      #expect(Array(keyed.code(for: message)) == expected, "message of \(length) bytes")
      #expect(keyed.isValid(expected, for: message))
    }
  }

  @Test(arguments: keyLengths)
  func sha256CodesAreSwiftCryptos(keyLength: Int) {
    var generator = SplitMix64(seed: UInt64(keyLength) &+ 1000)
    let key = Self.bytes(keyLength, using: &generator)
    let keyed = KeyedHMAC<SHA256>(key: SymmetricKey(data: key))
    for length in 0...140 {
      let message = Self.bytes(length, using: &generator)
      let expected = Array(
        HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
      #expect(Array(keyed.code(for: message)) == expected, "message of \(length) bytes")
      #expect(keyed.isValid(expected, for: message))
    }
  }

  /// RFC 4231's test case 2 (a key shorter than the block) and 6 (a key of 131 bytes, hashed
  /// first), for HMAC-SHA-256.
  @Test func rfc4231Vectors() {
    let short = KeyedHMAC<SHA256>(key: Array("Jefe".utf8))
    #expect(
      Self.hex(short.code(for: Array("what do ya want for nothing?".utf8)))
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    let long = KeyedHMAC<SHA256>(key: [UInt8](repeating: 0xaa, count: 131))
    #expect(
      Self.hex(long.code(for: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
        == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
  }

  /// A code one bit off, or one byte short, does not verify.
  @Test func aDifferentCodeDoesNotVerify() {
    let keyed = KeyedHMAC<Insecure.SHA1>(key: Array("secret".utf8))
    let message = Array("https://example.com/smsBodyhi".utf8)
    var code = Array(keyed.code(for: message))
    #expect(keyed.isValid(code, for: message))
    code[7] ^= 0x01
    #expect(!keyed.isValid(code, for: message))
    code[7] ^= 0x01
    #expect(!keyed.isValid(Array(code.dropLast()), for: message))
    #expect(!keyed.isValid(code, for: message + [0]))
  }

  static func bytes(_ count: Int, using generator: inout SplitMix64) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
  }

  static func hex(_ digest: some Sequence<UInt8>) -> String {
    digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
  }
}
