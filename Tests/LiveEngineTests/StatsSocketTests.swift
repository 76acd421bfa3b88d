import BalancerCore
import Foundation
import HadeckBase
import HadeckTestSupport
import LiveEngine
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// HAProxy 2.6's `show stat` header, as `haproxy` 2.6.12 prints it.
let haproxy26StatHeader =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,"

let serversStateHeader =
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"

/// The `show info` keys hatop 0.8.2 refuses to run without.
let hatopInfoKeys = [
    "Name", "Version", "Release_date", "Nbproc", "Process_num", "Pid", "Uptime", "Maxconn", "CurrConns", "Maxpipes",
    "PipesUsed", "Tasks", "Run_queue", "node",
]

/// Keys of `show info` lines, in order.
func infoKeys(_ reply: String) -> [String] {
    reply.split(separator: "\n").compactMap { line in line.range(of: ": ").map { String(line[..<$0.lowerBound]) } }
}

func infoValue(_ reply: String, _ key: String) -> String? {
    for line in reply.split(separator: "\n") where line.hasPrefix(key + ": ") {
        return String(line.dropFirst(key.count + 2))
    }
    return nil
}

/// CSV rows of `show stat` as column name -> value.
func statRows(_ reply: String) -> [[String: String]] {
    let lines = reply.split(separator: "\n")
    guard let header = lines.first, header.hasPrefix("# ") else { return [] }
    let names = header.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    return lines.dropFirst().map { line in
        let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var row: [String: String] = [:]
        for (n, c) in zip(names, cells) { row[n] = c }
        return row
    }
}

