import AttachConfig
import BalancerCore
import ClusterModel
import Foundation
import HadeckBase
import RealCluster

/// Everything hadeck knows about an attached cluster, built only from what its real components
/// said (`Observation`s), with the events those changes make. A value: `observe` returns the events
/// and what the shell should read next; the shell only reads sockets, files and programs.
///
/// What no component said stays unknown: a host whose keepalived never answered is `?`, a server
/// without a pid source has no `app` state, a balancer whose stats socket is lost shows no rows.
public struct AttachedState: Sendable {
    public let file: AttachFile
    /// How often the shell polls the runtime API (and how old data may get before it is stale).
    public let refresh: TimeSpan
    /// The wall clock (seconds since the epoch) at `Instant.zero`, to place keepalived's timestamps.
    public let wallAtZero: Double

    var order: [String]
    var balancers: [String: BalancerTrack]
    var neighbour = NeighbourTrack()
    var apps: [String: AppTrack] = [:]
    /// Every event but requests, oldest first, bounded.
    public internal(set) var events: [ClusterEvent] = []
    public internal(set) var requests: [RequestRecord] = []
    /// Per client address: the sessions its requests carried (for `expect sessions-kept`).
    public internal(set) var sessions: [String: SessionTrack] = [:]
    /// jvmRoutes learnt from the sessions each server issued (`JSESSIONID=<id>.jvm3`).
    var routes: [String: String] = [:]
    var partitions: Set<[String]> = []
    public internal(set) var caption: String?

    static let eventLimit = 2000
    static let requestLimit = 1000

    public init(file: AttachFile, refresh: TimeSpan = .seconds(1), wallAtZero: Double) {
        self.file = file
        self.refresh = refresh
        self.wallAtZero = wallAtZero
        order = file.balancers.map(\.name)
        balancers = Dictionary(uniqueKeysWithValues: file.balancers.map { ($0.name, BalancerTrack(access: $0)) })
        for s in file.servers { apps[s.name] = AppTrack() }
    }

    /// Applies one observation made at `now`; returns the events it caused (already recorded) and
    /// what the shell should read next.
    public mutating func observe(_ o: Observation, at now: Instant) -> ([ClusterEvent], [Need]) {
        var out = Reaction(now: now)
        flushPendingPriorities(before: now - .milliseconds(1500), &out)
        switch o {
        case .stats(let b, let status): stats(b, status, &out)
        case .statsFailed(let b, let reason):
            update(b) {
                $0.statsError = (now, reason)
                if $0.access.haproxy?.pid == nil { $0.haproxyPID = nil }
            }
        case .log(let b, let message): log(b, message, &out)
        case .logFeed(let b, let open, let reason):
            update(b) {
                $0.logOpen = open
                $0.logError = reason
            }
        case .notify(let b, let line): notify(b, line, &out)
        case .notifyFeed(let b, let open, let reason):
            update(b) {
                $0.fifoOpen = open
                $0.fifoError = reason
            }
        case .dump(let b, let d, let requested): dump(b, d, requested: requested, &out)
        case .dumpFailed(let b, let reason):
            update(b) { $0.dumpError = (now, reason) }
            flushPendingPriority(b, &out)
        case .processes(let b, let readings): processes(b, readings, &out)
        case .app(let server, let reading): app(server, reading, &out)
        case .neighbour(let entry, let source): neighbour(entry, source: source, &out)
        case .neighbourFailed(let reason): neighbour.error = (now, reason)
        case .actionStarting(let part, let actor): actionStarting(part, actor: actor, at: now)
        case .action(let outcome): action(outcome, &out)
        }
        events += out.events.filter { $0.type != .request }
        if events.count > Self.eventLimit + 400 { events.removeFirst(events.count - Self.eventLimit) }
        return (out.events, out.needs)
    }

    /// Records an event made outside any observation (a scenario's `expect` or `error` line).
    public mutating func record(_ event: ClusterEvent) { events.append(event) }

