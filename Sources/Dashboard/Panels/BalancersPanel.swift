import ClusterModel
import HadeckBase

/// One row per balancer host: VRRP state and priority, its haproxy and keepalived, adverts, the
/// master-down countdown.
struct BalancersPanel: Widget {
    let s: ClusterSnapshot
    let state: DashboardState

    static let columns = [
        Column(title: "HOST", width: 7, priority: 0),
        Column(title: "STATE", width: 7, priority: 0),
        Column(title: "PRIO", width: 10, priority: 1),
        Column(title: "HAPROXY", width: 8, priority: 2),
        Column(title: "KEEPALIVED", width: 10, priority: 2),
        Column(title: "ADV TX/RX", width: 9, priority: 3, right: true),
        Column(title: "ADDRESS", width: 15, priority: 6),
        Column(title: "MAC", width: 17, priority: 5),
        Column(title: "HEARD", width: 11, priority: 7),
        Column(title: "TIMER / NOTES", width: 16, priority: 4, flex: true),
    ]

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0 else { return }
        let focused = state.focus == .balancers
        let freshness = Freshness(.balancers, s)
        c.rule(
            area.row(0), title: [Span(Panel.balancers.title)], right: [Span("VRRP · haproxy · keepalived", .dim)],
            focused: focused, freshness: freshness)
        let hosts = s.hosts
        Table(
            columns: Self.columns, count: hosts.count,
            selected: DashboardModel.selectedIndex(.balancers, s, state), focused: focused,
            dimmed: freshness?.isAlarm == true
        ) { i in Self.cells(hosts[i], s) }
        .render(in: area.dropFirst(1), on: &c)
    }

    static func cells(_ host: HostSnapshot, _ s: ClusterSnapshot) -> [[Span]] {
        [
            [Span(host.name)],
            [Span(host.vrrpState.rawValue, vrrpRole(host.vrrpState))],
            priority(host),
            process(host, host.haproxyPID),
            process(host, host.keepalivedPID),
            [Span("\(host.advertsSent.map(String.init) ?? "?")/\(host.advertsReceived.map(String.init) ?? "?")")],
            [Span(host.address, .dim)],
            [Span(host.mac, .dim)],
            [
                Span(
                    host.heardMaster.map { m in "\(m)@\(host.heardMasterPriority.map(String.init) ?? "?")" } ?? "-",
                    .dim)
            ],
            notes(host, s),
        ]
    }

    /// `150`, `150 -> 90` (a track script took 60 off), `150 -> 0` (stopped: it said so with a
    /// priority-0 advert). A killed keepalived sent nothing and a powered-off host has none: the
    /// configured priority alone, dim, never a drop to 0 nobody announced.
    static func priority(_ host: HostSnapshot) -> [Span] {
        switch host.vrrpState {
        case .killed, .off, .unknown: return [Span("\(host.basePriority)", .dim)]
        default:
            return host.basePriority == host.effectivePriority
                ? [Span("\(host.basePriority)")]
                : [Span("\(host.basePriority) -> "), Span("\(host.effectivePriority)", .transition)]
        }
    }

    static func process(_ host: HostSnapshot, _ pid: Int?) -> [Span] {
        if !host.poweredOn { return [Span("off", .dim)] }
        return pid.map { [Span("\($0)", .up)] } ?? [Span("dead", .down)]
    }

    static func notes(_ host: HostSnapshot, _ s: ClusterSnapshot) -> [Span] {
        var notes: [Span] = []
        if host.vrrpState == .backup, let dl = host.masterDownDeadline, let iv = host.masterDownInterval,
            iv.micros > 0
        {
            let left = max(TimeSpan.zero, dl - s.time)
            let frac = left.seconds / iv.seconds
            let glyphs = barGlyphs(width: 10, fraction: frac)
            notes.append(Span(String(glyphs.map(\.0)), frac < 0.34 ? .down : .bar))
            notes.append(Span(" \(fixed(left.seconds, 1))s "))
        }
        if host.vrrpState == .killed { notes.append(Span("sent no advert ", .fault)) }
        if !host.poweredOn { notes.append(Span("powered off ", .dim)) }
        if !host.linkUp { notes.append(Span("link down ", .fault)) }
        if !host.partitionedFrom.isEmpty {
            notes.append(Span("cut off from " + host.partitionedFrom.joined(separator: ","), .fault))
        }
        if host.vrrpState == .master && notes.isEmpty { notes.append(Span("holds the VIP", .dim)) }
        return notes
    }
}
