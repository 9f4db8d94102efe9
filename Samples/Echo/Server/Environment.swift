#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Environment variables, read only here in the executable.
enum Environment {
  static func string(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
  }

  static func int(_ name: String) -> Int? {
    string(name).flatMap { Int($0) }
  }
}
