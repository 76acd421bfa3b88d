import HadeckBase

/// An error the runtime API reports, with HAProxy's exact text (no trailing newline).
public struct BalancerError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A `set weight` argument: `N` or `N%` (relative to the configured weight).
public enum WeightSetting: Hashable, Sendable {
    case absolute(Int)
    case percent(Int)

    /// Parses `N` or `N%` like server_parse_weight_change_request(), with its error texts.
    public static func parse(_ text: String) throws(BalancerError) -> WeightSetting {
        if text.isEmpty { throw BalancerError("Require <weight> or <weight%>.") }
        var digits = Substring(text)
        var negative = false
        if let first = digits.first, first == "-" || first == "+" {
            negative = first == "-"
            digits = digits.dropFirst()
        }
        let number = digits.prefix { $0.isASCII && $0.isNumber }
        if number.isEmpty { throw BalancerError("Empty weight string empty or preceded by garbage") }
        // strtol saturates rather than failing; clamping keeps the later range checks identical.
        let magnitude = Int(number.prefix(12)) ?? Int.max
        let value = negative ? -magnitude : magnitude
        let rest = digits.dropFirst(number.count)
        if rest == "%" { return .percent(value) }
        if value < 0 || value > 256 { return .absolute(value) }
        if !rest.isEmpty { throw BalancerError("Trailing garbage in weight string") }
        return .absolute(value)
    }
}

/// Current and configured weight of a server, as `get weight` prints them.
public struct ServerWeight: Hashable, Sendable, CustomStringConvertible {
    /// The runtime-set weight (`uweight`).
    public var current: Int
    /// The configured weight (`iweight`).
    public var initial: Int
    /// The weight load balancing uses right now (lower than `current` during slowstart).
    public var effective: Int
    /// `get weight` reply: `N (initial M)`.
    public var description: String { "\(current) (initial \(initial))" }
}

/// A balancing reason text and what it was built from.
struct BalanceReason {
    var prefix: String
    var verb: String
    var backups: Bool
    var insert: Bool
    var text: String
}

/// One haproxy process's view of one backend: health checks, admin state, weights,
/// balancing and cookie persistence. Pure and deterministic: time only arrives as `Instant`s.
///
/// Not `Sendable`: it is mutable state meant to live in a single isolation domain.
public final class Backend {
    /// The configuration this backend was built from.
    public let config: BackendConfig
    var servers: [ServerRuntime]
    var indexByName: [String: Int] = [:]
    var staticMap = StaticMapState()
    var leastconnCursor = 0
    /// Connections to any of its servers now, and the most seen at once (the BACKEND row's `scur`/`smax`).
    public private(set) var currentConnections = 0
    public private(set) var maxConnections = 0
    /// Where `balancingSet` builds its answer, kept so that a request does not allocate one (the
    /// caller's copy is gone by the next request, so the buffer is unique again and reused).
    var balancingScratch: [Int] = []
    /// The last balancing reason text per server (see `balance`).
    var reasonCache: [BalanceReason?] = []
    /// The `Set-Cookie` value inserted for each server (see `responseHeaders`).
    var insertLines: [String?] = []
    /// Requests waiting for a slot, oldest first (ServerQueue.swift), and how many of them wait in
    /// the backend's own queue, now and at most (the BACKEND row's `qcur`/`qmax`).
    var queue: [QueuedRequest] = []
    var backendQueued = 0
    public internal(set) var maxBackendQueued = 0

    /// Builds the backend as HAProxy starts it: servers up (health = rise), first checks spread
    /// over the smallest interval like start_checks() does.
    public init(config: BackendConfig, start: Instant) {
        self.config = config
        self.servers = config.servers.enumerated().map {
            ServerRuntime(config: $0.element, id: $0.offset + 1, start: start)
        }
        for (i, s) in servers.enumerated() where indexByName[s.name] == nil { indexByName[s.name] = i }
        scheduleInitialChecks(start: start)
    }

    /// Server names in declaration order.
    public var serverNames: [String] { servers.map(\.name) }

    /// Whether runtime weight changes influence balancing (HAProxy's BE_LB_PROP_DYN).
    public var hasDynamicWeights: Bool {
        switch config.balance {
        case .roundrobin, .leastconn, .first: true
        // `source` is map-based by default (hash-type map-based), hence static like static-rr.
        case .staticRR, .source: false
        }
    }

