import Foundation
import HTTPTypes
import Logging
import Parley
import ParleySQLite
import ParleyTesting
import Synchronization

/// The stores every session test runs on.
enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
  case memory
  case sqlite

  var description: String { rawValue }

  func make(durability: SQLiteDurability = .full) throws -> any ConversationStore {
    switch self {
    case .memory: MemoryConversationStore()
    case .sqlite:
      try SQLiteConversationStore(
        path: TemporaryDirectory.file("parley.sqlite"), durability: durability)
    }
  }
}

/// The cookie-counter bot's state.
struct Counter: SessionState, Equatable {
  var count = 0
}

let secrets = try! SessionSecrets("0123456789abcdef0123456789abcdef-test-secret")

/// A counter app on `store`, returning the client and what was logged.
func counterApp(
  store: any ConversationStore, clock: ManualClock, secrets: SessionSecrets = secrets,
  keyStrategy: ConversationKey.Strategy = .fromTo, logger: Logger = Logger(label: "test")
) -> ParleyTestClient {
  let app = ParleyApplication(
    logger: logger,
    middleware: [
      ConversationMiddleware(
        store: store, clock: clock, configuration: .init(keyStrategy: keyStrategy)),
      SessionMiddleware(Counter.self, secrets: secrets),
    ]
  ) { turn in
    let session = try turn.session(Counter.self)
    if turn.message.body == "reset" {
      session.destroy()
      return .message("Forgotten.")
    }
    if turn.message.body == "peek" {
      return .message("Count is \(session.state.count)")
    }
    if turn.message.body == "fail" {
      session.state.count += 100
      throw TestFailure()
    }
    session.state.count += 1
    return .message("Hello, thanks for message number \(session.state.count)")
  }
  return ParleyTestClient(application: app)
}

struct TestFailure: Error {}

extension TestResponse {
  /// The `Set-Cookie` header's cookie value, if one was set.
  var cookieValue: String? {
    guard let field = headerFields[.setCookie] else { return nil }
    let pair = field.split(separator: ";").first ?? ""
    guard let equals = pair.firstIndex(of: "=") else { return nil }
    return String(pair[pair.index(after: equals)...])
  }

  /// A `Cookie` header sending back what this response set.
  var cookieHeader: HTTPFields {
    guard let field = headerFields[.setCookie], let pair = field.split(separator: ";").first else {
      return [:]
    }
    return [.cookie: String(pair)]
  }
}
