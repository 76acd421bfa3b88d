import ClusterModel
import HadeckBase

/// The last change of master laid out on one time axis (issue 17): a title with the whole
/// fault-to-service time and the browsers' outage, a bar of the phases from the fault to the first
/// answer (each as wide as its share of the time), and each phase's measured duration with the
/// formula's value beside it. One line (the title) when that is all the room there is.
struct TimelineStrip: Widget {
    let timeline: FailoverTimeline
    /// The snapshot's clock, for "12s ago".
    let now: Instant

    /// How many lines the strip wants in a body of `bodyHeight` rows: 3, 1 on small screens, 0 on tiny ones.
    static func height(bodyHeight: Int) -> Int { bodyHeight >= 26 ? 3 : (bodyHeight >= 18 ? 1 : 0) }

    static func role(_ kind: FailoverTimeline.PhaseKind) -> ThemeRole {
        switch kind {
        case .fault: .alarm
        case .detection: .down
        case .priorityCrossing: .transition
        case .timer: .backup
        case .garp: .master
        case .firstAnswer: .up
        case .outage: .fault
        }
    }

    static func name(_ kind: FailoverTimeline.PhaseKind) -> String {
        switch kind {
        case .fault: "fault"
        case .detection: "detection"
        case .priorityCrossing: "crossing"
        case .timer: "timer"
        case .garp: "GARP"
        case .firstAnswer: "first answer"
        case .outage: "outage"
        }
    }

    static func seconds(_ t: TimeSpan) -> String { fixed(t.seconds, 3) + "s" }

    var title: [Span] {
        var spans = [
            Span("failover ", .title), Span(timeline.oldMaster ?? "none"), Span("→"),
            Span(timeline.newMaster, .master),
            Span(
                " t=\(fixed(timeline.takeover.seconds, 1))s (\(fixed((now - timeline.takeover).seconds, 0))s ago)", .dim
            ),
        ]
        if let total = timeline.faultToService { spans.append(Span("  fault→service \(Self.seconds(total))")) }
        if let outage = timeline.phase(.outage) {
            spans.append(Span("  outage \(Self.seconds(outage.duration)) (\(outage.label))", .down))
        }
        if let fault = timeline.phase(.fault) { spans.append(Span("  · \(fault.label)", .dim)) }
        return spans
    }

    /// `detection 4.000s (formula 4.000s)` for each phase but the instants.
    var legend: [Span] {
        var spans: [Span] = []
        for p in timeline.phases where p.kind != .fault && p.kind != .priorityCrossing && p.kind != .outage {
            if !spans.isEmpty { spans.append(Span("  ")) }
            spans.append(Span("■ ", Self.role(p.kind)))
            spans.append(Span("\(Self.name(p.kind)) \(Self.seconds(p.duration))"))
            if let f = p.formula { spans.append(Span(" (formula \(Self.seconds(f.value)))", .dim)) }
        }
        return spans
    }

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0, area.width > 4 else { return }
        let base = c.theme[.normal]
        c.spans(area.x, area.y, title, base: base, maxWidth: area.width)
        if area.height > 1 { bar(in: Rect(x: area.x, y: area.y + 1, width: area.width, height: 1), on: &c) }
        if area.height > 2 { c.spans(area.x, area.y + 2, legend, base: base, maxWidth: area.width) }
    }

    /// The phases from the fault to the first answer on one axis that starts at the fault, each as
    /// wide as its share (at least one cell) and named inside when the name fits; time no phase
    /// accounts for stays dotted.
    func bar(in r: Rect, on c: inout Canvas) {
        let phases = timeline.consecutivePhases
        guard let first = phases.first, let last = phases.last else {
            c.buffer.text(r.x, r.y, "(the fault is not in the kept events)", c.theme[.dim], maxWidth: r.width)
            return
        }
        let origin = timeline.phase(.fault)?.start ?? first.start
        let total = Double(max(1, (last.end - origin).micros))
        func column(_ t: Instant) -> Int {
            r.x + Int((Double((t - origin).micros) / total * Double(r.width)).rounded())
        }
        c.buffer.fill(x: r.x, y: r.y, width: r.width, height: 1, "┄", c.theme[.dim])
        for p in phases {
            let x = min(r.right - 1, column(p.start))
            let w = max(1, min(r.right, column(p.end)) - x)
            let st = c.style(Self.role(p.kind), over: c.theme[.normal])
            c.buffer.fill(x: x, y: r.y, width: w, height: 1, "━", st)
            c.buffer.set(x, r.y, "┣", st)
            let label = "\(Self.name(p.kind)) \(fixed(p.duration.seconds, 2))s"
            let short = fixed(p.duration.seconds, 2)
            let text = displayWidth(label) + 2 <= w - 1 ? label : (displayWidth(short) + 2 <= w - 1 ? short : "")
            if !text.isEmpty {
                var bold = st
                bold.bold = true
                c.buffer.text(x + 1, r.y, " \(text) ", bold, maxWidth: w - 1)
            }
        }
    }
}