    func index(_ name: String) throws(BalancerError) -> Int {
        guard let i = indexByName[name] else { throw BalancerError("No such server.") }
        return i
    }

    /// The `show stat` status string of a server (`UP`, `DOWN 1/2`, `MAINT`, `no check`...), or nil if unknown.
    public func status(of server: String) -> ServerStatus? {
        indexByName[server].map { servers[$0].status }
    }

    // MARK: - Health checks

    private func scheduleInitialChecks(start: Instant) {
        let checked = servers.indices.filter { servers[$0].checked }
        guard !checked.isEmpty else { return }
        // Only intervals of at least SRV_CHK_INTER_THRES (1 s) dictate the spread. HAProxy computes
        // this over every proxy in the process; one Backend only knows its own servers.
        let threshold = TimeSpan.milliseconds(1000)
        let minInter = checked.map { servers[$0].currentInterval }.filter { $0 >= threshold }.min()
        for (position, i) in checked.enumerated() {
            let own = servers[i].currentInterval
            let spreadBase = max(minInter ?? .zero, own)
            let offsetMs = spreadBase.milliseconds * Int64(position) / Int64(checked.count)
            servers[i].nextCheck = start + .milliseconds(offsetMs)
        }
    }

    /// The earliest moment a check must start, or nil when no server is checked.
    public var nextCheckDue: Instant? {
        // Asked at every step of a simulation: no temporary array.
        var earliest: Instant?
        for i in servers.indices where servers[i].checkRunningSince == nil { earliest.formMin(servers[i].nextCheck) }
        return earliest
    }

    /// When the next check of one server is due (nil: not checked, or a check is running).
    public func nextCheck(of server: String) -> Instant? {
        indexByName[server].flatMap { servers[$0].checkRunningSince == nil ? servers[$0].nextCheck : nil }
    }

    /// Starts every check that is due. Servers in MAINT are paused: their timer keeps ticking by
    /// `inter` (as HAProxy's reschedule loop does) but no check is run.
    public func startDueChecks(now: Instant) -> [CheckJob] {
        advanceSlowstart(now: now)
        var jobs: [CheckJob] = []
        for i in servers.indices {
            guard servers[i].checked, servers[i].checkRunningSince == nil, let due = servers[i].nextCheck, due <= now
            else { continue }
            if servers[i].admin == .maint {
                var next = due
                while next <= now { next += servers[i].config.inter }
                servers[i].nextCheck = next
                continue
            }
            servers[i].checkRunningSince = now
            servers[i].nextCheck = nil
            jobs.append(makeJob(i, now: now))
        }
        return jobs
    }

    private func makeJob(_ i: Int, now: Instant) -> CheckJob {
        let s = servers[i]
        let inter = s.config.inter
        let kind: CheckKind =
            config.httpCheck.map { .http(method: $0.method, uri: $0.uri, version: $0.version) } ?? .tcp
        var connect = inter
        var read: TimeSpan? = nil
        var whole: TimeSpan? = inter
        if let checkTimeout = config.timeouts.check {
            if let c = config.timeouts.connect { connect = min(c, inter) }
            read = checkTimeout
            whole = nil
        }
        return CheckJob(
            server: s.name, address: s.config.address, kind: kind,
            connectTimeout: connect, readTimeout: read, wholeCheckTimeout: whole, startedAt: now)
    }

    private func classify(_ outcome: CheckOutcome, server i: Int) -> (CheckStatus, Int?, String) {
        let http = config.httpCheck
        switch outcome {
        case .refused: return (.l4Connection, nil, "connection refused")
        case .connectTimeout: return (.l4Timeout, nil, "connection timed out")
        case .socketError: return (.socketError, nil, "socket error")
        case .connected:
            if http == nil { return (.l4OK, nil, "connection accepted") }
            return (.l7Response, nil, "connection closed without a response")
        case .readTimeout:
            return http == nil ? (.l6Timeout, nil, "no data in time") : (.l7Timeout, nil, "no response in time")
        case .badResponse:
            return http == nil ? (.l6Response, nil, "invalid response") : (.l7Response, nil, "invalid HTTP response")
        case .httpStatus(let code):
            guard let http else { return (.l4OK, nil, "connection accepted") }
            // disable-on-404 only applies to a server that is not already down.
            if code == 404 && http.disableOn404 && servers[i].state != .stopped {
                return (.l7OKConditional, code, "HTTP status 404 with disable-on-404")
            }
            let pass = http.passes(status: code)
            return pass ? (.l7OK, code, "HTTP status \(code)") : (.l7Status, code, "HTTP status \(code)")
        }
    }

