import HadeckBase

/// HAProxy's operational state (`srv->cur_state`), separate from the admin state.
public enum OperationalState: Int, Hashable, Sendable, Comparable {
    // Raw values follow enum srv_state: the redispatch rule compares `cur_state < SRV_ST_RUNNING`.
    case stopped = 0
    case starting = 1
    case running = 2
    case stopping = 3

    public static func < (a: OperationalState, b: OperationalState) -> Bool { a.rawValue < b.rawValue }
}

/// One server's live state inside a `Backend`.
struct ServerRuntime {
    var config: ServerConfig
    /// 1-based position, HAProxy's default `id`.
    var id: Int
    var health: Int
    var state: OperationalState
    var admin: AdminState
    var uweight: Int
    var iweight: Int
    var lastChange: Instant
    var accumulatedDowntime = TimeSpan.zero
    var checkStatus: CheckStatus?
    var checkCode: Int?
    var checkDuration: TimeSpan?
    var checkDetail = ""
    var nextCheck: Instant?
    var checkRunningSince: Instant?
    var consecutiveFailures = 0
    var consecutiveSuccesses = 0
    var currentConnections = 0
    /// Requests holding one of its `maxconn` slots (HAProxy's `served`): from their assignment,
    /// before they connect, to the end of their transaction. Leastconn and maxconn count these.
    var served = 0
    /// Requests in its own queue, now and at most (`qcur`/`qmax`).
    var queued = 0
    var maxQueued = 0
    var maxConnections = 0
    var totalConnections = 0
    var lbtot = 0
    var failedChecks = 0
    var downTransitions = 0
    var smoothCurrent = 0

    var name: String { config.name }
    var maxHealth: Int { config.rise + config.fall - 1 }
    var checked: Bool { config.check }

    init(config: ServerConfig, id: Int, start: Instant) {
        self.config = config
        self.id = id
        // HAProxy sets health = rise at start-up (srv_parse_check_rise): up, but one failure from "going down".
        self.health = config.rise
        self.admin = config.disabled ? .maint : .ready
        self.state = config.disabled ? .stopped : .running
        self.uweight = config.weight
        self.iweight = config.weight
        self.lastChange = start
        self.checkStatus = config.check ? .initializing : nil
    }

    /// srv_getinter(): inter when fully up, downinter when fully down, fastinter in between.
    var currentInterval: TimeSpan {
        if health == maxHealth { return config.inter }
        if state == .stopped && health == 0 { return config.effectiveDowninter }
        return config.effectiveFastinter
    }

    /// The status column of `show stat`, as stats.c computes it.
    var status: ServerStatus {
        if admin == .maint { return ServerStatus(.maint) }
        // Going down: failed checks so far, of `fall`.
        let upCounts = ServerStatus.Progress(count: health - config.rise + 1, of: config.fall)
        switch state {
        case .running, .starting:
            let goingDown = checked && health < maxHealth
            if admin == .drain { return ServerStatus(.drain, progress: goingDown ? upCounts : nil) }
            if goingDown { return ServerStatus(.up, progress: upCounts) }
            return ServerStatus(checked ? .up : .noCheck)
        case .stopping:
            return ServerStatus(.nolb, progress: (!checked || health == maxHealth) ? nil : upCounts)
        case .stopped:
            if checked && health > 0 {
                return ServerStatus(.down, progress: .init(count: health, of: config.rise))
            }
            return ServerStatus(.down)
        }
    }

    var statusText: String { status.description }

    /// `L7STS/503` or `L4CON`: the status name, plus the HTTP code for layer 7 results.
    var checkStatusText: String? {
        guard let status = checkStatus else { return nil }
        if let code = checkCode, status.rawValue.hasPrefix("L7") { return "\(status.rawValue)/\(code)" }
        return status.rawValue
    }

    func downtime(at now: Instant) -> TimeSpan {
        state == .stopped ? accumulatedDowntime + (now - lastChange) : accumulatedDowntime
    }
}
