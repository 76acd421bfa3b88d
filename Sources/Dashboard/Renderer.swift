import BalancerCore
import ClusterModel
import HadeckBase

/// A piece of text in a role's style.
struct Span {
    var text: String
    var role: ThemeRole?
    init(_ text: String, _ role: ThemeRole? = nil) {
        self.text = text
        self.role = role
    }
}

/// A table column. Columns are kept by priority (0 first) while they fit; the `flex` one takes what is left.
struct Column {
    var title: String
    var width: Int
    var priority: Int
    var right = false
    var flex = false
}

/// Draws the dashboard into a cell buffer. Pure: same snapshot, state and size give the same cells.
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
        var c = Canvas(buffer: CellBuffer(width: width, height: height, fill: Cell(" ", theme[.normal])), theme: theme)
        c.routeRoles = DashboardModel.routeRoles(s)
        guard width >= minWidth, height >= minHeight else {
            c.tooSmall()
            return c.buffer
        }
        c.header(s)
        var top = 1
        if let caption = s.caption, !caption.isEmpty {
            c.caption(caption, y: 1)
            top = 2
        }
        c.status(s, state, y: height - 2)
        c.keybar(s, state, y: height - 1)
        let m = height - 2 - top  // rows for the panels
        let hist = s.arp.history.count
        let balH = 2 + max(1, s.hosts.count)
        var y = top
        if width >= wideWidth {
            let vipW = max(44, width * 2 / 5)
            let balW = width - vipW - 1
            let topH = max(balH, min(2 + hist, balH + max(0, (m - 30) / 5)))
            c.balancers(s, state, x: 0, y: y, width: balW, height: topH)
            c.vline(x: balW, y: y, height: topH)
            c.vip(s, x: balW + 1, y: y, width: vipW, height: topH, inline: false)
            y += topH
        } else {
            c.balancers(s, state, x: 0, y: y, width: width, height: balH)
            y += balH
            let vipH = 1 + min(hist, max(0, (m - 21) / 4))
            c.vip(s, x: 0, y: y, width: width, height: vipH, inline: true)
            y += vipH
        }
        let rest = height - 2 - y
        // Built once per frame: with thousands of servers it is the costliest list to derive.
        let backendRows = DashboardModel.backendRows(s, state)
        let backH = min(2 + max(1, backendRows.count), max(4, rest / 2))
        c.backends(s, state, rows: backendRows, x: 0, y: y, width: width, height: backH)
        y += backH
        let lowH = height - 2 - y
        if width >= wideWidth {
            let reqW = width * 11 / 20
            c.requests(s, state, x: 0, y: y, width: reqW, height: lowH)
            c.vline(x: reqW, y: y, height: lowH)
            c.events(s, state, x: reqW + 1, y: y, width: width - reqW - 1, height: lowH)
        } else {
            let evH = lowH / 2
            c.requests(s, state, x: 0, y: y, width: width, height: lowH - evH)
            c.events(s, state, x: 0, y: y + lowH - evH, width: width, height: evH)
        }
        if state.showHelp { c.help(state) }
        return c.buffer
    }

    /// Every key binding, as the help overlay lists them.
    public static let helpLines: [String] = [
        "Anywhere",
        "  Tab / Shift-Tab  next / previous panel   ↑ ↓ PgUp PgDn Home End  select",
        "  P  partition / heal the balancers        t  traffic on / off",
        "  [ ]  traffic rate halve / double         < >  time scale halve / double",
        "  space  pause / resume                    /  filter requests (Enter, Esc)",
        "  v  backends per balancer / merged        b  next balancer",
        "  T  next theme   ?  this help   Ctrl-L  redraw   q  quit",
        "On a backend row (Backends panel)",
        "  d drain   m maint   r restore (restart app, ready)   k kill its app",
        "  + / -  weight +1 / -1        F4  weight reset",
        "  F1 / F2  enable / disable on every balancer",
        "  F5 F6 F7 F8  weight -10 -1 +1 +10",
        "  per-balancer view: the balancer shown; merged view: every balancer",
        "On a balancer row (Balancers panel)",
        "  k kill -9 haproxy   K kill -9 keepalived   s stop keepalived",
        "  p power off / on    r restore whatever is down",
        "Any key closes this help.",
    ]
}