    /// Records the result of a check started by `startDueChecks`, updates health exactly like
    /// set_server_check_status() and the check_notify_*() functions, and schedules the next
    /// check at completion time + the interval that now applies.
    public func completeCheck(server: String, outcome: CheckOutcome, duration: TimeSpan, now: Instant)
        -> [ServerTransition]
    {
        guard let i = indexByName[server], servers[i].checked else { return [] }
        // A check still in flight when the server went into maintenance counts for nothing.
        guard servers[i].admin != .maint else {
            servers[i].checkRunningSince = nil
            servers[i].nextCheck = now + servers[i].config.inter
            return []
        }
        advanceSlowstart(now: now)
        let before = servers[i].status
        let (status, code, detail) = classify(outcome, server: i)
        servers[i].checkRunningSince = nil
        servers[i].checkStatus = status
        servers[i].checkCode = code
        servers[i].checkDuration = duration
        servers[i].checkDetail = detail

        let rise = servers[i].config.rise
        switch status.result {
        case .failed:
            servers[i].consecutiveFailures += 1
            servers[i].consecutiveSuccesses = 0
            if servers[i].health > 0 {
                servers[i].failedChecks += 1
                servers[i].health -= 1
                if servers[i].health < rise { servers[i].health = 0 }
            }
        case .passed, .conditionallyPassed:
            servers[i].consecutiveSuccesses += 1
            servers[i].consecutiveFailures = 0
            if servers[i].health < servers[i].maxHealth {
                servers[i].health += 1
                if servers[i].health >= rise { servers[i].health = servers[i].maxHealth }
            }
        case .neutral:
            break
        }

        let notMaint = servers[i].admin != .maint
        switch status.result {
        case .failed:
            if servers[i].health == 0 && servers[i].state != .stopped { setStopped(i, now: now) }
        case .conditionallyPassed:
            if notMaint && servers[i].health >= rise && servers[i].state != .stopping { setStopping(i, now: now) }
        case .passed:
            if notMaint && servers[i].health >= rise && !(servers[i].state == .running || servers[i].state == .starting)
            {
                setRunning(i, now: now)
            }
        case .neutral:
            break
        }
        servers[i].nextCheck = now + servers[i].currentInterval

        let after = servers[i].status
        guard after != before else { return [] }
        let text = servers[i].checkStatusText ?? status.rawValue
        let why: String
        if status.result == .failed {
            why =
                "\(server) failed its \(ordinal(servers[i].consecutiveFailures)) check in a row (\(text): \(detail)): \(after)"
        } else {
            why =
                "\(server) passed its \(ordinal(servers[i].consecutiveSuccesses)) check in a row (\(text): \(detail)): \(after)"
        }
        return [ServerTransition(server: server, from: before, to: after, checkStatus: text, why: why, time: now)]
    }

    func setStopped(_ i: Int, now: Instant) {
        servers[i].state = .stopped
        servers[i].lastChange = now
        servers[i].downTransitions += 1
    }

    func setStopping(_ i: Int, now: Instant) {
        if servers[i].state == .stopped { closeDowntime(i, now: now) }
        servers[i].state = .stopping
        servers[i].lastChange = now
    }

    /// srv_set_running(): with `slowstart` the server ramps up (STARTING) instead of jumping to full weight.
    func setRunning(_ i: Int, now: Instant) {
        if servers[i].state == .stopped { closeDowntime(i, now: now) }
        servers[i].state = slowstartSeconds(i) > 0 ? .starting : .running
        servers[i].lastChange = now
        servers[i].smoothCurrent = 0
    }

