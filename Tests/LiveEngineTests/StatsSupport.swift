import BalancerCore
import Foundation
import HadeckBase
import HadeckConfig
import HadeckTestSupport
import LiveEngine
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The article's `listen web` with the stats page and a stats socket, on loopback addresses of `net`
/// (127.77.net.1 balancer, .2 webA, .3 webB).
func statsConfig(net: Int, socket: String, level: String = "admin", admin: Bool = true, refresh: Bool = true)
    -> String
{
    var listen = "    stats enable\n    stats uri /haproxy-stats"
    if refresh { listen += "\n    stats refresh 5s" }
    if admin { listen += "\n    stats admin if TRUE" }
    return articleConfig(
        net: net, extraGlobal: "    node node\(net)\n    stats socket \(socket) mode 600 level \(level)",
        extraListen: listen)
}

/// This test process's stats sockets, in a directory removed when the process exits: a test's
/// deferred `stop()` runs in a task of its own that the last tests' exit may cut short.
let testSocketDirectory: String = {
    let dir = "/tmp/hadeck-test-sockets-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: "/tmp/hadeck-test-sockets-\(getpid())") }
    return dir
}()

/// A short socket path (unix socket paths are limited to 107 bytes) unique to this test process.
func testSocketPath(_ tag: String) -> String { "\(testSocketDirectory)/\(tag).sock" }

/// A balancer with a stats socket and page in front of two app servers.
struct StatsCluster {
    let balancer: Balancer
    let webA: AppServer
    let webB: AppServer
    let socket: String
    let host: String
    let adminChanges: Collector<AdminChangeRecord>
    let transitions: Collector<CheckTransition>

    static func start(
        net: Int, level: String = "admin", admin: Bool = true, extraMetrics: (@Sendable () -> [MetricFamily])? = nil
    )
        async throws -> StatsCluster
    {
        let socket = testSocketPath("n\(net)")
        let (webA, webB) = try await startArticleApps(net: net)
        let changes = Collector<AdminChangeRecord>()
        let transitions = Collector<CheckTransition>()
        let balancer = Balancer(
            name: "lb\(net)", config: parseConfig(statsConfig(net: net, socket: socket, level: level, admin: admin)),
            pid: 9000 + net, eventLoop: testGroup.next(), onTransition: { transitions.append($0) },
            onAdminChange: { changes.append($0) }, extraMetrics: extraMetrics)
        try await balancer.start()
        return StatsCluster(
            balancer: balancer, webA: webA, webB: webB, socket: socket, host: "127.77.\(net).1",
            adminChanges: changes, transitions: transitions)
    }

    func stop() async {
        await balancer.stop()
        await webA.kill()
        await webB.kill()
    }

    var pageURL: String { "http://\(host):18080/haproxy-stats" }

    /// Status of a server in the balancer's snapshot.
    func status(_ server: String) async -> String? {
        await balancer.snapshot().flatMap(\.servers).first { $0.name == server }?.status
    }

