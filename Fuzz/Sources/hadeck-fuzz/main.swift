#if canImport(Glibc)
    import Glibc
#endif

// One libFuzzer executable for every target; HADECK_FUZZ_TARGET names the one to run (so the code
// under test is built and linked once). `Benchmarks/fuzz.sh` runs each in turn.

/// A harness: feeds one input to the code under test, trapping on a broken invariant.
typealias FuzzTarget = @Sendable (UnsafeRawBufferPointer) -> Void

let targets: [(name: String, run: FuzzTarget)] = [
    ("haproxy-cfg", fuzzHAProxyConfig),
    ("keepalived-conf", fuzzKeepalivedConfig),
    ("cluster-yaml", fuzzClusterFile),
    ("scenario", fuzzScenario),
    ("theme", fuzzTheme),
    ("vrrp", fuzzVRRP),
    ("runtime-api", fuzzRuntimeAPI),
    ("http-request", fuzzHTTPRequestHead),
    ("http-response", fuzzHTTPResponseHead),
    ("http-chunked", fuzzChunkedScanner),
]

let selectedTarget: FuzzTarget = {
    let name = getenv("HADECK_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = targets.first(where: { $0.name == name }) else {
        let names = targets.map(\.name).joined(separator: " ")
        print("hadeck-fuzz: set HADECK_FUZZ_TARGET to one of: \(names)")
        exit(2)
    }
    return target.run
}()

/// libFuzzer's driver (its own `main` is not linked: SwiftPM gives an executable's `main` to this file).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(
    runFuzzerDriver(&argc, &argv) { data, size in
        selectedTarget(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    })
