import SampleServers

/// `swift run Compliance`: see `ComplianceServer` in SampleServers (also `parley serve compliance`).
@main
enum ComplianceMain {
  static func main() async {
    await ComplianceServer.main()
  }
}