    /// Waits until `server` has `status` (or the time runs out).
    func waitFor(server: String, status: String, within seconds: Double = 5) async -> Bool {
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < end {
            if await self.status(server) == status { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// One HTTP exchange on a fresh connection.
    func http(_ request: String) async throws -> TestResponse? {
        let client = try await RawClient.connect(host: host, port: 18080)
        try await client.send(request)
        let response = await client.readResponse()
        await client.close()
        return response
    }
}

/// `echo LINE | socat - UNIX-CONNECT:path`: one line, the whole reply until the server closes.
func cli(_ path: String, _ line: String) async -> String? {
    await offPool { UnixSocketClient.command(path, line) }
}

// MARK: - Outside programs (HadeckTestSupport runs them)

/// Runs a program off the cooperative pool (it blocks on the child): its status and standard output.
func runDetached(_ argv: [String], timeout: Double = 30) async -> (status: Int32, output: String) {
    guard let result = try? await awaitProgram(argv, timeout: timeout) else { return (-1, "") }
    return (result.status, result.stdout)
}

// MARK: - Prometheus text format, strictly

enum PrometheusParseError: Error, CustomStringConvertible {
    case line(Int, String)
    var description: String {
        switch self {
        case .line(let n, let why): "line \(n): \(why)"
        }
    }
}

/// One parsed sample.
struct PromSample: Hashable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// A strict parser of the text exposition format 0.0.4: metric and label name syntax, quoted label
/// values with `\\`, `\"` and `\n` escapes only, float values, one HELP and one TYPE per family
/// (before its samples), samples of a family contiguous, no duplicate series.
func parsePrometheus(_ text: String) throws -> (samples: [PromSample], types: [String: String]) {
    func isNameStart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c == "_" || c == ":") }
    func isName(_ c: Character) -> Bool { isNameStart(c) || (c.isASCII && c.isNumber) }
    func validName(_ s: Substring) -> Bool { !s.isEmpty && isNameStart(s.first!) && s.allSatisfy(isName) }
    var types: [String: String] = [:]
    var helps: Set<String> = []
    var finished: Set<String> = []
    var current: String?
    var seen: Set<String> = []
    var samples: [PromSample] = []
    guard text.hasSuffix("\n") else { throw PrometheusParseError.line(0, "does not end with a newline") }
    for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
        let n = i + 1
        let line = Substring(raw)
        if line.isEmpty { continue }
        if line.hasPrefix("#") {
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 3, parts[0] == "#", parts[1] == "HELP" || parts[1] == "TYPE" else { continue }
            let name = String(parts[2])
            guard validName(parts[2]) else { throw PrometheusParseError.line(n, "bad metric name '\(name)'") }
            if current != name, let c = current { finished.insert(c) }
            if finished.contains(name) { throw PrometheusParseError.line(n, "\(name) declared after its samples") }
            current = name
            if parts[1] == "HELP" {
                guard helps.insert(name).inserted else { throw PrometheusParseError.line(n, "second HELP for \(name)") }
                let help = parts.count > 3 ? parts[3] : ""
                var escaped = false
                for c in help {
                    if escaped {
                        guard c == "\\" || c == "n" else { throw PrometheusParseError.line(n, "bad escape in HELP") }
                        escaped = false
                    } else if c == "\\" {
                        escaped = true
                    }
                }
            } else {
                guard types[name] == nil else { throw PrometheusParseError.line(n, "second TYPE for \(name)") }
                guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3])
                else { throw PrometheusParseError.line(n, "bad TYPE line") }
                types[name] = String(parts[3])
            }
            continue
        }
        // name{labels} value
        var idx = line.startIndex
        while idx < line.endIndex, isName(line[idx]) { idx = line.index(after: idx) }
        let name = line[..<idx]
        guard validName(name) else { throw PrometheusParseError.line(n, "bad metric name in '\(line)'") }
        var labels: [String: String] = [:]
        if idx < line.endIndex, line[idx] == "{" {
            idx = line.index(after: idx)
            while idx < line.endIndex, line[idx] != "}" {
                let start = idx
                while idx < line.endIndex, isName(line[idx]) { idx = line.index(after: idx) }
                let label = line[start..<idx]
                guard validName(label), !label.hasPrefix("__") else {
                    throw PrometheusParseError.line(n, "bad label name in '\(line)'")
                }
                guard idx < line.endIndex, line[idx] == "=" else { throw PrometheusParseError.line(n, "expected =") }
                idx = line.index(after: idx)
                guard idx < line.endIndex, line[idx] == "\"" else { throw PrometheusParseError.line(n, "expected \"") }
                idx = line.index(after: idx)
                var value = ""
                var closed = false
                while idx < line.endIndex {
                    let c = line[idx]
                    idx = line.index(after: idx)
                    if c == "\\" {
                        guard idx < line.endIndex else { break }
                        let e = line[idx]
                        idx = line.index(after: idx)
                        switch e {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw PrometheusParseError.line(n, "bad escape \\\(e)")
                        }
                    } else if c == "\"" {
                        closed = true
                        break
                    } else {
                        value.append(c)
                    }
                }
                guard closed else { throw PrometheusParseError.line(n, "unterminated label value") }
                guard labels.updateValue(value, forKey: String(label)) == nil else {
                    throw PrometheusParseError.line(n, "duplicate label \(label)")
                }
                if idx < line.endIndex, line[idx] == "," { idx = line.index(after: idx) }
            }
            guard idx < line.endIndex else { throw PrometheusParseError.line(n, "unterminated labels") }
            idx = line.index(after: idx)
        }
        guard idx < line.endIndex, line[idx] == " " else { throw PrometheusParseError.line(n, "expected a space") }
        let rest = line[line.index(after: idx)...].split(separator: " ")
        guard rest.count == 1 || rest.count == 2 else { throw PrometheusParseError.line(n, "bad value part") }
        let valueText = String(rest[0])
        let value: Double
        switch valueText {
        case "NaN": value = .nan
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        default:
            guard let v = Double(valueText), valueText.allSatisfy({ "0123456789.eE+-".contains($0) }) else {
                throw PrometheusParseError.line(n, "bad value '\(valueText)'")
            }
            value = v
        }
        if rest.count == 2, Int64(rest[1]) == nil { throw PrometheusParseError.line(n, "bad timestamp") }
        let family = String(name)
        if current != family {
            throw PrometheusParseError.line(n, "sample of \(family) outside its family (HELP/TYPE first, contiguous)")
        }
        guard types[family] != nil else { throw PrometheusParseError.line(n, "\(family) has no TYPE") }
        let key =
            family + "{" + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        guard seen.insert(key).inserted else { throw PrometheusParseError.line(n, "duplicate series \(key)") }
        samples.append(PromSample(name: family, labels: labels, value: value))
    }
    return (samples, types)
}
