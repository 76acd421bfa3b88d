import ClusterModel
import HadeckBase

/// The clients' ARP entry for the VIP (VIP -> MAC -> host) and how it moved. `inline` puts the
/// mapping in the rule itself (narrow layouts); otherwise it is a panel of its own. Under the
/// mapping, the last change of master's timeline strip (`stripHeight` lines) when there is one.
struct VIPPanel: Widget {
    let s: ClusterSnapshot
    let inline: Bool
    var timeline: FailoverTimeline? = nil
    var stripHeight = 0

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0 else { return }
        let freshness = Freshness(.vip, s)
        let stale = freshness?.isAlarm == true
        let recent =
            !stale && (s.arp.lastChange.map { s.time - $0 < DashboardRenderer.arpHighlight && s.time >= $0 } ?? false)
        var mapping: [Span] = [Span("VIP \(s.arp.ip) → ")]
        if let mac = s.arp.mac {
            mapping.append(Span(mac))
            mapping.append(Span(" → "))
            mapping.append(Span(s.arp.owner ?? "?", .master))
        } else {
            mapping.append(Span("no ARP entry yet", .dim))
        }
        if recent { mapping = mapping.map { Span($0.text, .highlight) } }
        if stale { mapping = mapping.map { Span($0.text, .dim) } }
        var since: [Span] = []
        if let lc = s.arp.lastChange {
            since = [
                Span(
                    "changed t=\(fixed(lc.seconds, 1))s (\(fixed((s.time - lc).seconds, 1))s ago)",
                    recent ? .highlight : .dim)
            ]
            if s.arp.history.count > 1 { since.append(Span(", \(s.arp.history.count) changes", .dim)) }
        }
        var hy = area.y + 1
        if inline {
            c.rule(area.row(0), title: mapping, right: since, focused: false, freshness: freshness)
        } else {
            c.rule(area.row(0), title: [Span("VIP / ARP")], focused: false, freshness: freshness)
            if area.height > 1 {
                c.buffer.fill(
                    x: area.x, y: hy, width: area.width, height: 1, " ",
                    recent ? c.theme[.highlight] : c.theme[.normal])
                c.spans(area.x + 1, hy, mapping, base: c.theme[.normal], maxWidth: area.width - 2)
                hy += 1
            }
            if area.height > 2 && !since.isEmpty {
                c.spans(area.x + 1, hy, since, base: c.theme[.normal], maxWidth: area.width - 2)
                hy += 1
            }
        }
        if let timeline, stripHeight > 0, hy < area.bottom {
            let h = min(stripHeight, area.bottom - hy)
            TimelineStrip(timeline: timeline, now: s.time)
                .render(in: Rect(x: area.x + 1, y: hy, width: area.width - 2, height: h), on: &c)
            hy += h
        }
        for change in s.arp.history where hy < area.bottom {
            let line: [Span] = [
                Span("t=\(fixed(change.time.seconds, 1))s  ", .dim),
                Span(change.fromMAC ?? "(none)", .dim), Span(" → "), Span(change.toMAC, stale ? .dim : nil),
                Span("  \(change.node)", stale ? .dim : .master),
            ]
            c.spans(area.x + 2, hy, line, base: c.theme[.normal], maxWidth: area.width - 3)
            hy += 1
        }
    }
}
