import Synchronization

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

/// One character cell. Each Swift `Character` (a grapheme, combining marks included) takes one cell,
/// or two for a wide one (CJK, emoji): then the cell to its right is its `continuation`, which holds
/// nothing of its own, and the terminal draws the character over both.
///
/// A cell is plain bits (its character is a code, see `Glyphs`): a screen of them is copied and
/// compared without reference counting, which is most of what a frame costs.
public struct Cell: Hashable, Sendable {
    /// The character's Unicode scalar, or above U+10FFFF a grapheme of several scalars in `Glyphs`.
    var glyph: UInt32
    /// 1 for a normal cell, 2 for a wide character's first cell, 0 for the cell it covers.
    public internal(set) var width: UInt8
    public var style: Style

    public init(_ char: Character = " ", _ style: Style = .plain) {
        glyph = Glyphs.code(char)
        width = 1
        self.style = style
    }

    init(glyph: UInt32, _ style: Style, width: UInt8) {
        self.glyph = glyph
        self.style = style
        self.width = width
    }

    public var char: Character {
        get { Glyphs.character(glyph) }
        set { glyph = Glyphs.code(newValue) }
    }

    /// The character's scalars, for a painter (one, but for a grapheme of several).
    public func forEachScalar(_ body: (UInt32) -> Void) {
        if glyph < Glyphs.firstShared {
            body(glyph)
        } else {
            for u in char.unicodeScalars { body(u.value) }
        }
    }

    /// The right half of a wide character.
    public var isContinuation: Bool { width == 0 }

    public static let blank = Cell()

    /// What is left of a wide character when its other half is overwritten: a blank in its style.
    mutating func blankHalf() {
        glyph = 0x20
        width = 1
    }
}

/// Codes for characters of several scalars (`é` as e + U+0301, flags, emoji sequences), shared by
/// every buffer of the process: rare, so a lock costs nothing worth counting.
enum Glyphs {
    /// The first code above Unicode's scalars.
    static let firstShared: UInt32 = 0x11_0000
    /// Beyond this many distinct ones a grapheme shows as U+FFFD (a screen never has that many).
    static let limit = 1 << 16

    struct Table {
        var codes: [String: UInt32] = [:]
        var strings: [String] = []
    }

    static let table = Mutex(Table())

    static func code(_ ch: Character) -> UInt32 {
        let scalars = ch.unicodeScalars
        if let first = scalars.first, scalars.index(after: scalars.startIndex) == scalars.endIndex {
            return first.value
        }
        let key = String(ch)
        return table.withLock { t in
            if let c = t.codes[key] { return c }
            guard t.strings.count < limit else { return 0xFFFD }
            let c = firstShared + UInt32(t.strings.count)
            t.codes[key] = c
            t.strings.append(key)
            return c
        }
    }

    static func character(_ code: UInt32) -> Character {
        if code < firstShared { return Character(Unicode.Scalar(code) ?? "\u{FFFD}") }
        let index = Int(code - firstShared)
        let s = table.withLock { t in index < t.strings.count ? t.strings[index] : "\u{FFFD}" }
        return Character(s)
    }
}

/// Consecutive changed cells on one row, as `CellBuffer.diff` reports them.
public struct CellRun: Hashable, Sendable {
    public var x: Int
    public var y: Int
    public var cells: [Cell]
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

