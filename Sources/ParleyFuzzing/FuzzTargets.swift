import HTTPTypes
import Logging
import NIOCore
import NIOEmbedded
import Parley
import ParleyServer
import ParleyTwiML

/// The code each libFuzzer target runs on one input, checking invariants as well as survival.
///
/// The fuzz executables (`Fuzz/`) call these; `swift test` replays the seed corpus and every kept
/// crashing input through them.
public enum FuzzTargets {
  /// The targets, by name.
  public static let all: [String: @Sendable ([UInt8]) -> Void] = [
    "form": form, "cookie": cookie, "twiml": twiml, "http": http, "json": json,
  ]

  /// Form decoding: whatever decodes re-encodes to the same parameters, and the webhook models
  /// either decode or refuse with a typed error.
  public static func form(_ bytes: [UInt8]) {
    guard let parameters = try? FormParameters(decoding: bytes) else { return }
    let again = try? FormParameters(decoding: parameters.encoded)
    precondition(again == parameters, "form round trip changed the parameters")
    _ = try? InboundMessage(parameters: parameters)
    _ = try? StatusCallback(parameters: parameters)
    let message = try? InboundMessage(parameters: parameters)
    if let message {
      _ = ConversationKey.Strategy.fromTo.key(for: message).redacted
      _ = OptOutKeywords().match(message.body)
      _ = ConsentRevocationDetector().phrase(in: message.body)
    }
  }

  static let secrets = SessionSecrets.random()
  static let key = ConversationKey(rawValue: "+16175550123|+14155550199")
  static let silent = Logger(label: "fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

  struct State: SessionState { var notes: [String] = [] }

  /// Cookie parsing: `Cookie` headers read, signed pointers verified, sealed state opened; a
  /// pointer that verifies must re-sign to the same value.
  public static func cookie(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    var fields = HTTPFields()
    if let field = HTTPField.Name("Cookie").map({ HTTPField(name: $0, value: text) }) {
      fields.append(field)
    }
    let options = SessionCookieOptions()
    for value in options.values(in: fields) + [Substring(text)] {
      if case .success(let pointer) = SignedSessionPointer.verify(value, keys: secrets.signers) {
        precondition(
          pointer.signed(with: secrets.signers[0]) == String(value), "verified a forgery")
      }
      _ = CookieSessionMiddleware(State.self, secrets: secrets).open(
        value, key: key, logger: silent)
    }
  }

  /// Any JSON value, Codable through single-value, keyed and unkeyed containers: what the
  /// `json` target and the stored-JSON tests decode arbitrary bytes into.
  public indirect enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
      let single = try decoder.singleValueContainer()
      if single.decodeNil() {
        self = .null
      } else if let flag = try? single.decode(Bool.self) {
        self = .bool(flag)
      } else if let int = try? single.decode(Int.self) {
        self = .int(int)
      } else if let double = try? single.decode(Double.self) {
        self = .double(double)
      } else if let text = try? single.decode(String.self) {
        self = .string(text)
      } else if let array = try? single.decode([JSONValue].self) {
        self = .array(array)
      } else {
        self = .object(try single.decode([String: JSONValue].self))
      }
    }

