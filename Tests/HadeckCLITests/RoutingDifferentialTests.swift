import Foundation
import HadeckTestSupport
import PlainSockets
import RealCluster
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A loopback backend that answers every request with its own name (`X-Backend` and the first line
/// of the body) followed by the request head it received, and two headers for `http-response` rules
/// to change (`X-Gone`, `X-Resp`), after `delay`. Threads of its own; `stop()` closes everything.
final class NamedBackend: @unchecked Sendable {
    let name: String
    let host: String
    let port: Int
    let delay: TimeInterval
    private let lock = NSLock()
    private let listener: Int32
    private var stopped = false
    private var connections: [Int32] = []
    private var inFlight = 0
    private var mostInFlight = 0

    /// The most requests it was answering at once.
    var maxInFlight: Int { lock.withLock { mostInFlight } }

    init(name: String, host: String, delay: TimeInterval = 0) throws {
        self.name = name
        self.host = host
        self.delay = delay
        listener = try listeningSocket(host: host, port: 0, backlog: 64)
        port = boundPort(listener)
        Thread { [self] in acceptLoop() }.start()
    }

    func stop() {
        lock.withLock {
            stopped = true
            for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if lock.withLock({ stopped }) { return }
                continue
            }
            lock.withLock { connections.append(fd) }
            Thread { [self] in serve(fd) }.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            lock.withLock { connections.removeAll { $0 == fd } }
            close(fd)
        }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        let end = Array("\r\n\r\n".utf8)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return }
            pending += buffer[0..<n]
            while let range = pending.firstRange(of: end) {
                let head = String(decoding: pending[..<range.lowerBound], as: UTF8.self)
                pending.removeSubrange(..<range.upperBound)
                lock.withLock {
                    inFlight += 1
                    mostInFlight = max(mostInFlight, inFlight)
                }
                if delay > 0 { Thread.sleep(forTimeInterval: delay) }
                lock.withLock { inFlight -= 1 }
                let body = name + "\n" + head + "\n"
                let response =
                    "HTTP/1.1 200 OK\r\nX-Backend: \(name)\r\nX-Gone: 1\r\nX-Resp: server\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
                _ = Array(response.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
        }
    }
}

/// The port a bound socket got.
private func boundPort(_ fd: Int32) -> Int {
    var addr = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// A port nothing listens on at `host` now (bound, read, closed).
func freePort(host: String) -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    inet_pton(AF_INET, host, &addr.sin_addr)
    _ = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return boundPort(fd)
}

/// One request of the differential run: what is sent (with `Connection: close`) and from where.
struct RoutingCase: CustomStringConvertible, Sendable {
    var name: String
    var method = "GET"
    var target: String
    var headers: [(String, String)] = []
    /// The client's source address (for `src` ACLs).
    var source = "127.0.0.1"
    var description: String { name }
}

/// What a proxy answered to one request: the parts the test compares.
struct RoutingOutcome: Equatable, CustomStringConvertible {
    var status: Int?
    /// Which backend answered (`X-Backend`), or the body of an answer the proxy made itself.
    var answeredBy: String?
    var location: String?
    /// Response headers the rules add or remove, lowercased names, values as sent.
    var responseHeaders: [String: String]
    /// Request headers the backend received that the rules add or remove.
    var requestHeaders: [String: String]

    var description: String {
        "status \(status.map(String.init) ?? "none"), by \(answeredBy ?? "-"), location \(location ?? "-"), "
            + "response \(responseHeaders.sorted { $0.key < $1.key }), request \(requestHeaders.sorted { $0.key < $1.key })"
    }
}

/// Sends `c` to `host:port` on a fresh connection from `c.source` and reads the whole answer.
func exchange(_ c: RoutingCase, host: String, port: Int) -> RoutingOutcome {
    var text = "\(c.method) \(c.target) HTTP/1.1\r\n"
    if !c.headers.contains(where: { $0.0.lowercased() == "host" }) { text += "Host: routing.test\r\n" }
    for (name, value) in c.headers { text += "\(name): \(value)\r\n" }
    text += "Connection: close\r\n\r\n"
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var source = sockaddr_in()
    source.sin_family = sa_family_t(AF_INET)
    inet_pton(AF_INET, c.source, &source.sin_addr)
    _ = withUnsafePointer(to: &source) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var target = sockaddr_in()
    target.sin_family = sa_family_t(AF_INET)
    target.sin_port = in_port_t(UInt16(port).bigEndian)
    inet_pton(AF_INET, host, &target.sin_addr)
    let connected = withUnsafePointer(to: &target) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    let none = RoutingOutcome(status: nil, answeredBy: nil, location: nil, responseHeaders: [:], requestHeaders: [:])
    guard connected == 0 else { return none }
    _ = Array(text.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16_384)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        out += buffer[0..<n]
    }
    return parseOutcome(String(decoding: out, as: UTF8.self))
}

