// swift-tools-version:6.0
import PackageDescription

#if canImport(Glibc)
    import Glibc
#endif

// Linux only: the live cluster, the lab and the terminal use Glibc, network namespaces, netlink and
// ncurses as Debian ships them. No Apple platform is declared because none is supported.

/// Every target declares what it imports (a member of a module it does not import is an error).
let strictImports: [SwiftSetting] = [.enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "hadeck",
    products: [
        .executable(name: "hadeck", targets: ["hadeck"]),
        // For the libFuzzer harnesses in Fuzz/ (a package of their own, built apart from the tests).
        .library(
            name: "HadeckFuzzTargets",
            targets: [
                "HadeckBase", "BalancerCore", "VRRPCore", "HadeckConfig", "ClusterConfig", "ClusterCore", "Dashboard",
                "LiveEngine",
            ]
        ),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.70.0"),
        // 1.11 brought `LogHandler.log(event:)`, which hadeck proxy's handler implements.
        .package(url: "https://github.com/apple/swift-log", from: "1.11.0"),
    ],
    targets: [
        // Shared vocabulary of the pure core: virtual time, events, diagnostics.
        .target(name: "HadeckBase"),
        // HAProxy 2.6 semantics: health checks, balancing, cookie persistence. Pure.
        .target(
            name: "BalancerCore",
            dependencies: ["HadeckBase"]
        ),
        // keepalived 2.2.7 / VRRP semantics and the advert codec. Pure.
        .target(
            name: "VRRPCore",
            dependencies: ["HadeckBase"]
        ),
        // Parsers for haproxy.cfg and keepalived.conf. Pure, no YAML.
        .target(
            name: "HadeckConfig",
            dependencies: ["HadeckBase", "BalancerCore", "VRRPCore"]
        ),
        // The cluster file (YAML) and the built-in article cluster: which hosts run which configs.
        .target(
            name: "ClusterConfig",
            dependencies: [
                "HadeckBase", "BalancerCore", "VRRPCore", "HadeckConfig", "YAMLDocument",
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The Tomcat-like application and the browser with its cookie jar, as pure models.
        .target(
            name: "WebCore",
            dependencies: ["HadeckBase", "BalancerCore"]
        ),
        // What any cluster source shows and accepts: snapshots, commands. The dashboard sees only this.
        .target(
            name: "ClusterModel",
            dependencies: ["HadeckBase", "BalancerCore", "VRRPCore"]
        ),
        // Hosts, ARP segment, clients, backends, scenarios and the virtual-time simulator. Pure.
        .target(
            name: "ClusterCore",
            dependencies: [
                "HadeckBase", "BalancerCore", "VRRPCore", "HadeckConfig", "ClusterConfig", "ClusterModel", "WebCore",
                .product(name: "Collections", package: "swift-collections"),
            ]
        ),
        // The live data plane: the balancer core, health checks and Tomcat-like backends on SwiftNIO sockets.
        .target(
            name: "LiveEngine",
            dependencies: [
                "HadeckBase", "BalancerCore", "WebCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The embedded cluster for real on loopback: the core driving balancers, apps, VRRP over UDP, the VIP.
        .target(
            name: "LiveCluster",
            dependencies: [
                "ClusterConfig", "WebCore",
                "HadeckBase", "BalancerCore", "VRRPCore", "ClusterModel", "ClusterCore", "LiveEngine",
                .product(name: "Collections", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The attach file (YAML): how to reach a real cluster's haproxy and keepalived from outside.
        .target(
            name: "AttachConfig",
            dependencies: ["HadeckBase", "YAMLDocument", .product(name: "Yams", package: "Yams")]
        ),
        // Reading a YAML document as hadeck's YAML files do: the nesting bounded before Yams, its
        // errors as a line and a sentence.
        .target(name: "YAMLDocument", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Reading and driving real haproxy / keepalived from outside: programs as argument vectors, the
        // runtime API, the notify FIFO and data dump, neighbour tables, network namespaces.
        .target(
            name: "RealCluster",
            dependencies: ["HadeckBase", "AttachConfig", "CLinuxShims"]
        ),
        // What a balancer host needs of Linux beyond SwiftNIO: its interface (index, MAC, carrier,
        // addresses), AF_PACKET frames (gratuitous ARPs) and rtnetlink (adding and removing the VIP).
        .target(
            name: "HostNetwork",
            dependencies: ["HadeckBase", "CLinuxShims"]
        ),
        // `hadeck node`: one balancer host on real interfaces: LiveEngine's balancer and a VRRP shell
        // around VRRPCore's instance speaking VRRPv2 over IP protocol 112 (NIO's raw sockets).
        .target(
            name: "ClusterNode",
            dependencies: [
                "HadeckBase", "BalancerCore", "VRRPCore", "LiveEngine", "HostNetwork",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // setns, pipe2 and posix_spawn's closefrom, which need _GNU_SOURCE (Swift's Glibc module lacks
        // them), AF_PACKET's sockaddr_ll (<linux/if_packet.h>) and malloc's tuning (<malloc.h>).
        .target(
            name: "CLinuxShims",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // `hadeck lab`: the article's cluster from Debian's haproxy and keepalived in network namespaces.
        .target(
            name: "Lab",
            dependencies: ["AttachConfig", "RealCluster"]
        ),
        // `hadeck attach`: a real cluster as a dashboard source, read and driven as its attach file says.
        .target(
            name: "AttachedCluster",
            dependencies: [
                "HadeckBase", "BalancerCore", "ClusterModel", "ClusterCore", "AttachConfig", "RealCluster",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Blocking loopback TCP for the failover probe and tests that play an outside client. Apart from
        // NIO on purpose: with NIO's C modules visible, release builds resolve sockaddr_in's members
        // to CNIOLinux and MemberImportVisibility then refuses them.
        .target(name: "PlainSockets"),
        // `hadeck conform`: a real run and an embedded one compared, event by event (pure).
        .target(name: "Conformance", dependencies: ["HadeckBase", "BalancerCore", "ClusterModel"]),
        // Command-line front end (a library so tests can drive it).
        .target(
            name: "HadeckCLI",
            dependencies: [
                "RealCluster",
                "HadeckBase", "BalancerCore", "VRRPCore", "HadeckConfig", "ClusterConfig", "ClusterModel",
                "ClusterCore", "Dashboard", "CursesTerminal",
                "LiveEngine", "LiveCluster", "Lab", "PlainSockets", "ClusterNode", "HostNetwork", "AttachConfig",
                "AttachedCluster", "Conformance", "CLinuxShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "hadeck", dependencies: ["HadeckCLI"]),
        // ncurses (wide-character build) through a shim header; used only by CursesTerminal.
        // No pkgConfig: SwiftPM warns about ncursesw.pc's -D flags ("prohibited flag(s)") on every build;
        // the modulemap links ncursesw and tinfo and the shim defines NCURSES_WIDECHAR itself.
        .systemLibrary(
            name: "CNCurses",
            providers: [.apt(["libncurses-dev"])]
        ),
        // The dashboard: cell buffer, renderer, keys, themes, app loop. Pure, no curses.
        .target(
            name: "Dashboard",
            dependencies: ["HadeckBase", "BalancerCore", "ClusterModel"]
        ),
        // The only ncurses code: paints Dashboard's cell buffers and reads keys.
        .target(
            name: "CursesTerminal",
            dependencies: ["ClusterModel", "CNCurses", "Dashboard", "HadeckBase"]
        ),
        // What the test targets share: temporary directories, outside programs, the repository root.
        .target(
            name: "HadeckTestSupport", dependencies: ["LiveEngine", "PlainSockets", "RealCluster", "HadeckBase"],
            path: "Tests/Support"),
        .testTarget(name: "HadeckBaseTests", dependencies: ["HadeckBase"]),
        .testTarget(name: "AttachConfigTests", dependencies: ["AttachConfig", "HadeckBase"]),
        .testTarget(
            name: "RealClusterTests", dependencies: ["RealCluster", "AttachConfig", "HadeckTestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "LabTests",
            dependencies: [
                "Lab", "RealCluster", "AttachConfig", "HadeckBase", "HostNetwork", "HadeckTestSupport", "HadeckCLI",
                "AttachedCluster", "ClusterModel",
            ]),
        .testTarget(
            name: "AttachedClusterTests",
            dependencies: [
                "AttachedCluster", "AttachConfig", "RealCluster", "ClusterModel", "ClusterCore", "BalancerCore",
                "HadeckBase", "HadeckTestSupport",
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ConformanceTests",
            dependencies: ["Conformance", "ClusterModel", "HadeckBase", "BalancerCore"]),
        .testTarget(name: "BalancerCoreTests", dependencies: ["HadeckBase", "BalancerCore"]),
        .testTarget(
            name: "HostNetworkTests",
            dependencies: ["HostNetwork", "HadeckBase", "VRRPCore", "RealCluster", "HadeckTestSupport"]),
        .testTarget(
            name: "ClusterNodeTests",
            dependencies: ["ClusterNode", "HostNetwork", "HadeckBase", "VRRPCore", "RealCluster", "HadeckTestSupport"]),
        .testTarget(
            name: "VRRPCoreTests", dependencies: ["VRRPCore", "HadeckBase", "HadeckTestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "HadeckConfigTests",
            dependencies: ["BalancerCore", "HadeckBase", "VRRPCore", "HadeckConfig", "HadeckTestSupport"],
            exclude: ["Corpus"]),
        .testTarget(name: "WebCoreTests", dependencies: ["WebCore"]),
        .testTarget(
            name: "ClusterConfigTests",
            dependencies: [
                "HadeckBase", "ClusterConfig", "HadeckConfig", "VRRPCore", "YAMLDocument", "HadeckTestSupport",
            ]),
        .testTarget(
            name: "YAMLDocumentTests", dependencies: ["YAMLDocument", .product(name: "Yams", package: "Yams")]),
        .testTarget(
            name: "ClusterModelTests", dependencies: ["VRRPCore", "ClusterModel", "BalancerCore", "HadeckBase"]),
        .testTarget(
            name: "ClusterCoreTests",
            dependencies: [
                "BalancerCore", "ClusterModel", "HadeckBase", "VRRPCore", "ClusterCore", "HadeckConfig",
                "ClusterConfig", "WebCore", "HadeckTestSupport",
            ]),
        .testTarget(
            name: "HadeckCLITests",
            dependencies: [
                "HadeckConfig", "PlainSockets",
                "HadeckCLI", "LiveCluster", "LiveEngine", "ClusterConfig", "HadeckTestSupport", "ClusterCore",
                "ClusterModel", "Dashboard", "HadeckBase", "RealCluster",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "DashboardTests",
            dependencies: [
                "Dashboard", "ClusterModel", "HadeckBase", "BalancerCore", "VRRPCore", "HadeckTestSupport",
            ],
            exclude: ["__Snapshots__"]
        ),
        .testTarget(
            name: "CursesTerminalTests",
            dependencies: [
                "CursesTerminal", "Dashboard", "ClusterModel", "HadeckBase", "BalancerCore", "HadeckTestSupport",
            ]
        ),
        .testTarget(
            name: "LiveEngineTests",
            dependencies: [
                "HadeckTestSupport",
                "LiveEngine", "BalancerCore", "HadeckBase", "HadeckConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "LiveClusterTests",
            dependencies: [
                "HadeckTestSupport", "PlainSockets", "VRRPCore", "WebCore",
                "LiveCluster", "LiveEngine", "ClusterCore", "ClusterModel", "HadeckConfig", "ClusterConfig",
                "HadeckBase",
                "BalancerCore",
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

for target in package.targets where target.type != .system && target.name != "CLinuxShims" {
    target.swiftSettings = (target.swiftSettings ?? []) + strictImports
}

/// The modules on the proxy's and the simulator's hot paths skip Swift's dynamic exclusivity checks in
/// release builds (that cut the proxy's instructions per request by 12 % under callgrind;
/// BENCHMARKS.md). Debug builds, which the test suite runs, keep every check, so a conflicting
/// access still traps there.
let uncheckedExclusivityInRelease: Set<String> = [
    "HadeckBase", "BalancerCore", "WebCore", "ClusterModel", "ClusterCore", "LiveEngine", "Dashboard",
]
for target in package.targets where uncheckedExclusivityInRelease.contains(target.name) {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
        ]
}

/// Release builds link the Swift runtime and Foundation into the executable (what
/// `--static-swift-stdlib` does; the flag also chooses, at compile time, the static libraries each
/// module's imports link): one mapping instead of a dozen shared libraries, none of their tables
/// relocated at start, calls without the PLT. Measured: `hadeck attach` 33.6 -> 28.6 MB resident
/// (BENCHMARKS.md). Still a position-independent executable: ASLR is kept. The test support target
/// imports swift-testing, which has no static build; debug builds (the tests) stay dynamic.
/// `HADECK_DYNAMIC_STDLIB=1` turns it off: Benchmarks/fuzz.sh builds these modules into a
/// dynamically linked fuzzer, which cannot take objects built for the static libraries.
let staticStdlibInRelease = Context.environment["HADECK_DYNAMIC_STDLIB"] != "1"
for target in package.targets
where staticStdlibInRelease && target.type != .system && target.type != .test
    && target.name != "CLinuxShims" && target.name != "HadeckTestSupport"
{
    target.swiftSettings =
        (target.swiftSettings ?? []) + [.unsafeFlags(["-static-stdlib"], .when(configuration: .release))]
    if target.type == .executable {
        target.linkerSettings =
            (target.linkerSettings ?? []) + [.unsafeFlags(["-static-stdlib"], .when(configuration: .release))]
    }
}

/// Release builds lay the code out for the memory it touches. The functions hadeck runs in its
/// everyday uses (BuildSupport/hadeck.order, written by BuildSupport/make-link-order.sh from callgrind
/// runs) go next to each other at the start of the code, so the 64 KB the kernel maps around each
/// fault holds code that runs instead of its neighbours in the link order. (Swift keeps a file's
/// internal functions in one section; splitting those too, `-function-sections`, measured 0.7-1.1 MB
/// more: the functions the profiles miss then land far from the ones they run with.) The relative
/// relocations are packed (`DT_RELR`: 20 KB instead of the 2.4 MB the loader reads at start) where
/// the C library understands them (glibc 2.36, Debian 12). lld, which ships with the toolchain, does
/// both. Measured: `hadeck attach` 28-30 -> 20 MB resident (BENCHMARKS.md). A function missing from
/// the order file is only placed after the listed ones: a stale file costs memory, never correctness.
let glibcUnderstandsRELR: Bool = {
    #if canImport(Glibc)
        // "glibc 2.36"
        var text = [CChar](repeating: 0, count: 64)
        guard confstr(Int32(_CS_GNU_LIBC_VERSION), &text, text.count) > 0 else { return false }
        let version =
            String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ")
            .last?.split(separator: ".").compactMap { Int($0) } ?? []
        return version.count >= 2 && (version[0], version[1]) >= (2, 36)
    #else
        return false
    #endif
}()
let linkOrderFile = Context.packageDirectory + "/BuildSupport/hadeck.order"
let packedRelocations = glibcUnderstandsRELR ? ["-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"] : []
for target in package.targets where target.type == .executable {
    target.linkerSettings =
        (target.linkerSettings ?? []) + [
            .unsafeFlags(
                [
                    "-use-ld=lld", "-Xlinker", "--symbol-ordering-file=\(linkOrderFile)", "-Xlinker",
                    "--no-warn-symbol-ordering",
                ] + packedRelocations,
                .when(configuration: .release))
        ]
}
