import SampleServers

/// `swift run Survey`: see `SurveyCommand` in SampleServers (also `parley serve survey`).
@main
enum SurveyMain {
  static func main() async {
    await SurveyCommand.main()
  }
}
