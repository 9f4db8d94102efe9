public import Logging
public import Parley

/// The survey as a Parley app: the standard pipeline (signatures, idempotency, opt-out,
/// sessions) running ``SurveyDialog``, saving each completed survey.
public enum SurveyBot {
  /// The bot on `store`, saving completed surveys to `responses`.
  public static func application(
    store: any ConversationStore, signature: SignaturePolicy, secrets: SessionSecrets,
    responses: SurveyResponses, clock: any WallClock = SystemWallClock(), logger: Logger
  ) -> ParleyApplication {
    let survey = DialogRunner(SurveyDialog()) { answers, turn in
      try await responses.save(answers, respondent: turn.message.from, at: clock.now.date)
    }
    for issue in survey.engine.lint() {
      logger.warning("survey dialog lint", metadata: ["parley.issue": "\(issue)"])
    }
    return .conversational(
      store: store, signature: signature, secrets: secrets,
      state: DialogSession<SurveyAnswers>.self,
      optOut: .enabled(OptOutConfiguration(helpText: "Parley survey. Reply STOP to opt out.")),
      clock: clock, logger: logger, handler: survey.respond)
  }
}
