extension ParleyServer {
  /// Where the server listens and the limits it holds every client to.
  public struct Configuration: Sendable {
    /// The address to bind, such as `127.0.0.1` or `0.0.0.0`.
    public var host: String
    /// The port; `0` picks a free one (see `onServerRunning`).
    public var port: Int
    /// The largest total size of a request's header names and values, in bytes. Larger → 431.
    public var maximumHeaderListSize: Int
    /// The most header fields in one request. More → 431.
    public var maximumHeaderCount: Int
    /// The time a client has to send one whole request, from its first byte. Late → 408, closed.
    public var requestTimeout: Duration
    /// How long a keep-alive connection may wait for its next request before it is closed.
    public var idleTimeout: Duration
    /// The listen backlog.
    public var backlog: Int32

    /// Creates a configuration; the defaults suit a webhook endpoint behind Twilio.
    public init(
      host: String = "127.0.0.1",
      port: Int = 8080,
      maximumHeaderListSize: Int = 16 * 1024,
      maximumHeaderCount: Int = 100,
      requestTimeout: Duration = .seconds(10),
      idleTimeout: Duration = .seconds(60),
      backlog: Int32 = 256
    ) {
      self.host = host
      self.port = port
      self.maximumHeaderListSize = maximumHeaderListSize
      self.maximumHeaderCount = maximumHeaderCount
      self.requestTimeout = requestTimeout
      self.idleTimeout = idleTimeout
      self.backlog = backlog
    }
  }
}
