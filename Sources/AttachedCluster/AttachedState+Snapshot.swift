import AttachConfig
import BalancerCore
import ClusterModel
import HadeckBase
import RealCluster

/// The state as the dashboard and the JSON lines see it: the same `ClusterSnapshot` as the
/// embedded cluster's, with unknowns left unknown and every feed's age and health.
extension AttachedState {
    public func snapshot(
        at now: Instant, requestLimit: Int, eventLimit: Int, source: SourceCapabilities, scenarioName: String? = nil
    ) -> ClusterSnapshot {
        var s = ClusterSnapshot(
            time: now, clusterName: file.name, scenarioName: scenarioName, caption: caption,
            vip: HostPort(host: file.vip, port: file.port), source: source,
            requestsPerSecond: requestsPerSecond(now),
            hosts: order.compactMap { balancers[$0].map { host($0, now) } },
            arp: ARPSnapshot(
                ip: file.vip, mac: neighbour.mac, owner: neighbour.mac.flatMap { balancerName(mac: $0) },
                history: neighbour.history),
            servers: order.flatMap { b in balancers[b].map { rows($0, now) } ?? [] },
            requests: Array(requests.suffix(requestLimit).reversed()),
            events: Array(events.suffix(eventLimit).reversed()))
        s.feeds = feeds(now)
        return s
    }

    /// Requests per second over the balancers whose stats are current (haproxy's own `req_rate`).
    func requestsPerSecond(_ now: Instant) -> Double {
        var total = 0.0
        for b in order {
            guard let t = balancers[b], let status = t.status, !statsLost(t, now) else { continue }
            for row in status.stat where row.server == "FRONTEND" { total += Double(row["req_rate"] ?? "") ?? 0 }
        }
        return total
    }

    func statsLost(_ t: BalancerTrack, _ now: Instant) -> Bool {
        if let (at, _) = t.statsError, at >= (t.statusAt ?? .zero) { return true }
        return false
    }

    func host(_ t: BalancerTrack, _ now: Instant) -> HostSnapshot {
        let b = t.access.name
        let countdown = t.vrrp == .backup ? t.countdown : nil
        let heard = t.masterRouter.map { balancerName(address: $0) ?? $0 }
        return HostSnapshot(
            name: b, address: t.access.address ?? t.sourceAddress ?? "?", mac: t.access.mac ?? t.interfaceMAC ?? "?",
            poweredOn: !t.poweredOff, linkUp: !t.linkDown,
            vrrpState: t.access.keepalived == nil ? .unknown : t.vrrp, basePriority: t.basePriority ?? 0,
            effectivePriority: t.effectivePriority ?? t.basePriority ?? 0,
            haproxyPID: t.poweredOff ? nil : t.haproxyPID.map(Int.init),
            keepalivedPID: t.poweredOff ? nil : t.keepalivedPID.map(Int.init), advertsSent: nil, advertsReceived: nil,
            masterDownDeadline: countdown?.deadline, masterDownInterval: countdown?.interval,
            partitionedFrom: partitions.compactMap { pair in
                pair.contains(b) ? pair.first { $0 != b } : nil
            }.sorted(),
            heardMaster: t.vrrp == .backup ? heard : nil,
            heardMasterPriority: t.vrrp == .backup ? t.masterPriority : nil)
    }