    /// Sets one cell; out-of-range positions are ignored. Control characters become `?`, characters
    /// without a width of their own `�`; a wide character takes this cell and the next, or, when the
    /// next is past the edge, becomes a blank (it is never cut in half). Overwriting half of a wide
    /// character blanks its other half.
    public mutating func set(_ x: Int, _ y: Int, _ char: Character, _ style: Style) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = y * width + x
        if let a = char.asciiValue {
            return put(i, Cell(glyph: a < 0x20 || a == 0x7f ? 0x3F : UInt32(a), style, width: 1))
        }
        let w = cellWidth(char)
        if w == 0 { return put(i, Cell(glyph: 0xFFFD, style, width: 1)) }
        let glyph = Glyphs.code(char)
        if w == 2 {
            guard x + 1 < width else { return put(i, Cell(glyph: 0x20, style, width: 1)) }
            put(i, Cell(glyph: glyph, style, width: 2))
            if cells[i + 1].width == 2 { cells[i + 2].blankHalf() }
            cells[i + 1] = Cell(glyph: 0x20, style, width: 0)
        } else {
            put(i, Cell(glyph: glyph, style, width: 1))
        }
    }

    /// Writes a one-cell cell at index `i`, blanking what is left of a wide character it overwrites.
    private mutating func put(_ i: Int, _ cell: Cell) {
        let old = cells[i].width
        if old == 0 {
            cells[i - 1].blankHalf()
        } else if old == 2 {
            cells[i + 1].blankHalf()
        }
        cells[i] = cell
    }

    /// Writes `text` from (x, y), clipped to `maxWidth` cells and the buffer's edge; a wide character
    /// that does not fit whole leaves a blank instead. Returns the number of cells used.
    @discardableResult
    public mutating func text(_ x: Int, _ y: Int, _ text: String, _ style: Style, maxWidth: Int? = nil) -> Int {
        guard y >= 0, y < height else { return 0 }
        let limit = min(maxWidth ?? Int.max, width - x)
        guard limit > 0 else { return 0 }
        // Printable ASCII (nearly all of a screen) goes straight in, a byte a cell.
        var plain = true
        for b in text.utf8 where b < 0x20 || b >= 0x7f {
            plain = false
            break
        }
        if plain && x >= 0 {
            var n = 0
            let row = y * width + x
            for b in text.utf8 {
                if n >= limit { break }
                put(row + n, Cell(glyph: UInt32(b), style, width: 1))
                n += 1
            }
            return n
        }
        var n = 0
        for ch in text {
            if n >= limit { break }
            if ch == "\n" || ch == "\r\n" { break }
            let w = ch.isASCII ? 1 : max(1, cellWidth(ch))
            if n + w > limit {
                set(x + n, y, " ", style)
                n += 1
                break
            }
            set(x + n, y, ch == "\t" ? " " : ch, style)
            n += w
        }
        return n
    }

    /// Fills a rectangle with one (one-cell) character and style. A wide character cut by the
    /// rectangle's edge loses its other half.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ char: Character = " ", _ style: Style) {
        let left = max(0, x)
        let right = min(width, x + w)
        guard left < right else { return }
        for yy in max(0, y)..<max(max(0, y), min(height, y + h)) {
            let row = yy * width
            if cells[row + left].width == 0 { cells[row + left - 1].blankHalf() }
            if cells[row + right - 1].width == 2, right < width { cells[row + right].blankHalf() }
            let cell = Cell(char, style)
            for i in (row + left)..<(row + right) { cells[i] = cell }
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
    /// A buffer of another size differs everywhere: every row comes back whole. A run never starts
    /// or ends inside a wide character: it takes both of its cells.
    public func diff(from old: CellBuffer) -> [CellRun] {
        var runs: [CellRun] = []
        let sameSize = old.width == width && old.height == height
        for y in 0..<height {
            let row = y * width
            var x = 0
            while x < width {
                if sameSize && old.cells[row + x] == cells[row + x] {
                    x += 1
                    continue
                }
                var start = x
                if cells[row + start].width == 0, start > 0 { start -= 1 }
                var end = x
                while end < width && !(sameSize && old.cells[row + end] == cells[row + end]) { end += 1 }
                if end < width, cells[row + end].width == 0 { end += 1 }
                if let last = runs.last, last.y == y, last.x + last.cells.count > start {
                    // Widening made it touch the previous run: extend that one.
                    let from = last.x + last.cells.count
                    runs[runs.count - 1].cells += cells[(row + from)..<(row + end)]
                } else {
                    runs.append(CellRun(x: start, y: y, cells: Array(cells[(row + start)..<(row + end)])))
                }
                x = end
            }
        }
        return runs
    }

    /// Every cell as runs (for a full repaint).
    public var allRuns: [CellRun] {
        (0..<height).map { y in CellRun(x: 0, y: y, cells: Array(cells[(y * width)..<(y * width + width)])) }
    }

    /// The characters of each row as a terminal shows them (a wide character once), trailing spaces
    /// removed (for tests and snapshots).
    public var textLines: [String] {
        (0..<height).map { y in
            var s = ""
            for cell in cells[(y * width)..<(y * width + width)] where cell.width != 0 { s.append(cell.char) }
            while s.last == " " { s.removeLast() }
            return s
        }
    }

    /// The characters of the whole buffer, one line per row.
    public var text: String { textLines.joined(separator: "\n") }

    /// The text of cells `x..<x+count` on row `y` (a wide character once).
    public func text(x: Int, y: Int, count: Int) -> String {
        var s = ""
        for xx in max(0, x)..<min(width, x + count) where self[xx, y].width != 0 { s.append(self[xx, y].char) }
        return s
    }
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
