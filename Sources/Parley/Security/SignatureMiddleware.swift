import Crypto
import HTTPTypes
import Logging

/// Where the secrets and the public URL of Twilio's request signatures come from.
public struct TwilioSignatureConfiguration: Sendable {
  /// Auth tokens accepted for HMAC-SHA1 signatures; several during a rotation.
  public var authTokens: [String]
  /// Shared keys for HMAC-SHA256 signatures, by the key id that
  /// `X-Twilio-Webhooks-Signature-Settings` names.
  public var sharedKeys: [String: String]
  /// The URL Twilio uses to reach the app, such as `https://bot.example.com` (with any path prefix
  /// a proxy strips). When set, it is the signed URL's base and forwarded headers are ignored.
  public var publicBaseURL: String?
  /// IP addresses of proxies whose `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Forwarded-Port`
  /// are believed. From anyone else they are ignored: the URL is never guessed from untrusted headers.
  public var trustedProxies: Set<String>

  /// Creates a configuration.
  ///
  /// - Throws: ``WebhookSecurityError`` when there is no secret at all, or `publicBaseURL` is not
  ///   an absolute http(s) URL: an app must refuse to start rather than accept unsigned requests.
  public init(
    authTokens: [String], sharedKeys: [String: String] = [:], publicBaseURL: String? = nil,
    trustedProxies: Set<String> = []
  ) throws(WebhookSecurityError) {
    let tokens = authTokens.filter { !$0.isEmpty }
    guard !tokens.isEmpty || !sharedKeys.isEmpty else {
      throw WebhookSecurityError(
        "no auth token or shared key configured: refusing to accept unsigned webhooks")
    }
    if let publicBaseURL {
      guard publicBaseURL.hasPrefix("https://") || publicBaseURL.hasPrefix("http://"),
        TwilioSignature.URLParts(publicBaseURL) != nil
      else {
        throw WebhookSecurityError("public base URL must be an absolute http(s) URL")
      }
    }
    self.authTokens = tokens
    self.sharedKeys = sharedKeys
    self.publicBaseURL = publicBaseURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    self.trustedProxies = trustedProxies
  }
}

/// A security configuration that cannot be used.
public struct WebhookSecurityError: Error, Sendable, Hashable, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Accepts only requests signed by Twilio: `X-Twilio-Signature` checked against the URL as Twilio
/// requested it and the form parameters (or the body's `bodySHA256`), with HMAC-SHA1 and the auth
/// token, or HMAC-SHA256 and the shared key that `X-Twilio-Webhooks-Signature-Settings` names.
///
/// Put it first in the chain, so a rejected request writes nothing anywhere. A request without
/// the header is answered 400; one with a wrong signature 403.
public struct SignatureMiddleware: MessagingMiddleware {
  /// Secrets and URL settings.
  public let configuration: TwilioSignatureConfiguration
  /// The public base URL's variants (``TwilioSignature/urlVariants(_:)``), worked out once: a
  /// request's URL is the base and its target, and only the base's port varies.
  private let baseURLVariants: [String]?
  /// The auth tokens and shared keys, each absorbed into its HMAC once.
  private let authTokenKeys: [KeyedHMAC<Insecure.SHA1>]
  private let sharedKeys: [String: KeyedHMAC<SHA256>]

  /// Creates the middleware.
  public init(configuration: TwilioSignatureConfiguration) {
    self.configuration = configuration
    self.baseURLVariants = configuration.publicBaseURL.map(TwilioSignature.urlVariants)
    self.authTokenKeys = configuration.authTokens.map { KeyedHMAC(key: Array($0.utf8)) }
    self.sharedKeys = configuration.sharedKeys.mapValues { KeyedHMAC(key: Array($0.utf8)) }
  }

  static let signatureHeader = HTTPField.Name("X-Twilio-Signature")!
  static let settingsHeader = HTTPField.Name("X-Twilio-Webhooks-Signature-Settings")!
  static let forwardedProtoHeader = HTTPField.Name("X-Forwarded-Proto")!
  static let forwardedHostHeader = HTTPField.Name("X-Forwarded-Host")!
  static let forwardedPortHeader = HTTPField.Name("X-Forwarded-Port")!

  /// Why a request was refused.
  public enum Verdict: Sendable, Hashable {
    case valid
    case missingSignature
    case invalid(reason: String)
  }