    public func encode(to encoder: any Encoder) throws {
      var single = encoder.singleValueContainer()
      switch self {
      case .null: try single.encodeNil()
      case .bool(let flag): try single.encode(flag)
      case .int(let int): try single.encode(int)
      case .double(let double): try single.encode(double)
      case .string(let text): try single.encode(text)
      case .array(let array): try single.encode(array)
      case .object(let object): try single.encode(object)
      }
    }
  }

  /// The JSON coder for what the stores keep (session states, replies' header fields): bytes
  /// either decode or are refused with an error; what decodes encodes to bytes that decode to the
  /// same value and encode the same.
  public static func json(_ bytes: [UInt8]) {
    _ = try? StoredJSON.decode(DialogState.self, from: bytes)
    _ = StoredReply.headerFields(fromJSON: String(decoding: bytes, as: UTF8.self))
    guard let value = try? StoredJSON.decode(JSONValue.self, from: bytes) else { return }
    guard let encoded = try? StoredJSON.encode(value) else {
      preconditionFailure("a decoded value does not encode")
    }
    precondition(
      (try? StoredJSON.decode(JSONValue.self, from: encoded)) == value,
      "encode/decode round trip changed the value")
    precondition(
      (try? StoredJSON.encode(value)) == encoded, "the same value encoded to other bytes")
  }

  /// The TwiML parser: a document that parses renders and parses back to the same tree, and
  /// converting it to TwiML values either works or fails with a typed error.
  public static func twiml(_ bytes: [UInt8]) {
    guard let root = try? TwiMLXMLParser().parse(bytes) else { return }
    let rendered = XMLRenderer.document(root)
    guard let again = try? TwiMLXMLParser().parse(rendered) else {
      preconditionFailure("rendered XML does not parse")
    }
    precondition(again == normalized(root), "render/parse round trip changed the tree")
    if let response = try? MessagingResponse(root: root) {
      _ = response.validate()
      _ = response.messages.map { SegmentCount($0.body ?? "") }
      precondition(
        (try? MessagingResponse(xml: response.xml)) != nil, "rendered TwiML does not parse")
    }
  }

  /// The tree as it reads back after rendering: adjacent text merged, empty text dropped, and
  /// characters XML forbids removed (the renderer drops them).
  static func normalized(_ element: XMLElement) -> XMLElement {
    var copy = element
    copy.attributes = element.attributes.map {
      .init(
        name: $0.name,
        value: String(
          String.UnicodeScalarView($0.value.unicodeScalars.filter(XMLRenderer.isAllowed))))
    }
    var children: [XMLNode] = []
    for child in element.children {
      switch child {
      case .element(let nested):
        children.append(.element(normalized(nested)))
      case .text(let text):
        let kept = String(
          String.UnicodeScalarView(text.unicodeScalars.filter(XMLRenderer.isAllowed)))
        if kept.isEmpty { continue }
        if case .text(let previous)? = children.last {
          children[children.count - 1] = .text(previous + kept)
        } else {
          children.append(.text(kept))
        }
      }
    }
    copy.children = children
    return copy
  }

  static let application = ParleyApplication(handler: { _ in .empty })

  /// The HTTP pipeline: the server's own handlers on an `EmbeddedChannel`, fed the input in up to
  /// three pieces; every complete request is decoded the way the app decodes it.
  public static func http(_ bytes: [UInt8]) {
    let channel = EmbeddedChannel()
    defer { _ = try? channel.finish() }
    do {
      try ParleyServer.configureHTTPPipeline(
        channel.pipeline.syncOperations,
        configuration: .init(maximumHeaderListSize: 4096, maximumHeaderCount: 32),
        maximumBodySize: 64 * 1024)
      try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    } catch {
      preconditionFailure("pipeline setup failed: \(error)")
    }
    let cuts = bytes.count > 8 ? [bytes.count / 3, 2 * bytes.count / 3] : []
    var start = 0
    for end in cuts + [bytes.count] {
      do {
        try channel.writeInbound(ByteBuffer(bytes: bytes[start..<end]))
      } catch {
        break  // a parse error: the handlers answered and closed
      }
      start = end
      while let event = try? channel.readInbound(as: RequestEvent.self) {
        switch event {
        case .expectsContinue:
          break
        case .refused(let response):
          let buffer = response.encoded(
            keepAlive: false, requestMethod: nil, allocator: channel.allocator)
          _ = try? channel.writeOutbound(ResponseBytes(buffer: buffer, isFinal: true))
        case .request(let head, let body, let keepAlive):
          let request = WebhookRequest(head: head, body: body)
          if let parameters = try? application.parameters(of: request) {
            _ = try? InboundMessage(parameters: parameters)
          }
          // Answer each request, as the server does before it reads the next.
          let response = WebhookResponse(status: .ok, contentType: "text/plain", body: "ok")
          let buffer = response.encoded(
            keepAlive: keepAlive, requestMethod: head.method, allocator: channel.allocator)
          _ = try? channel.writeOutbound(ResponseBytes(buffer: buffer, isFinal: true))
        }
      }
    }
    while (try? channel.readOutbound(as: ByteBuffer.self)) != nil {}
  }
}
