import BalancerCore
import HadeckBase

/// Everything HAProxy's text formats say about a balancer (`show stat`, `show info`, `show servers
/// state`, the stats page, `/metrics`), copied on its loop at one instant. The formats are pure
/// functions of this value: the socket and HTTP code only carry their bytes.
struct StatsSnapshot: Sendable {
    var process: ProcessStats
    var proxies: [ProxyStats]
    /// The instant everything was read at (ages such as `lastsess` are measured from it).
    var now: Instant

    /// The backends, with the proxy each belongs to.
    var backends: [(proxy: ProxyStats, backend: BackendStats)] {
        proxies.compactMap { p in p.backend.map { (p, $0) } }
    }
}

/// The process: `show info`'s figures and the stats page's header.
struct ProcessStats: Sendable {
    /// The balancer's name (the stats page's title) and the pid and node it reports.
    var name: String
    var pid: Int
    var node: String
    /// Started and not stopped: frontends are `OPEN`.
    var alive: Bool
    /// `global maxconn`, if configured (hadeck enforces none).
    var maxconn: Int?
    var uptimeSeconds: Int64
    /// Seconds since 1970 at `start()`.
    var startedWall: Int
    /// The open files limit (`Ulimit-n`).
    var openFilesLimit: Int
    var currentConnections: Int
    var totalConnections: Int
    var totalRequests: Int
    var totalBytesOut: Int
    /// Listening sockets (frontends and stats sockets), runtime API connections, tasks (every
    /// channel: listeners, clients, servers, checks, runtime API).
    var listeners: Int
    var cliConnections: Int
    var tasks: Int
}

/// One proxy: a frontend, a backend or both (`listen`).
struct ProxyStats: Sendable {
    var name: String
    var iid: Int
    var frontend: TrafficCounts?
    var backend: BackendStats?
}

/// One backend and its servers.
struct BackendStats: Sendable {
    var name: String
    var currentConnections: Int
    var maxConnections: Int
    /// Requests in the backend's own queue, now and at most.
    var queued = 0
    var maxQueued = 0
    /// The `cookie` line's name, and the `balance` algorithm.
    var cookieName: String?
    var algorithm: String
    var counts: TrafficCounts
    var health: BackendHealth
    var servers: [ServerStats]

    /// Active servers usable now, and backup ones.
    var activeUsable: [ServerStats] { servers.filter { !$0.snapshot.backup && $0.snapshot.usable } }
    var backupUsable: [ServerStats] { servers.filter { $0.snapshot.backup && $0.snapshot.usable } }
    /// HAProxy's backend weight counts the active servers, or the backups when no active server is usable.
    var weighted: [ServerStats] { activeUsable.isEmpty ? backupUsable : activeUsable }
}

/// One server: the core's snapshot and the data plane's counts.
struct ServerStats: Sendable {
    var snapshot: ServerSnapshot
    var counts: TrafficCounts
}

extension ServerSnapshot {
    /// The state label of `haproxy_server_status`.
    var prometheusState: String {
        if adminState == .maint { return "MAINT" }
        switch operationalState {
        case .stopped: return "DOWN"
        case .stopping: return "NOLB"
        case .running, .starting: return adminState == .drain ? "DRAIN" : "UP"
        }
    }

    /// Whether the server takes new traffic now (HAProxy's srv_currently_usable with a non-zero weight).
    var usable: Bool {
        adminState == .ready && (operationalState == .running || operationalState == .starting)
            && weight.effective > 0
    }
}

extension BalancerStatistics {
    /// The snapshot of every proxy now; `process` is filled by the caller, who knows the sockets.
    func proxies(backends: [(name: String, backend: Backend)], now: Instant) -> [ProxyStats] {
        proxies.map { p in
            var stats = ProxyStats(name: p.name, iid: p.iid)
            if let fe = p.frontend { stats.frontend = frontends[fe]?.counts }
            if let i = p.backendIndex {
                let (name, backend) = backends[i]
                stats.backend = BackendStats(
                    name: name, currentConnections: backend.currentConnections,
                    maxConnections: backend.maxConnections, queued: backend.queued(for: nil),
                    maxQueued: backend.maxBackendQueued, cookieName: backend.config.cookie?.name,
                    algorithm: backend.config.balance.rawValue, counts: self.backends[name]?.counts ?? TrafficCounts(),
                    health: health[name] ?? BackendHealth(up: true, lastChange: now),
                    servers: backend.snapshot(now: now).map {
                        ServerStats(
                            snapshot: $0, counts: servers[ServerKey(backend: name, server: $0.name)]?.counts ?? .init())
                    })
            }
            return stats
        }
    }
}
