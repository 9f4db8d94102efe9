import SampleServers

/// `swift run Echo`: see `EchoServer` in SampleServers (also `parley serve echo`).
@main
enum EchoMain {
  static func main() async {
    await EchoServer.main()
  }
}
