#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Environment variables, read only by the sample executables (never by the libraries).
public enum Environment {
  /// The variable's value, or nil when unset or empty.
  public static func string(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
  }

  /// The variable's value as an integer.
  public static func int(_ name: String) -> Int? {
    string(name).flatMap { Int($0) }
  }
}
