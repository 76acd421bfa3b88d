import ClusterConfig
import ClusterCore
import ClusterModel
import Foundation
import HadeckBase
import HadeckConfig
import HadeckTestSupport
import LiveCluster
import LiveEngine
import PlainSockets
import Synchronization
import Testing

/// Slots 127.66.SLOT.x handed out once per test process (from 100 up; the lower ones are taken by
/// hand), so tests running side by side never share an address.
private let nextSlot = Mutex(100)

func allocateSlot() -> Int {
    nextSlot.withLock { slot in
        precondition(slot < 255, "out of test slots")
        defer { slot += 1 }
        return slot
    }
}

/// The addresses of a test cluster on its slot, and where its stats sockets are.
struct TestNet: Sendable {
    let slot: Int
    let socketDirectory: String
    /// `127.66.SLOT`
    var prefix: String { "127.66.\(slot)" }
    var vip: String { prefix + ".99" }
    var loginURL: String { "http://\(vip):8080/login" }
    /// A balancer's own address: lb1 is .1, lb2 .2.
    func balancer(_ n: Int) -> String { prefix + ".\(n)" }
    /// A balancer's stats socket (`socket("lb1")`).
    func socket(_ host: String) -> String { socketDirectory + "/\(host).sock" }
}

/// The article's cluster moved to loopback addresses of its own (`127.66.SLOT.x`), so tests run side
/// by side and beside a running `hadeck`: balancers .1 and .2, webA .11, webB .12, VIP .99:8080.
/// Stats sockets go to `socketDirectory` (default: `/tmp/hadeck-testSLOT-lbN.sock`).
func articleSpec(
    slot: Int, trafficOn: Bool = false, rate: Double = 4, clients: Int = 4, socketDirectory: String? = nil
) -> ClusterSpec {
    let replacements = [
        ("127.0.1.1", "127.66.\(slot).1"), ("127.0.1.2", "127.66.\(slot).2"),
        ("127.0.2.1", "127.66.\(slot).11"), ("127.0.2.2", "127.66.\(slot).12"),
        ("127.0.0.99", "127.66.\(slot).99"),
        ("/tmp/hadeck-lb", socketDirectory.map { $0 + "/lb" } ?? "/tmp/hadeck-test\(slot)-lb"),
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

/// The article's cluster live on a slot of its own, started with lb1 MASTER and owning the VIP; it is
/// shut down (and its stats sockets removed) however `body` ends, a failed expectation included.
func withArticle<T: Sendable>(
    trafficOn: Bool = false, rate: Double = 4, clients: Int = 4,
    _ body: (LiveCluster, TestNet) async throws -> T
) async throws -> T {
    let sockets = try TemporaryDirectory("live")
    let net = TestNet(slot: allocateSlot(), socketDirectory: sockets.path)
    let live = try LiveCluster(
        spec: articleSpec(
            slot: net.slot, trafficOn: trafficOn, rate: rate, clients: clients, socketDirectory: sockets.path))
    do {
        try await live.start()
        let ready = try await eventually(within: .seconds(8)) {
            try await live.withCore { $0.vipOwner?.name == "lb1" && $0.masters.map(\.name) == ["lb1"] }
        }
        #expect(ready, "lb1 never became MASTER with the VIP")
        let result = try await body(live, net)
        await live.shutdown()
        return withExtendedLifetime(sockets) { result }
    } catch {
        await live.shutdown()
        throw error
    }
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

let curlPath = which("curl")

/// Runs `curl -s -c JAR -b JAR -D FILE URL` (the README's way of playing a browser).
func curl(_ url: String, jar: String, extra: [String] = []) throws -> CurlResult {
    let headerFile = NSTemporaryDirectory() + "hadeck-curl-\(UUID().uuidString).headers"
    defer { try? FileManager.default.removeItem(atPath: headerFile) }
    let body = try runProgram(
        [curlPath!, "-s", "--max-time", "5", "-c", jar, "-b", jar, "-D", headerFile] + extra + [url]
    ).stdout
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
func unixSocketCommand(_ path: String, _ line: String) -> String? { UnixSocketClient.command(path, line, timeout: 3) }

let chromiumPath = which("chromium") ?? which("chromium-browser")

/// The stats page as headless Chromium renders it: the serving node and pid, each server's status.
func statsPageInChromium(_ url: String) throws -> (node: String, pid: Int, servers: [String: String])? {
    let profile = NSTemporaryDirectory() + "hadeck-chromium-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: profile) }
    let html = try runProgram(
        [chromiumPath!] + [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=\(profile)",
            "--dump-dom", url,
        ]
    ).stdout
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