    private func closeDowntime(_ i: Int, now: Instant) {
        servers[i].accumulatedDowntime = servers[i].accumulatedDowntime + (now - servers[i].lastChange)
    }

    // MARK: - Slowstart

    /// HAProxy keeps slowstart in whole seconds, rounded up from milliseconds.
    func slowstartSeconds(_ i: Int) -> Int64 {
        guard let ss = servers[i].config.slowstart, ss.micros > 0 else { return 0 }
        return (ss.milliseconds + 999) / 1000
    }

    /// HAProxy compares whole seconds (now.tv_sec against last_change) in the warm-up arithmetic.
    private func wholeSeconds(_ t: Instant) -> Int64 {
        t.micros >= 0 ? t.micros / 1_000_000 : -((-t.micros + 999_999) / 1_000_000)
    }

    func advanceSlowstart(now: Instant) {
        for i in servers.indices where servers[i].state == .starting {
            let elapsed = wholeSeconds(now) - wholeSeconds(servers[i].lastChange)
            if elapsed < 0 || elapsed >= slowstartSeconds(i) { servers[i].state = .running }
        }
    }

    /// server_recalc_eweight(): during slowstart, dynamic algorithms see
    /// (uweight * w + 15) / 16 with w = (16 * elapsed + slowstart) / slowstart.
    func effectiveWeight(_ i: Int, now: Instant) -> Int {
        // The common case (not in slowstart) without copying the ServerRuntime.
        if servers[i].state != .starting { return servers[i].uweight }
        let s = servers[i]
        let ss = slowstartSeconds(i)
        guard s.state == .starting, hasDynamicWeights, ss > 0 else { return s.uweight }
        let elapsed = wholeSeconds(now) - wholeSeconds(s.lastChange)
        if elapsed < 0 || elapsed >= ss { return s.uweight }
        let scale: Int64 = 16  // BE_WEIGHT_SCALE: wdiv == wmult for dynamic algorithms
        let w = (scale * elapsed + ss) / ss
        return Int((Int64(s.uweight) * w + scale - 1) / scale)
    }

    /// srv_dynamic_maxconn(): during slowstart maxconn ramps with the elapsed share of it.
    func dynamicMaxconn(_ i: Int, now: Instant) -> Int {
        if servers[i].state != .starting { return servers[i].config.maxconn }
        let s = servers[i]
        let ss = slowstartSeconds(i)
        guard s.config.maxconn > 0, s.state == .starting, ss > 0 else { return s.config.maxconn }
        let elapsed = wholeSeconds(now) - wholeSeconds(s.lastChange)
        guard elapsed >= 0, elapsed < ss else { return s.config.maxconn }
        let ratio = 100 * elapsed / ss
        return max(1, Int(Int64(s.config.maxconn) * ratio / 100))
    }

    // MARK: - Admin state and weights

    /// `set server B/S state ready|drain|maint`. Leaving MAINT restarts a checked server at
    /// health = rise ("start OK but check immediately"), so it shows `UP 1/3`-style until a check passes.
    public func setAdminState(server: String, _ state: AdminState, now: Instant) throws(BalancerError)
        -> [ServerTransition]
    {
        let i = try index(server)
        advanceSlowstart(now: now)
        let before = servers[i].status
        let old = servers[i].admin
        guard old != state else { return [] }
        servers[i].admin = state
        switch (old, state) {
        case (_, .maint):
            if servers[i].state != .stopped {
                servers[i].state = .stopped
                servers[i].lastChange = now
            }
        case (.maint, _):
            // No checks ran in maintenance: the next one starts a new run of passes or failures.
            servers[i].consecutiveSuccesses = 0
            servers[i].consecutiveFailures = 0
            if servers[i].checked { servers[i].health = servers[i].config.rise }
            if !servers[i].checked || servers[i].health >= servers[i].config.rise { setRunning(i, now: now) }
        default:
            break
        }
        let after = servers[i].status
        let why: String
        switch state {
        case .maint: why = "\(server) was put in maintenance: no traffic and no checks: \(after)"
        case .drain: why = "\(server) was set to drain: no new clients, cookie clients still served: \(after)"
        case .ready:
            why =
                old == .maint
                ? "\(server) left maintenance\(servers[i].checked ? " and waits for its next check" : ""): \(after)"
                : "\(server) was set ready: it takes new clients again: \(after)"
        }
        return [ServerTransition(server: server, from: before, to: after, checkStatus: nil, why: why, time: now)]
    }

