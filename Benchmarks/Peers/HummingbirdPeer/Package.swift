// swift-tools-version:6.2
// A peer row of Parley's benchmark: Hummingbird, the Swift server framework most like Parley's
// own HTTP core (SwiftNIO with Swift concurrency), answering the same webhooks with a fixed TwiML
// body and nothing else. A package of its own, so that Parley and its tests never build it:
// `bash Benchmarks/run.sh --rows ...,hummingbird` builds it when the row is asked for.
import PackageDescription

let package = Package(
  name: "HummingbirdPeer",
  platforms: [.macOS(.v14)],
  dependencies: [
    .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1")
  ],
  targets: [
    .executableTarget(
      name: "HummingbirdPeer",
      dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
      swiftSettings: [.swiftLanguageMode(.v6)])
  ]
)
