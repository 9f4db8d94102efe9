import Testing

@testable import Parley

struct SessionIDTests {
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
