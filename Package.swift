// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
  name: "Parley",
  platforms: [.macOS(.v15)],
  products: [
    .library(name: "ParleyTwiML", targets: ["ParleyTwiML"]),
    .library(name: "Parley", targets: ["Parley"]),
    .library(name: "ParleyServer", targets: ["ParleyServer"]),
    .library(name: "ParleySQLite", targets: ["ParleySQLite"]),
    .library(name: "ParleyPostgres", targets: ["ParleyPostgres"]),
    .library(name: "ParleyTesting", targets: ["ParleyTesting"]),
    .library(name: "ParleyFuzzing", targets: ["ParleyFuzzing"]),
    .executable(name: "Echo", targets: ["Echo"]),
    .executable(name: "Counter", targets: ["Counter"]),
    .executable(name: "Survey", targets: ["Survey"]),
    .executable(name: "Chatbot", targets: ["Chatbot"]),
    .executable(name: "Compliance", targets: ["Compliance"]),
    .executable(name: "parley", targets: ["ParleyCommand"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
    .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
  ],
  targets: [
    .target(
      name: "ParleyTwiML",
      swiftSettings: strict
    ),
    .target(
      name: "Parley",
      dependencies: [
        "ParleyTwiML",
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "ParleySQLite",
      dependencies: [
        "Parley",
        .product(name: "GRDB", package: "GRDB.swift"),
        // SQLite's C interface, for the hot path's reads (SQLiteRows.swift).
        .product(name: "GRDBSQLite", package: "GRDB.swift"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "ParleyServer",
      dependencies: [
        "Parley",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "ParleyTesting",
      dependencies: [
        "Parley",
        "ParleyTwiML",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "ParleyPostgres",
      dependencies: [
        "Parley",
        .product(name: "PostgresNIO", package: "postgres-nio"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "ParleyFuzzing",
      dependencies: [
        "Parley", "ParleyTwiML", "ParleyServer",
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    .target(
      name: "SampleSupport",
      dependencies: [
        "Parley",
        "ParleyServer",
        "ParleySQLite",
        "ParleyPostgres",
        .product(name: "PostgresNIO", package: "postgres-nio"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Samples/Support",
      swiftSettings: strict
    ),
    .target(
      name: "CounterBot",
      dependencies: ["Parley", .product(name: "Logging", package: "swift-log")],
      path: "Samples/Counter/CounterBot",
      swiftSettings: strict
    ),
    .target(
      name: "SurveyBot",
      dependencies: [
        "Parley", "ParleySQLite",
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Samples/Survey/SurveyBot",
      swiftSettings: strict
    ),
    .target(
      name: "EchoBot",
      dependencies: ["Parley", "ParleyTwiML", .product(name: "Logging", package: "swift-log")],
      path: "Samples/Echo/EchoBot",
      swiftSettings: strict
    ),
    .target(
      name: "ChatbotBot",
      dependencies: ["Parley", "ParleyTwiML", .product(name: "Logging", package: "swift-log")],
      path: "Samples/Chatbot/ChatbotBot",
      swiftSettings: strict
    ),
    .target(
      name: "ComplianceStore",
      dependencies: [
        "Parley", "ParleyTwiML",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Samples/Compliance/ComplianceStore",
      swiftSettings: strict
    ),
    // Every sample's command line, so `parley serve` runs the same code as each sample's executable.
    .target(
      name: "SampleServers",
      dependencies: [
        "EchoBot", "CounterBot", "SurveyBot", "ChatbotBot", "ComplianceStore",
        "Parley", "ParleySQLite", "ParleyServer", "SampleSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Samples/Servers",
      swiftSettings: strict
    ),
    .executableTarget(
      name: "Echo", dependencies: ["SampleServers"], path: "Samples/Echo/Server",
      swiftSettings: strict),
    .executableTarget(
      name: "Counter", dependencies: ["SampleServers"],
      path: "Samples/Counter/Server",
      swiftSettings: strict),
    .executableTarget(
      name: "Survey", dependencies: ["SampleServers"],
      path: "Samples/Survey/Server",
      swiftSettings: strict),
    .executableTarget(
      name: "Chatbot", dependencies: ["SampleServers"],
      path: "Samples/Chatbot/Server",
      swiftSettings: strict),
    .executableTarget(
      name: "Compliance", dependencies: ["SampleServers"],
      path: "Samples/Compliance/Server",
      swiftSettings: strict),
    .executableTarget(
      name: "ParleyCommand",
      dependencies: [
        "Parley", "ParleyTwiML", "ParleyTesting", "ParleySQLite", "ParleyPostgres",
        "SampleSupport", "SampleServers", "SurveyBot",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Tools/parley",
      swiftSettings: strict
    ),
    // `bash Benchmarks/run.sh`: the benchmark servers, the request generator and the runner.
    .executableTarget(
      name: "ParleyBench",
      dependencies: [
        "Parley", "ParleyServer", "ParleySQLite", "ParleyTesting", "SurveyBot", "SampleSupport",
        "BenchMalloc", "ParleyTestSupport",
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
      ],
      path: "Benchmarks/ParleyBench",
      swiftSettings: strict
    ),
    // The soak's reading of the server's C allocator (glibc's `mallinfo2`, which Swift's Glibc
    // module does not export).
    .target(name: "BenchMalloc", path: "Benchmarks/BenchMalloc"),
    .target(
      name: "ParleyTestSupport",
      dependencies: [
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
      ],
      path: "Tests/Support",
      swiftSettings: strict
    ),
    .testTarget(
      name: "ParleyTwiMLTests",
      dependencies: ["ParleyTwiML"],
      resources: [.copy("Fixtures")],
      swiftSettings: strict
    ),
    .testTarget(
      name: "ParleyTests",
      dependencies: [
        "Parley", "ParleyTwiML", "ParleyTesting", "EchoBot",
        // swift-crypto's own `HMAC`, which `KeyedHMACTests` checks Parley's against.
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      resources: [.copy("Fixtures")],
      swiftSettings: strict
    ),
    .testTarget(
      name: "ParleyPostgresTests",
      dependencies: [
        "Parley", "ParleyPostgres", "ParleyTesting", "ParleyTestSupport", "ParleyTwiML",
        .product(name: "PostgresNIO", package: "postgres-nio"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict
    ),
    .testTarget(
      name: "ParleyFuzzingTests",
      dependencies: ["ParleyFuzzing"],
      swiftSettings: strict
    ),
    .testTarget(
      name: "ParleyConversationTests",
      dependencies: [
        "Parley", "ParleySQLite", "ParleyTesting", "ParleyFuzzing", "SurveyBot",
        .product(name: "GRDB", package: "GRDB.swift"),
        // `sqlite3_stmt_status`, to see that the turn's statements are compiled once.
        .product(name: "GRDBSQLite", package: "GRDB.swift"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      exclude: ["Transcripts", "Golden"],
      swiftSettings: strict
    ),
    .testTarget(
      name: "ParleyServerTests",
      dependencies: [
        "ParleyServer", "Parley", "ParleyTesting", "ParleyTwiML", "EchoBot", "CounterBot",
        "ParleySQLite", "ParleyTestSupport",
        .product(name: "HTTPTypes", package: "swift-http-types"),
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: strict
    ),
  ],
  swiftLanguageModes: [.v6]
)
