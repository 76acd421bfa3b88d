import BalancerCore
import HadeckBase

/// `show stat` (and the stats page's `;csv`): HAProxy 2.6's CSV, a pure function of a snapshot.
enum ShowStat {
    /// HAProxy 2.6's header line, byte for byte.
    static let header =
        "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,"

    /// The column names of `header`, in order.
    static let fields: [String] = {
        var fields = header.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if fields.last == "" { fields.removeLast() }
        return fields
    }()

    static let fieldIndex: [String: Int] = Dictionary(
        fields.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })

    /// `show stat IID TYPE SID`: proxy iid (-1: all), type bits (1 frontend, 2 backend, 4 server;
    /// -1: all), server id (-1: all).
    struct Filter: Hashable, Sendable {
        var iid: Int
        var types: Int
        var sid: Int
    }

    /// The CSV without the CLI's closing empty line.
    static func csv(_ s: StatsSnapshot, filter: Filter? = nil) -> String {
        var out = header + "\n"
        let types = filter?.types ?? -1
        for p in s.proxies {
            if let f = filter, f.iid != -1, f.iid != p.iid { continue }
            if types & 1 != 0, let fe = p.frontend { out += frontendRow(p, fe, s.process).line }
            if let be = p.backend {
                if types & 4 != 0 {
                    for server in be.servers {
                        if let f = filter, f.sid != -1, f.sid != server.snapshot.id { continue }
                        out += serverRow(p, server, now: s.now).line
                    }
                }
                if types & 2 != 0 { out += backendRow(p, be, now: s.now).line }
            }
        }
        return out
    }

    static func frontendRow(_ p: ProxyStats, _ c: TrafficCounts, _ process: ProcessStats) -> Row {
        var r = Row()
        r["pxname"] = p.name
        r["svname"] = "FRONTEND"
        r.set("scur", c.currentSessions)
        r.set("smax", c.maxSessions)
        if let limit = process.maxconn { r.set("slim", limit) }
        r.set("stot", c.totalSessions)
        r.set("bin", c.bytesIn)
        r.set("bout", c.bytesOut)
        r.set("dreq", 0)
        r.set("dresp", 0)
        r.set("ereq", c.requestErrors)
        r["status"] = process.alive ? "OPEN" : "STOP"
        r.set("pid", 1)
        r.set("iid", p.iid)
        r.set("sid", 0)
        r.set("type", 0)
        r.setResponses(c)
        r["mode"] = "http"
        r.set("conn_tot", c.totalSessions)
        r.set("intercepted", c.intercepted)
        return r
    }

    static func serverRow(_ p: ProxyStats, _ server: ServerStats, now: Instant) -> Row {
        let s = server.snapshot
        let c = server.counts
        var r = Row()
        r["pxname"] = p.name
        r["svname"] = s.name
        r.set("qcur", s.queued)
        r.set("qmax", s.maxQueued)
        if s.maxqueue > 0 { r.set("qlimit", s.maxqueue) }
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
        r.set("iid", p.iid)
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

    static func backendRow(_ p: ProxyStats, _ b: BackendStats, now: Instant) -> Row {
        var r = Row()
        let c = b.counts
        r["pxname"] = p.name
        r["svname"] = "BACKEND"
        r.set("qcur", b.queued)
        r.set("qmax", b.maxQueued)
        r.set("scur", b.currentConnections)
        r.set("smax", b.maxConnections)
        r.set("stot", b.servers.reduce(0) { $0 + $1.snapshot.totalSessions })
        r.set("bin", c.bytesIn)
        r.set("bout", c.bytesOut)
        r.set("dreq", 0)
        r.set("dresp", 0)
        r.set("econ", c.connectionErrors)
        r.set("eresp", c.responseErrors)
        r.set("wretr", c.retries)
        r.set("wredis", c.redispatches)
        r["status"] = b.health.up ? "UP" : "DOWN"
        r.set("weight", b.weighted.reduce(0) { $0 + $1.snapshot.weight.effective })
        r.set("act", b.activeUsable.count)
        r.set("bck", b.backupUsable.count)
        r.set("chkdown", b.health.downCount)
        r.set("lastchg", Int((now - b.health.lastChange).micros / 1_000_000))
        r.set("downtime", Int(b.health.downtime(at: now).micros / 1_000_000))
        r.set("pid", 1)
        r.set("iid", p.iid)
        r.set("sid", 0)
        r.set("lbtot", b.servers.reduce(0) { $0 + $1.snapshot.lbtot })
        r.set("type", 1)
        r.setResponses(c)
        r.setAborts(c, now: now)
        r["cookie"] = b.cookieName ?? ""
        r["mode"] = "http"
        r["algo"] = b.algorithm
        r.set("uweight", b.weighted.reduce(0) { $0 + $1.snapshot.weight.current })
        return r
    }

    /// One CSV row being filled by column name; unfilled columns stay empty.
    struct Row {
        var cells = [String](repeating: "", count: ShowStat.fields.count)

        subscript(_ name: String) -> String {
            get { ShowStat.fieldIndex[name].map { cells[$0] } ?? "" }
            set { if let i = ShowStat.fieldIndex[name] { cells[i] = newValue } }
        }

        mutating func set(_ name: String, _ value: Int) { self[name] = String(value) }

        /// `hrsp_1xx` ... `hrsp_other` and `req_tot`.
        mutating func setResponses(_ c: TrafficCounts) {
            for (label, count) in c.responses.all { set("hrsp_" + label, count) }
            set("req_tot", c.requests)
        }

        /// `cli_abrt`, `srv_abrt` and `lastsess` (seconds since the last session, -1 for none).
        mutating func setAborts(_ c: TrafficCounts, now: Instant) {
            set("cli_abrt", c.clientAborts)
            set("srv_abrt", c.serverAborts)
            set("lastsess", c.lastSession.map { Int((now - $0).micros / 1_000_000) } ?? -1)
        }

        /// HAProxy ends every row with a comma, like the header.
        var line: String { cells.joined(separator: ",") + ",\n" }
    }

    /// A CSV cell cannot hold the separator or a line break.
    static func csvSafe(_ text: String) -> String {
        String(text.map { $0 == "," || $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}

/// `show info`: the keys hadeck can fill truthfully, in HAProxy 2.6's order.
enum ShowInfo {
    static func fields(_ p: ProcessStats) -> [(String, String)] {
        [
            ("Name", "HAProxy"),
            ("Version", hadeckStatsVersion),
            ("Release_date", hadeckStatsReleaseDate),
            ("Nbthread", "1"),
            ("Nbproc", "1"),
            ("Process_num", "1"),
            ("Pid", String(p.pid)),
            ("Uptime", uptimeText(p.uptimeSeconds)),
            ("Uptime_sec", String(p.uptimeSeconds)),
            ("Memmax_MB", "0"),
            ("Ulimit-n", String(p.openFilesLimit)),
            // hadeck enforces no connection limit: the configured one, or 0.
            ("Maxconn", String(p.maxconn ?? 0)),
            ("Hard_maxconn", String(p.maxconn ?? 0)),
            ("CurrConns", String(p.currentConnections)),
            ("CumConns", String(p.totalConnections)),
            ("CumReq", String(p.totalRequests)),
            ("Maxpipes", "0"),
            ("PipesUsed", "0"),
            ("PipesFree", "0"),
            ("Tasks", String(p.tasks)),
            ("Run_queue", "0"),
            ("node", p.node),
            ("Stopping", "0"),
            ("Jobs", String(p.listeners + p.currentConnections + p.cliConnections)),
            ("Unstoppable Jobs", "0"),
            ("Listeners", String(p.listeners)),
            ("ActivePeers", "0"),
            ("ConnectedPeers", "0"),
            ("DroppedLogs", "0"),
            ("TotalBytesOut", String(p.totalBytesOut)),
            ("TotalSplicdedBytesOut", "0"),
            ("Build info", hadeckStatsVersion),
            ("Memmax_bytes", "0"),
            ("Start_time_sec", String(p.startedWall)),
            ("Tainted", "0"),
        ]
    }

    /// `Key: value` lines, as the CLI prints them.
    static func text(_ p: ProcessStats) -> String { fields(p).map { "\($0.0): \($0.1)\n" }.joined() }

    /// `0d 0h00m01s`, as HAProxy's `Uptime:`.
    static func uptimeText(_ seconds: Int64) -> String {
        let d = seconds / 86400
        let h = (seconds / 3600) % 24
        let m = (seconds / 60) % 60
        let s = seconds % 60
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(d)d \(h)h\(two(m))m\(two(s))s"
    }
}

/// `show servers state [backend]` in HAProxy's version-1 layout.
enum ServersState {
    static let header =
        "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"

    /// Nil when `backend` names no backend.
    static func text(_ s: StatsSnapshot, backend filter: String?) -> String? {
        let backends = s.backends
        if let filter, !backends.contains(where: { $0.backend.name == filter }) { return nil }
        var out = "1\n" + header + "\n"
        for (proxy, backend) in backends where filter == nil || filter == backend.name {
            for server in backend.servers {
                let s = server.snapshot
                // srv_admin_state bits: 0x01 forced MAINT, 0x08 forced DRAIN (a `disabled` server shows 0x01 too).
                var admin = 0
                if s.adminState == .maint { admin = 0x01 }
                if s.adminState == .drain { admin = 0x08 }
                let checkState = s.checked ? (0x02 | 0x04 | (s.adminState == .maint ? 0x08 : 0)) : 0
                let fields: [String] = [
                    String(proxy.iid), backend.name, String(s.id), s.name, s.address.host,
                    String(s.operationalState.rawValue), String(admin), String(s.weight.current),
                    String(s.weight.initial), String(s.secondsSinceChange),
                    String(s.checked ? s.checkStatus.map(checkStatusNumber) ?? 1 : 1),
                    String(s.checked ? checkResultNumber(s.checkStatus) : 0),
                    String(s.health), String(checkState),
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

/// The version hadeck reports where HAProxy reports its own (`show info`, the stats page, metrics).
public let hadeckStatsVersion = "2.6-hadeck"
/// The release date reported next to `hadeckStatsVersion`.
public let hadeckStatsReleaseDate = "2026/11/25"
