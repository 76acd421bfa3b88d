import ClusterModel
import HadeckBase

/// The newest requests: who sent each, through which balancer to which server, and why.
struct RequestsPanel: Widget {
    let s: ClusterSnapshot
    let state: DashboardState

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0 else { return }
        let focused = state.focus == .requests
        let list = DashboardModel.requests(s, state)
        var right: [Span] = []
        if !state.filter.isEmpty { right.append(Span("filter \"\(state.filter)\" ", .highlight)) }
        if s.requestSampling > 1 { right.append(Span("sampled 1:\(s.requestSampling) ", .transition)) }
        right.append(Span(s.traffic.on ? "traffic \(formatRate(s.traffic.rate))/s" : "traffic off", .dim))
        let freshness = Freshness(.requests, s)
        c.rule(
            area.row(0), title: [Span(Panel.requests.title), Span(" · newest first", .dim)], right: right,
            focused: focused, freshness: freshness)
        let digits = area.width >= 120 ? 3 : 2
        let selected = DashboardModel.selectedIndex(.requests, in: list.count, state) { id in
            guard case .request(let r) = id else { return nil }
            return list.firstIndex(of: r)
        }
        // CLIENT and VIA are as wide as what they hold (a client's `IP:port`, `lb1 direct`), within bounds.
        let visible = max(0, area.height - 2)
        let offset = Table.offset(selected: selected, visible: visible)
        var clientWidth = 9
        var viaWidth = 5
        for r in list[min(offset, list.count)..<min(list.count, offset + visible)] {
            clientWidth = max(clientWidth, min(21, displayWidth(r.client)))
            viaWidth = max(viaWidth, min(12, displayWidth(Self.via(r))))
        }
        let cols = [
            Column(title: "TIME", width: digits + 4, priority: 0, right: true),
            Column(title: "CLIENT", width: clientWidth, priority: 0),
            Column(title: "VIA", width: viaWidth, priority: 1),
            Column(title: "SERVER", width: 7, priority: 0),
            Column(title: "ST", width: 3, priority: 0, right: true),
            Column(title: "LATENCY", width: 7, priority: 3, right: true),
            Column(title: "SESSION", width: 16, priority: 2),
            Column(title: "REASON", width: 12, priority: 1, flex: true),
        ]
        let roles = c.routeRoles
        let serverRoles = c.serverRoles
        Table(
            columns: cols, count: list.count, selected: selected, focused: focused, dimmed: freshness?.isAlarm == true
        ) {
            i in
            let r = list[i]
            let stRole: ThemeRole = r.status == 0 || r.status >= 500 ? .down : (r.status >= 400 ? .transition : .up)
            return [
                [Span(fixed(r.time.seconds, digits), .dim)],
                [Span(r.client)],
                r.via == nil
                    ? [Span("-", .down)]
                    : [Span(r.via!)] + (r.entry == .direct ? [Span(" direct", .transition)] : []),
                [Span(r.server ?? "-", r.server.flatMap { serverRoles[$0] })],
                [Span(r.status == 0 ? "---" : "\(r.status)", stRole)],
                [Span(shortSpan(r.latency), .dim)],
                sessionSpans(r.session, roles: roles, width: 16),
                [Span(r.reason)],
            ]
        }
        .render(in: area.dropFirst(1), on: &c)
    }

    /// The VIA column's text: the balancer, and `direct` when the request did not come through the VIP.
    static func via(_ r: RequestRecord) -> String {
        guard let via = r.via else { return "-" }
        return r.entry == .direct ? via + " direct" : via
    }
}

/// A session id with its `.jvmN` suffix in the route's colour; long ids keep the suffix and lose the middle.
func sessionSpans(_ session: String?, roles: [String: ThemeRole], width: Int) -> [Span] {
    guard let session else { return [Span("-", .dim)] }
    guard let dot = session.lastIndex(of: ".") else { return [Span(session)] }
    var head = String(session[..<dot])
    let suffix = String(session[dot...])
    let route = String(suffix.dropFirst())
    let suffixWidth = displayWidth(suffix)
    if displayWidth(head) + suffixWidth > width, width > suffixWidth + 2 {
        var cut = ""
        var w = 0
        for ch in head {
            let cw = displayWidth(ch)
            if w + cw > width - suffixWidth - 1 { break }
            cut.append(ch)
            w += cw
        }
        head = cut + "…"
    }
    return [Span(head, .dim), Span(suffix, roles[route] ?? .highlight)]
}
