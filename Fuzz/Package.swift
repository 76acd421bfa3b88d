// swift-tools-version:6.0
import PackageDescription

// libFuzzer harnesses for hadeck's parsers, apart from the main package so that `swift build` and
// `swift test` there are untouched. Build and run them with `Benchmarks/fuzz.sh`, which passes
// `-sanitize=fuzzer,address` and `-enable-testing` (the HTTP/1 parser and the runtime API are internal
// to LiveEngine and reached through `@testable import`).
let package = Package(
    name: "hadeck-fuzz",
    dependencies: [
        // Named, because a path dependency is otherwise known by its directory name (a worktree, a clone).
        .package(name: "hadeck", path: ".."),
        .package(url: "https://github.com/apple/swift-nio", from: "2.70.0"),
    ],
    targets: [
        .executableTarget(
            name: "hadeck-fuzz",
            dependencies: [
                .product(name: "HadeckFuzzTargets", package: "hadeck"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
