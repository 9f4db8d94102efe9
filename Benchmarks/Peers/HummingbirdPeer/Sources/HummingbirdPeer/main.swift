import Hummingbird

// Hummingbird answering every webhook POSTed to /sms with one fixed TwiML body, as the benchmark's
// bare SwiftNIO server does: it reads the request's body (as any webhook endpoint must) and does
// nothing else. No signature check, no form decoding, no store. Its rate is what an app written
// in Swift's best-known NIO-and-concurrency framework starts from before it does any work, on the
// same machine as the other rows.
//
// Usage: HummingbirdPeer [PORT] (8089 by default); it listens on 127.0.0.1.

let twiml =
  #"<?xml version="1.0" encoding="UTF-8"?><Response><Message>Thanks for your message.</Message></Response>"#
let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 8089

let router = Router()
router.post("sms") { request, _ -> Response in
  // Twilio's webhooks are a few hundred bytes; 64 KiB is a generous bound.
  _ = try await request.body.collect(upTo: 64 * 1024)
  return Response(
    status: .ok, headers: [.contentType: "text/xml; charset=utf-8"],
    body: ResponseBody(byteBuffer: ByteBuffer(string: twiml)))
}
let app = Application(
  router: router,
  configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil))
try await app.runService()