struct Canvas {
    var buffer: CellBuffer
    let theme: Theme
    /// jvmRoute -> colour role for this frame (see `DashboardModel.routeRoles`).
    var routeRoles: [String: ThemeRole] = [:]

    func routeRole(_ route: String?) -> ThemeRole? { route.flatMap { routeRoles[$0] } }

    var width: Int { buffer.width }
    var height: Int { buffer.height }

    func style(_ role: ThemeRole?, over base: Style? = nil) -> Style {
        guard let role else { return base ?? theme[.normal] }
        var st = theme[role]
        if let base, st.bg == .default { st.bg = base.bg }
        return st
    }

    /// Writes spans from x, clipped at `maxWidth`; returns the cells used.
    @discardableResult
    mutating func spans(_ x: Int, _ y: Int, _ spans: [Span], base: Style, maxWidth: Int) -> Int {
        var n = 0
        for sp in spans {
            guard n < maxWidth else { break }
            n += buffer.text(x + n, y, sp.text, style(sp.role, over: base), maxWidth: maxWidth - n)
        }
        return n
    }

    mutating func vline(x: Int, y: Int, height h: Int) {
        for yy in y..<(y + h) { buffer.set(x, yy, "│", theme[.dim]) }
    }

    /// A panel's title rule: `─ Title ─── right ─`.
    mutating func rule(x: Int, y: Int, width w: Int, title: [Span], right: [Span] = [], focused: Bool) {
        let dim = theme[.dim]
        buffer.hline(x: x, y: y, width: w, dim)
        var t = title
        if focused, !t.isEmpty { t[0].role = .focus }
        var n = 1
        n += spans(x + n, y, [Span(" ")] + t + [Span(" ")], base: theme[.normal], maxWidth: w - 2)
        let rw = right.reduce(0) { $0 + $1.text.count } + 2
        if !right.isEmpty, n + rw + 2 <= w {
            spans(x + w - rw - 1, y, [Span(" ")] + right + [Span(" ")], base: theme[.normal], maxWidth: rw)
        }
    }

    // MARK: tables

    /// Lays out and draws a table: heading row (optional) and the visible rows, scrolled so the selection shows.
    mutating func table(
        x: Int, y: Int, width: Int, height: Int, columns: [Column], heading: Bool, count: Int, selected: Int?,
        focused: Bool, row: (Int) -> [[Span]]
    ) {
        guard height > 0, width > 2 else { return }
        var chosen: [Int] = []
        var used = 1
        for i in columns.indices.sorted(by: { (columns[$0].priority, $0) < (columns[$1].priority, $1) }) {
            if used + columns[i].width + 1 <= width {
                chosen.append(i)
                used += columns[i].width + 1
            }
        }
        chosen.sort()
        var widths = Dictionary(uniqueKeysWithValues: chosen.map { ($0, columns[$0].width) })
        if let f = chosen.first(where: { columns[$0].flex }) { widths[f]! += width - used }
        var xs: [Int: Int] = [:]
        var cx = x + 1
        for i in chosen {
            xs[i] = cx
            cx += widths[i]! + 1
        }
        var ry = y
        if heading {
            for i in chosen {
                let col = columns[i]
                let w = widths[i]!
                let t = String(col.title.prefix(w))
                buffer.text(xs[i]! + (col.right ? w - t.count : 0), ry, t, theme[.title], maxWidth: w)
            }
            ry += 1
        }
        let visible = height - (heading ? 1 : 0)
        guard visible > 0 else { return }
        var offset = 0
        if let sel = selected, sel >= visible { offset = sel - visible + 1 }
        for r in offset..<min(count, offset + visible) {
            let isSel = r == selected
            let base = isSel && focused ? theme[.selection] : theme[.normal]
            if isSel && focused { buffer.fill(x: x, y: ry, width: width, height: 1, " ", base) }
            if isSel { buffer.set(x, ry, "▸", focused ? base : theme[.focus]) }
            let cells = row(r)
            for i in chosen where i < cells.count {
                cell(
                    xs[i]!, ry, cells[i], width: widths[i]!, right: columns[i].right, base: base,
                    plain: isSel && focused)
            }
            ry += 1
        }
    }

