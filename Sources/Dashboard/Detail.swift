import BalancerCore
import ClusterModel
import HadeckBase

/// What a detail view says about one row: every field, nothing cut (long values wrap).
public struct DetailContent: Hashable, Sendable {
    public struct Line: Hashable, Sendable {
        /// Empty for a value that continues the line above, or a heading of its own.
        public var label: String
        public var value: String
        var role: ThemeRole?

        init(_ label: String, _ value: String, _ role: ThemeRole? = nil) {
            self.label = label
            self.value = value
            self.role = role
        }
    }

    public var title: String
    public var lines: [Line]

    /// The content for a target, with the servers and hosts as the snapshot has them now.
    public static func make(_ target: DetailTarget, _ s: ClusterSnapshot) -> DetailContent {
        switch target {
        case .event(let e): return event(e, s)
        case .request(let r): return request(r, s)
        case .server(let backend, let server): return self.server(backend: backend, server: server, s)
        case .balancer(let name): return balancer(name, s)
        }
    }

    static func event(_ e: ClusterEvent, _ s: ClusterSnapshot) -> DetailContent {
        var lines = [
            Line("time", "t=\(formatSeconds(e.time.micros)) s"),
            Line("type", e.type.rawValue, eventRole(e)),
            Line("what", e.summary()),
            Line("why", e.why),
        ]
        if let timer = e.timer { lines.append(Line("timer", "\(timer)", .highlight)) }
        if let r = e.request {
            lines += requestLines(r, nil)
        } else {
            lines.append(Line("", ""))
            lines.append(Line("fields", "", .title))
            for (name, value) in e.fields { lines.append(Line(name, value.plainText)) }
        }
        if let timeline = FailoverTimeline.all(events: s.events, requests: s.requests).last(where: {
            e.time >= $0.start && e.time <= $0.end
        }) {
            lines += timelineLines(timeline)
        }
        lines.append(Line("", ""))
        lines.append(Line("JSON", e.jsonLine, .dim))
        return DetailContent(title: "Event at t=\(fixed(e.time.seconds, 3)) s · \(e.type.rawValue)", lines: lines)
    }

    /// The change of master an event belongs to, phase by phase: when, measured, the formula's value.
    static func timelineLines(_ t: FailoverTimeline) -> [Line] {
        var lines = [
            Line("", ""),
            Line(
                "failover", "\(t.oldMaster ?? "none") -> \(t.newMaster) at t=\(formatSeconds(t.takeover.micros)) s",
                .title),
        ]
        if let total = t.faultToService { lines.append(Line("fault→service", "\(formatSeconds(total.micros)) s")) }
        for p in t.phases {
            var value = "t=\(formatSeconds(p.start.micros)) s  \(formatSeconds(p.duration.micros)) s  \(p.label)"
            if let f = p.formula { value += "  (formula \(formatSeconds(f.value.micros)) s: \(f.text))" }
            lines.append(Line(TimelineStrip.name(p.kind), value, TimelineStrip.role(p.kind)))
        }
        return lines
    }

    static func request(_ r: RequestRecord, _ s: ClusterSnapshot) -> DetailContent {
        DetailContent(
            title: "Request at t=\(fixed(r.time.seconds, 3)) s from \(r.client)",
            lines: [Line("time", "t=\(formatSeconds(r.time.micros)) s")] + requestLines(r, s))
    }

    static func requestLines(_ r: RequestRecord, _ s: ClusterSnapshot?) -> [Line] {
        let entry: String
        switch r.entry {
        case .vip:
            entry =
                "through the VIP\(s.map { " \($0.vip)" } ?? "")"
                + (r.via.map { ": the clients' ARP entry named \($0)'s MAC, so \($0)'s haproxy took it" } ?? "")
        case .direct:
            entry = "straight to \(r.via ?? "a balancer")'s own address, past the VIP"
        case nil: entry = "not known to this source"
        }
        var lines = [
            Line("client", r.client),
            Line("entry", entry, r.entry == .direct ? .transition : nil),
            Line("via", r.via.map { "\($0)'s haproxy" } ?? "no balancer took it", r.via == nil ? .down : nil),
            Line("server", r.server ?? "none chosen"),
            Line(
                "status", r.status == 0 ? "no answer" : "\(r.status)",
                r.status == 0 || r.status >= 500 ? .down : (r.status >= 400 ? .transition : .up)),
            Line("session", r.session ?? "none"),
            Line("latency", shortSpan(r.latency)),
        ]
        if let line = r.requestLine { lines.append(Line("request", line)) }
        lines.append(Line("reason", r.reason))
        return lines
    }

