import ClusterModel
import HadeckBase

/// Draws the dashboard into a cell buffer. Pure: same snapshot, state and size give the same cells.
///
/// The screen is split by `Layout` into rectangles and each panel (a `Widget`, one file each under
/// `Panels/`) draws into its own.
public enum DashboardRenderer {
    public static let minWidth = 80
    public static let minHeight = 24
    /// How long the VIP line stays highlighted after the ARP entry moved.
    public static let arpHighlight = TimeSpan.seconds(5)
    /// Layouts at least this wide put panels side by side.
    public static let wideWidth = 140

    public static func render(
        snapshot s: ClusterSnapshot, state: DashboardState, width: Int, height: Int, theme: Theme
    ) -> CellBuffer {
        var c = Canvas(width: width, height: height, theme: theme)
        guard width >= minWidth, height >= minHeight else {
            TooSmall().render(in: c.area, on: &c)
            return c.buffer
        }
        let colours = DashboardModel.routeColours(s)
        c.routeRoles = colours.routes
        c.serverRoles = colours.servers
        let screen = layout(s, state, c.area)
        if let replay = state.replay { ReplayBanner(status: replay).render(in: screen[6], on: &c) }
        HeaderBar(s: s).render(in: screen[0], on: &c)
        if let caption = s.caption, screen[1].height > 0 { CaptionBar(text: caption).render(in: screen[1], on: &c) }
        panels(s, state, in: screen[2], on: &c)
        if let sc = s.scenario, screen[3].height > 0 { ResultBar(scenario: sc).render(in: screen[3], on: &c) }
        StatusBar(s: s, state: state).render(in: screen[4], on: &c)
        KeyBar(s: s, state: state).render(in: screen[5], on: &c)
        if let target = state.detail {
            DetailView(content: DetailContent.make(target, s), scroll: state.detailScroll)
                .render(in: screen[2], on: &c)
        }
        if state.showHelp { HelpOverlay(scroll: state.helpScroll).render(in: c.area, on: &c) }
        return c.buffer
    }

    /// Header, caption, panels, result bar, status bar, key bar, and (index 6, on top) the replay banner.
    static func layout(_ s: ClusterSnapshot, _ state: DashboardState, _ area: Rect) -> [Rect] {
        let captionHeight = (s.caption ?? "").isEmpty ? 0 : 1
        var resultHeight = 0
        if let sc = s.scenario, sc.finished {
            resultHeight = ResultBar.height(sc, width: area.width, limit: max(2, (area.height - 4) / 3))
        }
        let r = Layout.vertical([
            .length(state.replay == nil ? 0 : 1), .length(1), .length(captionHeight), .fill(1),
            .length(resultHeight), .length(1), .length(1),
        ]).split(area)
        return Array(r[1...]) + [r[0]]
    }

    /// How far the help and the detail view can be scrolled at this size (the app keeps its state
    /// within them, so that the first key back up moves the view).
    public static func scrollLimits(snapshot s: ClusterSnapshot, state: DashboardState, width: Int, height: Int)
        -> (help: Int, detail: Int)
    {
        let helpWidth = min(width - 2, 104)
        let helpLines = HelpOverlay.lines(width: helpWidth - 4).lines.count
        let help = max(0, helpLines - (min(height - 2, helpLines + 2) - 2))
        var detail = 0
        if let target = state.detail {
            let inner = layout(s, state, Rect(x: 0, y: 0, width: width, height: height))[2]
                .inset(horizontal: 2, vertical: 1)
            detail = max(0, DetailView.layout(DetailContent.make(target, s), width: inner.width).count - inner.height)
        }
        return (help, detail)
    }

    /// The five panels: stacked below 140 columns, two by two (balancers | VIP, requests | events)
    /// from there.
    static func panels(_ s: ClusterSnapshot, _ state: DashboardState, in body: Rect, on c: inout Canvas) {
        let m = body.height
        let history = s.arp.history.count
        let balancersHeight = 2 + max(1, s.hosts.count)
        let wide = body.width >= wideWidth
        // The last change of master's phases, under the VIP line.
        let timeline = FailoverTimeline.last(in: s)
        let strip = timeline == nil ? 0 : TimelineStrip.height(bodyHeight: m)
        let topHeight: Int
        if wide {
            topHeight = max(balancersHeight, min(2 + strip + history, balancersHeight + strip + max(0, (m - 30) / 5)))
        } else {
            topHeight = balancersHeight + 1 + strip + min(history, max(0, (m - 21) / 4))
        }
        // Built once per frame: with thousands of servers it is the costliest list to derive.
        let backendRows = DashboardModel.backendRows(s, state)
        let rest = m - topHeight
        let backendsHeight = min(2 + max(1, backendRows.count), max(4, rest / 2))
        let rows = Layout.vertical([.length(topHeight), .length(backendsHeight), .fill(1)]).split(body)
        if wide {
            let vipWidth = max(44, body.width * 2 / 5)
            let top = Layout.horizontal([.length(body.width - vipWidth - 1), .fill(1)], spacing: 1).split(rows[0])
            BalancersPanel(s: s, state: state).render(in: top[0], on: &c)
            c.vline(x: top[0].right, y: top[0].y, height: top[0].height)
            VIPPanel(s: s, inline: false, timeline: strip > 0 ? timeline : nil, stripHeight: strip)
                .render(in: top[1], on: &c)
        } else {
            let top = Layout.vertical([.length(balancersHeight), .fill(1)]).split(rows[0])
            BalancersPanel(s: s, state: state).render(in: top[0], on: &c)
            VIPPanel(s: s, inline: true, timeline: strip > 0 ? timeline : nil, stripHeight: strip)
                .render(in: top[1], on: &c)
        }
        BackendsPanel(s: s, state: state, rows: backendRows).render(in: rows[1], on: &c)
        let low: [Rect]
        if wide {
            low = Layout.horizontal([.length(body.width * 11 / 20), .fill(1)], spacing: 1).split(rows[2])
            c.vline(x: low[0].right, y: low[0].y, height: low[0].height)
        } else {
            low = Layout.vertical([.fill(1), .length(rows[2].height / 2)]).split(rows[2])
        }
        RequestsPanel(s: s, state: state).render(in: low[0], on: &c)
        EventsPanel(s: s, state: state).render(in: low[1], on: &c)
    }
}