  /// Checks one request, given its decoded form parameters (empty for a GET or a JSON body).
  public func verify(_ request: WebhookRequest, formParameters: FormParameters) -> Verdict {
    let fields = request.head.headerFields
    guard let signature = fields.value(of: Self.signatureHeader), !signature.isEmpty else {
      return .missingSignature
    }
    var sharedKey: KeyedHMAC<SHA256>?
    if let settings = fields.value(of: Self.settingsHeader), !settings.isEmpty {
      var keyID: String?
      var algorithmName = TwilioSignatureAlgorithm.hmacSHA1.rawValue
      for part in settings.split(separator: ",") {
        let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingASCIISpace() }
        guard pair.count == 2 else { continue }
        if pair[0] == "key" { keyID = pair[1] }
        if pair[0] == "algorithm" && !pair[1].isEmpty { algorithmName = pair[1] }
      }
      guard let named = TwilioSignatureAlgorithm(rawValue: algorithmName.uppercased()) else {
        return .invalid(reason: "unsupported signature algorithm")
      }
      if named == .hmacSHA256 {
        guard let keyID, let key = sharedKeys[keyID] else {
          return .invalid(reason: "unknown shared key")
        }
        sharedKey = key
      }
    }
    guard sharedKey != nil || !authTokenKeys.isEmpty else {
      return .invalid(reason: "no secret for this algorithm")
    }

    var parameters = formParameters.pairs
    let isJSON = fields.value(of: .contentType).map(Self.isJSONContentType) ?? false
    if isJSON || request.head.method == .get {
      parameters = []
    }
    if isJSON {
      // The URL carries the body's hash; the body itself is not in the signed text.
      let query =
        (try? FormParameters(decoding: (request.query ?? "").utf8)) ?? FormParameters()
      guard let expected = query["bodySHA256"] else {
        return .invalid(reason: "JSON body without bodySHA256")
      }
      let actual = TwilioSignature.bodyHash(request.body)
      guard constantTimeEquals(Array(expected.lowercased().utf8), Array(actual.utf8)) else {
        return .invalid(reason: "body does not match bodySHA256")
      }
    }
    let target = request.head.path ?? "/"
    // The variants of the configured base are followed by the target as the check writes its
    // message, not joined to it first: a webhook's check usually needs only the first.
    let variants: [String]
    let suffix: String
    if let baseURLVariants, target.hasPrefix("/") || target.hasPrefix("?") {
      variants = baseURLVariants
      suffix = target
    } else {
      variants = TwilioSignature.urlVariants(requestURL(request))
      suffix = ""
    }
    let valid =
      if let sharedKey {
        TwilioSignature.isValid(
          signature: signature, urlVariants: variants, suffix: suffix, parameters: parameters,
          keys: [sharedKey])
      } else {
        TwilioSignature.isValid(
          signature: signature, urlVariants: variants, suffix: suffix, parameters: parameters,
          keys: authTokenKeys)
      }
    guard valid else { return .invalid(reason: "signature does not match") }
    return .valid
  }

  /// Whether a `Content-Type` starts with `application/json`, in any case (a lowercased copy of
  /// every webhook's form type was an allocation per request).
  package static func isJSONContentType(_ value: String) -> Bool {
    value.hasPrefixIgnoringASCIICase("application/json")
  }

  /// The full URL Twilio requested: the configured public base (or, from a trusted proxy, the
  /// forwarded scheme and host; otherwise `http://` and the Host header), then the raw request
  /// target exactly as received, never re-encoded.
  public func requestURL(_ request: WebhookRequest) -> String {
    let target = request.head.path ?? "/"
    if let base = configuration.publicBaseURL { return base + target }
    let fields = request.head.headerFields
    var scheme = "http"
    var host = request.head.authority ?? ""
    if let remote = request.remoteAddress, configuration.trustedProxies.contains(remote) {
      // The first (client-side) value of a forwarded field, trimmed.
      func forwarded(_ name: HTTPField.Name) -> String? {
        fields.value(of: name)?.split(separator: ",").first?.trimmingASCIISpace()
      }
      if let proto = forwarded(Self.forwardedProtoHeader) { scheme = proto.lowercased() }
      if let forwardedHost = forwarded(Self.forwardedHostHeader) { host = forwardedHost }
      if let port = forwarded(Self.forwardedPortHeader), !host.contains(":") || host.hasSuffix("]")
      {
        let isDefault = (scheme == "https" && port == "443") || (scheme == "http" && port == "80")
        if !isDefault { host += ":" + port }
      }
    }
    return "\(scheme)://\(host)\(target)"
  }

  func check(_ request: WebhookRequest, parameters: FormParameters, logger: Logger) throws {
    switch verify(request, formParameters: parameters) {
    case .valid:
      return
    case .missingSignature:
      logger.warning("request without X-Twilio-Signature refused")
      throw WebhookError(.missingSignature, "missing X-Twilio-Signature")
    case .invalid(let reason):
      logger.warning(
        "request with a bad signature refused", metadata: ["parley.reason": "\(reason)"])
      throw WebhookError(.forbidden, "invalid X-Twilio-Signature")
    }
  }

  public func handle(_ turn: Turn, next: NextResponder) async throws -> Reply {
    try check(turn.request, parameters: turn.message.parameters, logger: turn.logger)
    return try await next(turn)
  }

  public func handleStatus(_ status: StatusTurn, next: NextStatusResponder) async throws {
    try check(status.request, parameters: status.callback.parameters, logger: status.logger)
    try await next(status)
  }
}
