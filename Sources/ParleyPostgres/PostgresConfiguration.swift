import Foundation
public import PostgresNIO

extension PostgresClient.Configuration {
  /// A configuration from a URL: `postgres://user:password@host:5432/database?sslmode=require`
  /// (`sslmode` `disable`, `prefer` — the default — or `require`), or
  /// `postgres:///database?host=/var/run/postgresql&user=parley` for a Unix socket.
  public static func parley(url text: String) throws -> PostgresClient.Configuration {
    guard let components = URLComponents(string: text),
      components.scheme == "postgres" || components.scheme == "postgresql"
    else { throw PostgresConfigurationError("not a postgres:// URL") }
    let query = Dictionary(
      (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
    let user = components.user?.removingPercentEncoding ?? query["user"] ?? "postgres"
    let password = components.password?.removingPercentEncoding ?? query["password"]
    let database = components.path.isEmpty ? nil : String(components.path.dropFirst())
    if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
      let port = components.port ?? Int(query["port"] ?? "") ?? 5432
      return PostgresClient.Configuration(
        unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: user, password: password,
        database: database)
    }
    let tls: PostgresClient.Configuration.TLS
    switch query["sslmode"] ?? "prefer" {
    case "disable": tls = .disable
    case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
    case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
    case let mode: throw PostgresConfigurationError("unknown sslmode \(mode)")
    }
    return PostgresClient.Configuration(
      host: components.host ?? "localhost", port: components.port ?? 5432, username: user,
      password: password,
      database: database, tls: tls)
  }
}

/// A PostgreSQL URL that cannot be used.
public struct PostgresConfigurationError: Error, Sendable, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}
