import Crypto

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// The algorithms Twilio signs webhooks with.
public enum TwilioSignatureAlgorithm: String, Sendable, Hashable {
  /// HMAC-SHA1 with the account's auth token (the classic `X-Twilio-Signature`).
  case hmacSHA1 = "HMAC_SHA1"
  /// HMAC-SHA256 with a shared key, named by `X-Twilio-Webhooks-Signature-Settings`.
  case hmacSHA256 = "HMAC_SHA256"
}

/// Twilio's request signature, computed and checked exactly as the official helper libraries do.
///
/// The signed text is the full URL Twilio requested, followed, for a form POST, by each parameter
/// name (sorted) and each of its distinct values (sorted): `name` then `value`, with no separators.
/// A JSON body is not in the signed text; the URL carries `bodySHA256`, the hex SHA-256 of the body.
public enum TwilioSignature {
  /// The bytes Twilio signs for `url` and form `parameters`.
  public static func payload(url: String, parameters: [FormParameters.Parameter]) -> [UInt8] {
    Array(url.utf8) + signedParameters(parameters)
  }

  /// The signed text's part after the URL: each name (sorted) followed by each of its distinct
  /// values (sorted), sorted and deduplicated by code point as Python's `sorted(set(...))` does
  /// (not by Swift's canonical-equivalence `String` ordering).
  static func signedParameters(_ parameters: [FormParameters.Parameter]) -> [UInt8] {
    // Every name and value is copied once into `flat`; the sort moves plain offsets and compares
    // bytes (`==` on `String` is canonical equivalence, not bytes), with no reference counting.
    var flat: [UInt8] = []
    flat.reserveCapacity(parameters.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count })
    var spans: [Span] = []
    spans.reserveCapacity(parameters.count)
    for parameter in parameters {
      let start = flat.count
      flat += parameter.name.utf8
      let nameEnd = flat.count
      flat += parameter.value.utf8
      spans.append(
        Span(
          start: start, name: nameEnd - start, value: flat.count - nameEnd,
          prefix: Span.prefix(of: flat[start..<nameEnd])))
    }
    return flat.withUnsafeBufferPointer { flat in
      func compare(_ left: Int, _ leftCount: Int, _ right: Int, _ rightCount: Int) -> Int {
        for index in 0..<min(leftCount, rightCount) where flat[left + index] != flat[right + index]
        {
          return Int(flat[left + index]) - Int(flat[right + index])
        }
        return leftCount - rightCount
      }
      func order(_ a: Span, _ b: Span) -> Int {
        // Names that differ in their first eight bytes (all of Twilio's do) are ordered by one
        // comparison; the bytes are compared only past a shared prefix.
        if a.prefix != b.prefix { return a.prefix < b.prefix ? -1 : 1 }
        let names = compare(a.start, a.name, b.start, b.name)
        return names != 0 ? names : compare(a.start + a.name, a.value, b.start + b.name, b.value)
      }
      spans.sort { order($0, $1) < 0 }
      var bytes: [UInt8] = []
      bytes.reserveCapacity(flat.count)
      var previous: Span?
      for span in spans {
        if let previous, order(previous, span) == 0 { continue }
        bytes += flat[span.start..<(span.start + span.name + span.value)]
        previous = span
      }
      return bytes
    }
  }

  /// One parameter's name and value in the flat bytes of all of them.
  private struct Span {
    let start: Int
    let name: Int
    let value: Int
    /// The name's first eight bytes, big-endian, zero-padded: when two differ, they order the
    /// names as their bytes do (a padding zero sorts a shorter name first, and where a name has a
    /// zero byte of its own the prefixes tie and the bytes decide).
    let prefix: UInt64

    static func prefix(of name: ArraySlice<UInt8>) -> UInt64 {
      var key: UInt64 = 0
      for byte in name.prefix(8) { key = key << 8 | UInt64(byte) }
      // Left-aligned: a name shorter than eight bytes is padded with zeros on the right.
      return key << (8 * (8 - min(name.count, 8)))
    }
  }

  /// The base64 signature of `url` and `parameters` with `secret`.
  public static func compute(
    url: String, parameters: [FormParameters.Parameter], secret: String,
    algorithm: TwilioSignatureAlgorithm = .hmacSHA1
  ) -> String {
    let key = SymmetricKey(data: Array(secret.utf8))
    let message = payload(url: url, parameters: parameters)
    switch algorithm {
    case .hmacSHA1:
      return Data(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key))
        .base64EncodedString()
    case .hmacSHA256:
      return Data(HMAC<SHA256>.authenticationCode(for: message, using: key)).base64EncodedString()
    }
  }

  /// Whether `signature` signs `url` and `parameters` with one of `secrets`, comparing in
  /// constant time on the decoded bytes (swift-crypto's authentication-code check).
  public static func isValid(
    signature: String, url: String, parameters: [FormParameters.Parameter], secrets: [String],
    algorithm: TwilioSignatureAlgorithm
  ) -> Bool {
    let variants = urlVariants(url)
    switch algorithm {
    case .hmacSHA1:
      return isValid(
        signature: signature, urlVariants: variants, parameters: parameters,
        keys: secrets.map { KeyedHMAC<Insecure.SHA1>(key: Array($0.utf8)) })
    case .hmacSHA256:
      return isValid(
        signature: signature, urlVariants: variants, parameters: parameters,
        keys: secrets.map { KeyedHMAC<SHA256>(key: Array($0.utf8)) })
    }
  }

  /// ``isValid(signature:url:parameters:secrets:algorithm:)`` for a URL's variants already
  /// worked out and secrets already keyed.
  ///
  /// Each variant is followed by `suffix` in the signed text (the request's target, when the
  /// variants are those of a configured base URL).
  static func isValid<H: HashFunction>(
    signature: String, urlVariants variants: [String], suffix: String = "",
    parameters: [FormParameters.Parameter], keys: [KeyedHMAC<H>]
  ) -> Bool {
    guard let code = Data(base64Encoded: signature.trimmingASCIISpace()), !code.isEmpty
    else { return false }
    let signedParameters = signedParameters(parameters)
    // Every secret is checked for a variant, so the time taken does not say which one signed.
    // The variants are tried in order and the first that verifies ends the check: which of them
    // Twilio signed is no secret (the sender knows the URL it used), and a signature that fails
    // is checked against all of them alike. The first variant is the URL as configured, the one
    // Twilio signs when the app's URL is set as Twilio calls it, so a genuine webhook costs one
    // HMAC per secret where it cost one per variant.
    var message: [UInt8] = []
    message.reserveCapacity(
      (variants.lazy.map(\.utf8.count).max() ?? 0) + suffix.utf8.count + signedParameters.count)
    for variant in variants {
      message.removeAll(keepingCapacity: true)
      message += variant.utf8
      message += suffix.utf8
      message += signedParameters
      var valid = false
      for key in keys {
        valid = key.isValid(code, for: message) || valid
      }
      if valid { return true }
    }
    return false
  }

  /// The hex SHA-256 of a body, as `bodySHA256` carries it.
  public static func bodyHash(_ body: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(
      SHA256.hash(data: body).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
  }

  /// `url` as given, with the scheme's default port added, and with any port removed: Twilio's own
  /// validators accept all three, since Twilio is not consistent about the port it signs.
  public static func urlVariants(_ url: String) -> [String] {
    guard let parts = URLParts(url) else { return [url] }
    var variants = [url]
    let defaultPort = parts.scheme.lowercased() == "https" ? "443" : "80"
    for variant in [parts.with(port: parts.port ?? defaultPort), parts.with(port: nil)]
    where !variants.contains(variant) {
      variants.append(variant)
    }
    return variants
  }

  /// The pieces of an absolute URL needed to add or remove its port.
  struct URLParts {
    var scheme: String
    var userInfo: String?
    var host: String
    var port: String?
    var rest: Substring

    init?(_ url: String) {
      // "://" found by hand: Foundation's `range(of:)` showed in the benchmark's profile.
      guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { return nil }
      scheme = String(url[..<colon])
      let afterScheme = url[url.index(colon, offsetBy: 3)...]
      let authorityEnd =
        afterScheme.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? afterScheme.endIndex
      var authority = afterScheme[..<authorityEnd]
      rest = afterScheme[authorityEnd...]
      if let at = authority.lastIndex(of: "@") {
        userInfo = String(authority[..<at])
        authority = authority[authority.index(after: at)...]
      }
      if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
        host = String(authority[...close])
        let after = authority[authority.index(after: close)...]
        port = after.hasPrefix(":") ? String(after.dropFirst()) : nil
      } else if let colon = authority.lastIndex(of: ":") {
        host = String(authority[..<colon])
        port = String(authority[authority.index(after: colon)...])
      } else {
        host = String(authority)
      }
      if port?.isEmpty == true { port = nil }
    }

    func with(port: String?) -> String {
      var url = scheme + "://"
      if let userInfo { url += userInfo + "@" }
      url += host
      if let port { url += ":" + port }
      return url + rest
    }
  }
}
