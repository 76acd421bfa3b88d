import BalancerCore
import ClusterModel
import HadeckBase

/// One row per server: merged (every balancer's view, the VIP holder's shown) or as one balancer sees it.
struct BackendsPanel: Widget {
    let s: ClusterSnapshot
    let state: DashboardState
    /// Built once per frame by the renderer: with thousands of servers it is the costliest list.
    let rows: BackendRows

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0 else { return }
        let focused = state.focus == .backends
        let viewText: String
        switch state.backendsView {
        case .merged: viewText = "all balancers (v: per balancer)"
        case .perBalancer:
            viewText = "as \(DashboardModel.currentBalancer(s, state) ?? "?") sees them (b: next, v: merged)"
        }
        let freshness = Freshness(.backends, s)
        c.rule(
            area.row(0), title: [Span(Panel.backends.title), Span(" · " + viewText, .dim)],
            right: [Span("\(rows.count) servers", .dim)], focused: focused, freshness: freshness)
        let merged = state.backendsView == .merged
        let rows = self.rows
        let roles = c.routeRoles
        let selected = DashboardModel.selectedIndex(.backends, in: rows.count, state) { id in
            guard case .server(let backend, let server) = id else { return nil }
            return rows.index(backend: backend, server: server)
        }
        // ADDRESS is as wide as the addresses on screen (`127.0.0.1:8080` to `255.255.255.255:65535`).
        let visible = max(0, area.height - 2)
        let offset = Table.offset(selected: selected, visible: visible)
        var addressWidth = 15
        for i in min(offset, rows.count)..<min(rows.count, offset + visible) {
            addressWidth = max(addressWidth, min(21, displayWidth(rows[i].row.address)))
        }
        let cols = [
            Column(title: "SERVER", width: 8, priority: 0),
            Column(title: "ROUTE", width: 5, priority: 1),
            Column(title: "ADDRESS", width: addressWidth, priority: 6),
            Column(title: "STATUS", width: 9, priority: 0),
            Column(title: "CHECK", width: 9, priority: 2),
            Column(title: "TIME", width: 5, priority: 4, right: true),
            Column(title: "HEALTH", width: 6, priority: 2),
            Column(title: "WEIGHT", width: 6, priority: 2, right: true),
            Column(title: "SESS CUR/TOT", width: 12, priority: 3, right: true),
            Column(title: "REQ/S", width: 6, priority: 3, right: true),
            Column(title: "APP", width: 4, priority: 5),
            Column(title: "CHANGED", width: 8, priority: 7, right: true),
            Column(
                title: merged ? "OTHER BALANCERS" : "BACKEND", width: merged ? 18 : 8, priority: merged ? 5 : 8,
                flex: true),
        ]
        Table(
            columns: cols, count: rows.count, selected: selected, focused: focused, dimmed: freshness?.isAlarm == true
        ) {
            i in Self.cells(rows[i], merged: merged, roles: roles)
        }
        .render(in: area.dropFirst(1), on: &c)
    }

    static func cells(_ br: DashboardModel.BackendRow, merged: Bool, roles: [String: ThemeRole]) -> [[Span]] {
        let r = br.row
        let sess = merged ? br.all.reduce(0) { $0 + $1.currentSessions } : r.currentSessions
        let tot = merged ? br.all.reduce(0) { $0 + $1.totalSessions } : r.totalSessions
        let rps = merged ? br.all.reduce(0.0) { $0 + $1.requestsPerSecond } : r.requestsPerSecond
        let slots = max(1, min(8, r.rise + r.fall - 1))
        let gauge: [Span] =
            r.checked
            ? [
                Span(
                    String(repeating: "●", count: min(slots, max(0, r.health)))
                        + String(repeating: "○", count: max(0, slots - max(0, r.health))),
                    r.health >= r.rise ? .up : (r.health > 0 ? .transition : .down))
            ]
            : [Span("-", .dim)]
        var others: [Span] = []
        if merged {
            for o in br.all where o.balancer != r.balancer {
                others.append(Span("\(o.balancer) "))
                others.append(Span(o.status.description + " ", statusRole(o.status)))
            }
        } else {
            others = [Span(r.backend, .dim)]
        }
        let app: [Span] = r.appRunning.map { $0 ? [Span("run", .up)] : [Span("dead", .down)] } ?? [Span("-", .dim)]
        let route = roles[r.jvmRoute ?? ""]
        return [
            [Span(r.server, route)],
            [Span(r.jvmRoute ?? "-", route)],
            [Span(r.address, .dim)],
            [Span(r.status.description, statusRole(r.status))] + (r.backup ? [Span(" bk", .dim)] : []),
            [Span(r.checkStatus ?? "-", checkRole(r.checkStatus))],
            [Span(r.checkDuration.map(shortSpan) ?? "", .dim)],
            gauge,
            [
                Span(
                    r.weight == r.initialWeight ? "\(r.weight)" : "\(r.weight)/\(r.initialWeight)",
                    r.weight == r.initialWeight ? nil : .transition)
            ],
            [Span("\(sess)/\(tot)")],
            [Span(shortRate(rps))],
            app,
            [Span("t=\(fixed(r.lastChange.seconds, 0))s", .dim)],
            others,
        ]
    }
}
