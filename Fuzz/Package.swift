// swift-tools-version: 6.1
// libFuzzer targets for Parley. Built and run by Scripts/fuzz.sh, which passes
// -sanitize=fuzzer,address to every module so that the library code is instrumented too.
import PackageDescription

let targets = ["form", "cookie", "twiml", "http", "json"]

let package = Package(
  name: "ParleyFuzz",
  products: targets.map { .executable(name: "fuzz-\($0)", targets: ["fuzz-\($0)"]) },
  dependencies: [.package(name: "Parley", path: "..")],
  targets: [.target(name: "FuzzDriver")]
    + targets.map { name in
      .executableTarget(
        name: "fuzz-\(name)",
        dependencies: ["FuzzDriver", .product(name: "ParleyFuzzing", package: "Parley")],
        path: "Sources/\(name)",
        swiftSettings: [.unsafeFlags(["-parse-as-library"])]
      )
    },
  swiftLanguageModes: [.v6]
)