/// The parts of a response the test compares (see `RoutingOutcome`).
func parseOutcome(_ response: String) -> RoutingOutcome {
    var outcome = RoutingOutcome(status: nil, answeredBy: nil, location: nil, responseHeaders: [:], requestHeaders: [:])
    guard let split = response.range(of: "\r\n\r\n") else { return outcome }
    let lines = response[..<split.lowerBound].components(separatedBy: "\r\n")
    let body = String(response[split.upperBound...])
    let statusLine = lines[0].split(separator: " ")
    if statusLine.count >= 2 { outcome.status = Int(statusLine[1]) }
    let watchedResponse: Set<String> = ["x-resp", "x-gone", "x-pong"]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        if name == "location" { outcome.location = value }
        if name == "x-backend" { outcome.answeredBy = value }
        if watchedResponse.contains(name) { outcome.responseHeaders[name] = value }
    }
    // An answer the proxy made itself (`return`, an error page): its body.
    if outcome.answeredBy == nil, !body.isEmpty { outcome.answeredBy = "answer: \(body)" }
    // The request head the backend echoed after its name.
    let watchedRequest: Set<String> = ["x-routed-by", "x-client", "x-secret", "x-api"]
    for line in body.components(separatedBy: "\r\n").dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        let name = line[..<colon].lowercased()
        if watchedRequest.contains(name) {
            outcome.requestHeaders[name] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespacesAndNewlines)
        }
    }
    return outcome
}