    /// `enable server B/S`: leaves MAINT (same as `state ready` from maintenance).
    public func enableServer(_ server: String, now: Instant) throws(BalancerError) -> [ServerTransition] {
        let i = try index(server)
        guard servers[i].admin == .maint else { return [] }
        return try setAdminState(server: server, .ready, now: now)
    }

    /// `disable server B/S`: same as `state maint`.
    public func disableServer(_ server: String, now: Instant) throws(BalancerError) -> [ServerTransition] {
        try setAdminState(server: server, .maint, now: now)
    }

    /// The admin state of a server.
    public func adminState(of server: String) throws(BalancerError) -> AdminState {
        servers[try index(server)].admin
    }

    /// `get weight B/S`.
    public func weight(_ server: String, now: Instant) throws(BalancerError) -> ServerWeight {
        let i = try index(server)
        return ServerWeight(
            current: servers[i].uweight, initial: servers[i].iweight, effective: effectiveWeight(i, now: now))
    }

    /// `set weight B/S N|N%` with HAProxy's range rules and error texts.
    public func setWeight(server: String, _ change: WeightSetting, now: Instant) throws(BalancerError)
        -> [ServerTransition]
    {
        let i = try index(server)
        var w: Int
        switch change {
        case .absolute(let n):
            guard (0...256).contains(n) else {
                throw BalancerError("Absolute weight can only be between 0 and 256 inclusive.")
            }
            w = n
        case .percent(let p):
            guard p >= 0 else { throw BalancerError("Relative weight must be positive.") }
            w = servers[i].iweight * min(p, 25600) / 100
            w = min(w, 256)
        }
        if w != 0 && w != servers[i].iweight && !hasDynamicWeights {
            throw BalancerError("Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.")
        }
        return applyWeight(i, w, now: now)
    }

    /// Restores the configured weight (hatop's F4).
    public func resetWeight(server: String, now: Instant) throws(BalancerError) -> [ServerTransition] {
        let i = try index(server)
        return applyWeight(i, servers[i].iweight, now: now)
    }

    private func applyWeight(_ i: Int, _ w: Int, now: Instant) -> [ServerTransition] {
        advanceSlowstart(now: now)
        let old = servers[i].uweight
        guard old != w else { return [] }
        let status = servers[i].status
        servers[i].uweight = w
        let name = servers[i].name
        let effect =
            w == 0
            ? "no new clients, cookie clients still served"
            : (old == 0 ? "it takes new clients again" : "its share of new clients changes")
        let why = "\(name) weight changed from \(old) to \(w) (initial \(servers[i].iweight)): \(effect)"
        return [ServerTransition(server: name, from: status, to: status, checkStatus: nil, why: why, time: now)]
    }

    // MARK: - Connections

    /// A connection to `server` was established (counts toward leastconn, maxconn and stot).
    /// `position`: the server's index in `serverNames` when the caller knows it (a routing
    /// decision's `serverPosition`), which spares hashing the name; a wrong one is looked up by name.
    public func connectionOpened(server: String, position: Int? = nil) {
        guard let i = index(of: server, hint: position) else { return }
        servers[i].currentConnections += 1
        servers[i].maxConnections = max(servers[i].maxConnections, servers[i].currentConnections)
        servers[i].totalConnections += 1
        currentConnections += 1
        maxConnections = max(maxConnections, currentConnections)
    }

    /// A connection to `server` ended.
    public func connectionClosed(server: String, position: Int? = nil) {
        guard let i = index(of: server, hint: position), servers[i].currentConnections > 0 else { return }
        servers[i].currentConnections -= 1
        currentConnections -= 1
    }

    /// The index of the server named `name`: `hint` when that is it (no hashing), else by name.
    func index(of name: String, hint: Int?) -> Int? {
        if let hint, hint >= 0, hint < servers.count, servers[hint].name == name { return hint }
        return indexByName[name]
    }

    /// Current connections of a server.
    public func connections(of server: String) -> Int {
        indexByName[server].map { servers[$0].currentConnections } ?? 0
    }
}