    /// Lets time-based changes happen (a priority change whose data dump never came).
    public mutating func tick(at now: Instant) -> [ClusterEvent] {
        var out = Reaction(now: now)
        flushPendingPriorities(before: now - .milliseconds(1500), &out)
        events += out.events
        return out.events
    }

    /// The events and needs of one observation, in order.
    struct Reaction {
        let now: Instant
        var events: [ClusterEvent] = []
        var needs: [Need] = []

        mutating func emit(_ kind: EventKind, _ why: String) { events.append(ClusterEvent(time: now, kind, why: why)) }
        mutating func need(_ n: Need) { if !needs.contains(n) { needs.append(n) } }
    }

    mutating func update(_ b: String, _ body: (inout BalancerTrack) -> Void) {
        guard var track = balancers[b] else { return }
        body(&track)
        balancers[b] = track
    }

    /// The cluster clock's time of a keepalived timestamp (seconds since the epoch).
    func instant(epoch: Double) -> Instant { Instant(micros: Int64(((epoch - wallAtZero) * 1_000_000).rounded())) }

    /// The balancer whose address or MAC this is.
    func balancerName(address: String? = nil, mac: String? = nil) -> String? {
        for name in order {
            guard let t = balancers[name] else { continue }
            if let address, address == t.access.address || address == t.sourceAddress { return name }
            if let mac, mac == t.access.mac || mac == t.interfaceMAC { return name }
        }
        return nil
    }

    // MARK: haproxy

    mutating func stats(_ b: String, _ status: HAProxyStatus, _ out: inout Reaction) {
        guard var t = balancers[b] else { return }
        let first = t.status == nil
        t.status = status
        t.statusAt = out.now
        t.statsError = nil
        let byKey = Dictionary(
            status.servers.map { ("\($0.backend)/\($0.server)", $0) }, uniquingKeysWith: { a, _ in a })
        for row in status.stat where row["type"] == "2" {
            let key = "\(row.proxy)/\(row.server)"
            let now = ServerStatus(parsing: row.status)
            let weight = byKey[key]?.weight ?? Int(row["weight"] ?? "") ?? 0
            guard let before = t.reported[key] else {
                t.reported[key] = ReportedServer(status: now, weight: weight)
                continue
            }
            let pending = t.takePending(key, now: out.now)
            if before.status != now {
                var why = "show stat on \(b): \(key) \(before.status) -> \(now)"
                if let desc = row["check_desc"], !desc.isEmpty, row["check_status"] != "" {
                    why += " (last check: \(desc)"
                    if let info = row["last_chk"], !info.isEmpty, info != desc { why += ", \(info)" }
                    why += ")"
                }
                // An admin change (drain, maint, ready) is not the check's doing.
                let admin = [before.status.base, now.base].contains { $0 == .drain || $0 == .maint }
                out.emit(
                    .backendState(
                        balancer: b, backend: row.proxy, server: row.server, from: before.status, to: now,
                        check: admin ? "" : checkText(row)), why + (pending.map { "; after \($0)" } ?? ""))
            }
            if before.weight != weight {
                out.emit(
                    .backendWeight(
                        balancer: b, backend: row.proxy, server: row.server, from: before.weight, to: weight),
                    "show servers state on \(b): \(key) weight \(before.weight) -> \(weight)"
                        + (pending.map { "; after \($0)" } ?? ""))
            }
            t.reported[key] = ReportedServer(status: now, weight: weight)
        }
        // A log stream that should carry requests but stays silent (a wrong `log` line, a dropped path).
        let total = status.stat.filter { $0.server == "FRONTEND" }.reduce(0) { $0 + (Int($1["req_tot"] ?? "") ?? 0) }
        if first || total < (t.requestTotalBase ?? 0) {
            t.requestTotalBase = total
            t.requestLinesBase = t.requestLines
        }
        let unlogged = (total - (t.requestTotalBase ?? total)) - (t.requestLines - t.requestLinesBase)
        let quiet = t.lastLog.map { out.now - $0 > .seconds(2) } ?? true
        t.logStale =
            t.access.haproxy?.log != nil && unlogged >= 3 && quiet
            ? "haproxy counted \(unlogged) requests that sent no log line here: check its 'log' line" : nil
        if t.access.haproxy?.pid == nil, let pid = status.info.pid {
            haproxyReading(&t, .running(pid), source: "show info", &out)
        }
        balancers[b] = t
    }