    /// One table cell: spans clipped with `…`, right-aligned if asked.
    mutating func cell(_ x: Int, _ y: Int, _ content: [Span], width w: Int, right: Bool, base: Style, plain: Bool) {
        var chars: [(Character, Style)] = []
        for sp in content {
            let st = plain ? base : style(sp.role, over: base)
            for ch in sp.text { chars.append((ch, st)) }
        }
        if chars.count > w, w > 0 {
            chars = Array(chars.prefix(w - 1)) + [("…", chars[w - 1].1)]
        }
        let start = right ? x + w - chars.count : x
        for (i, (ch, st)) in chars.enumerated() { buffer.set(start + i, y, ch, st) }
    }

    // MARK: panels

    mutating func tooSmall() {
        let msg =
            "hadeck needs at least \(DashboardRenderer.minWidth)x\(DashboardRenderer.minHeight); this terminal is \(width)x\(height)"
        var lines = [msg]
        if msg.count > width {
            lines = [
                "hadeck needs at least \(DashboardRenderer.minWidth)x\(DashboardRenderer.minHeight);",
                "this terminal is \(width)x\(height)",
            ]
        }
        lines.append("(enlarge the window, or q to quit)")
        let y0 = max(0, (height - lines.count) / 2)
        for (i, l) in lines.enumerated() {
            let st = i < lines.count - 1 ? theme[.error] : theme[.dim]
            buffer.text(max(0, (width - l.count) / 2), y0 + i, l, st, maxWidth: width)
        }
    }

    mutating func header(_ s: ClusterSnapshot) {
        let h = theme[.header]
        buffer.fill(x: 0, y: 0, width: width, height: 1, " ", h)
        var parts: [Span] = [Span(" hadeck ", nil), Span(s.clusterName + "  ")]
        parts.append(Span("VIP \(s.vip)  "))
        let masters = s.masters
        if masters.count > 1 {
            parts.append(Span(" SPLIT BRAIN: " + masters.map(\.name).joined(separator: " + ") + " ", .alarm))
        } else if let m = masters.first {
            parts.append(Span("MASTER ", nil))
            parts.append(Span(m.name, .master))
        } else {
            parts.append(Span(" NO MASTER ", .alarm))
        }
        parts.append(Span("  t=\(fixed(s.time.seconds, 1))s"))
        parts.append(Span("  \(shortRate(s.requestsPerSecond)) req/s"))
        if s.paused {
            parts.append(Span("  "))
            parts.append(Span(" PAUSED ", .highlight))
        }
        if s.timeScale != 1 {
            parts.append(Span("  "))
            parts.append(Span(" x\(formatScale(s.timeScale)) ", .highlight))
        }
        parts.append(Span("  \(s.source.name)"))
        if let sc = s.scenarioName { parts.append(Span("  scenario: \(sc)")) }
        // Header spans keep the header's background; alarm/highlight keep their own.
        var x = 0
        for p in parts {
            guard x < width else { break }
            var st = h
            if let r = p.role {
                st = theme[r]
                if st.bg == .default {
                    st.bg = h.bg
                    st.bold = true
                }
            }
            if p.text == " hadeck " { st.bold = true }
            // A piece that does not fit whole is left out rather than cut.
            if p.text.count > width - x { continue }
            x += buffer.text(x, 0, p.text, st, maxWidth: width - x)
        }
    }

