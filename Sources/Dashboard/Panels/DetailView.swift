import ClusterModel

/// A row in full (Enter): every field with its label, long values wrapped, nothing cut.
struct DetailView: Widget {
    let content: DetailContent
    let scroll: Int

    /// The lines as drawn in an inside `width` cells wide: (label, text, role) with wrapped values.
    static func layout(_ content: DetailContent, width: Int) -> [(label: String, text: String, role: ThemeRole?)] {
        let labelWidth = min(20, (content.lines.map { displayWidth($0.label) }.max() ?? 0))
        let valueWidth = max(10, width - labelWidth - 2)
        var out: [(String, String, ThemeRole?)] = []
        for line in content.lines {
            if line.value.isEmpty {
                out.append((line.label, "", line.role))
                continue
            }
            let label = line.label.isEmpty ? "" : line.label
            for (i, part) in wrap(line.value, width: valueWidth).enumerated() {
                out.append((i == 0 ? label : "", part, line.role))
            }
        }
        return out
    }

    func render(in area: Rect, on c: inout Canvas) {
        guard area.width > 10, area.height > 3 else { return }
        c.buffer.box(
            x: area.x, y: area.y, width: area.width, height: area.height, title: content.title, c.theme[.normal])
        let inner = area.inset(horizontal: 2, vertical: 1)
        let lines = Self.layout(content, width: inner.width)
        let labelWidth = min(20, (content.lines.map { displayWidth($0.label) }.max() ?? 0))
        let top = min(max(0, scroll), max(0, lines.count - inner.height))
        for (row, line) in lines[top..<min(lines.count, top + inner.height)].enumerated() {
            let y = inner.y + row
            if line.text.isEmpty {
                // A heading of its own (`on lb1`, `fields`).
                c.buffer.text(inner.x, y, line.label, c.theme[.title], maxWidth: inner.width)
                continue
            }
            c.buffer.text(inner.x, y, line.label, c.theme[.dim], maxWidth: labelWidth)
            c.buffer.text(
                inner.x + labelWidth + 2, y, line.text, c.style(line.role), maxWidth: inner.width - labelWidth - 2)
        }
        var hint = top + inner.height < lines.count ? " ↓ more " : (top > 0 ? " ↑ more " : " ")
        hint += "Esc closes "
        c.buffer.text(
            area.right - 1 - displayWidth(hint), area.bottom - 1, hint, c.theme[.dim], maxWidth: area.width - 2)
    }
}