/// One haproxy.cfg with several backends and the routing rules people write, run by the real
/// haproxy 2.6 and then by `hadeck proxy` (the same file, loopback ports found free); every request
/// goes to both, and the same backend must answer with the same status, `Location`, and headers
/// added or removed on the request and the response.
@Suite(.tags(.live), .serialized, .onItsOwnThread) struct RoutingDifferentialTests {
    static let haproxy = which("haproxy")
    static var available: Bool { haproxy != nil && HeadlessLiveTests.available }
    static let proxyHost = "127.87.0.1"
    static let backendHost = "127.87.0.2"
    static let internalClient = "127.87.9.9"

    static func config(port: Int, backends: [String: Int], deadPort: Int, errorFiles dir: String) -> String {
        func server(_ name: String) -> String { "    server \(name)1 \(backendHost):\(backends[name]!)" }
        return #"""
            global
                maxconn 200
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            frontend www
                bind \#(proxyHost):\#(port)
                errorfile 429 \#(dir)/429.http
                acl is_api path_beg /api
                acl host_admin hdr(host) -i admin.example.com
                acl host_static hdr_beg(host) -i static.
                acl static_file path_end .css .js
                acl image path_reg ^/img/[0-9]+\.png$
                acl beta req.cook(beta) yes
                acl internal src 127.87.9.0/24
                acl is_post method POST
                acl old path_beg /old
                http-request deny if { path_beg /private } !internal
                http-request deny deny_status 429 if { hdr_sub(user-agent) -i badbot }
                http-request redirect prefix /new code 301 if old
                http-request redirect scheme https code 302 if { hdr(X-Proto) http }
                http-request return status 200 content-type text/plain string pong hdr X-Pong 1 if { path /ping }
                http-request set-header X-Routed-By proxy
                http-request add-header X-Client %[src]
                http-request del-header X-Secret
                http-response set-header X-Resp rules
                http-response del-header X-Gone
                redirect location /moved code 307 if { path /here }
                use_backend admin if host_admin || { hdr(X-Role) admin }
                use_backend static if host_static or static_file or image
                use_backend api if is_api !is_post
                use_backend write if is_api is_post
                use_backend beta if beta
                use_backend fallback if { path_beg /dead } { nbsrv(dead) lt 1 }
                use_backend dead if { path_beg /dead }
                use_backend down if { path_beg /down }
                use_backend %[req.hdr(X-Pick),lower] if { req.hdr(X-Pick) -m found }
                use_backend api unless { path_beg / }
                default_backend app
            backend app
            \#(server("app"))
            backend api
                http-request set-header X-Api 1
            \#(server("api"))
            backend write
            \#(server("write"))
            backend static
            \#(server("static"))
            backend beta
            \#(server("beta"))
            backend fallback
            \#(server("fallback"))
            backend admin
                http-request return status 200 content-type text/plain string admin-page
            backend down
                errorfile 503 \#(dir)/503.http
                server down1 \#(backendHost):\#(deadPort) disabled
            backend dead
                server dead1 \#(backendHost):\#(deadPort) check inter 100ms fall 1 rise 1

            """#
    }

    static let cases: [RoutingCase] = [
        RoutingCase(name: "default backend", target: "/"),
        RoutingCase(name: "path_beg", target: "/api/users"),
        RoutingCase(
            name: "path_beg and method", method: "POST", target: "/api/users", headers: [("Content-Length", "0")]),
        RoutingCase(name: "hdr(host) -i", target: "/", headers: [("Host", "ADMIN.example.com")]),
        RoutingCase(name: "|| anonymous acl", target: "/", headers: [("X-Role", "admin")]),
        RoutingCase(name: "hdr(X-Role) other value", target: "/", headers: [("X-Role", "administrator")]),
        RoutingCase(name: "hdr_beg(host) -i", target: "/", headers: [("Host", "Static.example.com")]),
        RoutingCase(name: "path_end", target: "/a/b.css"),
        RoutingCase(name: "path_end with query", target: "/a/b.js?v=2"),
        RoutingCase(name: "path_reg", target: "/img/42.png"),
        RoutingCase(name: "path_reg no match", target: "/img/x.png"),
        RoutingCase(name: "req.cook", target: "/", headers: [("Cookie", "a=1; beta=yes")]),
        RoutingCase(name: "req.cook other value", target: "/", headers: [("Cookie", "beta=no")]),
        RoutingCase(name: "deny", target: "/private/x"),
        RoutingCase(name: "deny HEAD", method: "HEAD", target: "/private/x"),
        RoutingCase(name: "src exempts from deny", target: "/private/x", source: internalClient),
        RoutingCase(name: "deny_status 429", target: "/", headers: [("User-Agent", "BadBot/1.0")]),
        RoutingCase(name: "redirect prefix", target: "/old/page?a=1"),
        RoutingCase(
            name: "redirect scheme", target: "/a?b=c", headers: [("X-Proto", "http"), ("Host", "example.com")]),
        RoutingCase(name: "return", target: "/ping"),
        RoutingCase(name: "redirect location", target: "/here"),
        RoutingCase(name: "nbsrv", target: "/dead/x"),
        RoutingCase(name: "errorfile of the backend", target: "/down"),
        RoutingCase(name: "dynamic use_backend", target: "/", headers: [("X-Pick", "API")]),
        RoutingCase(name: "dynamic use_backend, no such backend", target: "/", headers: [("X-Pick", "nope")]),
        RoutingCase(name: "del-header", target: "/", headers: [("X-Secret", "s3cret")]),
        RoutingCase(name: "set-header replaces", target: "/", headers: [("X-Routed-By", "client")]),
        RoutingCase(name: "add-header %[src]", target: "/", source: internalClient),
    ]

    /// With HADECK_REQUIRE_LAB=1 (CI) a missing haproxy or hadeck binary fails instead of skipping.
    @Test func requiredWhereTheLabIsRequired() {
        if ProcessInfo.processInfo.environment["HADECK_REQUIRE_LAB"] == "1" {
            #expect(Self.available, "HADECK_REQUIRE_LAB=1 but haproxy or .build/debug/hadeck is missing")
        }
    }

    @Test(.enabled(if: available, "needs haproxy (apt-get install haproxy) and a built .build/debug/hadeck"))
    func theSameRequestsReachTheSameBackendsThroughHAProxyAndHadeck() async throws {
        let haproxy = try #require(Self.haproxy)
        let dir = try TemporaryDirectory("routing-diff")
        try dir.write(
            "429.http",
            "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nslow down")
        try dir.write(
            "503.http",
            "HTTP/1.0 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<p>down</p>\n")
        let names = ["app", "api", "write", "static", "beta", "fallback"]
        let servers = try names.map { try NamedBackend(name: $0, host: Self.backendHost) }
        defer { for s in servers { s.stop() } }
        let port = freePort(host: Self.proxyHost)
        let file = try dir.write(
            "haproxy.cfg",
            Self.config(
                port: port, backends: Dictionary(uniqueKeysWithValues: servers.map { ($0.name, $0.port) }),
                deadPort: freePort(host: Self.backendHost), errorFiles: dir.path))
        func run(_ argv: [String]) async throws -> [RoutingOutcome] {
            let program = try BackgroundProgram(argv)
            defer { withExtendedLifetime(program) {} }
            let pid = program.pid
            let listening = try await Blocking.run {
                // The program's own process: waited for on a thread of its own.
                LoopbackProbe.waitListening(Self.proxyHost, port, pid: pid)
            }
            guard listening else { return [] }
            // Both mark `dead1` DOWN after its first failed check (inter 100ms, fall 1).
            try await Task.sleep(for: .seconds(1))
            return try await Blocking.run { Self.cases.map { exchange($0, host: Self.proxyHost, port: port) } }
        }
        let theirs = try await run([haproxy, "-db", "-f", file])
        #expect(theirs.count == Self.cases.count, "haproxy did not start on \(file)")
        let ours = try await run([DashboardEndToEndTests.binary, "proxy", "-f", file])
        #expect(ours.count == Self.cases.count, "hadeck proxy did not start on \(file)")
        for (k, c) in Self.cases.enumerated() where k < theirs.count && k < ours.count {
            #expect(theirs[k].status != nil, "\(c): haproxy gave no answer")
            #expect(ours[k] == theirs[k], "\(c): haproxy \(theirs[k]); hadeck \(ours[k])")
        }
        // The rules did route: every backend that has servers answered some request.
        #expect(Set(theirs.compactMap(\.answeredBy)).isSuperset(of: names), "\(theirs)")
        withExtendedLifetime(dir) {}
    }

    /// `maxconn 1` servers that answer slowly, three requests at once to each: behind a short
    /// `timeout queue` the two that wait get 503, behind a long one they are served in turn, one at
    /// a time. The real haproxy and `hadeck proxy` answer alike, and neither lets a server see two
    /// requests at once.
    @Test(.enabled(if: available, "needs haproxy (apt-get install haproxy) and a built .build/debug/hadeck"))
    func maxconnQueuesAndTimeoutQueueAsHAProxy() async throws {
        let haproxy = try #require(Self.haproxy)
        let dir = try TemporaryDirectory("queue-diff")
        let (shortPort, longPort) = (freePort(host: Self.proxyHost), freePort(host: Self.proxyHost))
        func run(_ argv: [String]) async throws -> (short: [RoutingOutcome], long: [RoutingOutcome], most: [Int]) {
            let slow = try NamedBackend(name: "slow", host: Self.backendHost, delay: 0.7)
            let quick = try NamedBackend(name: "quick", host: Self.backendHost, delay: 0.2)
            defer { for s in [slow, quick] { s.stop() } }
            let file = try dir.write(
                "haproxy.cfg",
                """
                defaults
                    mode http
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                frontend short
                    bind \(Self.proxyHost):\(shortPort)
                    default_backend short
                frontend long
                    bind \(Self.proxyHost):\(longPort)
                    default_backend long
                backend short
                    timeout queue 300ms
                    server slow1 \(Self.backendHost):\(slow.port) maxconn 1
                backend long
                    timeout queue 5s
                    server quick1 \(Self.backendHost):\(quick.port) maxconn 1

                """)
            let program = try BackgroundProgram(argv + ["-f", file])
            defer { withExtendedLifetime(program) {} }
            let pid = program.pid
            let ready = try await Blocking.run {
                LoopbackProbe.waitListening(Self.proxyHost, shortPort, pid: pid)
                    && LoopbackProbe.waitListening(Self.proxyHost, longPort, pid: pid)
            }
            guard ready else { return ([], [], []) }
            let outcomes = try await Blocking.run { () -> [RoutingOutcome] in
                // Six clients on threads of their own, each port's three 50 ms apart.
                let results = Collected<(Int, RoutingOutcome)>()
                let group = DispatchGroup()
                for k in 0..<6 {
                    group.enter()
                    Thread {
                        Thread.sleep(forTimeInterval: 0.05 * Double(k % 3))
                        let port = k < 3 ? shortPort : longPort
                        results.append(
                            (
                                k,
                                exchange(RoutingCase(name: "q\(k)", target: "/q\(k)"), host: Self.proxyHost, port: port)
                            ))
                        group.leave()
                    }.start()
                }
                group.wait()
                return results.all.sorted { $0.0 < $1.0 }.map(\.1)
            }
            return (Array(outcomes[0..<3]), Array(outcomes[3..<6]), [slow.maxInFlight, quick.maxInFlight])
        }
        let theirs = try await run([haproxy, "-db"])
        let ours = try await run([DashboardEndToEndTests.binary, "proxy"])
        #expect(theirs.short.map(\.status) == [200, 503, 503], "haproxy: \(theirs.short)")
        #expect(theirs.long.map(\.status) == [200, 200, 200], "haproxy: \(theirs.long)")
        #expect(theirs.most == [1, 1])
        #expect(ours.short == theirs.short, "haproxy \(theirs.short); hadeck \(ours.short)")
        #expect(ours.long == theirs.long, "haproxy \(theirs.long); hadeck \(ours.long)")
        #expect(ours.most == [1, 1])
        withExtendedLifetime(dir) {}
    }
}

/// Values appended from several threads.
final class Collected<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Value] = []
    func append(_ v: Value) { lock.withLock { values.append(v) } }
    var all: [Value] { lock.withLock { values } }
}

/// Waiting for a program to listen, from a thread of its own.
enum LoopbackProbe {
    /// Whether `host:port` accepts connections within `seconds` while process `pid` lives.
    static func waitListening(_ host: String, _ port: Int, pid: pid_t, seconds: Double = 10) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if LoopbackTCP.isListening(host: host, port: port) { return true }
            if kill(pid, 0) != 0 { return false }
            usleep(20_000)
        }
        return false
    }
}
