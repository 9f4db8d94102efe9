/// Unpadded base64url (RFC 4648 §5), encoded and decoded directly over bytes: the session
/// cookies' ids, tags, MACs and sealed boxes.
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

  /// Whether `byte` is one of the alphabet's 64 characters (no padding: `=` is not).
  static func isAlphabet(_ byte: UInt8) -> Bool { value(of: byte) != nil }
}
