import Testing

@testable import Parley

struct SessionIDTests {
  /// A session cookie's value, byte for byte: what instances of an earlier release issued must
  /// verify on this one (a rolling deploy), and the other way round. The expected value was
  /// computed apart from Parley, with Python's `hmac` and `hashlib` (HKDF-SHA256 of the secret,
  /// salt `parley`, info `parley.session.sign.v1`; the tag the first 9 bytes of the key's SHA-256).
  @Test func aSessionCookieIsSignedByteForByteAsBefore() throws {
    let secrets = try SessionSecrets("0123456789abcdef0123456789abcdef")
    let key = ConversationKey(rawValue: "+16175550123|+14155550199")
    let pointer = SignedSessionPointer(
      sessionID: "AbCdEf0123456789_-xyzQ", generation: 41, key: key)
    let value = pointer.signed(with: secrets.signers[0])
    #expect(
      value
        == "v1.AbCdEf0123456789_-xyzQ.41.SWowHXKMhIbE.S3mxWE5i85mWG-OVI1lWvB4K7PINppbjaKBB5sAubCQ")
    #expect(try SignedSessionPointer.verify(value[...], keys: secrets.signers).get() == pointer)
  }

  /// New session ids: 128 random bits as 22 base64url characters, never repeated.
  @Test func newSessionIDsAre128RandomBitsInBase64URL() {
    let ids = (0..<10_000).map { _ in SessionMiddleware<SessionIDState>.newSessionID() }
    #expect(Set(ids).count == ids.count)
    let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    for id in ids {
      #expect(id.count == 22 && id.allSatisfy(alphabet.contains), "\(id)")
    }
    // Every bit position takes both values across the ids (no constant bytes).
    let decoded = ids.compactMap { Base64URL.decode($0) }
    #expect(decoded.count == ids.count && decoded.allSatisfy { $0.count == 16 })
    for byte in 0..<16 {
      let ones = decoded.reduce(UInt8(0)) { $0 | $1[byte] }
      let zeros = decoded.reduce(UInt8(0)) { $0 | ~$1[byte] }
      #expect(ones == 0xFF && zeros == 0xFF, "byte \(byte)")
    }
  }
}

struct SessionIDState: SessionState {}
