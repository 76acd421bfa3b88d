/// Every key, from the binding table, in a box over the screen; two columns when they fit,
/// scrolled with the arrows when the terminal is too short for all of it.
struct HelpOverlay: Widget {
    let scroll: Int

    enum Line {
        case section(String)
        case entries([KeyMap.HelpEntry])
    }

    /// The help's lines for an inside `width` cells wide.
    static func lines(width: Int) -> (lines: [Line], keyWidth: Int, columns: Int) {
        let sections = KeyMap.helpSections
        let entries = sections.flatMap(\.entries)
        let keyWidth = min(22, entries.map { displayWidth($0.keys.joined(separator: " ")) }.max() ?? 8)
        let longest = entries.map { keyWidth + 2 + displayWidth($0.text) }.max() ?? 30
        let columns = width >= 2 * min(longest, 44) + 3 ? 2 : 1
        var out: [Line] = []
        for section in sections {
            out.append(.section(section.title))
            var i = 0
            while i < section.entries.count {
                out.append(.entries(Array(section.entries[i..<min(section.entries.count, i + columns)])))
                i += columns
            }
        }
        return (out, keyWidth, columns)
    }

    func render(in area: Rect, on c: inout Canvas) {
        let w = min(area.width - 2, 104)
        let h = area.height - 2
        guard w > 10, h > 3 else { return }
        let (lines, keyWidth, columns) = Self.lines(width: w - 4)
        let box = area.centered(width: w, height: min(h, lines.count + 2))
        c.buffer.box(x: box.x, y: box.y, width: box.width, height: box.height, title: "hadeck keys", c.theme[.normal])
        let inner = box.inset(horizontal: 2, vertical: 1)
        let maxScroll = max(0, lines.count - inner.height)
        let top = min(max(0, scroll), maxScroll)
        let columnWidth = columns == 2 ? (inner.width - 2) / 2 : inner.width
        for (row, line) in lines[top..<min(lines.count, top + inner.height)].enumerated() {
            let y = inner.y + row
            switch line {
            case .section(let title):
                c.buffer.text(inner.x, y, title, c.theme[.title], maxWidth: inner.width)
            case .entries(let entries):
                for (k, e) in entries.enumerated() {
                    let x = inner.x + k * (columnWidth + 2)
                    let keys = e.keys.joined(separator: " ")
                    c.cell(
                        x, y, [Span("  " + keys, .key)], width: keyWidth + 2, right: false, base: c.theme[.normal],
                        plain: false)
                    c.cell(
                        x + keyWidth + 4, y, [Span(e.text)], width: max(0, columnWidth - keyWidth - 4), right: false,
                        base: c.theme[.normal], plain: false)
                }
            }
        }
        // Where the rest is, on the bottom edge.
        var hint = top + inner.height < lines.count ? " ↓ more (↑ ↓ scroll) " : ""
        if top > 0 && hint.isEmpty { hint = " ↑ more " }
        hint += "any other key closes "
        c.buffer.text(
            box.right - 1 - displayWidth(hint), box.bottom - 1, hint, c.theme[.dim], maxWidth: box.width - 2)
    }
}