    mutating func caption(_ text: String, y: Int) {
        let st = theme[.caption]
        buffer.fill(x: 0, y: y, width: width, height: 1, " ", st)
        let t = "❝ \(text) ❞"
        buffer.text(max(1, (width - t.count) / 2), y, t, st, maxWidth: width - 2)
    }

    mutating func status(_ s: ClusterSnapshot, _ state: DashboardState, y: Int) {
        let base = theme[.status]
        buffer.fill(x: 0, y: y, width: width, height: 1, " ", base)
        var right = "\(state.backendsView == .merged ? "merged" : "per balancer")  theme \(state.themeName) "
        if !state.filter.isEmpty { right = "filter: \(state.filter)  " + right }
        if let input = state.filterInput {
            let t = " filter requests (client or server): " + input
            let n = buffer.text(0, y, t, theme[.highlight], maxWidth: width)
            buffer.set(n, y, "█", theme[.highlight])
            buffer.text(n + 2, y, "Enter applies, Esc clears", theme[.dim], maxWidth: max(0, width - n - 2))
            return
        }
        let rx = max(0, width - right.count)
        buffer.text(rx, y, right, theme[.dim])
        if let msg = state.status {
            buffer.text(1, y, msg, state.statusIsError ? theme[.error] : base, maxWidth: max(0, rx - 2))
        } else if s.traffic.waitingForFirstMaster {
            buffer.text(
                1, y, "traffic waits for the first master to announce the VIP", theme[.transition],
                maxWidth: max(0, rx - 2))
        } else {
            buffer.text(1, y, "Tab: panel  arrows: row  ?: every key", theme[.dim], maxWidth: max(0, rx - 2))
        }
    }

    mutating func keybar(_ s: ClusterSnapshot, _ state: DashboardState, y: Int) {
        let bar = theme[.keybar]
        buffer.fill(x: 0, y: y, width: width, height: 1, " ", bar)
        var items: [(String, String)]
        switch state.focus {
        case .balancers:
            items = [
                ("k", "kill haproxy"), ("K", "kill keepalived"), ("s", "stop kad"), ("p", "power"), ("r", "restore"),
            ]
        default:
            items = [("d", "drain"), ("k", "kill"), ("r", "restore"), ("m", "maint"), ("+-", "weight")]
        }
        items += [
            ("Tab", "panel"), ("P", s.hosts.contains { !$0.partitionedFrom.isEmpty } ? "heal" : "partition"),
            ("t", "traffic"),
        ]
        // A live cluster runs in real time: no pause, no speed.
        if s.source.canPause { items += [("spc", s.paused ? "resume" : "pause"), ("<>", "speed")] }
        items += [("/", "filter"), ("v", "view"), ("T", "theme")]
        let tail: [(String, String)] = [("?", "help"), ("q", "quit")]
        func len(_ list: [(String, String)]) -> Int { list.reduce(0) { $0 + $1.0.count + $1.1.count + 3 } }
        while !items.isEmpty && len(items) + len(tail) + 1 > width { items.removeLast() }
        var x = 1
        for (k, label) in items + tail {
            var ks = theme[.key]
            if ks.bg == .default { ks.bg = bar.bg }
            x += buffer.text(x, y, k, ks)
            x += buffer.text(x, y, " " + label + "  ", bar)
        }
    }

