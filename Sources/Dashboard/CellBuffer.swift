/// A terminal colour: the terminal's default or an xterm 256-colour index.
public enum TermColor: Hashable, Sendable {
    case `default`
    case index(Int)
}

/// How one cell looks.
public struct Style: Hashable, Sendable {
    public var fg: TermColor
    public var bg: TermColor
    public var bold: Bool
    public var underline: Bool
    public var reverse: Bool

    public init(
        fg: TermColor = .default, bg: TermColor = .default, bold: Bool = false, underline: Bool = false,
        reverse: Bool = false
    ) {
        self.fg = fg
        self.bg = bg
        self.bold = bold
        self.underline = underline
        self.reverse = reverse
    }

    public static let plain = Style()
}

/// One character cell. Each Swift `Character` (a grapheme, combining marks included) takes one cell.
public struct Cell: Hashable, Sendable {
    public var char: Character
    public var style: Style

    public init(_ char: Character = " ", _ style: Style = .plain) {
        self.char = char
        self.style = style
    }

    public static let blank = Cell()
}

/// Consecutive changed cells on one row, as `CellBuffer.diff` reports them.
public struct CellRun: Hashable, Sendable {
    public var x: Int
    public var y: Int
    public var cells: [Cell]

    public init(x: Int, y: Int, cells: [Cell]) {
        self.x = x
        self.y = y
        self.cells = cells
    }
}

/// A screen's worth of cells: the renderer draws into it, the painter writes only what changed.
public struct CellBuffer: Hashable, Sendable {
    public let width: Int
    public let height: Int
    public private(set) var cells: [Cell]

    public init(width: Int, height: Int, fill: Cell = .blank) {
        self.width = max(0, width)
        self.height = max(0, height)
        cells = Array(repeating: fill, count: self.width * self.height)
    }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * width + x] }
        set {
            guard x >= 0, y >= 0, x < width, y < height else { return }
            cells[y * width + x] = newValue
        }
    }

    /// Sets one cell; out-of-range positions are ignored. Control characters become `?`.
    public mutating func set(_ x: Int, _ y: Int, _ char: Character, _ style: Style) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let c: Character = (char.asciiValue.map { $0 < 0x20 || $0 == 0x7f } ?? false) ? "?" : char
        cells[y * width + x] = Cell(c, style)
    }

    /// Writes `text` from (x, y), clipped to `maxWidth` cells and the buffer's edge.
    /// Returns the number of cells written.
    @discardableResult
    public mutating func text(_ x: Int, _ y: Int, _ text: String, _ style: Style, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height else { return 0 }
        let limit = min(maxWidth ?? Int.max, width - x)
        var n = 0
        for ch in text {
            if n >= limit { break }
            if ch == "\n" || ch == "\r\n" { break }
            set(x + n, y, ch == "\t" ? " " : ch, style)
            n += 1
        }
        return n
    }

    /// Fills a rectangle with one character and style.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ char: Character = " ", _ style: Style) {
        for yy in max(0, y)..<max(max(0, y), min(height, y + h)) {
            for xx in max(0, x)..<max(max(0, x), min(width, x + w)) {
                cells[yy * width + xx] = Cell(char, style)
            }
        }
    }

    /// Restyles a rectangle, keeping its characters.
    public mutating func restyle(x: Int, y: Int, width w: Int, height h: Int, _ transform: (Style) -> Style) {
        for yy in max(0, y)..<max(max(0, y), min(height, y + h)) {
            for xx in max(0, x)..<max(max(0, x), min(width, x + w)) {
                cells[yy * width + xx].style = transform(cells[yy * width + xx].style)
            }
        }
    }

    /// A horizontal line of `─`.
    public mutating func hline(x: Int, y: Int, width w: Int, _ style: Style, char: Character = "─") {
        fill(x: x, y: y, width: w, height: 1, char, style)
    }

    /// A box drawn with Unicode box characters, its inside cleared, an optional title on the top edge.
    public mutating func box(x: Int, y: Int, width w: Int, height h: Int, title: String? = nil, _ style: Style) {
        guard w >= 2, h >= 2 else { return }
        fill(x: x + 1, y: y + 1, width: w - 2, height: h - 2, " ", style)
        set(x, y, "┌", style)
        set(x + w - 1, y, "┐", style)
        set(x, y + h - 1, "└", style)
        set(x + w - 1, y + h - 1, "┘", style)
        hline(x: x + 1, y: y, width: w - 2, style)
        hline(x: x + 1, y: y + h - 1, width: w - 2, style)
        for yy in (y + 1)..<(y + h - 1) {
            set(x, yy, "│", style)
            set(x + w - 1, yy, "│", style)
        }
        if let title, w > 4 {
            text(x + 2, y, " \(title) ", style, maxWidth: w - 4)
        }
    }

    /// A horizontal bar `width` cells wide, `fraction` (0...1) of it filled, with eighth-cell precision.
    public mutating func bar(x: Int, y: Int, width w: Int, fraction: Double, filled: Style, empty: Style) {
        for (i, (ch, isFilled)) in barGlyphs(width: w, fraction: fraction).enumerated() {
            set(x + i, y, ch, isFilled ? filled : empty)
        }
    }

    /// The cells that differ from `old`, as runs of consecutive changed cells per row.
    /// A buffer of another size differs everywhere: every row comes back whole.
    public func diff(from old: CellBuffer) -> [CellRun] {
        var runs: [CellRun] = []
        let sameSize = old.width == width && old.height == height
        for y in 0..<height {
            var x = 0
            while x < width {
                let i = y * width + x
                if sameSize && old.cells[i] == cells[i] {
                    x += 1
                    continue
                }
                var end = x
                while end < width && !(sameSize && old.cells[y * width + end] == cells[y * width + end]) {
                    end += 1
                }
                runs.append(CellRun(x: x, y: y, cells: Array(cells[(y * width + x)..<(y * width + end)])))
                x = end
            }
        }
        return runs
    }

    /// Every cell as runs (for a full repaint).
    public var allRuns: [CellRun] {
        (0..<height).map { y in CellRun(x: 0, y: y, cells: Array(cells[(y * width)..<(y * width + width)])) }
    }

    /// The characters of each row, trailing spaces removed (for tests and snapshots).
    public var textLines: [String] {
        (0..<height).map { y in
            var s = String(cells[(y * width)..<(y * width + width)].map(\.char))
            while s.last == " " { s.removeLast() }
            return s
        }
    }

    /// The characters of the whole buffer, one line per row.
    public var text: String { textLines.joined(separator: "\n") }
}

/// The glyphs of a bar: full blocks, one partial eighth block, then light shade.
func barGlyphs(width w: Int, fraction: Double) -> [(Character, Bool)] {
    guard w > 0 else { return [] }
    let f = fraction.isFinite ? min(1, max(0, fraction)) : 0
    let eighths = Int((f * Double(w * 8)).rounded())
    let partials: [Character] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉"]
    var out: [(Character, Bool)] = []
    for i in 0..<w {
        let e = eighths - i * 8
        if e >= 8 {
            out.append(("█", true))
        } else if e > 0 {
            out.append((partials[e - 1], true))
        } else {
            out.append(("░", false))
        }
    }
    return out
}
