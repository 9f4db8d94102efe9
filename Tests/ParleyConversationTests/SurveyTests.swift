import Foundation
import Logging
import Parley
import ParleySQLite
import ParleyTesting
import SurveyBot
import Testing

/// The survey sample, driven end to end through the in-process client by golden transcripts.
@Suite(.timeLimit(.minutes(2)))
struct SurveyTranscriptTests {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Transcripts")

  static let transcripts: [String] = {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return files.filter { $0.hasSuffix(".txt") }.sorted()
  }()

  /// A survey app on a fresh SQLite file; `make` builds it again on the same file.
  static func survey(clock: ManualClock, path: String) throws -> ParleyTestClient {
    let database = try SQLiteDatabase(path: path)
    return ParleyTestClient(
      application: SurveyBot.application(
        store: SQLiteConversationStore(database: database), signature: .disabled(reason: "test"),
        secrets: secrets, responses: try SurveyResponses(database: database), clock: clock,
        logger: Logger(label: "survey")))
  }

  @Test func everyRequiredTranscriptIsThere() {
    #expect(
      Set(Self.transcripts).isSuperset(of: [
        "happy-path.txt", "invalid-input.txt", "branch-under-18.txt", "global-commands.txt",
        "stop-mid-survey.txt", "expiry.txt", "restart.txt",
      ]))
  }

  @Test(arguments: transcripts)
  func transcript(_ name: String) async throws {
    let text = try String(contentsOf: Self.directory.appendingPathComponent(name), encoding: .utf8)
    let clock = ManualClock()
    let path = TemporaryDirectory.file("survey.sqlite")
    try await Transcript(text).play(clock: clock) { try Self.survey(clock: clock, path: path) }
  }

  @Test func completedSurveysAreSavedAndExportedAsCSV() async throws {
    let clock = ManualClock()
    let path = TemporaryDirectory.file("survey.sqlite")
    let text = try String(
      contentsOf: Self.directory.appendingPathComponent("happy-path.txt"), encoding: .utf8)
    try await Transcript(text).play(clock: clock) { try Self.survey(clock: clock, path: path) }
    let csv = try await SurveyResponses(database: try SQLiteDatabase(path: path)).csv()
    #expect(
      csv == "respondent,completed_at,name,age,student,colour,email\r\n"
        + "+16175550123,2027-01-15T08:00:00Z,Ada,36,1,Green,ada@example.com\r\n")
  }
}
