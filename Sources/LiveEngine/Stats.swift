import BalancerCore
import HadeckBase
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Traffic counters of one frontend, backend or server: the `show stat` columns the data plane feeds.
final class TrafficCounters {
    var bytesIn = 0
    var bytesOut = 0
    /// `hrsp_1xx` ... `hrsp_5xx`, `hrsp_other`.
    var responses = [0, 0, 0, 0, 0, 0]
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

    /// Counts one finished request. `termination` is HAProxy's two-letter state (`--`, `SC`, `CD`...).
    @inline(__always)
    func count(status: Int, bytesIn: Int, bytesOut: Int, retries: Int, redispatched: Bool, c0: UInt8, c1: UInt8) {
        requests += 1
        self.bytesIn += bytesIn
        self.bytesOut += bytesOut
        if status > 0 { responses[status >= 100 && status < 600 ? status / 100 - 1 : 5] += 1 }
        self.retries += retries
        if redispatched { redispatches += 1 }
        switch (c0, c1) {
        case (UInt8(ascii: "S"), UInt8(ascii: "C")): connectionErrors += 1
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

/// The counters one frontend's requests touch, resolved once so that a finished request costs a few
/// increments and one dictionary lookup (its server).
final class RequestCounters {
    let frontend: TrafficCounters
    let backend: TrafficCounters?
    let servers: [String: TrafficCounters]

    init(frontend: TrafficCounters, backend: TrafficCounters?, servers: [String: TrafficCounters]) {
        self.frontend = frontend
        self.backend = backend
        self.servers = servers
    }

    /// Called once per request (or failed request) by the client session.
    func requestFinished(
        server: String?, status: Int, bytesIn: Int, bytesOut: Int, retries: Int, redispatched: Bool,
        termination: String, now: Instant
    ) {
        var t = termination.utf8.makeIterator()
        let c0 = t.next() ?? 0
        let c1 = t.next() ?? 0
        // Invalid or incomplete requests (`PR`, `cR`, `CR`) are the frontend's request errors; `LR` (answered
        // by the balancer itself) is not.
        if c1 == UInt8(ascii: "R") && (c0 == UInt8(ascii: "P") || c0 == UInt8(ascii: "c") || c0 == UInt8(ascii: "C")) {
            frontend.requestErrors += 1
        }
        frontend.count(
            status: status, bytesIn: bytesIn, bytesOut: bytesOut, retries: 0, redispatched: false, c0: 0, c1: 0)
        frontend.lastSession = now
        guard let backend, let server, let counters = servers[server] else { return }
        for c in [backend, counters] {
            c.count(
                status: status, bytesIn: bytesIn, bytesOut: bytesOut, retries: retries, redispatched: redispatched,
                c0: c0, c1: c1)
            c.lastSession = now
        }
    }
}

/// A backend's own UP/DOWN history: the BACKEND row's status, `lastchg`, `chkdown` and `downtime`.
struct BackendHealth {
    var up: Bool
    var lastChange: Instant
    var downtime = TimeSpan.zero
    var downCount = 0

    func downtime(at now: Instant) -> TimeSpan { up ? downtime : downtime + (now - lastChange) }
}

/// A proxy as `show stat` lists it: a frontend, a backend or both (a `listen` section), numbered
/// like HAProxy numbers proxies (`iid` 1 is its internal CLI proxy, so configured ones start at 2).
struct StatsProxy {
    let name: String
    let iid: Int
    let frontend: String?
    let backendIndex: Int?
}

/// What `show stat` and the stats page need of one server or backend, read on the loop.
struct ProxyView {
    var proxy: StatsProxy
    var frontend: TrafficCounters?
    var backendName: String?
    var backend: Backend?
    var backendCounters: TrafficCounters?
    var servers: [(snapshot: ServerSnapshot, counters: TrafficCounters)] = []
    var health: BackendHealth?
}

/// HAProxy 2.6's `show stat` header line, byte for byte.
let showStatHeader =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,"

/// The column names of `showStatHeader`, in order.
let showStatFields: [String] = {
    var fields = showStatHeader.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    if fields.last == "" { fields.removeLast() }
    return fields
}()

let showStatFieldIndex: [String: Int] = Dictionary(
    showStatFields.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })

/// One CSV row being filled by column name; unfilled columns stay empty.
struct StatRow {
    var cells = [String](repeating: "", count: showStatFields.count)

    subscript(_ name: String) -> String {
        get { showStatFieldIndex[name].map { cells[$0] } ?? "" }
        set { if let i = showStatFieldIndex[name] { cells[i] = newValue } }
    }

    mutating func set(_ name: String, _ value: Int) { self[name] = String(value) }

    /// `hrsp_1xx` ... `hrsp_other` and `req_tot`.
    mutating func setResponses(_ c: TrafficCounters) {
        for (i, name) in ["hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"].enumerated() {
            set(name, c.responses[i])
        }
        set("req_tot", c.requests)
    }

    /// `cli_abrt`, `srv_abrt` and `lastsess` (seconds since the last session, -1 for none).
    mutating func setAborts(_ c: TrafficCounters, now: Instant) {
        set("cli_abrt", c.clientAborts)
        set("srv_abrt", c.serverAborts)
        set("lastsess", c.lastSession.map { Int((now - $0).micros / 1_000_000) } ?? -1)
    }

    /// HAProxy ends every row with a comma, like the header.
    var line: String { cells.joined(separator: ",") + ",\n" }
}

/// The version hadeck reports where HAProxy reports its own (`show info`, the stats page, metrics).
public let hadeckStatsVersion = "2.6-hadeck"
/// The release date reported next to `hadeckStatsVersion`.
public let hadeckStatsReleaseDate = "2026/11/25"

/// The states `haproxy_server_status` has one series for, as HAProxy 2.6's exporter.
let prometheusServerStates = ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"]

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

extension BalancerState {
    /// Sets up counters, proxy ids and backend health once, at init.
    func setUpStats(now: Instant) {
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
        proxies = ordered.enumerated().map { position, item in
            StatsProxy(
                name: item.element.name, iid: position + 2,
                frontend: frontendOrder.contains(item.element.name) ? item.element.name : nil,
                backendIndex: backends.firstIndex { $0.name == item.element.name })
        }
        for (name, backend) in backends {
            backendCounters[name] = TrafficCounters()
            for s in backend.serverNames { serverCounters[ServerKey(backend: name, server: s)] = TrafficCounters() }
            backendHealth[name] = BackendHealth(up: Self.anyUsable(backend.snapshot(now: now)), lastChange: now)
        }
        for name in frontendOrder {
            let counters = TrafficCounters()
            frontendCounters[name] = counters
            guard var fe = frontends[name] else { continue }
            var servers: [String: TrafficCounters] = [:]
            if let be = fe.backendName {
                for (key, c) in serverCounters where key.backend == be { servers[key.server] = c }
            }
            fe.counters = RequestCounters(
                frontend: counters, backend: fe.backendName.flatMap { backendCounters[$0] }, servers: servers)
            if fe.config.stats.enabled {
                fe.statsPage = fe.config.stats
            } else if let stats = fe.backendConfig?.stats, stats.enabled {
                fe.statsPage = stats
            }
            frontends[name] = fe
        }
    }

    static func anyUsable(_ servers: [ServerSnapshot]) -> Bool { servers.contains { $0.usable } }

    /// Re-derives a backend's UP/DOWN state after a check or an admin change.
    func refreshBackendHealth(_ name: String, now: Instant) {
        guard var h = backendHealth[name], let backend = backends.first(where: { $0.name == name })?.backend
        else { return }
        let up = Self.anyUsable(backend.snapshot(now: now))
        guard up != h.up else { return }
        if up {
            h.downtime = h.downtime + (now - h.lastChange)
        } else {
            h.downCount += 1
        }
        h.up = up
        h.lastChange = now
        backendHealth[name] = h
    }

    /// Every proxy with what its rows need, in `show stat` order.
    func proxyViews(now: Instant) -> [ProxyView] {
        proxies.map { p in
            var view = ProxyView(proxy: p)
            if let fe = p.frontend { view.frontend = frontendCounters[fe] }
            if let i = p.backendIndex {
                let (name, backend) = backends[i]
                view.backendName = name
                view.backend = backend
                view.backendCounters = backendCounters[name]
                view.health = backendHealth[name]
                view.servers = backend.snapshot(now: now).map {
                    ($0, serverCounters[ServerKey(backend: name, server: $0.name)] ?? TrafficCounters())
                }
            }
            return view
        }
    }

    /// Seconds since `start()` (0 before).
    func uptimeSeconds(now: Instant) -> Int64 {
        guard let start = startedAt else { return 0 }
        return max(0, (now - start).micros / 1_000_000)
    }

    // MARK: show stat

    func frontendRow(_ v: ProxyView, _ c: TrafficCounters) -> StatRow {
        var r = StatRow()
        r["pxname"] = v.proxy.name
        r["svname"] = "FRONTEND"
        r.set("scur", c.currentSessions)
        r.set("smax", c.maxSessions)
        if let limit = config.global.maxconn { r.set("slim", limit) }
        r.set("stot", c.totalSessions)
        r.set("bin", c.bytesIn)
        r.set("bout", c.bytesOut)
        r.set("dreq", 0)
        r.set("dresp", 0)
        r.set("ereq", c.requestErrors)
        r["status"] = alive ? "OPEN" : "STOP"
        r.set("pid", 1)
        r.set("iid", v.proxy.iid)
        r.set("sid", 0)
        r.set("type", 0)
        r.setResponses(c)
        r["mode"] = "http"
        r.set("conn_tot", c.totalSessions)
        r.set("intercepted", c.intercepted)
        return r
    }

    func serverRow(_ v: ProxyView, _ s: ServerSnapshot, _ c: TrafficCounters, now: Instant) -> StatRow {
        var r = StatRow()
        r["pxname"] = v.proxy.name
        r["svname"] = s.name
        r.set("scur", s.currentSessions)
        r.set("smax", s.maxSessions)
        if s.maxconn > 0 { r.set("slim", s.maxconn) }
        r.set("stot", s.totalSessions)
        r.set("bin", c.bytesIn)
        r.set("bout", c.bytesOut)
        r.set("dresp", 0)
        r.set("econ", c.connectionErrors)
        r.set("eresp", c.responseErrors)
        r.set("wretr", c.retries)
        r.set("wredis", c.redispatches)
        r["status"] = s.status
        r.set("weight", s.weight.effective)
        r.set("act", s.backup ? 0 : 1)
        r.set("bck", s.backup ? 1 : 0)
        if s.checked {
            r.set("chkfail", s.failedChecks)
            r.set("chkdown", s.downTransitions)
        }
        r.set("lastchg", Int(s.secondsSinceChange))
        if s.checked { r.set("downtime", Int(s.downtime.micros / 1_000_000)) }
        r.set("pid", 1)
        r.set("iid", v.proxy.iid)
        r.set("sid", s.id)
        r.set("lbtot", s.lbtot)
        r.set("type", 2)
        // HAProxy leaves the check columns empty while checks are paused (MAINT).
        if s.checked && s.adminState != .maint, let status = s.checkStatus {
            r["check_status"] = status.rawValue
            if let code = s.checkCode, status.rawValue.hasPrefix("L7") { r.set("check_code", code) }
            if let d = s.checkDuration { r.set("check_duration", Int(d.micros / 1000)) }
        }
        r.setResponses(c)
        r.setAborts(c, now: now)
        if s.checked && s.adminState != .maint {
            r["last_chk"] = csvSafe(s.checkDetail)
            r["check_desc"] = s.checkStatus?.longDescription ?? ""
        }
        if s.checked {
            r.set("check_rise", s.rise)
            r.set("check_fall", s.fall)
            r.set("check_health", s.health)
        }
        r["addr"] = s.address.description
        r["cookie"] = s.cookie ?? ""
        r["mode"] = "http"
        r.set("uweight", s.weight.current)
        return r
    }

    func backendRow(_ v: ProxyView, now: Instant) -> StatRow {
        var r = StatRow()
        let c = v.backendCounters ?? TrafficCounters()
        let active = v.servers.filter { !$0.snapshot.backup && $0.snapshot.usable }
        let backup = v.servers.filter { $0.snapshot.backup && $0.snapshot.usable }
        // HAProxy's backend weight: the active servers', or the backups' when no active server is usable.
        let weighted = active.isEmpty ? backup : active
        r["pxname"] = v.proxy.name
        r["svname"] = "BACKEND"
        r.set("scur", v.backend?.currentConnections ?? 0)
        r.set("smax", v.backend?.maxConnections ?? 0)
        r.set("stot", v.servers.reduce(0) { $0 + $1.snapshot.totalSessions })
        r.set("bin", c.bytesIn)
        r.set("bout", c.bytesOut)
        r.set("dreq", 0)
        r.set("dresp", 0)
        r.set("econ", c.connectionErrors)
        r.set("eresp", c.responseErrors)
        r.set("wretr", c.retries)
        r.set("wredis", c.redispatches)
        let health = v.health ?? BackendHealth(up: true, lastChange: now)
        r["status"] = health.up ? "UP" : "DOWN"
        r.set("weight", weighted.reduce(0) { $0 + $1.snapshot.weight.effective })
        r.set("act", active.count)
        r.set("bck", backup.count)
        r.set("chkdown", health.downCount)
        r.set("lastchg", Int((now - health.lastChange).micros / 1_000_000))
        r.set("downtime", Int(health.downtime(at: now).micros / 1_000_000))
        r.set("pid", 1)
        r.set("iid", v.proxy.iid)
        r.set("sid", 0)
        r.set("lbtot", v.servers.reduce(0) { $0 + $1.snapshot.lbtot })
        r.set("type", 1)
        r.setResponses(c)
        r.setAborts(c, now: now)
        r["cookie"] = v.backend?.config.cookie?.name ?? ""
        r["mode"] = "http"
        r["algo"] = v.backend?.config.balance.rawValue ?? ""
        r.set("uweight", weighted.reduce(0) { $0 + $1.snapshot.weight.current })
        return r
    }

    /// `show stat` without the CLI's closing empty line (also the stats page's `;csv`).
    /// `filter`: proxy iid (-1: all), type bits (1 frontend, 2 backend, 4 server; -1: all), server id (-1: all).
    func statCSV(now: Instant, filter: (iid: Int, types: Int, sid: Int)? = nil) -> String {
        var out = showStatHeader + "\n"
        let types = filter?.types ?? -1
        for v in proxyViews(now: now) {
            if let f = filter, f.iid != -1, f.iid != v.proxy.iid { continue }
            if types & 1 != 0, let fe = v.frontend { out += frontendRow(v, fe).line }
            if v.backendName != nil {
                if types & 4 != 0 {
                    for (s, c) in v.servers {
                        if let f = filter, f.sid != -1, f.sid != s.id { continue }
                        out += serverRow(v, s, c, now: now).line
                    }
                }
                if types & 2 != 0 { out += backendRow(v, now: now).line }
            }
        }
        return out
    }

    // MARK: show info

    /// `show info` lines (key, value) in HAProxy 2.6's order, for the keys hadeck can fill truthfully.
    func infoFields(now: Instant) -> [(String, String)] {
        let up = uptimeSeconds(now: now)
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let totalRequests = frontendCounters.values.reduce(0) { $0 + $1.requests }
        let totalConnections = frontendCounters.values.reduce(0) { $0 + $1.totalSessions }
        let bytesOut = frontendCounters.values.reduce(0) { $0 + $1.bytesOut }
        let tasks = listeners.count + clients.count + upstreams.count + checkChannels.count + cliConnections.count
        return [
            ("Name", "HAProxy"),
            ("Version", hadeckStatsVersion),
            ("Release_date", hadeckStatsReleaseDate),
            ("Nbthread", "1"),
            ("Nbproc", "1"),
            ("Process_num", "1"),
            ("Pid", String(pid)),
            ("Uptime", Self.uptimeText(up)),
            ("Uptime_sec", String(up)),
            ("Memmax_MB", "0"),
            ("Ulimit-n", String(limit.rlim_cur)),
            // hadeck enforces no connection limit: the configured one, or 0.
            ("Maxconn", String(config.global.maxconn ?? 0)),
            ("Hard_maxconn", String(config.global.maxconn ?? 0)),
            ("CurrConns", String(clients.count)),
            ("CumConns", String(totalConnections)),
            ("CumReq", String(totalRequests)),
            ("Maxpipes", "0"),
            ("PipesUsed", "0"),
            ("PipesFree", "0"),
            ("Tasks", String(tasks)),
            ("Run_queue", "0"),
            ("node", node),
            ("Stopping", "0"),
            ("Jobs", String(listeners.count + statsListeners.count + clients.count + cliConnections.count)),
            ("Unstoppable Jobs", "0"),
            ("Listeners", String(listeners.count + statsListeners.count)),
            ("ActivePeers", "0"),
            ("ConnectedPeers", "0"),
            ("DroppedLogs", "0"),
            ("TotalBytesOut", String(bytesOut)),
            ("TotalSplicdedBytesOut", "0"),
            ("Build info", hadeckStatsVersion),
            ("Memmax_bytes", "0"),
            ("Start_time_sec", String(startedWall)),
            ("Tainted", "0"),
        ]
    }

    /// `0d 0h00m01s`, as HAProxy's `Uptime:`.
    static func uptimeText(_ seconds: Int64) -> String {
        let d = seconds / 86400
        let h = (seconds / 3600) % 24
        let m = (seconds / 60) % 60
        let s = seconds % 60
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(d)d \(h)h\(two(m))m\(two(s))s"
    }

    // MARK: show servers state

    /// `show servers state [backend]` in HAProxy's version-1 layout; nil when the backend does not exist.
    func serversState(backend filter: String?, now: Instant) -> String? {
        if let filter, !backends.contains(where: { $0.name == filter }) { return nil }
        var out =
            "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"
        for v in proxyViews(now: now) {
            guard let name = v.backendName, filter == nil || filter == name else { continue }
            for (s, _) in v.servers {
                // srv_admin_state bits: 0x01 forced MAINT, 0x08 forced DRAIN (a `disabled` server shows 0x01 too).
                var admin = 0
                if s.adminState == .maint { admin = 0x01 }
                if s.adminState == .drain { admin = 0x08 }
                let checkState = s.checked ? (0x02 | 0x04 | (s.adminState == .maint ? 0x08 : 0)) : 0
                let fields: [String] = [
                    String(v.proxy.iid), name, String(s.id), s.name, s.address.host,
                    String(s.operationalState.rawValue), String(admin), String(s.weight.current),
                    String(s.weight.initial), String(s.secondsSinceChange),
                    String(s.checked ? s.checkStatus.map(Self.checkStatusNumber) ?? 1 : 1),
                    String(s.checked ? Self.checkResultNumber(s.checkStatus) : 0),
                    String(s.checked ? s.health : 0), String(checkState),
                    "0", "0", "0", "-", String(s.address.port), "-", "0", "0", "-", "-", "0",
                ]
                out += fields.joined(separator: " ") + "\n"
            }
        }
        return out
    }

    /// enum healthcheck_status of HAProxy 2.6.
    static func checkStatusNumber(_ s: CheckStatus) -> Int {
        switch s {
        case .unknown: 0
        case .initializing: 1
        case .socketError: 5
        case .l4OK: 6
        case .l4Timeout: 7
        case .l4Connection: 8
        case .l6OK: 9
        case .l6Timeout: 10
        case .l6Response: 11
        case .l7Timeout: 12
        case .l7Response: 13
        case .l7OK: 15
        case .l7OKConditional: 16
        case .l7Status: 17
        }
    }

    /// CHK_RES_*: 0 unknown, 1 neutral, 2 failed, 3 passed, 4 conditionally passed.
    static func checkResultNumber(_ s: CheckStatus?) -> Int {
        guard let s else { return 0 }
        switch s.result {
        case .neutral: return s == .unknown ? 0 : 1
        case .failed: return 2
        case .passed: return 3
        case .conditionallyPassed: return 4
        }
    }
}

/// A CSV cell cannot hold the separator or a line break.
func csvSafe(_ text: String) -> String {
    String(text.map { $0 == "," || $0 == "\n" || $0 == "\r" ? " " : $0 })
}
