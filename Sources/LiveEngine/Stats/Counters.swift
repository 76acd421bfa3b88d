import BalancerCore
import HadeckBase

/// Traffic counts of one frontend, backend or server: the `show stat` columns the data plane feeds.
struct TrafficCounts: Hashable, Sendable {
    var bytesIn = 0
    var bytesOut = 0
    /// `hrsp_1xx` ... `hrsp_5xx`, `hrsp_other`.
    var responses = ResponseClasses()
    var requests = 0
    var requestErrors = 0
    var connectionErrors = 0
    var responseErrors = 0
    var retries = 0
    var redispatches = 0
    var clientAborts = 0
    var serverAborts = 0
    var lastSession: Instant?
    /// Client connections (frontends only; servers and backends count theirs in the core's `Backend`).
    var currentSessions = 0
    var maxSessions = 0
    var totalSessions = 0
    /// Requests the balancer answered itself (stats page, metrics).
    var intercepted = 0

    /// Counts one finished request. `c0`, `c1`: HAProxy's two-letter termination state (`--`, `SC`, `CD`...).
    @inline(__always)
    mutating func count(
        status: Int, bytesIn: Int, bytesOut: Int, retries: Int, redispatched: Bool, c0: UInt8, c1: UInt8
    ) {
        requests += 1
        self.bytesIn += bytesIn
        self.bytesOut += bytesOut
        if status > 0 { responses.count(status) }
        self.retries += retries
        if redispatched { redispatches += 1 }
        switch (c0, c1) {
        case (UInt8(ascii: "S"), UInt8(ascii: "C")), (UInt8(ascii: "s"), UInt8(ascii: "C")): connectionErrors += 1
        case (UInt8(ascii: "S"), UInt8(ascii: "H")), (UInt8(ascii: "s"), UInt8(ascii: "H")),
            (UInt8(ascii: "P"), UInt8(ascii: "H")):
            responseErrors += 1
        case (UInt8(ascii: "S"), UInt8(ascii: "D")), (UInt8(ascii: "s"), UInt8(ascii: "D")):
            // HAProxy counts a server abort among the response errors too.
            responseErrors += 1
            serverAborts += 1
        case (UInt8(ascii: "C"), UInt8(ascii: "D")), (UInt8(ascii: "c"), UInt8(ascii: "D")): clientAborts += 1
        default: break
        }
    }
}

/// Responses by status class, without an array (no allocation or uniqueness check per request).
struct ResponseClasses: Hashable, Sendable {
    var c1xx = 0, c2xx = 0, c3xx = 0, c4xx = 0, c5xx = 0, other = 0

    @inline(__always)
    mutating func count(_ status: Int) {
        switch status {
        case 100..<200: c1xx += 1
        case 200..<300: c2xx += 1
        case 300..<400: c3xx += 1
        case 400..<500: c4xx += 1
        case 500..<600: c5xx += 1
        default: other += 1
        }
    }

    /// In `show stat` order, with the label of each (`1xx` ... `other`).
    var all: [(label: String, count: Int)] {
        [("1xx", c1xx), ("2xx", c2xx), ("3xx", c3xx), ("4xx", c4xx), ("5xx", c5xx), ("other", other)]
    }
}

/// The counts of one proxy or server, shared by reference between the sessions that feed them
/// and the statistics that read them.
final class TrafficCounters {
    var counts = TrafficCounts()
}

/// The counters one frontend's requests touch, resolved once so that a finished request costs a few
/// increments: its server's counters are found by the server's position in the backend (a String
/// key hashed per request was ~4 % of the proxy's instructions), by name only when that fails.
final class RequestCounters {
    let frontend: TrafficCounters
    let backend: TrafficCounters?
    /// In the backend's server order.
    let serversInOrder: [(name: String, counters: TrafficCounters)]
    let servers: [String: TrafficCounters]

    init(frontend: TrafficCounters, backend: TrafficCounters?, servers: [(name: String, counters: TrafficCounters)]) {
        self.frontend = frontend
        self.backend = backend
        serversInOrder = servers
        self.servers = Dictionary(servers.map { ($0.name, $0.counters) }, uniquingKeysWith: { first, _ in first })
    }

    private func counters(of server: String, at position: Int?) -> TrafficCounters? {
        if let position, position < serversInOrder.count, serversInOrder[position].name == server {
            return serversInOrder[position].counters
        }
        return servers[server]
    }

    /// Called once per request (or failed request) by the client session. `position`: the
    /// server's index in the backend, when the routing decision has it.
    func requestFinished(
        server: String?, position: Int? = nil, status: Int, bytesIn: Int, bytesOut: Int, retries: Int,
        redispatched: Bool, termination: String, now: Instant
    ) {
        var t = termination.utf8.makeIterator()
        let c0 = t.next() ?? 0
        let c1 = t.next() ?? 0
        // Invalid or incomplete requests (`PR`, `cR`, `CR`) are the frontend's request errors; `LR` (answered
        // by the balancer itself) is not.
        if c1 == UInt8(ascii: "R") && (c0 == UInt8(ascii: "P") || c0 == UInt8(ascii: "c") || c0 == UInt8(ascii: "C")) {
            frontend.counts.requestErrors += 1
        }
        frontend.counts.count(
            status: status, bytesIn: bytesIn, bytesOut: bytesOut, retries: 0, redispatched: false, c0: 0, c1: 0)
        frontend.counts.lastSession = now
        guard let backend, let server, let counters = counters(of: server, at: position) else { return }
        backend.counts.count(
            status: status, bytesIn: bytesIn, bytesOut: bytesOut, retries: retries, redispatched: redispatched,
            c0: c0, c1: c1)
        backend.counts.lastSession = now
        counters.counts.count(
            status: status, bytesIn: bytesIn, bytesOut: bytesOut, retries: retries, redispatched: redispatched,
            c0: c0, c1: c1)
        counters.counts.lastSession = now
    }
}