    static func server(backend: String, server: String, _ s: ClusterSnapshot) -> DetailContent {
        let rows = s.servers.filter { $0.backend == backend && $0.server == server }
        var lines: [Line] = []
        if let first = rows.first {
            lines += [
                Line("address", first.address),
                Line("route", first.jvmRoute ?? "unknown"),
                Line("app", first.appRunning.map { $0 ? "running" : "dead" } ?? "not known to this source"),
                Line("backup", first.backup ? "yes" : "no"),
            ]
        } else {
            lines.append(Line("", "no balancer lists \(backend)/\(server) now", .down))
        }
        for r in rows {
            lines.append(Line("", ""))
            lines.append(Line("on \(r.balancer)", "", .title))
            lines += [
                Line("status", r.status.description, statusRole(r.status)),
                Line("admin", r.adminState.rawValue),
                Line(
                    "check",
                    (r.checkStatus ?? (r.checked ? "none yet" : "not checked"))
                        + (r.checkDuration.map { " in \(shortSpan($0))" } ?? ""), checkRole(r.checkStatus)),
                Line("health", "\(r.health) (rise \(r.rise), fall \(r.fall))"),
                Line("weight", "\(r.weight) (configured \(r.initialWeight))"),
                Line("sessions", "\(r.currentSessions) now, \(r.totalSessions) in all"),
                Line("req/s", shortRate(r.requestsPerSecond)),
                Line("changed", "t=\(fixed(r.lastChange.seconds, 3)) s"),
            ]
        }
        return DetailContent(title: "Server \(backend)/\(server)", lines: lines)
    }

    static func balancer(_ name: String, _ s: ClusterSnapshot) -> DetailContent {
        guard let h = s.hosts.first(where: { $0.name == name }) else {
            return DetailContent(title: "Balancer \(name)", lines: [Line("", "no such host now", .down)])
        }
        var lines = [
            Line("VRRP state", h.vrrpState.rawValue, vrrpRole(h.vrrpState)),
            Line("priority", "\(h.basePriority) configured, \(h.effectivePriority) effective"),
            Line("haproxy", h.haproxyPID.map { "pid \($0)" } ?? (h.poweredOn ? "dead" : "off")),
            Line("keepalived", h.keepalivedPID.map { "pid \($0)" } ?? (h.poweredOn ? "dead" : "off")),
            Line(
                "adverts",
                "\(h.advertsSent.map(String.init) ?? "unknown") sent, \(h.advertsReceived.map(String.init) ?? "unknown") received"
            ),
            Line("address", h.address),
            Line("MAC", h.mac),
            Line("power", h.poweredOn ? "on" : "off"),
            Line("link", h.linkUp ? "up" : "down"),
            Line(
                "heard",
                h.heardMaster.map { "master \($0) at priority \(h.heardMasterPriority.map(String.init) ?? "?")" }
                    ?? "no master"),
        ]
        if let deadline = h.masterDownDeadline, let interval = h.masterDownInterval {
            lines.append(
                Line(
                    "master down",
                    "timer of \(formatSeconds(interval.micros)) s runs out at t=\(formatSeconds(deadline.micros)) s",
                    .transition))
        }
        if !h.partitionedFrom.isEmpty { lines.append(Line("cut off from", h.partitionedFrom.joined(separator: ", "))) }
        if s.arp.owner == name { lines.append(Line("VIP", "the clients' ARP entry for \(s.arp.ip) names its MAC")) }
        return DetailContent(title: "Balancer \(name)", lines: lines)
    }
}

extension JSONValue {
    /// The value as the detail view shows it: strings without quotes, the rest as JSON.
    var plainText: String {
        if case .string(let s) = self { return s }
        return encoded
    }
}
