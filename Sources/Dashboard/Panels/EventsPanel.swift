import ClusterModel
import HadeckBase

/// The newest events (requests aside), each with its why.
struct EventsPanel: Widget {
    let s: ClusterSnapshot
    let state: DashboardState

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0 else { return }
        let focused = state.focus == .events
        let freshness = Freshness(.events, s)
        c.rule(
            area.row(0), title: [Span(Panel.events.title), Span(" · newest first, with why", .dim)],
            right: [Span("\(s.events.count)", .dim)], focused: focused, freshness: freshness)
        let cols = [
            Column(title: "TIME", width: 7, priority: 0, right: true),
            Column(title: "TYPE", width: 16, priority: 0),
            Column(title: "WHAT", width: area.width >= 120 ? 30 : 20, priority: 1),
            Column(title: "WHY", width: 20, priority: 0, flex: true),
        ]
        let events = s.events
        let selected = DashboardModel.selectedIndex(.events, in: events.count, state) { id in
            guard case .event(let e) = id else { return nil }
            return events.firstIndex(of: e)
        }
        Table(
            columns: cols, heading: false, count: events.count, selected: selected, focused: focused,
            dimmed: freshness?.isAlarm == true
        ) { i in
            let e = events[i]
            return [
                [Span(fixed(e.time.seconds, 2), .dim)],
                [Span(e.type.rawValue, eventRole(e))],
                [Span(e.summary(arrow: "→"))],
                [Span(e.why, .dim)],
            ]
        }
        .render(in: area.dropFirst(1), on: &c)
    }
}