@Suite("Stats socket: HAProxy's runtime API on each balancer", .serialized, .onItsOwnThread)
struct StatsSocketTests {
    @Test func showInfoShowStatAndServersStateHaveHAProxysLayout() async throws {
        let c = try await StatsCluster.start(net: 60)
        defer { Task { await c.stop() } }
        #expect(await c.waitFor(server: "webA", status: "UP"))
        #expect(await c.waitFor(server: "webB", status: "UP"))
        let mode = try FileManager.default.attributesOfItem(atPath: c.socket)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let info = try #require(await cli(c.socket, "show info"))
        #expect(info.hasPrefix("Name: HAProxy\nVersion: "))
        #expect(info.hasSuffix("\n\n"))
        let keys = infoKeys(info)
        for key in hatopInfoKeys { #expect(keys.contains(key), "show info lacks \(key)") }
        #expect(
            Array(keys.prefix(9)) == [
                "Name", "Version", "Release_date", "Nbthread", "Nbproc", "Process_num", "Pid", "Uptime", "Uptime_sec",
            ])
        #expect(infoValue(info, "Pid") == "9060")
        #expect(infoValue(info, "node") == "node60")
        #expect(infoValue(info, "Uptime")?.hasPrefix("0d 0h00m") == true)

        let stat = try #require(await cli(c.socket, "show stat"))
        #expect(stat.split(separator: "\n").first.map(String.init) == haproxy26StatHeader)
        #expect(stat.hasSuffix(",\n\n"))
        let rows = statRows(stat)
        #expect(rows.map { $0["svname"] ?? "" } == ["FRONTEND", "webA", "webB", "BACKEND"])
        let fieldCount = haproxy26StatHeader.split(separator: ",", omittingEmptySubsequences: false).count
        for line in stat.split(separator: "\n").dropFirst() {
            #expect(line.split(separator: ",", omittingEmptySubsequences: false).count == fieldCount)
        }
        let webA = try #require(rows.first { $0["svname"] == "webA" })
        #expect(webA["status"] == "UP")
        #expect(webA["check_status"] == "L7OK")
        #expect(webA["check_code"] == "200")
        #expect(webA["type"] == "2" && webA["sid"] == "1" && webA["iid"] == "2" && webA["pid"] == "1")
        #expect(webA["addr"] == "127.77.60.2:18081" && webA["cookie"] == "A")
        #expect(webA["weight"] == "1" && webA["act"] == "1" && webA["bck"] == "0")
        #expect(webA["check_rise"] == "2" && webA["check_fall"] == "3" && webA["check_health"] == "4")
        let backend = try #require(rows.last)
        #expect(backend["status"] == "UP" && backend["act"] == "2" && backend["weight"] == "2")
        #expect(backend["algo"] == "roundrobin" && backend["cookie"] == "SRV")

        // Traffic shows in the counters: two requests through the balancer.
        for _ in 0..<2 { #expect(try await c.http(get("/login"))?.status == 200) }
        let after = statRows(try #require(await cli(c.socket, "show stat")))
        let fe = try #require(after.first)
        #expect(fe["req_tot"] == "2" && fe["hrsp_2xx"] == "2" && fe["stot"] == "2")
        #expect((Int(fe["bin"] ?? "") ?? 0) > 60 && (Int(fe["bout"] ?? "") ?? 0) > 100)
        let be = try #require(after.last)
        #expect(be["req_tot"] == "2" && be["hrsp_2xx"] == "2" && be["lbtot"] == "2")
        let servers = after.filter { $0["type"] == "2" }
        #expect(servers.map { Int($0["req_tot"] ?? "") ?? 0 }.reduce(0, +) == 2)

        // The filter hatop uses: `show stat IID TYPE SID`.
        let filtered = statRows(try #require(await cli(c.socket, "show stat 2 4 2")))
        #expect(filtered.map { $0["svname"] ?? "" } == ["webB"])
        #expect(await cli(c.socket, "show stat nope 1 -1") == "No such proxy.\n\n")

        let state = try #require(await cli(c.socket, "show servers state"))
        let lines = state.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "1")
        #expect(lines[1] == serversStateHeader)
        #expect(lines[2].hasPrefix("2 web 1 webA 127.77.60.2 2 0 1 1 "))
        #expect(lines[2].hasSuffix(" 15 3 4 6 0 0 0 - 18081 - 0 0 - - 0"))
        #expect(lines[2].split(separator: " ").count == 25)
        #expect(state.hasSuffix("\n\n"))
        #expect(await cli(c.socket, "show servers state web")?.split(separator: "\n").count == 4)
        #expect(await cli(c.socket, "show servers state nope") == "Can't find backend.\n\n")
    }

    @Test func adminCommandsChangeTheServerAndAreReported() async throws {
        let c = try await StatsCluster.start(net: 61)
        defer { Task { await c.stop() } }
        #expect(await c.waitFor(server: "webA", status: "UP"))

        #expect(await cli(c.socket, "set server web/webA state maint") == "\n")
        #expect(await c.status("webA") == "MAINT")
        let change = try #require(c.adminChanges.all.first)
        #expect(change.change == .adminState(from: .ready, to: .maint))
        #expect(change.balancer == "lb61" && change.backend == "web" && change.server == "webA")
        #expect(change.source == .statsSocket && change.level == .admin)
        #expect(change.command == "set server web/webA state maint")
        #expect(change.why.hasPrefix("stats socket (admin) set webA to MAINT: "))
        #expect(c.transitions.all.contains { $0.byAdmin && $0.transition.to == "MAINT" })
        let stat = statRows(try #require(await cli(c.socket, "show stat")))
        #expect(stat.first { $0["svname"] == "webA" }?["status"] == "MAINT")

        #expect(await cli(c.socket, "enable server web/webA") == "\n")
        #expect(await c.waitFor(server: "webA", status: "UP"))
        #expect(await cli(c.socket, "disable server web/webA") == "\n")
        #expect(await c.status("webA") == "MAINT")
        #expect(await cli(c.socket, "set server web/webA state ready") == "\n")
        #expect(await cli(c.socket, "set server web/webB state drain") == "\n")
        #expect(await c.status("webB") == "DRAIN")
        #expect(await cli(c.socket, "set server web/webB state ready") == "\n")

        // Weights, with HAProxy's range rules and texts.
        #expect(await cli(c.socket, "get weight web/webA") == "1 (initial 1)\n\n")
        #expect(
            await cli(c.socket, "set weight web/webA 300")
                == "Absolute weight can only be between 0 and 256 inclusive.\n\n")
        #expect(await cli(c.socket, "set weight web/webA 999%") == "\n")
        #expect(await cli(c.socket, "get weight web/webA") == "9 (initial 1)\n\n")
        #expect(await cli(c.socket, "set server web/webA weight 3") == "\n")
        #expect(await cli(c.socket, "get weight web/webA; get weight web/webB") == "3 (initial 1)\n\n1 (initial 1)\n\n")
        #expect(c.adminChanges.all.contains { $0.change == .weight(from: 9, to: 3) })
        #expect(await cli(c.socket, "set weight web/webA -5%") == "Relative weight must be positive.\n\n")
        #expect(await cli(c.socket, "set weight web/webA abc") == "Empty weight string empty or preceded by garbage\n")
        #expect(await cli(c.socket, "set weight web/webA") == "Require <weight> or <weight%>.\n\n")

        // Unknown names and bad arguments.
        #expect(await cli(c.socket, "set server web/nope state maint") == "No such server.\n\n")
        #expect(await cli(c.socket, "set server nope/webA state maint") == "No such backend.\n\n")
        #expect(await cli(c.socket, "get weight webA") == "Require 'backend/server'.\n\n")
        #expect(
            await cli(c.socket, "set server web/webA state foo")
                == "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n")
        #expect(await cli(c.socket, "set timeout cli abc") == "Invalid timeout value.\n\n")
        #expect(await cli(c.socket, "set timeout foo 5") == "'set timeout' only supports 'cli'.\n\n")
        // Lowering the level in the same line.
        #expect(await cli(c.socket, "user; set weight web/webA 1") == "\nPermission denied\n\n")
        #expect(await cli(c.socket, "get weight web/webA") == "3 (initial 1)\n\n")
    }

    @Test func levelsBelowAdminCanReadButNotChange() async throws {
        let c = try await StatsCluster.start(net: 62, level: "operator")
        defer { Task { await c.stop() } }
        #expect(await cli(c.socket, "show cli level") == "operator\n\n")
        for command in [
            "set server web/webA state maint", "disable server web/webA", "enable server web/webA",
            "set weight web/webA 0",
        ] {
            #expect(await cli(c.socket, command) == "Permission denied\n\n", "\(command)")
        }
        #expect(await c.status("webA") != "MAINT")
        #expect(c.adminChanges.all.isEmpty)
        #expect(await cli(c.socket, "get weight web/webA") == "1 (initial 1)\n\n")
        #expect(await cli(c.socket, "show info")?.hasPrefix("Name: HAProxy\n") == true)
        #expect(await cli(c.socket, "user; show cli level; operator") == "\nuser\n\nPermission denied\n\n")
    }

    @Test func badInputGetsHAProxysAnswerOrAClosedConnectionAndTheBalancerKeepsServing() async throws {
        let c = try await StatsCluster.start(net: 63)
        defer { Task { await c.stop() } }
        let socket = c.socket

        let unknown = try #require(await cli(socket, "bogus"))
        #expect(unknown.hasPrefix("Unknown command, but maybe one of the following ones is a better match:\n"))
        #expect(unknown.hasSuffix("  quit                                    : disconnect\n\n"))
        let help = try #require(await cli(socket, "help"))
        #expect(help.hasPrefix("The following commands are valid at this level:\n"))
        #expect(help.contains("  get weight <bk>/<srv>                   : report a server's current weight\n"))

        // 10 kB of garbage on one line: an unknown command. Binary bytes too.
        let garbage = String(repeating: "x", count: 10_000)
        #expect(await cli(socket, garbage)?.hasPrefix("Unknown command") == true)
        let binary: [UInt8] = (0..<4096).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }.filter { $0 != 10 && $0 != 59 }
        let binaryReply = await offPool { () -> String? in
            guard let u = UnixSocketClient(path: socket) else { return nil }
            u.send(binary + [10])
            return u.readToEnd()
        }
        #expect(binaryReply?.hasPrefix("Unknown command") == true)
        // A line longer than the buffer: closed without a reply, like HAProxy.
        let tooLong = await cli(socket, String(repeating: "y", count: 20_000))
        #expect(tooLong == "")
        // A client that goes away mid-command.
        await offPool {
            if let u = UnixSocketClient(path: socket) {
                u.send("set server web/webA sta")
            }
        }

        // Interactive mode, as hatop uses it.
        let transcript = await offPool { () -> [String?] in
            guard let u = UnixSocketClient(path: socket) else { return [] }
            var out: [String?] = []
            u.send("prompt\n")
            out.append(u.read(until: "> "))
            u.send("set timeout cli 60\n")
            out.append(u.read(until: "> "))
            u.send("get weight web/webB\n")
            out.append(u.read(until: "> "))
            u.send("show info\n")
            out.append(u.read(until: "> "))
            u.send("quit\n")
            out.append(u.readToEnd())
            return out
        }
        #expect(transcript.count == 5)
        if transcript.count == 5 {
            #expect(transcript[0] == "\n> ")
            #expect(transcript[1] == "\n> ")
            #expect(transcript[2] == "1 (initial 1)\n\n> ")
            #expect(transcript[3]?.hasPrefix("Name: HAProxy\n") == true && transcript[3]?.hasSuffix("\n\n> ") == true)
            #expect(transcript[4] == "")
        }

        // Still serving, on both sides.
        #expect(await c.waitFor(server: "webA", status: "UP"))
        #expect(await c.status("webA") == "UP")
        #expect(try await c.http(get("/login"))?.status == 200)
        #expect(await cli(socket, "get weight web/webA") == "1 (initial 1)\n\n")
    }

