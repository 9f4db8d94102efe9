public import Parley

#if canImport(FoundationEssentials)
  public import FoundationEssentials
#else
  public import Foundation
#endif

/// The cookies Twilio keeps for one From/To pair, as the simulator keeps them.
///
/// Twilio stores a reply's `Set-Cookie` per pair of numbers and sends it back on the pair's later
/// requests; it forgets the pair's cookies after four hours without a message, and caps longer
/// lifetimes at those four hours. A cookie's own `Max-Age` (which wins over `Expires`) or
/// `Expires` ends it earlier; `Max-Age=0` deletes it.
public struct SimulatorCookieJar: Sendable, Hashable {
  /// One stored cookie.
  public struct Cookie: Sendable, Hashable {
    /// The name.
    public var name: String
    /// The value, as the server set it.
    public var value: String
    /// The path it applies under (`/` when the server named none).
    public var path: String
    /// When it ends, if the server said; never later than the pair's idle limit.
    public var expires: WallInstant?
    /// Sent over https (or to a loopback host) only.
    public var secure: Bool
  }

  /// The cookies, by name and path.
  public private(set) var cookies: [Cookie] = []
  /// When the pair last exchanged a message.
  public private(set) var lastActivity: WallInstant?
  /// How long the pair may stay idle before Twilio forgets its cookies.
  public let idleLifetime: Duration

  /// An empty jar.
  public init(idleLifetime: Duration = .seconds(4 * 3600)) {
    self.idleLifetime = idleLifetime
  }

  /// Drops what has expired by `now`: everything if the pair has been idle for the idle lifetime.
  public mutating func expire(now: WallInstant) {
    if let lastActivity, now >= lastActivity.advanced(by: idleLifetime) {
      cookies.removeAll()
      self.lastActivity = nil
    }
    cookies.removeAll { cookie in cookie.expires.map { now >= $0 } ?? false }
  }

  /// Records a message of the pair at `now` (the idle clock restarts).
  public mutating func touch(now: WallInstant) {
    expire(now: now)
    lastActivity = now
  }

  /// The `Cookie` header for a request to `url` at `now`, or nil when no cookie applies.
  public mutating func header(for url: URL, now: WallInstant) -> String? {
    expire(now: now)
    let path = url.path.isEmpty ? "/" : url.path
    let secureChannel = url.scheme == "https" || Self.isLoopback(url.host)
    let matching = cookies.filter { cookie in
      (!cookie.secure || secureChannel) && Self.pathMatches(path, cookie.path)
    }
    // Longer paths first, as RFC 6265 orders them.
    let ordered = matching.sorted { $0.path.count > $1.path.count }
    guard !ordered.isEmpty else { return nil }
    return ordered.map { "\($0.name)=\($0.value)" }.joined(separator: "; ")
  }

  /// Stores the `Set-Cookie` fields of a response to `url`, received at `now`.
  ///
  /// - Throws: ``TwilioError`` 11206 when a field has an empty name or a control character, as
  ///   Twilio refuses such a response.
  public mutating func store(setCookie fields: [String], from url: URL, now: WallInstant)
    throws(TwilioError)
  {
    for field in fields {
      guard !field.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
        throw TwilioError(.httpProtocolViolation, "Set-Cookie carries a control character")
      }
      let parts = field.split(separator: ";", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard let first = parts.first, let equals = first.firstIndex(of: "=") else {
        throw TwilioError(.httpProtocolViolation, "Set-Cookie without name=value")
      }
      let name = String(first[..<equals]).trimmingCharacters(in: .whitespaces)
      let value = String(first[first.index(after: equals)...])
      guard !name.isEmpty else {
        throw TwilioError(.httpProtocolViolation, "Set-Cookie with an empty name")
      }
      var path = Self.defaultPath(url)
      var maxAge: Int?
      var expires: Date?
      var secure = false
      for attribute in parts.dropFirst() {
        let pair = attribute.split(separator: "=", maxSplits: 1).map {
          $0.trimmingCharacters(in: .whitespaces)
        }
        switch pair[0].lowercased() {
        case "max-age" where pair.count == 2: maxAge = Int(pair[1])
        case "expires" where pair.count == 2: expires = Self.parseHTTPDate(pair[1])
        case "path" where pair.count == 2 && pair[1].hasPrefix("/"): path = pair[1]
        case "secure": secure = true
        default: break
        }
      }
      var end: WallInstant?
      if let maxAge {
        end = now.advanced(by: .seconds(max(0, maxAge)))
      } else if let expires {
        end = WallInstant(expires)
      }
      cookies.removeAll { $0.name == name && $0.path == path }
      if let end, end <= now { continue }  // Max-Age=0 or a past date deletes it.
      cookies.append(
        Cookie(name: name, value: value, path: path, expires: end, secure: secure))
    }
  }

  static func pathMatches(_ requestPath: String, _ cookiePath: String) -> Bool {
    if requestPath == cookiePath { return true }
    guard requestPath.hasPrefix(cookiePath) else { return false }
    return cookiePath.hasSuffix("/") || requestPath.dropFirst(cookiePath.count).first == "/"
  }

  static func defaultPath(_ url: URL) -> String {
    let path = url.path
    guard path.hasPrefix("/"), let slash = path.lastIndex(of: "/"), slash != path.startIndex
    else { return "/" }
    return String(path[..<slash])
  }

  static func isLoopback(_ host: String?) -> Bool {
    guard let host else { return false }
    return host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
  }

  /// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form RFC 6265 servers send.
  static func parseHTTPDate(_ text: String) -> Date? {
    let months = [
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    let fields = text.replacingOccurrences(of: "-", with: " ").split(separator: " ")
    guard fields.count >= 5 else { return nil }
    guard let day = Int(fields[1]), let month = months.firstIndex(of: fields[2].lowercased()),
      var year = Int(fields[3])
    else { return nil }
    if year < 100 { year += year < 70 ? 2000 : 1900 }
    let time = fields[4].split(separator: ":").compactMap { Int($0) }
    guard time.count == 3 else { return nil }
    var components = DateComponents()
    components.timeZone = TimeZone(identifier: "GMT")
    components.year = year
    components.month = month + 1
    components.day = day
    components.hour = time[0]
    components.minute = time[1]
    components.second = time[2]
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "GMT")!
    return calendar.date(from: components)
  }
}
