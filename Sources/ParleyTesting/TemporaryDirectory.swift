import Foundation

/// Scratch files for tests: databases that must be real files, removed when the test process
/// exits.
///
/// Every path is in a folder of its own, so tests never share a file, and every folder is inside
/// one folder per process (`parley-tests-PID-…` in the system's temporary directory), which is
/// removed at exit. A process that crashes leaves its folder behind.
///
/// ```swift
/// let store = try SQLiteConversationStore(path: TemporaryDirectory.file("parley.sqlite"))
/// ```
public enum TemporaryDirectory {
  /// The folder that holds this process's scratch folders; made on first use.
  private static let root: URL = {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent(
      "parley-tests-\(getpid())-\(UUID().uuidString)")
    // The folder is made before the hook is set, so the hook never races its creation.
    try! FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(at: TemporaryDirectory.root) }
    return root
  }()

  /// The path of a file named `name` (not created) in a new, empty folder.
  public static func file(_ name: String) -> String {
    let folder = root.appendingPathComponent(UUID().uuidString)
    try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appendingPathComponent(name).path
  }
}