    /// One row per server of this balancer's last `show stat`; none while its stats socket is lost
    /// (its last rows would be a state that may no longer hold).
    func rows(_ t: BalancerTrack, _ now: Instant) -> [ServerRow] {
        guard let status = t.status, let at = t.statusAt, !statsLost(t, now) else { return [] }
        let states = Dictionary(
            status.servers.map { ("\($0.backend)/\($0.server)", $0) }, uniquingKeysWith: { a, _ in a })
        return status.stat.filter { $0["type"] == "2" }.map { row in
            let key = "\(row.proxy)/\(row.server)"
            let state = states[key]
            let admin: AdminState =
                state.map { s in
                    s.admin.contains(.forcedMaint) || s.admin.contains(.configMaint)
                        || s.admin.contains(.inheritedMaint)
                        ? .maint : s.admin.contains(.forcedDrain) || s.admin.contains(.inheritedDrain) ? .drain : .ready
                } ?? (row.status.hasPrefix("MAINT") ? .maint : row.status.hasPrefix("DRAIN") ? .drain : .ready)
            let int = { (name: String) in Int(row[name] ?? "") }
            let checked = !(row["check_status"] ?? "").isEmpty
            return ServerRow(
                balancer: t.access.name, backend: row.proxy, server: row.server, jvmRoute: routes[row.server],
                address: row["addr"] ?? state?.address ?? "", status: ServerStatus(parsing: row.status),
                adminState: admin, checkStatus: checked ? checkText(row) : nil,
                checkDuration: int("check_duration").map { .milliseconds(Int64($0)) },
                lastChange: at - .seconds(Int64(int("lastchg") ?? state?.secondsSinceChange ?? 0)),
                weight: state?.weight ?? int("weight") ?? 0, initialWeight: state?.initialWeight ?? int("weight") ?? 0,
                currentSessions: int("scur") ?? 0, totalSessions: int("stot") ?? 0,
                requestsPerSecond: Double(int("rate") ?? 0), health: int("check_health") ?? state?.checkHealth ?? 0,
                rise: int("check_rise") ?? 0, fall: int("check_fall") ?? 0, checked: checked, backup: row["bck"] == "1",
                appRunning: apps[row.server].flatMap { $0.known && $0.error == nil ? $0.pid != nil : nil })
        }
    }

    /// Every stream hadeck reads, with its age and whether it still flows.
    func feeds(_ now: Instant) -> [FeedStatus] {
        var out: [FeedStatus] = []
        let patience = max(refresh * 3, .seconds(3))
        func polled(_ name: String, _ area: FeedStatus.Area, ok: Instant?, error: (Instant, String)?, every: TimeSpan)
            -> FeedStatus
        {
            if let (at, why) = error, at >= (ok ?? .zero) {
                return FeedStatus(name: name, area: area, lastUpdate: ok, health: .lost(why))
            }
            guard let ok else {
                return FeedStatus(name: name, area: area, lastUpdate: nil, health: .stale("no answer yet"))
            }
            let age = now - ok
            if age > max(every * 3, patience) {
                return FeedStatus(
                    name: name, area: area, lastUpdate: ok, health: .stale("no answer for \(fixed(age.seconds))s"))
            }
            return FeedStatus(name: name, area: area, lastUpdate: ok, health: .ok)
        }
        for b in order {
            guard let t = balancers[b] else { continue }
            if let h = t.access.haproxy {
                out.append(polled("\(b) haproxy stats", .backends, ok: t.statusAt, error: t.statsError, every: refresh))
                if h.log != nil {
                    let health: FeedStatus.Health =
                        t.logOpen == false
                        ? .lost(t.logError ?? "the log socket is closed")
                        : t.logStale.map { .stale($0) } ?? .ok
                    out.append(
                        FeedStatus(name: "\(b) haproxy log", area: .requests, lastUpdate: t.lastLog, health: health))
                }
            }
            if let k = t.access.keepalived {
                if k.fifo != nil {
                    let health: FeedStatus.Health =
                        t.fifoOpen == false ? .lost(t.fifoError ?? "the notify FIFO is closed") : .ok
                    out.append(
                        FeedStatus(
                            name: "\(b) keepalived fifo", area: .balancers, lastUpdate: t.lastFIFOState, health: health)
                    )
                }
                if k.data != nil {
                    let health: FeedStatus.Health =
                        t.dumpError.map { e in e.0 >= (t.dumpAt ?? .zero) ? .lost(e.1) : .ok } ?? .ok
                    out.append(
                        FeedStatus(name: "\(b) keepalived dump", area: .balancers, lastUpdate: t.dumpAt, health: health)
                    )
                }
            }
            let pidSources = [t.access.haproxy?.pid, t.access.keepalived?.pid, t.access.keepalived?.vrrpPid]
            if pidSources.contains(where: { $0 != nil }) {
                out.append(
                    polled(
                        "\(b) processes", .balancers, ok: t.processesAt, error: t.processesError, every: refresh * 5))
            }
        }
        if let client = file.client, client.neighbours != nil || client.neighbourEvents != nil {
            out.append(
                polled("client neighbours", .vip, ok: neighbour.at, error: neighbour.error, every: .seconds(10)))
        }
        return out
    }
}

/// `1.5`, one decimal.
func fixed(_ x: Double) -> String { String(Double((x * 10).rounded()) / 10) }