/// A backend's own UP/DOWN history: the BACKEND row's status, `lastchg`, `chkdown` and `downtime`.
struct BackendHealth: Hashable, Sendable {
    var up: Bool
    var lastChange: Instant
    var downtime = TimeSpan.zero
    var downCount = 0

    func downtime(at now: Instant) -> TimeSpan { up ? downtime : downtime + (now - lastChange) }

    /// After a check or an admin change: `up` is whether any server is usable now.
    mutating func update(up: Bool, now: Instant) {
        guard up != self.up else { return }
        if up {
            downtime = downtime + (now - lastChange)
        } else {
            downCount += 1
        }
        self.up = up
        lastChange = now
    }
}

/// A proxy as `show stat` lists it: a frontend, a backend or both (a `listen` section), numbered
/// like HAProxy numbers proxies (`iid` 1 is its internal CLI proxy, so configured ones start at 2).
struct StatsProxy: Hashable, Sendable {
    let name: String
    let iid: Int
    let frontend: String?
    let backendIndex: Int?

    /// The proxies of a configuration, in declaration order (a frontend and a backend of the same
    /// name are one proxy, as a `listen` section).
    static func numbered(_ config: HAProxyConfig) -> [StatsProxy] {
        var named: [(line: Int, name: String)] = []
        for fe in config.frontends where !named.contains(where: { $0.name == fe.name }) {
            named.append((fe.line, fe.name))
        }
        for be in config.backends {
            if let i = named.firstIndex(where: { $0.name == be.name }) {
                named[i].line = min(named[i].line, be.line)
            } else {
                named.append((be.line, be.name))
            }
        }
        // Stable sort by declaration line (configurations built in code have line 0: keep their order).
        let ordered = named.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
        return ordered.enumerated().map { position, item in
            StatsProxy(
                name: item.element.name, iid: position + 2,
                frontend: config.frontends.contains { $0.name == item.element.name } ? item.element.name : nil,
                backendIndex: config.backends.firstIndex { $0.name == item.element.name })
        }
    }
}

/// Every counter of a balancer and the backends' UP/DOWN history: what its statistics read.
final class BalancerStatistics {
    let proxies: [StatsProxy]
    private(set) var frontends: [String: TrafficCounters] = [:]
    private(set) var backends: [String: TrafficCounters] = [:]
    private(set) var servers: [ServerKey: TrafficCounters] = [:]
    private(set) var health: [String: BackendHealth] = [:]
    /// Each backend's server names in declaration order (the positions routing decisions carry).
    private var serverOrder: [String: [String]] = [:]
    /// When the balancer started (`start()`), on its clock and on the wall clock (seconds since 1970).
    var startedAt: Instant?
    var startedWall = 0

    init(config: HAProxyConfig, backends: [(name: String, backend: Backend)], now: Instant) {
        proxies = StatsProxy.numbered(config)
        for (name, backend) in backends {
            self.backends[name] = TrafficCounters()
            serverOrder[name] = backend.serverNames
            for s in backend.serverNames { servers[ServerKey(backend: name, server: s)] = TrafficCounters() }
            health[name] = BackendHealth(up: backend.snapshot(now: now).contains { $0.usable }, lastChange: now)
        }
        for fe in config.frontends where frontends[fe.name] == nil { frontends[fe.name] = TrafficCounters() }
    }

    /// The counters a frontend's requests feed when they go to `backend`.
    func requestCounters(frontend: String, backend: String?) -> RequestCounters {
        var servers: [(name: String, counters: TrafficCounters)] = []
        if let backend {
            for name in serverOrder[backend] ?? [] {
                if let c = self.servers[ServerKey(backend: backend, server: name)] { servers.append((name, c)) }
            }
        }
        return RequestCounters(
            frontend: frontends[frontend] ?? TrafficCounters(), backend: backend.flatMap { backends[$0] },
            servers: servers)
    }

    /// Re-derives a backend's UP/DOWN state after a check or an admin change.
    func refreshHealth(_ name: String, backend: Backend, now: Instant) {
        health[name]?.update(up: backend.snapshot(now: now).contains { $0.usable }, now: now)
    }

    /// Seconds since `start()` (0 before).
    func uptimeSeconds(now: Instant) -> Int64 {
        guard let start = startedAt else { return 0 }
        return max(0, (now - start).micros / 1_000_000)
    }

    /// Totals over every frontend.
    var frontendTotals: (connections: Int, requests: Int, bytesOut: Int) {
        frontends.values.reduce((0, 0, 0)) {
            ($0.0 + $1.counts.totalSessions, $0.1 + $1.counts.requests, $0.2 + $1.counts.bytesOut)
        }
    }
}
