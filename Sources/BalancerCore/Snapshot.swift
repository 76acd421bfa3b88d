import HadeckBase

/// One server's row for the dashboard, `show stat` and the stats page.
public struct ServerSnapshot: Hashable, Sendable {
    public var name: String
    public var id: Int
    public var address: HostPort
    public var cookie: String?
    /// `UP`, `DOWN 1/2`, `MAINT`, `no check`...
    public var state: ServerStatus
    /// `state` as `show stat` prints it.
    public var status: String { state.description }
    public var operationalState: OperationalState
    public var adminState: AdminState
    public var checkStatus: CheckStatus?
    /// `L7STS/503`, `L4CON`...
    public var checkStatusText: String?
    public var checkCode: Int?
    public var checkDuration: TimeSpan?
    /// Plain words for the last check result, e.g. `connection refused`.
    public var checkDetail: String
    public var health: Int
    public var rise: Int
    public var fall: Int
    public var lastChange: Instant
    /// Seconds since the last state change, as `lastchg` shows it.
    public var secondsSinceChange: Int64
    public var weight: ServerWeight
    public var currentSessions: Int
    /// `smax`: the most connections the server had at once.
    public var maxSessions: Int
    public var totalSessions: Int
    /// `chkfail`: failed checks while the server was up or going down.
    public var failedChecks: Int
    /// `chkdown`: UP to DOWN transitions.
    public var downTransitions: Int
    public var downtime: TimeSpan
    public var lbtot: Int
    public var backup: Bool
    public var checked: Bool
    public var maxconn: Int
    public var nextCheck: Instant?
    /// `maxqueue` (0: unlimited), requests waiting in its queue now and at most (`qcur`/`qmax`),
    /// and those holding a slot (`served`).
    public var maxqueue: Int = 0
    public var queued: Int = 0
    public var maxQueued: Int = 0
    public var served: Int = 0
}

extension Backend {
    /// Every server's state at `now`, in declaration order.
    public func snapshot(now: Instant) -> [ServerSnapshot] {
        servers.indices.map { i in
            let s = servers[i]
            return ServerSnapshot(
                name: s.name, id: s.id, address: s.config.address, cookie: s.config.cookie,
                state: s.status, operationalState: s.state, adminState: s.admin,
                checkStatus: s.checkStatus, checkStatusText: s.checkStatusText, checkCode: s.checkCode,
                checkDuration: s.checkDuration, checkDetail: s.checkDetail,
                health: s.health, rise: s.config.rise, fall: s.config.fall,
                lastChange: s.lastChange, secondsSinceChange: (now - s.lastChange).micros / 1_000_000,
                weight: ServerWeight(current: s.uweight, initial: s.iweight, effective: effectiveWeight(i, now: now)),
                currentSessions: s.currentConnections, maxSessions: s.maxConnections, totalSessions: s.totalConnections,
                failedChecks: s.failedChecks, downTransitions: s.downTransitions,
                downtime: s.downtime(at: now), lbtot: s.lbtot, backup: s.config.backup,
                checked: s.checked, maxconn: s.config.maxconn, nextCheck: s.nextCheck,
                maxqueue: s.config.maxqueue, queued: s.queued, maxQueued: s.maxQueued, served: s.served)
        }
    }
}

/// What a screen's row shows of one server, read without building a `ServerSnapshot`: no strings,
/// nothing that depends on the time. A cache of rows compares two of these to know what to redo
/// (ClusterCore's snapshot rows); `status` and `checkStatusText` are derived from exactly these
/// fields and the server's configuration.
public struct ServerRowState: Equatable, Sendable {
    public var health: Int
    public var state: OperationalState
    public var admin: AdminState
    /// `uweight` and `iweight`.
    public var weight: Int
    public var initialWeight: Int
    public var lastChange: Instant
    public var checkStatus: CheckStatus?
    public var checkCode: Int?
    public var checkDuration: TimeSpan?
    public var currentSessions: Int
    public var totalSessions: Int
}

extension Backend {
    /// How many servers it has (indices for the `…ofServer(at:)` readers, in declaration order).
    public var serverCount: Int { servers.count }

    /// The index of the first server of that name.
    public func serverIndex(named name: String) -> Int? { indexByName[name] }

    /// The configuration of server `i`.
    public func serverConfig(at i: Int) -> ServerConfig { servers[i].config }

    /// The row fields of server `i` (as `snapshot(now:)` would give them).
    public func rowState(ofServerAt i: Int) -> ServerRowState {
        // Field by field: a copy of the whole runtime would retain its configuration's strings.
        ServerRowState(
            health: servers[i].health, state: servers[i].state, admin: servers[i].admin,
            weight: servers[i].uweight, initialWeight: servers[i].iweight, lastChange: servers[i].lastChange,
            checkStatus: servers[i].checkStatus, checkCode: servers[i].checkCode,
            checkDuration: servers[i].checkDuration, currentSessions: servers[i].currentConnections,
            totalSessions: servers[i].totalConnections)
    }

    /// Server `i`'s status, as `snapshot(now:)`'s `state` (from `health`, `state`, `admin`).
    public func status(ofServerAt i: Int) -> ServerStatus { servers[i].status }

    /// Server `i`'s `L7OK/200`, as `snapshot(now:)`'s `checkStatusText` (from `checkStatus`, `checkCode`).
    public func checkStatusText(ofServerAt i: Int) -> String? { servers[i].checkStatusText }
}
