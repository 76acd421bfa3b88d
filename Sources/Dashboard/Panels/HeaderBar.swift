import ClusterModel
import HadeckBase

/// The top line: cluster, VIP, who is master (or the alarm), the clock, the rate, the source.
struct HeaderBar: Widget {
    let s: ClusterSnapshot

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0 else { return }
        let h = c.theme[.header]
        c.buffer.fill(x: area.x, y: area.y, width: area.width, height: 1, " ", h)
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
        if !s.source.acceptsCommands { parts.append(Span("  READ-ONLY", .highlight)) }
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
        var x = area.x
        for p in parts {
            guard x < area.right else { break }
            var st = h
            if let r = p.role {
                st = c.theme[r]
                if st.bg == .default {
                    st.bg = h.bg
                    st.bold = true
                }
            }
            if p.text == " hadeck " { st.bold = true }
            // A piece that does not fit whole is left out rather than cut.
            if displayWidth(p.text) > area.right - x { continue }
            x += c.buffer.text(x, area.y, p.text, st, maxWidth: area.right - x)
        }
    }
}

/// The presenter's caption: the scenario's latest `say` line.
struct CaptionBar: Widget {
    let text: String

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0 else { return }
        let st = c.theme[.caption]
        c.buffer.fill(x: area.x, y: area.y, width: area.width, height: 1, " ", st)
        let t = "❝ \(text) ❞"
        c.buffer.text(
            area.x + max(1, (area.width - displayWidth(t)) / 2), area.y, t, st, maxWidth: area.width - 2)
    }
}

/// What replaces the screen below 80x24.
struct TooSmall: Widget {
    func render(in area: Rect, on c: inout Canvas) {
        let need = "hadeck needs at least \(DashboardRenderer.minWidth)x\(DashboardRenderer.minHeight)"
        let msg = "\(need); this terminal is \(area.width)x\(area.height)"
        var lines = [msg]
        if msg.count > area.width { lines = [need + ";", "this terminal is \(area.width)x\(area.height)"] }
        lines.append("(enlarge the window, or q to quit)")
        let y0 = area.y + max(0, (area.height - lines.count) / 2)
        for (i, l) in lines.enumerated() {
            let st = i < lines.count - 1 ? c.theme[.error] : c.theme[.dim]
            c.buffer.text(area.x + max(0, (area.width - l.count) / 2), y0 + i, l, st, maxWidth: area.width)
        }
    }
}