    mutating func log(_ b: String, _ message: HAProxyLogMessage, _ out: inout Reaction) {
        guard var t = balancers[b] else { return }
        t.lastLog = out.now
        switch message {
        case .request(let r):
            t.requestLines += 1
            balancers[b] = t
            request(b, r, &out)
            return
        case .server(let s):
            let key = "\(s.backend)/\(s.server)"
            let from = t.reported[key]?.status
            guard from != s.status else { break }
            let pending = t.takePending(key, now: out.now)
            out.emit(
                .backendState(
                    balancer: b, backend: s.backend, server: s.server, from: from ?? ServerStatus(.down, detail: "?"),
                    to: s.status, check: s.check),
                "haproxy on \(b) logged: \(s.backup ? "Backup " : "")Server \(key) \(s.text)"
                    + (pending.map { "; after \($0)" } ?? ""))
            t.reported[key] = ReportedServer(status: s.status, weight: t.reported[key]?.weight ?? 0)
            out.need(.poll(b))
        case .proxyStopped: t.haproxyStopLogged = true
        case .proxyStarted: t.haproxyStopLogged = false
        case .noServerAvailable, .other: break
        }
        balancers[b] = t
    }

    mutating func request(_ b: String, _ r: HTTPLogRecord, _ out: inout Reaction) {
        let stat = balancers[b]?.status?.stat ?? []
        let backendRow = stat.first { $0.proxy == r.backend && $0.server == "BACKEND" }
        let serverRow = stat.first { $0.proxy == r.backend && $0.server == r.server }
        let newSession = r.setCookie(named: Self.sessionCookie)
        let session = newSession ?? r.requestCookie(named: Self.sessionCookie)
        if let server = r.server, let s = session, let dot = s.lastIndex(of: "."), r.status > 0, r.status < 500 {
            routes[server] = String(s[s.index(after: dot)...])
        }
        let record = RequestRecord(
            time: out.now, client: "\(r.clientAddress):\(r.clientPort)", via: b, server: r.server,
            status: max(0, r.status), session: session,
            reason: RequestReason.describe(
                r, algorithm: backendRow?["algo"], cookieName: backendRow?["cookie"], serverCookie: serverRow?["cookie"]
            ),
            latency: .milliseconds(Int64(max(0, r.timers.total))), requestLine: r.requestLine)
        if let session {
            sessions[r.clientAddress, default: SessionTrack(first: session)].record(session, server: r.server)
        }
        requests.append(record)
        if requests.count > Self.requestLimit + 200 { requests.removeFirst(requests.count - Self.requestLimit) }
        out.emit(
            .request(record),
            "haproxy on \(b) logged it: \(r.backend)/\(r.server ?? "<NOSRV>") \(r.status) \(r.terminationState)")
    }

    /// The session cookie of the article's Tomcat-like servers.
    static let sessionCookie = "JSESSIONID"

    func checkText(_ row: ShowStatRow) -> String {
        guard let s = row["check_status"], !s.isEmpty else { return "" }
        let code = row["check_code"] ?? ""
        return code.isEmpty ? s.replacingOccurrences(of: "* ", with: "") : "\(s)/\(code)"
    }
}

