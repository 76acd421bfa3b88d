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

/// Something that draws itself into a rectangle of the canvas, and nowhere else.
protocol Widget {
    func render(in area: Rect, on canvas: inout Canvas)
}

/// The cell buffer being drawn, with the theme and what a frame's widgets share.
struct Canvas {
    var buffer: CellBuffer
    let theme: Theme
    /// jvmRoute -> colour role, and server -> its route's, for this frame (`DashboardModel.routeColours`).
    var routeRoles: [String: ThemeRole] = [:]
    var serverRoles: [String: ThemeRole] = [:]

    init(width: Int, height: Int, theme: Theme) {
        buffer = CellBuffer(width: width, height: height, fill: Cell(" ", theme[.normal]))
        self.theme = theme
    }

    var area: Rect { Rect(x: 0, y: 0, width: buffer.width, height: buffer.height) }

    func style(_ role: ThemeRole?, over base: Style? = nil) -> Style {
        guard let role else { return base ?? theme[.normal] }
        var st = theme[role]
        if let base, st.bg == .default { st.bg = base.bg }
        return st
    }

    /// Writes spans from (x, y), clipped at `maxWidth` cells; returns the cells used.
    @discardableResult
    mutating func spans(_ x: Int, _ y: Int, _ spans: [Span], base: Style, maxWidth: Int) -> Int {
        var n = 0
        for sp in spans {
            guard n < maxWidth else { break }
            n += buffer.text(x + n, y, sp.text, style(sp.role, over: base), maxWidth: maxWidth - n)
        }
        return n
    }

    /// Fills a rectangle with blanks in a role's style.
    mutating func clear(_ r: Rect, _ role: ThemeRole = .normal) {
        buffer.fill(x: r.x, y: r.y, width: r.width, height: r.height, " ", theme[role])
    }

    mutating func vline(x: Int, y: Int, height h: Int) {
        for yy in y..<(y + h) { buffer.set(x, yy, "│", theme[.dim]) }
    }

    /// A panel's title rule: `─ Title ─── right ─`. With `freshness`, how old the panel's data is
    /// stands at the right, and a stale or lost feed replaces it in the alarm colour.
    mutating func rule(_ r: Rect, title: [Span], right: [Span] = [], focused: Bool, freshness: Freshness? = nil) {
        guard r.height > 0, r.width > 0 else { return }
        buffer.hline(x: r.x, y: r.y, width: r.width, theme[.dim])
        var t = title
        if focused, !t.isEmpty { t[0].role = .focus }
        var n = 1
        n += spans(r.x + n, r.y, [Span(" ")] + t + [Span(" ")], base: theme[.normal], maxWidth: r.width - 2)
        var right = right
        if let freshness {
            if freshness.isAlarm {
                right = [Span(freshness.text, .alarm)]
            } else {
                right.append(Span(" · " + freshness.text, .dim))
            }
        }
        let rw = right.reduce(0) { $0 + displayWidth($1.text) } + 2
        if !right.isEmpty, n + rw + 2 <= r.width {
            spans(r.x + r.width - rw - 1, r.y, [Span(" ")] + right + [Span(" ")], base: theme[.normal], maxWidth: rw)
        } else if let freshness, freshness.isAlarm {
            // No room beside the title: the alarm wins over the title.
            spans(
                r.x + 1, r.y, [Span(" "), Span(freshness.text, .alarm), Span(" ")], base: theme[.normal],
                maxWidth: r.width - 2)
        }
    }

    /// Writes `text` wrapped at `width` cells from (x, y), at most `maxLines` lines; returns the lines used.
    @discardableResult
    mutating func wrapped(_ x: Int, _ y: Int, _ text: String, _ style: Style, width: Int, maxLines: Int) -> Int {
        let lines = wrap(text, width: width)
        for (i, line) in lines.prefix(maxLines).enumerated() { buffer.text(x, y + i, line, style, maxWidth: width) }
        return min(lines.count, maxLines)
    }
}

/// How old a panel's data is, from the feeds of an attached source that fill it.
struct Freshness {
    var text: String
    var isAlarm: Bool

    /// nil when no feed fills the area (embedded sources: always current). A lost feed wins over a
    /// stale one, which wins over the age of the oldest good one.
    init?(_ area: FeedStatus.Area, _ s: ClusterSnapshot) {
        let feeds = s.feeds.filter { $0.area == area }
        guard !feeds.isEmpty else { return nil }
        func age(_ f: FeedStatus) -> String {
            f.lastUpdate.map { "\(fixed(max(0, (s.time - $0).seconds), 1)) s old" } ?? "no data yet"
        }
        isAlarm = true
        for f in feeds {
            if case .lost(let why) = f.health {
                text = "\(f.name) LOST: \(why)"
                return
            }
        }
        for f in feeds {
            if case .stale(let why) = f.health {
                text = "\(f.name) STALE (\(age(f))): \(why)"
                return
            }
        }
        isAlarm = false
        if let never = feeds.first(where: { $0.lastUpdate == nil }) {
            text = "\(never.name): no data yet"
        } else {
            let oldest = feeds.compactMap(\.lastUpdate).min()!
            text = "data \(fixed(max(0, (s.time - oldest).seconds), 1)) s old"
        }
    }
}

/// `text` in lines of at most `width` cells, broken at spaces where it can be, never inside a wide
/// character.
func wrap(_ text: String, width: Int) -> [String] {
    guard width > 0 else { return [] }
    var lines: [String] = []
    for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
        var line = ""
        var lineWidth = 0
        for word in paragraph.split(separator: " ", omittingEmptySubsequences: false) {
            var w = String(word)
            var ww = displayWidth(w)
            let gap = line.isEmpty ? 0 : 1
            if lineWidth + gap + ww <= width {
                if gap == 1 { line += " " }
                line += w
                lineWidth += gap + ww
                continue
            }
            if !line.isEmpty {
                lines.append(line)
                line = ""
                lineWidth = 0
            }
            // A word longer than a line is cut where the line ends.
            while ww > width {
                var head = ""
                var hw = 0
                var rest = Substring(w)
                while let ch = rest.first, hw + displayWidth(ch) <= width {
                    head.append(ch)
                    hw += displayWidth(ch)
                    rest.removeFirst()
                }
                if head.isEmpty { break }
                lines.append(head)
                w = String(rest)
                ww = displayWidth(w)
            }
            line = w
            lineWidth = ww
        }
        lines.append(line)
    }
    return lines
}