    mutating func balancers(_ s: ClusterSnapshot, _ state: DashboardState, x: Int, y: Int, width w: Int, height h: Int)
    {
        let focused = state.focus == .balancers
        rule(
            x: x, y: y, width: w, title: [Span(Panel.balancers.title)],
            right: [Span("VRRP · haproxy · keepalived", .dim)], focused: focused)
        let cols = [
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
        table(
            x: x, y: y + 1, width: w, height: h - 1, columns: cols, heading: true, count: s.hosts.count,
            selected: DashboardModel.selectedIndex(.balancers, s, state), focused: focused
        ) { i in
            let host = s.hosts[i]
            let prio: [Span] =
                host.basePriority == host.effectivePriority
                ? [Span("\(host.basePriority)")]
                : [Span("\(host.basePriority) -> "), Span("\(host.effectivePriority)", .transition)]
            func proc(_ pid: Int?) -> [Span] {
                if !host.poweredOn { return [Span("off", .dim)] }
                return pid.map { [Span("\($0)", .up)] } ?? [Span("dead", .down)]
            }
            var notes: [Span] = []
            if host.vrrpState == .backup, let dl = host.masterDownDeadline, let iv = host.masterDownInterval,
                iv.micros > 0
            {
                let left = max(TimeSpan.zero, dl - s.time)
                let frac = left.seconds / iv.seconds
                let bw = 10
                let glyphs = barGlyphs(width: bw, fraction: frac)
                notes.append(Span(String(glyphs.map(\.0)), frac < 0.34 ? .down : .bar))
                notes.append(Span(" \(fixed(left.seconds, 1))s "))
            }
            if !host.poweredOn { notes.append(Span("powered off ", .dim)) }
            if !host.linkUp { notes.append(Span("link down ", .fault)) }
            if !host.partitionedFrom.isEmpty {
                notes.append(Span("cut off from " + host.partitionedFrom.joined(separator: ","), .fault))
            }
            if host.vrrpState == .master && notes.isEmpty { notes.append(Span("holds the VIP", .dim)) }
            return [
                [Span(host.name)],
                [Span(host.vrrpState.rawValue, vrrpRole(host.vrrpState))],
                prio,
                proc(host.haproxyPID),
                proc(host.keepalivedPID),
                [Span("\(host.advertsSent.map(String.init) ?? "?")/\(host.advertsReceived.map(String.init) ?? "?")")],
                [Span(host.address, .dim)],
                [Span(host.mac, .dim)],
                [
                    Span(
                        host.heardMaster.map { m in "\(m)@\(host.heardMasterPriority.map(String.init) ?? "?")" } ?? "-",
                        .dim)
                ],
                notes,
            ]
        }
    }

    mutating func vip(_ s: ClusterSnapshot, x: Int, y: Int, width w: Int, height h: Int, inline: Bool) {
        let recent = s.arp.lastChange.map { s.time - $0 < DashboardRenderer.arpHighlight && s.time >= $0 } ?? false
        var mapping: [Span] = [Span("VIP \(s.arp.ip) → ")]
        if let mac = s.arp.mac {
            mapping.append(Span(mac))
            mapping.append(Span(" → "))
            mapping.append(Span(s.arp.owner ?? "?", .master))
        } else {
            mapping.append(Span("no ARP entry yet", .dim))
        }
        if recent { mapping = mapping.map { Span($0.text, .highlight) } }
        var since: [Span] = []
        if let lc = s.arp.lastChange {
            since = [
                Span(
                    "changed t=\(fixed(lc.seconds, 1))s (\(fixed((s.time - lc).seconds, 1))s ago)",
                    recent ? .highlight : .dim)
            ]
            if s.arp.history.count > 1 { since.append(Span(", \(s.arp.history.count) changes", .dim)) }
        }
        var hy = y + 1
        if inline {
            rule(x: x, y: y, width: w, title: mapping, right: since, focused: false)
        } else {
            rule(x: x, y: y, width: w, title: [Span("VIP / ARP")], focused: false)
            if h > 1 {
                buffer.fill(x: x, y: hy, width: w, height: 1, " ", recent ? theme[.highlight] : theme[.normal])
                spans(x + 1, hy, mapping, base: theme[.normal], maxWidth: w - 2)
                hy += 1
            }
            if h > 2 && !since.isEmpty {
                spans(x + 1, hy, since, base: theme[.normal], maxWidth: w - 2)
                hy += 1
            }
        }
        for change in s.arp.history where hy < y + h {
            let line: [Span] = [
                Span("t=\(fixed(change.time.seconds, 1))s  ", .dim),
                Span(change.fromMAC ?? "(none)", .dim), Span(" → "), Span(change.toMAC),
                Span("  \(change.node)", .master),
            ]
            spans(x + 2, hy, line, base: theme[.normal], maxWidth: w - 3)
            hy += 1
        }
    }

    mutating func backends(
        _ s: ClusterSnapshot, _ state: DashboardState, rows: [DashboardModel.BackendRow], x: Int, y: Int, width w: Int,
        height h: Int
    ) {
        let focused = state.focus == .backends
        let viewText: String
        switch state.backendsView {
        case .merged: viewText = "all balancers (v: per balancer)"
        case .perBalancer:
            viewText = "as \(DashboardModel.currentBalancer(s, state) ?? "?") sees them (b: next, v: merged)"
        }
        rule(
            x: x, y: y, width: w, title: [Span(Panel.backends.title), Span(" · " + viewText, .dim)],
            right: [Span("\(rows.count) servers", .dim)], focused: focused)
        let merged = state.backendsView == .merged
        let cols = [
            Column(title: "SERVER", width: 8, priority: 0),
            Column(title: "ROUTE", width: 5, priority: 1),
            Column(title: "ADDRESS", width: 15, priority: 6),
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
        let roles = routeRoles
        table(
            x: x, y: y + 1, width: w, height: h - 1, columns: cols, heading: true, count: rows.count,
            selected: DashboardModel.selectedIndex(.backends, rowCount: rows.count, state), focused: focused
        ) { i in
            let br = rows[i]
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
            return [
                [Span(r.server, roles[r.jvmRoute ?? ""])],
                [Span(r.jvmRoute ?? "-", roles[r.jvmRoute ?? ""])],
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

    mutating func requests(_ s: ClusterSnapshot, _ state: DashboardState, x: Int, y: Int, width w: Int, height h: Int) {
        guard h > 0 else { return }
        let focused = state.focus == .requests
        let list = DashboardModel.requests(s, state)
        var right: [Span] = []
        if !state.filter.isEmpty { right.append(Span("filter \"\(state.filter)\" ", .highlight)) }
        if s.requestSampling > 1 { right.append(Span("sampled 1:\(s.requestSampling) ", .transition)) }
        right.append(Span(s.traffic.on ? "traffic \(formatRate(s.traffic.rate))/s" : "traffic off", .dim))
        rule(
            x: x, y: y, width: w, title: [Span(Panel.requests.title), Span(" · newest first", .dim)],
            right: right, focused: focused)
        let digits = w >= 120 ? 3 : 2
        let cols = [
            Column(title: "TIME", width: digits + 4, priority: 0, right: true),
            Column(title: "CLIENT", width: 9, priority: 0),
            Column(title: "VIA", width: 5, priority: 1),
            Column(title: "SERVER", width: 7, priority: 0),
            Column(title: "ST", width: 3, priority: 0, right: true),
            Column(title: "LATENCY", width: 7, priority: 3, right: true),
            Column(title: "SESSION", width: 16, priority: 2),
            Column(title: "REASON", width: 12, priority: 1, flex: true),
        ]
        let roles = routeRoles
        table(
            x: x, y: y + 1, width: w, height: h - 1, columns: cols, heading: true, count: list.count,
            selected: DashboardModel.selectedIndex(.requests, s, state), focused: focused
        ) { i in
            let r = list[i]
            let stRole: ThemeRole = r.status == 0 || r.status >= 500 ? .down : (r.status >= 400 ? .transition : .up)
            return [
                [Span(fixed(r.time.seconds, digits), .dim)],
                [Span(r.client)],
                [Span(r.via ?? "-", r.via == nil ? .down : nil)],
                [Span(r.server ?? "-", DashboardModel.serverRole(r.server, s))],
                [Span(r.status == 0 ? "---" : "\(r.status)", stRole)],
                [Span(shortSpan(r.latency), .dim)],
                sessionSpans(r.session, roles: roles, width: 16),
                [Span(r.reason)],
            ]
        }
    }

}

/// A session id with its `.jvmN` suffix in the route's colour; long ids keep the suffix and lose the middle.
func sessionSpans(_ session: String?, roles: [String: ThemeRole], width: Int) -> [Span] {
    guard let session else { return [Span("-", .dim)] }
    guard let dot = session.lastIndex(of: ".") else { return [Span(session)] }
    var head = String(session[..<dot])
    let suffix = String(session[dot...])
    let route = String(suffix.dropFirst())
    if head.count + suffix.count > width, width > suffix.count + 2 {
        head = String(head.prefix(width - suffix.count - 1)) + "…"
    }
    return [Span(head, .dim), Span(suffix, roles[route] ?? .highlight)]
}

extension Canvas {

    mutating func events(_ s: ClusterSnapshot, _ state: DashboardState, x: Int, y: Int, width w: Int, height h: Int) {
        guard h > 0 else { return }
        let focused = state.focus == .events
        rule(
            x: x, y: y, width: w, title: [Span(Panel.events.title), Span(" · newest first, with why", .dim)],
            right: [Span("\(s.events.count)", .dim)], focused: focused)
        let cols = [
            Column(title: "TIME", width: 7, priority: 0, right: true),
            Column(title: "TYPE", width: 16, priority: 0),
            Column(title: "WHAT", width: w >= 120 ? 30 : 20, priority: 1),
            Column(title: "WHY", width: 20, priority: 0, flex: true),
        ]
        table(
            x: x, y: y + 1, width: w, height: h - 1, columns: cols, heading: false, count: s.events.count,
            selected: DashboardModel.selectedIndex(.events, s, state), focused: focused
        ) { i in
            let e = s.events[i]
            let summary = e.summary(arrow: "→")
            return [
                [Span(fixed(e.time.seconds, 2), .dim)],
                [Span(e.type.rawValue, eventRole(e))],
                [Span(summary)],
                [Span(e.why, .dim)],
            ]
        }
    }

    mutating func help(_ state: DashboardState) {
        let lines = DashboardRenderer.helpLines
        let w = min(width - 2, (lines.map(\.count).max() ?? 40) + 4)
        let h = min(height - 2, lines.count + 2)
        let x0 = (width - w) / 2
        let y0 = (height - h) / 2
        buffer.box(x: x0, y: y0, width: w, height: h, title: "hadeck keys", theme[.normal])
        for (i, l) in lines.prefix(h - 2).enumerated() {
            let isSection = !l.hasPrefix(" ")
            buffer.text(x0 + 2, y0 + 1 + i, l, isSection ? theme[.title] : theme[.normal], maxWidth: w - 4)
        }
    }
}

func vrrpRole(_ state: HostVRRPState) -> ThemeRole {
    switch state {
    case .master: .master
    case .backup: .backup
    case .fault, .killed: .fault
    case .initialize, .stopped, .off, .unknown: .dim
    }
}

func statusRole(_ status: ServerStatus) -> ThemeRole {
    if status.isTransition && status.base != .drain { return .transition }  // UP 1/3, DOWN 2/2
    switch status.base {
    case .maint: return .maint
    case .drain, .nolb: return .drain
    case .up: return .up
    case .down: return .down
    case .noCheck: return .dim
    }
}

func checkRole(_ check: String?) -> ThemeRole {
    guard let check else { return .dim }
    return check.hasPrefix("L7OK") || check.hasPrefix("L4OK") || check.hasPrefix("L6OK") ? .up : .down
}

/// The colour of an event's type, from what it is (never from searching its text).
func eventRole(_ e: ClusterEvent) -> ThemeRole? {
    switch e.kind {
    case .vrrpState(_, _, let to, _, _): return vrrpRole(to) == .dim ? .title : vrrpRole(to)
    case .backendState(_, _, _, _, let to, _): return statusRole(to)
    case .process(_, _, .killed, _), .backendProcess(_, .killed), .hostPower(_, false), .link(_, _, false):
        return .down
    case .request(let r) where r.status == 0 || r.status >= 500: return .down
    case .expect(_, _, false, _), .error: return .alarm
    default: return .title
    }
}
