import ParleyTwiML
import Testing

struct SegmentCountTests {
  @Test(arguments: [
    (0, 0), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (1530, 10), (1600, 11),
  ])
  func gsm7Lengths(length: Int, segments: Int) {
    let count = SegmentCount(String(repeating: "a", count: length))
    #expect(count.encoding == .gsm7)
    #expect(count.units == length)
    #expect(count.segments == segments)
  }

  @Test(arguments: [(70, 1), (71, 2), (134, 2), (135, 3)])
  func ucs2Lengths(length: Int, segments: Int) {
    let count = SegmentCount("é" + String(repeating: "ж", count: length - 1))
    #expect(count.encoding == .ucs2)
    #expect(count.segments == segments)
  }

  @Test func extensionCharactersTakeTwoSeptets() {
    let count = SegmentCount(String(repeating: "€", count: 80))
    #expect(count.encoding == .gsm7)
    #expect(count.units == 160)
    #expect(count.segments == 1)
    // 81 euro signs = 162 septets: two parts, and no escape pair is split (76 + 5 pairs).
    #expect(SegmentCount(String(repeating: "€", count: 81)).segments == 2)
    // 152 septets then an escape pair: the pair moves to the next part.
    #expect(
      SegmentCount(String(repeating: "a", count: 152) + "{" + String(repeating: "a", count: 10))
        .segments == 2)
  }

  @Test func oneNonGSMCharacterMakesTheWholeMessageUCS2() {
    let text = String(repeating: "a", count: 100) + "’"  // curly apostrophe
    let count = SegmentCount(text)
    #expect(count.encoding == .ucs2)
    #expect(count.segments == 2)
  }

  @Test func emojiCountAsTwoUnitsAndAreNotSplit() {
    let count = SegmentCount(String(repeating: "😀", count: 35))
    #expect(count.units == 70)
    #expect(count.segments == 1)
    // 67 units per part: 33 emoji (66 units) fit, the 34th starts part two.
    #expect(SegmentCount(String(repeating: "😀", count: 36)).segments == 2)
    #expect(SegmentCount(String(repeating: "😀", count: 67)).segments == 3)
  }

  @Test func gsmBasicSetIncludesAccentsAndGreek() {
    #expect(SegmentCount("Ça va? Ñoño ΔΦΓ @£$¥ èéùìò").encoding == .gsm7)
    #expect(SegmentCount("ç").encoding == .ucs2)  // lower-case ç is not in GSM 03.38
  }
}
