import Foundation
import NIOCore
import NIOPosix
import Parley
import ParleyTestSupport
import ParleyTesting
import ParleyTwiML
import Synchronization
import Testing

/// The resident memory of a process, in KiB, from /proc.
func residentKiB(_ pid: Int32) -> Int {
  guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
    let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
  else { return 0 }
  return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
}

final class SlowStats: Sendable {
  private let values = Mutex<(timedOut: Int, closedEarly: Int, closeTimes: [Double])>((0, 0, []))
  func record(got408: Bool, after seconds: Double) {
    values.withLock {
      if got408 { $0.timedOut += 1 } else { $0.closedEarly += 1 }
      $0.closeTimes.append(seconds)
    }
  }
  var snapshot: (timedOut: Int, closedEarly: Int, closeTimes: [Double]) { values.withLock { $0 } }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct SlowClientTests {
  /// 300 connections dribbling a byte every half second hold on; real requests still pass, the
  /// slow ones are cut off with 408 at the deadline, and memory stays bounded.
  @Test func threeHundredSlowClientsDoNotStopLegitimateTraffic() async throws {
    let server = try SampleProcess(
      "Echo",
      arguments: [
        "--database", TemporaryDirectory.file("slow.sqlite"), "--request-timeout",
        "3",
      ])
    try server.waitUntilListening()
    let port = server.port
    let pid = server.process.processIdentifier
    let rssBefore = residentKiB(pid)
    let stats = SlowStats()
    let slowCount = 300
    let clock = ContinuousClock()

    let (legitimateOK, peakRSS) = try await withThrowingTaskGroup(of: (Int, Int)?.self) { group in
      for _ in 0..<slowCount {
        group.addTask {
          let started = Started()
          let got408 =
            (try? await RawConnection.open(port: port) { connection in
              try await connection.send("POST /sms HTTP/1.1\r\nHost: x\r\n")
              // The deadline runs from the request's first byte.
              started.mark(clock.now)
              let header = Array("Content-Type: application/x-www-form-urlencoded\r\n".utf8)
              var index = 0
              // Dribble until the server gives up on us (or 10 s, which would be a failure).
              while clock.now - (started.instant ?? clock.now) < .seconds(10) {
                do {
                  try await connection.send([header[index % header.count]])
                } catch {
                  break
                }
                index += 1
                try await Task.sleep(for: .milliseconds(500))
                if index >= 4 { break }
              }
              let reply = try await connection.readResponse()
              return reply?.status == 408
            }) ?? false
          stats.record(
            got408: got408, after: (clock.now - (started.instant ?? clock.now)).timeInterval)
          return nil
        }
      }
      // Meanwhile, real webhooks on fresh connections, one after another.
      group.addTask {
        try await Task.sleep(for: .milliseconds(500))
        var ok = 0
        var peak = 0
        for index in 0..<60 {
          let form =
            "From=%2B1617555\(1000 + index)&To=%2B14155550199&Body=real+\(index)&MessageSid=SMreal\(index)"
          let reply = try await RawConnection.open(port: port) { connection in
            try await connection.send(webhookRequest(body: form))
            return try await connection.readResponse()
          }
          if reply?.status == 200, reply?.body.contains("You said: real \(index)") == true {
            ok += 1
          }
          peak = max(peak, residentKiB(pid))
          try await Task.sleep(for: .milliseconds(20))
        }
        return (ok, peak)
      }
      var result = (0, 0)
      for try await value in group { if let value { result = value } }
      return result
    }
    let rssAfter = residentKiB(pid)
    let snapshot = stats.snapshot
    #expect(legitimateOK == 60)
    #expect(
      snapshot.timedOut == slowCount,
      "\(snapshot.closedEarly) slow connections were not answered 408")
    let times = snapshot.closeTimes.sorted()
    #expect((times.first ?? 0) >= 2.9)
    // Generous: other suites load the machine too; without the deadline they would wait forever.
    #expect((times.last ?? 99) < 8.5)
    #expect(peakRSS < rssBefore + 64 * 1024, "memory grew from \(rssBefore) KiB to \(peakRSS) KiB")
    print(
      "slow clients: \(slowCount) held, \(snapshot.timedOut) cut off with 408 after \(String(format: "%.2f", times.first ?? 0))–\(String(format: "%.2f", times.last ?? 0)) s; legitimate \(legitimateOK)/60 ok; RSS \(rssBefore) KiB before, \(peakRSS) KiB peak, \(rssAfter) KiB after"
    )
    server.kill(signal: SIGTERM)
  }
}

/// When a slow connection sent its first byte.
final class Started: Sendable {
  private let value = Mutex<ContinuousClock.Instant?>(nil)
  func mark(_ instant: ContinuousClock.Instant) { value.withLock { $0 = instant } }
  var instant: ContinuousClock.Instant? { value.withLock { $0 } }
}
