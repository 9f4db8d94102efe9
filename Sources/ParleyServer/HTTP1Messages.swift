package import HTTPTypes
package import NIOCore
package import NIOHTTP1
import NIOHTTPTypesHTTP1
package import Parley

// HTTP/1 messages to and from swift-http-types' and Parley's types: the request head the parser
// gives, the server's own refusals, and a response framed as bytes.

extension HTTPRequest {
  /// The head in swift-http-types' terms, as `HTTPRequest(_:secure:splitCookie:)` gives it.
  ///
  /// A target in origin form (`/sms?x=1`, what every client but a proxy sends) is the path as it
  /// stands, which that initializer also returns after parsing it with `URLComponents`: the parse
  /// is skipped here. Any other form goes through the initializer.
  package init(serverHead head: HTTPRequestHead) throws {
    guard head.uri.utf8.first == UInt8(ascii: "/") else {
      try self.init(head, secure: false, splitCookie: false)
      return
    }
    self.init(
      method: try HTTPRequest.Method(head.method), scheme: "http",
      authority: head.headers["Host"].first, path: head.uri,
      headerFields: HTTPFields(head.headers, splitCookie: false))
  }
}

extension WebhookResponse {
  /// A refusal the server answers by itself: a status and a one-line reason in plain text.
  static func refusal(_ status: HTTPResponse.Status, _ reason: String) -> WebhookResponse {
    WebhookResponse(status: status, contentType: "text/plain; charset=utf-8", body: reason + "\n")
  }

  /// The response as HTTP/1.1 bytes, framed by the server.
  ///
  /// The server sets `Content-Length` (the app's own `Content-Length` and `Transfer-Encoding` are
  /// left out) and, when the connection ends with this response, `Connection: close`. As NIO's
  /// encoder does, a response that cannot have a body (1xx, 204, 304, or an answer to `CONNECT`)
  /// is written without a body or its framing, and an answer to `HEAD` gives the length its body
  /// would have without the body. The fields' values need no check: swift-http-types replaces a
  /// CR, LF or NUL in a value with a space, and a name must be a token to be built.
  package func encoded(
    keepAlive: Bool, requestMethod: HTTPRequest.Method?, allocator: ByteBufferAllocator
  ) -> ByteBuffer {
    let status = head.status
    let mayHaveBody =
      status.code >= 200 && status.code != 204 && status.code != 304
      && requestMethod != .connect
    let sendsBody = mayHaveBody && requestMethod != .head
    let fields = head.headerFields

    var capacity = 64 + status.reasonPhrase.utf8.count + (sendsBody ? body.count : 0)
    for field in fields {
      capacity += field.name.rawName.utf8.count + 4
      capacity += field.withUnsafeBytesOfValue { $0.count }
    }
    var buffer = allocator.buffer(capacity: capacity)
    buffer.writeStaticString("HTTP/1.1 ")
    buffer.writeString(String(status.code))
    buffer.writeInteger(UInt8(ascii: " "))
    buffer.writeString(status.reasonPhrase)
    buffer.writeStaticString("\r\n")
    for field in fields {
      let name = field.name
      if name == .contentLength || name == .transferEncoding { continue }
      if !keepAlive, name == .connection { continue }
      buffer.writeString(name.rawName)
      buffer.writeStaticString(": ")
      field.withUnsafeBytesOfValue { _ = buffer.writeBytes($0) }
      buffer.writeStaticString("\r\n")
    }
    if mayHaveBody {
      buffer.writeStaticString("Content-Length: ")
      buffer.writeString(String(body.count))
      buffer.writeStaticString("\r\n")
    }
    if !keepAlive {
      buffer.writeStaticString("Connection: close\r\n")
    }
    buffer.writeStaticString("\r\n")
    if sendsBody {
      buffer.writeBytes(body)
    }
    return buffer
  }
}
