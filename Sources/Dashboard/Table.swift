/// A table column. Columns are kept by priority (0 first) while they fit; the `flex` one takes what
/// is left. Widths are in cells (a wide character counts two).
struct Column {
    var title: String
    var width: Int
    var priority: Int
    var right = false
    var flex = false
}

/// Rows of cells under an optional heading, scrolled so that the selected row shows; only the rows
/// on screen are asked for (`row` is called for those alone).
struct Table: Widget {
    var columns: [Column]
    var heading = true
    var count: Int
    var selected: Int?
    var focused: Bool
    /// The data is not current (a lost or stale feed): rows are drawn dim.
    var dimmed = false
    var row: (Int) -> [[Span]]

    /// Which columns fit in `width`, and where each starts and how wide it is.
    static func place(_ columns: [Column], x: Int, width: Int) -> [(index: Int, x: Int, width: Int)] {
        var chosen: [Int] = []
        var used = 1
        for i in columns.indices.sorted(by: { (columns[$0].priority, $0) < (columns[$1].priority, $1) }) {
            if used + columns[i].width + 1 <= width {
                chosen.append(i)
                used += columns[i].width + 1
            }
        }
        chosen.sort()
        let flex = chosen.first { columns[$0].flex }
        var out: [(index: Int, x: Int, width: Int)] = []
        var cx = x + 1
        for i in chosen {
            let w = columns[i].width + (i == flex ? width - used : 0)
            out.append((i, cx, w))
            cx += w + 1
        }
        return out
    }

    /// The first row shown: the top, or far enough down that the selection is on screen.
    static func offset(selected: Int?, visible: Int) -> Int {
        guard let sel = selected, visible > 0, sel >= visible else { return 0 }
        return sel - visible + 1
    }

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0, area.width > 2 else { return }
        let placed = Self.place(columns, x: area.x, width: area.width)
        var ry = area.y
        if heading {
            for p in placed {
                let col = columns[p.index]
                let tw = min(p.width, displayWidth(col.title))
                c.buffer.text(p.x + (col.right ? p.width - tw : 0), ry, col.title, c.theme[.title], maxWidth: p.width)
            }
            ry += 1
        }
        let visible = area.height - (heading ? 1 : 0)
        guard visible > 0 else { return }
        let offset = Self.offset(selected: selected, visible: visible)
        for r in offset..<min(count, offset + visible) {
            let isSel = r == selected
            var base = isSel && focused ? c.theme[.selection] : c.theme[.normal]
            if dimmed && !(isSel && focused) { base = c.theme[.dim] }
            if isSel && focused { c.buffer.fill(x: area.x, y: ry, width: area.width, height: 1, " ", base) }
            if isSel { c.buffer.set(area.x, ry, "▸", focused ? base : c.theme[.focus]) }
            let cells = row(r)
            for p in placed where p.index < cells.count {
                c.cell(
                    p.x, ry, cells[p.index], width: p.width, right: columns[p.index].right, base: base,
                    plain: (isSel && focused) || dimmed)
            }
            ry += 1
        }
    }
}

extension Canvas {
    /// One table cell: spans clipped with `…` at `w` cells (a wide character that does not fit whole
    /// leaves a blank), right-aligned if asked. Nothing is written outside the cell.
    mutating func cell(_ x: Int, _ y: Int, _ content: [Span], width w: Int, right: Bool, base: Style, plain: Bool) {
        guard w > 0 else { return }
        var total = 0
        for sp in content { total += displayWidth(sp.text) }
        if total <= w {
            var cx = right ? x + w - total : x
            for sp in content {
                cx += buffer.text(cx, y, sp.text, plain ? base : style(sp.role, over: base), maxWidth: x + w - cx)
            }
            return
        }
        // Too long: what fits in w - 1 cells, then the ellipsis in the style of what it stands for.
        var cx = x
        var lastStyle = base
        for sp in content {
            let st = plain ? base : style(sp.role, over: base)
            lastStyle = st
            let room = x + w - 1 - cx
            if room <= 0 { break }
            let n = buffer.text(cx, y, sp.text, st, maxWidth: room)
            cx += n
            if n < displayWidth(sp.text) { break }
        }
        while cx < x + w - 1 {
            buffer.set(cx, y, " ", base)
            cx += 1
        }
        buffer.set(x + w - 1, y, "…", lastStyle)
    }
}