    @Test func theSocketFileGoesWithTheBalancer() async throws {
        let c = try await StatsCluster.start(net: 64)
        #expect(FileManager.default.fileExists(atPath: c.socket))
        await c.balancer.stop()
        #expect(!FileManager.default.fileExists(atPath: c.socket))
        #expect(await cli(c.socket, "show info") == nil)
        // A restart (the process coming back) opens it again.
        try await c.balancer.start()
        #expect(await cli(c.socket, "show info")?.hasPrefix("Name: HAProxy") == true)
        await c.stop()
        #expect(!FileManager.default.fileExists(atPath: c.socket))
    }
}

/// Runs the real haproxy 2.6 on an equivalent configuration and compares what clients parse.
@Suite("Stats socket: compared with the real haproxy", .serialized, .onItsOwnThread)
struct HAProxyComparisonTests {
    static var haproxy: String? { which("haproxy") }

    @Test(.enabled(if: haproxy != nil, "needs haproxy (apt-get install haproxy)"))
    func headerInfoKeysAndErrorTextsMatchHAProxy() async throws {
        let haproxy = try #require(Self.haproxy)
        let dir = "/tmp/hadeck-hx-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let realSocket = dir + "/admin.sock"
        let operSocket = dir + "/oper.sock"
        // The same listen section, on other loopback addresses; its servers are not running (DOWN).
        var text = statsConfig(net: 65, socket: realSocket)
        text = text.replacingOccurrences(
            of: "    stats socket \(realSocket) mode 600 level admin",
            with: "    stats socket \(realSocket) mode 600 level admin\n    stats socket \(operSocket) mode 600")
        try (text + "\n").write(toFile: dir + "/h.cfg", atomically: true, encoding: .utf8)
        let started = await runDetached(["sh", "-c", "'\(haproxy)' -f '\(dir)/h.cfg' -D -p '\(dir)/pid' 2>&1"])
        #expect(started.status == 0, "haproxy: \(started.output)")
        defer {
            if let pid = (try? String(contentsOfFile: dir + "/pid", encoding: .utf8)).flatMap({
                Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }) {
                kill(pid, SIGTERM)
            }
        }
        var ready = false
        for _ in 0..<50 where !ready {
            ready = await cli(realSocket, "show info") != nil
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(ready, "haproxy did not open its socket")

        let c = try await StatsCluster.start(net: 66)
        defer { Task { await c.stop() } }
        let ours = c.socket

        // The header line, byte for byte.
        let realStat = try #require(await cli(realSocket, "show stat"))
        let ourStat = try #require(await cli(ours, "show stat"))
        #expect(realStat.split(separator: "\n").first == ourStat.split(separator: "\n").first)
        #expect(
            statRows(realStat).map { $0["svname"] ?? "" } == statRows(ourStat).map { $0["svname"] ?? "" })

        // show info: ours are HAProxy's keys, in HAProxy's order.
        let realKeys = infoKeys(try #require(await cli(realSocket, "show info")))
        let ourKeys = infoKeys(try #require(await cli(ours, "show info")))
        #expect(Set(ourKeys).isSubset(of: Set(realKeys)), "\(Set(ourKeys).subtracting(realKeys))")
        #expect(realKeys.filter { ourKeys.contains($0) } == ourKeys)
        for key in hatopInfoKeys { #expect(ourKeys.contains(key)) }

        // show servers state: same header and the same number of fields per row.
        let realState = try #require(await cli(realSocket, "show servers state")).split(separator: "\n")
        let ourState = try #require(await cli(ours, "show servers state")).split(separator: "\n")
        #expect(realState.prefix(2) == ourState.prefix(2))
        #expect(
            realState.dropFirst(2).map { $0.split(separator: " ").count }
                == ourState.dropFirst(2).map {
                    $0.split(separator: " ").count
                })

        // Replies clients parse, byte for byte.
        for command in [
            "get weight web/webA", "set weight web/webA 300", "set weight web/nope 1", "set weight nope/webA 1",
            "get weight web", "set server web/webA state foo", "set weight web/webA abc", "set weight web/webA 5x",
            "set weight web/webA -5%", "set weight web/webA", "set timeout cli abc", "set timeout cli",
            "set timeout foo 5", "show servers state nope", "show stat nope 1 -1", "enable server web/zz",
            "set server web/webA", "show cli level", "get weight web/webA; get weight web/webB",
            "set weight web/webA 999%; get weight web/webA; set weight web/webA 100%",
        ] {
            let real = await cli(realSocket, command)
            let mine = await cli(ours, command)
            #expect(real == mine, "\(command): haproxy \(String(describing: real)) hadeck \(String(describing: mine))")
        }
        for command in ["bogus", "help"] {
            let real = await cli(realSocket, command)?.split(separator: "\n").first
            let mine = await cli(ours, command)?.split(separator: "\n").first
            #expect(real == mine, "\(command)")
        }
        // An operator-level socket refuses changes with the same words.
        #expect(await cli(operSocket, "set server web/webA state maint") == "Permission denied\n\n")
    }
}

/// hatop 0.8.2, the curses client of HAProxy's stats socket, driving a hadeck balancer in tmux.
@Suite("Stats socket: the real hatop", .serialized, .onItsOwnThread)
struct HatopTests {
    static var available: Bool { which("hatop") != nil && which("tmux") != nil }

    static func tmux(_ args: String...) async -> String { await runDetached(["tmux"] + args, timeout: 10).output }

    static func screen(_ session: String, until condition: (String) -> Bool, timeout: Double = 10) async -> (
        Bool, String
    ) {
        let end = Date().addingTimeInterval(timeout)
        var text = ""
        while Date() < end {
            text = await tmux("capture-pane", "-p", "-t", session)
            if condition(text) { return (true, text) }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return (false, text)
    }

    /// The row of `server` on hatop's STATUS view, split in columns (NAME W STATUS CHECK ...).
    static func row(_ screen: String, _ server: String) -> [String] {
        screen.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.first == server }
            ?? []
    }

    @Test(.enabled(if: available, "needs hatop and tmux (apt-get install hatop tmux)"))
    func hatopShowsTheServersAndF2F1PutThemInAndOutOfMaintenance() async throws {
        let c = try await StatsCluster.start(net: 67)
        defer { Task { await c.stop() } }
        #expect(await c.waitFor(server: "webA", status: "UP"))
        #expect(await c.waitFor(server: "webB", status: "UP"))
        let session = "hadeck-hatop-\(getpid())"
        defer { Task { _ = await Self.tmux("kill-session", "-t", session) } }
        _ = await Self.tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", "hatop -s \(c.socket) -i 1")

        let (shown, first) = await Self.screen(
            session,
            until: {
                Self.row($0, "webA").count >= 4 && Self.row($0, "webB").count >= 4
            })
        #expect(shown, "hatop never showed both servers:\n\(first)")
        #expect(first.contains("Node: node67"))
        #expect(first.contains("PID: 9067"))
        #expect(Array(Self.row(first, "webA").dropFirst(2).prefix(2)) == ["UP", "L7OK"])
        #expect(Array(Self.row(first, "webB").dropFirst(2).prefix(2)) == ["UP", "L7OK"])

        // The cursor starts on FRONTEND; Down selects webA, F2 disables it on every backend.
        var selected = false
        for _ in 0..<5 where !selected {
            _ = await Self.tmux("send-keys", "-t", session, "Down")
            try await Task.sleep(for: .milliseconds(400))
            let colored = await Self.tmux("capture-pane", "-e", "-p", "-t", session)
            selected = colored.contains("\u{1B}[7mwebA")
        }
        #expect(selected, "could not select webA in hatop")
        _ = await Self.tmux("send-keys", "-t", session, "F2")
        #expect(await c.waitFor(server: "webA", status: "MAINT"), "F2 did not put webA in MAINT")
        let (maint, screenMaint) = await Self.screen(
            session, until: { Self.row($0, "webA").dropFirst(2).first == "MAINT" })
        #expect(maint, "hatop does not show webA in MAINT:\n\(screenMaint)")
        #expect(c.adminChanges.all.contains { $0.command == "disable server web/webA" && $0.server == "webA" })
        #expect(await c.status("webB") == "UP")

        _ = await Self.tmux("send-keys", "-t", session, "F1")
        #expect(await c.waitFor(server: "webA", status: "UP"), "F1 did not bring webA back")
        let (back, screenBack) = await Self.screen(session, until: { Self.row($0, "webA").dropFirst(2).first == "UP" })
        #expect(back, "hatop does not show webA UP again:\n\(screenBack)")
        _ = await Self.tmux("send-keys", "-t", session, "q")
    }
}