/// What hadeck knows about one balancer host.
struct BalancerTrack: Sendable {
    let access: BalancerAccess
    // haproxy
    var status: HAProxyStatus?
    var statusAt: Instant?
    var statsError: (Instant, String)?
    var reported: [String: ReportedServer] = [:]
    var haproxyPID: Int32?
    var haproxyKnown = false
    var haproxyStopLogged = false
    var logOpen: Bool?
    var logError: String?
    var lastLog: Instant?
    var requestLines = 0
    var requestLinesBase = 0
    var requestTotalBase: Int?
    var logStale: String?
    /// Runtime API lines hadeck sent, per `backend/server`, for the why of the change they cause.
    var pendingAdmin: [String: (String, Instant)] = [:]
    // keepalived
    var vrrp = HostVRRPState.unknown
    var basePriority: Int?
    var effectivePriority: Int?
    var masterRouter: String?
    var masterPriority: Int?
    /// The dump's own `Master down timer` (not Master_Down_Interval while a lower master advertises).
    var dumpedMasterDown: TimeSpan?
    var advertInterval: TimeSpan?
    var scripts: [KeepalivedDataDump.Script] = []
    var trackedScripts: [KeepalivedDataDump.TrackedScript] = []
    var interfaceMAC: String?
    var sourceAddress: String?
    var dumpAt: Instant?
    var dumpError: (Instant, String)?
    var lastFIFOState: Instant?
    var fifoOpen: Bool?
    var fifoError: String?
    var keepalivedPID: Int32?
    var keepalivedKnown = false
    var vrrpPID: Int32?
    /// The FIFO said STOP since keepalived last started: its end is a graceful stop.
    var stopSeen = false
    var pendingPriority: PendingPriority?
    var countdown: Countdown?
    // host
    var poweredOff = false
    var linkDown = false
    var processesAt: Instant?
    var processesError: (Instant, String)?
    /// Pids hadeck itself ended (kill, stop, power off): their end is already an event.
    var expectedExits: Set<Int32> = []
    /// Who asked a process to start, for the why of its start.
    var startRequested: [HostProcess: String] = [:]

    init(access: BalancerAccess) { self.access = access }

    /// Master_Down_Interval at `priority`, by keepalived's formula: 3 x advert interval + Skew_Time,
    /// (256 - priority) x advert interval / 256.
    func masterDownInterval(priority: Int?) -> TimeSpan? {
        guard let advert = advertInterval?.micros, let p = priority ?? basePriority else { return dumpedMasterDown }
        return TimeSpan(micros: 3 * advert + Int64(256 - p) * advert / 256)
    }

    mutating func takePending(_ key: String, now: Instant) -> String? {
        guard let (text, at) = pendingAdmin[key] else { return nil }
        if now - at > .seconds(10) {
            pendingAdmin[key] = nil
            return nil
        }
        return text
    }
}

struct ReportedServer: Hashable, Sendable {
    var status: ServerStatus
    var weight: Int
}

/// A priority change the FIFO reported, waiting for the data dump that says why.
struct PendingPriority: Hashable, Sendable {
    var from: Int
    var to: Int
    var line: String
    var at: Instant
}

/// A backup's Master_Down_Timer once its master went quiet (or never spoke).
struct Countdown: Hashable, Sendable {
    /// When the master stopped advertising at or above this host's priority (as far as hadeck saw).
    var since: Instant
    var deadline: Instant
    var interval: TimeSpan
    /// Read from keepalived's own data dump (`Read timeout`), not estimated from `since`.
    var exact: Bool
    /// Why the master went quiet, for the why of the takeover.
    var cause: String
    var graceful: Bool
}

/// The client's neighbour entry for the VIP.
struct NeighbourTrack: Sendable {
    var entry: NeighbourEntry?
    var mac: String?
    var history: [ARPSnapshot.Change] = []
    var at: Instant?
    var error: (Instant, String)?
    var seen = false
}

/// A server's application process.
struct AppTrack: Sendable {
    var pid: Int32?
    var known = false
    var error: String?
    var expectedExits: Set<Int32> = []
    var startRequested: String?
}

/// The sessions one client's requests carried.
public struct SessionTrack: Hashable, Sendable {
    public var first: String
    public var last: String
    public var lastServer: String?
    public var changes = 0

    init(first: String) {
        self.first = first
        last = first
    }

    mutating func record(_ session: String, server: String?) {
        if session != last { changes += 1 }
        last = session
        lastServer = server
    }
}
