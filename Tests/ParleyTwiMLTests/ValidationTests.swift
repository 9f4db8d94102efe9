import ParleyTwiML
import Testing

struct ValidationTests {
  @Test func aGoodDocumentHasNoProblems() {
    let response = MessagingResponse([
      .message(Message("Hi", media: ["https://x.test/a.png"], action: "/next", method: .post))
    ])
    #expect(response.validate().isEmpty)
  }

  @Test func bodyOver1600Characters() {
    #expect(MessagingResponse.message(String(repeating: "a", count: 1600)).validate().isEmpty)
    #expect(
      MessagingResponse.message(String(repeating: "a", count: 1601)).validate() == [
        .bodyTooLong(verb: 0, length: 1601)
      ])
  }

  @Test func moreThanTenMedia() {
    let media = (0..<11).map { "https://x.test/\($0).png" }
    #expect(
      MessagingResponse([.message(Message("x", media: media))]).validate() == [
        .tooManyMedia(verb: 0, count: 11)
      ])
    #expect(
      MessagingResponse([.message(Message("x", media: Array(media.prefix(10))))]).validate().isEmpty
    )
  }

  @Test func verbsAfterAnActionAreUnreachable() {
    let response = MessagingResponse([
      .message(Message("one")),
      .message(Message("two", action: "/next")),
      .message(Message("three")),
      .redirect(Redirect("/elsewhere")),
    ])
    #expect(response.validate() == [.unreachableVerbs(afterVerb: 1, count: 2)])
  }

  @Test func methodOtherThanGetOrPost() {
    let response = MessagingResponse([
      .message(Message("x", method: "PUT")), .redirect(Redirect("/r", method: "delete")),
    ])
    #expect(
      response.validate() == [
        .invalidMethod(verb: 0, method: "PUT"), .invalidMethod(verb: 1, method: "delete"),
      ])
  }

  @Test func emptyMessage() {
    #expect(MessagingResponse([.message(Message())]).validate() == [.emptyMessage(verb: 0)])
  }

  @Test func documentOver64KB() {
    let verbs = (0..<60).map { _ in
      MessagingVerb.message(Message(String(repeating: "b", count: 1200)))
    }
    let problems = MessagingResponse(verbs).validate()
    #expect(problems.contains { if case .documentTooLarge = $0 { true } else { false } })
  }

  @Test func smsTextMustBeUnder160Characters() {
    #expect(VoiceResponse([.sms(Sms(String(repeating: "a", count: 159)))]).validate().isEmpty)
    #expect(
      VoiceResponse([.say(Say("hi")), .sms(Sms(String(repeating: "a", count: 160)))]).validate()
        == [
          .smsTextTooLong(verb: 1, length: 160)
        ])
  }

  @Test func smsWithActionMakesLaterVerbsUnreachable() {
    let response = VoiceResponse([
      .sms(Sms("a", action: "/smsHandler.php", method: "PATCH")), .say(Say("never")),
    ])
    #expect(
      response.validate() == [
        .invalidMethod(verb: 0, method: "PATCH"), .unreachableVerbs(afterVerb: 0, count: 1),
      ])
  }
}
