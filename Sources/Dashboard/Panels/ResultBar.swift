import ClusterModel
import HadeckBase

/// At a scenario's end: every expectation, ok or failed, with its line; the cluster keeps running.
struct ResultBar: Widget {
    let scenario: ScenarioStatus

    /// One entry per expectation and per line that could not run, in line order.
    static func entries(_ sc: ScenarioStatus) -> [(text: String, ok: Bool)] {
        var items: [(line: Int, text: String, ok: Bool)] = sc.results.map { r in
            let check = r.check.hasPrefix("expect ") ? String(r.check.dropFirst(7)) : r.check
            return (r.line, r.ok ? "✓ \(r.line) \(check)" : "✗ \(r.line) \(check) (seen: \(r.seen))", r.ok)
        }
        items += sc.problems.map { ($0.line, "✗ \($0.line) could not run: \($0.message)", false) }
        return items.enumerated().sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
            .map { ($0.element.text, $0.element.ok) }
    }

    /// Rows it needs at `width` (its rule included), at most `limit`.
    static func height(_ sc: ScenarioStatus, width: Int, limit: Int) -> Int {
        let (columns, _) = grid(entries(sc), width: width)
        let rows = (entries(sc).count + columns - 1) / max(1, columns)
        return min(limit, 1 + max(1, rows))
    }

    /// How many entries fit side by side, and each one's width.
    static func grid(_ entries: [(text: String, ok: Bool)], width: Int) -> (columns: Int, width: Int) {
        let widest = (entries.map { displayWidth($0.text) }.max() ?? 10) + 2
        let cell = min(width - 2, widest)
        return (max(1, (width - 1) / max(1, cell)), cell)
    }

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0 else { return }
        let items = Self.entries(scenario)
        let failed = items.filter { !$0.ok }.count
        let expectations = scenario.results.count
        let verdict =
            failed == 0
            ? "all \(expectations) expectations hold"
            : "\(failed) of \(items.count) FAILED"
        c.rule(
            area.row(0),
            title: [
                Span("Scenario ended at t=\(fixed(scenario.end.seconds, 1))s: "),
                Span(verdict, failed == 0 ? .up : .alarm),
            ],
            right: [Span("the cluster keeps running", .dim)], focused: false)
        let (columns, cellWidth) = Self.grid(items, width: area.width)
        let rows = area.height - 1
        guard rows > 0 else { return }
        let capacity = rows * columns
        for (k, item) in items.prefix(capacity).enumerated() {
            let x = area.x + 1 + (k % columns) * cellWidth
            let y = area.y + 1 + k / columns
            var text = item.text
            if k == capacity - 1 && items.count > capacity {
                text =
                    "… \(items.count - capacity + 1) more, \(items.dropFirst(capacity - 1).filter { !$0.ok }.count) failed"
            }
            c.cell(
                x, y, [Span(String(text.prefix(1)), item.ok ? .up : .alarm), Span(String(text.dropFirst()))],
                width: cellWidth - 2, right: false, base: c.theme[.normal], plain: false)
        }
    }
}
