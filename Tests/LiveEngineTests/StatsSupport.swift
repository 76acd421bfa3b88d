import BalancerCore
import Foundation
import HadeckBase
import HadeckConfig
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

/// A short socket path (unix socket paths are limited to 107 bytes) unique to this test process.
func testSocketPath(_ tag: String) -> String { "/tmp/hadeck-test-\(getpid())-\(tag).sock" }

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
    await Task.detached { UnixSocketClient.command(path, line) }.value
}

// MARK: - Outside programs

/// Whether an executable is on PATH (or at an absolute path).
func which(_ tool: String) -> String? {
    if tool.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin:/usr/sbin").split(separator: ":") {
        let p = "\(dir)/\(tool)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    for dir in ["/usr/sbin", "/sbin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(tool)") {
        return "\(dir)/\(tool)"
    }
    return nil
}

/// Runs a program (posix_spawn; Foundation's Process relies on SIGCHLD, which other suites change),
/// returns its exit status and standard output; kills it after `timeout` seconds.
func run(_ argv: [String], timeout: Double = 30, captureOutput: Bool = true) -> (status: Int32, output: String) {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { return (-1, "") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addclose(&actions, fds[0])
    if captureOutput {
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    } else {
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    }
    posix_spawn_file_actions_addclose(&actions, fds[1])
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let args = argv.map { strdup($0) } + [nil]
    defer { for a in args { free(a) } }
    var pid: pid_t = 0
    Descriptors.markCloseOnExec()
    let rc = posix_spawnp(&pid, argv[0], &actions, nil, args, environ)
    close(fds[1])
    guard rc == 0 else {
        close(fds[0])
        return (-1, "")
    }
    let killer = DispatchWorkItem { kill(pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fds[0], &buffer, buffer.count)
        if n <= 0 {
            if n < 0 && errno == EINTR { continue }
            break
        }
        output += buffer[0..<n]
    }
    close(fds[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    killer.cancel()
    return (status, String(decoding: output, as: UTF8.self))
}

/// Runs `body` off the cooperative pool (it blocks on a child process).
func runDetached(_ argv: [String], timeout: Double = 30) async -> (status: Int32, output: String) {
    await Task.detached { run(argv, timeout: timeout) }.value
}

// MARK: - The stats page as a browser sees it

/// What the stats page shows, read from a DOM: the node, the pid and each server's state.
struct StatsPageDOM: Equatable {
    var node: String
    var pid: Int
    /// server name -> `data-status` (`UP`, `MAINT`, `DRAIN`, `DOWN 1/2`...).
    var servers: [String: String]
    /// server name -> CSS class of its row (`active_up`, `maintain`...).
    var serverClasses: [String: String]
}

/// Parses `chromium --dump-dom` output of a hadeck stats page (the `id`/`data-*` attributes it carries).
func parseStatsDOM(_ html: String) -> StatsPageDOM? {
    func span(_ id: String) -> String? {
        guard let r = html.range(of: "<span id=\"\(id)\">") else { return nil }
        let rest = html[r.upperBound...]
        return rest.range(of: "</span>").map { String(rest[..<$0.lowerBound]) }
    }
    func attribute(_ name: String, in tag: Substring) -> String? {
        guard let r = tag.range(of: " \(name)=\"") else { return nil }
        let rest = tag[r.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
    guard let node = span("node"), let pidText = span("pid"), let pid = Int(pidText) else { return nil }
    var servers: [String: String] = [:]
    var classes: [String: String] = [:]
    var rest = html[...]
    while let r = rest.range(of: "<tr ") {
        let after = rest[r.lowerBound...]
        guard let end = after.firstIndex(of: ">") else { break }
        let tag = after[..<end]
        if let server = attribute("data-server", in: tag), let status = attribute("data-status", in: tag) {
            servers[server] = status
            classes[server] = attribute("class", in: tag)?.split(separator: " ").first.map(String.init)
        }
        rest = after[end...]
    }
    return StatsPageDOM(node: node, pid: pid, servers: servers, serverClasses: classes)
}

/// The chromium binary, when installed.
var chromiumPath: String? { which("chromium") ?? which("chromium-browser") }

/// Loads `url` in headless chromium and returns the page's node, pid and server states from its DOM.
/// Nil when chromium is missing or the page has no stats.
func statsPageInChromium(_ url: String) async -> StatsPageDOM? {
    guard let chromium = chromiumPath else { return nil }
    let profile = "/tmp/hadeck-chromium-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    defer { try? FileManager.default.removeItem(atPath: profile) }
    let result = await runDetached(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=\(profile)", "--dump-dom", url,
        ], timeout: 60)
    return parseStatsDOM(result.output)
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
