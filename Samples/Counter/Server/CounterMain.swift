import SampleServers

/// `swift run Counter`: see `CounterServer` in SampleServers (also `parley serve counter`).
@main
enum CounterMain {
  static func main() async {
    await CounterServer.main()
  }
}
