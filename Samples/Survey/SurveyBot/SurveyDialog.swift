public import Parley

/// What the survey asks.
public struct SurveyAnswers: DialogAnswers, Equatable {
  public var name: String?
  public var age: Int?
  public var student: Bool?
  public var colour: String?
  public var email: String?

  public init() {}
}

/// The survey: several questions, validation with retries, a branch on the age, a menu.
public struct SurveyDialog: Dialog {
  public typealias Answers = SurveyAnswers

  public init() {}

  public var body: DialogSteps<SurveyAnswers> {
    "Hi! This is the Parley survey: 4 quick questions. Reply STOP to opt out, BACK to go back."
    Ask("What's your first name?", into: \.name, as: .text)
    Ask("Thanks, \(\.name)! How old are you?", into: \.age, as: .integer(in: 1...120)) {
      "Let's skip that one."
    }
    If("18 or over", { ($0.age ?? 0) >= 18 }) {
      Ask("Are you a student? (yes/no)", into: \.student, as: .yesNo)
    } else: {
      "Thanks, we'll keep it short."
    }
    Choose("Which colour do you like best?", into: \.colour, options: ["Red", "Green", "Blue"])
    Ask("Last one: your email, for the results?", into: \.email, as: .email)
    End("Thanks, \(\.name)! Your answers are saved.")
  }
}
