import ClusterConfig
import ClusterCore
import ClusterModel
import Foundation
import HadeckBase
import HadeckConfig
import LiveCluster
import LiveEngine
import Synchronization
import Testing

/// The article's cluster moved to loopback addresses of its own (`127.66.SLOT.x`, or `NET.SLOT.x`), so
/// tests run side by side and beside a running `hadeck`: balancers .1 and .2, webA .11, webB .12,
/// VIP .99:8080.
func articleSpec(
    slot: Int, net: String = "127.66", trafficOn: Bool = false, rate: Double = 4, clients: Int = 4
) -> ClusterSpec {
    let replacements = [
        ("127.0.1.1", "\(net).\(slot).1"), ("127.0.1.2", "\(net).\(slot).2"),
        ("127.0.2.1", "\(net).\(slot).11"), ("127.0.2.2", "\(net).\(slot).12"),
        ("127.0.0.99", "\(net).\(slot).99"), ("/tmp/hadeck-lb", "/tmp/hadeck-test\(net)-\(slot)-lb"),
    ]
    let (loaded, diags) = ClusterLoader.load(path: "article/cluster.yaml") { path in
        let name = String(path.split(separator: "/").last ?? "")
        guard var text = ArticleClusterFiles.files[name] else { throw MissingFile() }
        for (from, to) in replacements { text = text.replacingOccurrences(of: from, with: to) }
        return text
    }
    guard let loaded else { fatalError("article spec: \(diags.items)") }
    var spec = ClusterSpec(loaded)
    spec.trafficOn = trafficOn
    spec.trafficRate = rate
    spec.clients = clients
    return spec
}

struct MissingFile: Error {}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
func eventually(
    within timeout: Duration = .seconds(10), _ condition: @Sendable () async throws -> Bool
) async rethrows -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + timeout
    while clock.now < end {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// A started live cluster on `slot`, with lb1 MASTER and owning the VIP.
func startArticle(slot: Int, trafficOn: Bool = false, rate: Double = 4, clients: Int = 4) async throws -> LiveCluster {
    let live = try LiveCluster(spec: articleSpec(slot: slot, trafficOn: trafficOn, rate: rate, clients: clients))
    try await live.start()
    let ready = try await eventually(within: .seconds(8)) {
        try await live.withCore { $0.vipOwner?.name == "lb1" && $0.masters.map(\.name) == ["lb1"] }
    }
    #expect(ready, "lb1 never became MASTER with the VIP")
    return live
}

/// What curl printed and exited with.
struct CurlResult {
    var status: Int32
    var headers: String
    var body: String

    /// The values of a response header (case-insensitive name).
    func header(_ name: String) -> [String] {
        headers.split(separator: "\r\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":"),
                line[..<colon].lowercased() == name.lowercased()
            else { return nil }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
}

let curlPath = ["/usr/bin/curl", "/bin/curl", "/usr/local/bin/curl"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// Runs `curl -s -c JAR -b JAR -D FILE URL` (the README's way of playing a browser).
func curl(_ url: String, jar: String, extra: [String] = []) throws -> CurlResult {
    let headerFile = NSTemporaryDirectory() + "hadeck-curl-\(UUID().uuidString).headers"
    defer { try? FileManager.default.removeItem(atPath: headerFile) }
    let body = try runProgram(
        curlPath!, ["-s", "--max-time", "5", "-c", jar, "-b", jar, "-D", headerFile] + extra + [url])
    let headers = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
    // curl's exit status is not needed: a response without headers is the failure the tests see.
    return CurlResult(status: headers.isEmpty ? 1 : 0, headers: headers, body: body)
}

/// A fresh cookie jar path (removed by the caller).
func newJar() -> String { NSTemporaryDirectory() + "hadeck-jar-\(UUID().uuidString)" }

/// Sends raw bytes to `host:port` over TCP and returns what comes back until the peer closes
/// (or 3 s pass).
func rawExchange(host: String, port: Int, _ bytes: String) -> String {
    String(decoding: LoopbackTCP.exchange(host: host, port: port, Array(bytes.utf8)) ?? [], as: UTF8.self)
}

/// Whether something accepts TCP connections on `host:port`.
func isListening(host: String, port: Int) -> Bool { LoopbackTCP.isListening(host: host, port: port) }

/// Sends one line to a unix stream socket (the stats socket) and returns the reply until it closes.
func unixSocketCommand(_ path: String, _ line: String) -> String? {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
        for (i, b) in bytes.enumerated() { raw[i] = b }
    }
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    guard connected == 0 else { return nil }
    var timeout = timeval(tv_sec: 3, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let request = Array((line + "\n").utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        out += buffer[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

let chromiumPath = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// The repository root (for docs/).
let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// Runs a program to its end and returns its standard output (children get none of our sockets).
/// Without `capture` its output goes to /dev/null: a daemon it starts (a tmux server) would hold a
/// pipe open forever. posix_spawn + waitpid: Foundation's Process relies on SIGCHLD, which a
/// double-forking tmux leaves it waiting for.
func runProgram(_ path: String, _ arguments: [String], capture: Bool = true) throws -> String {
    let outFile = NSTemporaryDirectory() + "hadeck-run-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: outFile) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(
        &actions, 1, capture ? outFile : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for p in argv { free(p) } }
    Descriptors.markCloseOnExec()
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return capture ? ((try? String(contentsOfFile: outFile, encoding: .utf8)) ?? "") : ""
}

/// The path of an installed program, if any.
func installed(_ name: String) -> String? {
    ["/usr/bin/", "/bin/", "/usr/local/bin/"].map { $0 + name }.first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
}

/// The stats page as headless Chromium renders it: the serving node and pid, each server's status.
func statsPageInChromium(_ url: String) throws -> (node: String, pid: Int, servers: [String: String])? {
    let profile = NSTemporaryDirectory() + "hadeck-chromium-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: profile) }
    let html = try runProgram(
        chromiumPath!,
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=\(profile)",
            "--dump-dom", url,
        ])
    func span(_ id: String) -> String? {
        guard let r = html.range(of: "<span id=\"\(id)\">") else { return nil }
        let rest = html[r.upperBound...]
        return rest.range(of: "</span>").map { String(rest[..<$0.lowerBound]) }
    }
    guard let node = span("node"), let pid = span("pid").flatMap({ Int($0) }) else { return nil }
    var servers: [String: String] = [:]
    var rest = html[...]
    while let r = rest.range(of: "data-server=\"") {
        let after = rest[r.upperBound...]
        guard let end = after.firstIndex(of: "\""), let tagEnd = after.firstIndex(of: ">") else { break }
        let name = String(after[..<end])
        let tag = after[..<tagEnd]
        if let s = tag.range(of: "data-status=\""), let e = tag[s.upperBound...].firstIndex(of: "\"") {
            servers[name] = String(tag[s.upperBound..<e])
        }
        rest = after[tagEnd...]
    }
    return (node, pid, servers)
}

/// Events collected from the live cluster's loop, read from the test.
final class EventLog: Sendable {
    private let events = Mutex<[ClusterEvent]>([])
    func append(_ event: ClusterEvent) { events.withLock { $0.append(event) } }
    var all: [ClusterEvent] { events.withLock { $0 } }
}
