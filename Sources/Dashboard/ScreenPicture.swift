import Foundation

/// The colours a picture or a recording of the screen uses: the terminal's default foreground and
/// background for the theme, and xterm's 256-colour palette for everything else.
public struct ScreenPalette: Hashable, Sendable {
    /// `#rrggbb` for the terminal's default colours.
    public var foreground: String
    public var background: String
}

extension ScreenPalette {
    /// The default colours a terminal would have for the theme: light themes on white, the others on
    /// near-black.
    public init(theme: Theme) {
        if theme.name == "light" {
            self.init(foreground: "#1c1c1c", background: "#ffffff")
        } else {
            self.init(foreground: "#d0d0d0", background: "#121212")
        }
    }

    /// xterm's colour for a 256-colour index: 16 basic colours, a 6x6x6 cube, 24 greys.
    public static func hex(index n: Int) -> String {
        let (r, g, b) = rgb(index: n)
        return "#"
            + [r, g, b].map { v in
                let s = String(v, radix: 16)
                return s.count == 1 ? "0" + s : s
            }.joined()
    }

    static func rgb(index n: Int) -> (Int, Int, Int) {
        let basic: [(Int, Int, Int)] = [
            (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205),
            (229, 229, 229), (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255),
            (0, 255, 255), (255, 255, 255),
        ]
        switch n {
        case ..<0: return basic[0]
        case 0..<16: return basic[n]
        case 16..<232:
            let steps = [0, 95, 135, 175, 215, 255]
            let i = n - 16
            return (steps[i / 36], steps[(i / 6) % 6], steps[i % 6])
        default:
            let v = 8 + (min(n, 255) - 232) * 10
            return (v, v, v)
        }
    }

    /// The 16 basic colours, `:`-separated, as asciicast's `theme.palette` wants them.
    public static var basicPalette: String { (0..<16).map { hex(index: $0) }.joined(separator: ":") }

    /// A cell's colours as drawn: `reverse` swaps them, `default` is the terminal's.
    public func colours(_ style: Style) -> (fg: String, bg: String) {
        func resolve(_ c: TermColor, _ fallback: String) -> String {
            if case .index(let n) = c { return Self.hex(index: n) }
            return fallback
        }
        let fg = resolve(style.fg, foreground)
        let bg = resolve(style.bg, background)
        return style.reverse ? (bg, fg) : (fg, bg)
    }
}

/// A cell buffer as an SVG picture: the theme's colours, a monospace font, one `<text>` per row and
/// one `<tspan>` per run of cells in the same style, backgrounds as rectangles behind them.
public enum SVGScreen {
    /// Cell size in px at the default 14 px font (a monospace advance is about 0.6 em).
    public static let cellWidth = 8.4
    public static let cellHeight = 17.0

    public static func render(_ buffer: CellBuffer, palette: ScreenPalette, title: String? = nil) -> String {
        let width = Double(buffer.width) * cellWidth
        let height = Double(buffer.height) * cellHeight
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(number(width))" height="\(number(height))" \
            viewBox="0 0 \(number(width)) \(number(height))" font-family="'DejaVu Sans Mono', 'Liberation Mono', Menlo, Consolas, monospace" \
            font-size="14" xml:space="preserve">

            """
        if let title { out += "<title>\(escape(title))</title>\n" }
        out += "<rect width=\"100%\" height=\"100%\" fill=\"\(palette.background)\"/>\n"
        for y in 0..<buffer.height {
            let runs = styleRuns(buffer, row: y)
            // Backgrounds first, so that no text is painted over.
            for run in runs {
                let bg = palette.colours(run.style).bg
                guard bg != palette.background else { continue }
                out +=
                    "<rect x=\"\(number(Double(run.x) * cellWidth))\" y=\"\(number(Double(y) * cellHeight))\" "
                    + "width=\"\(number(Double(run.width) * cellWidth))\" height=\"\(number(cellHeight))\" fill=\"\(bg)\"/>\n"
            }
            let visible = runs.filter { !$0.text.allSatisfy { $0 == " " } }
            guard !visible.isEmpty else { continue }
            let baseline = Double(y) * cellHeight + cellHeight * 0.78
            out += "<text y=\"\(number(baseline))\">"
            for run in visible {
                // Each run starts at its first character's cell; spaces inside it are no-break
                // spaces, which no SVG viewer collapses.
                let lead = run.text.prefix { $0 == " " }.count
                let text = String(run.text.dropFirst(lead).reversed().drop { $0 == " " }.reversed())
                let fg = palette.colours(run.style).fg
                var attributes = "x=\"\(number(Double(run.x + lead) * cellWidth))\" fill=\"\(fg)\""
                if run.style.bold { attributes += " font-weight=\"bold\"" }
                if run.style.underline { attributes += " text-decoration=\"underline\"" }
                out += "<tspan \(attributes)>\(escape(text).replacingOccurrences(of: " ", with: "\u{00A0}"))</tspan>"
            }
            out += "</text>\n"
        }
        out += "</svg>\n"
        return out
    }

    struct Run {
        var x: Int
        var width: Int
        var style: Style
        var text: String
    }

    /// The row's cells grouped into runs of one style (a wide character's two cells in one run).
    static func styleRuns(_ buffer: CellBuffer, row y: Int) -> [Run] {
        var runs: [Run] = []
        for x in 0..<buffer.width {
            let cell = buffer[x, y]
            if cell.isContinuation {
                if !runs.isEmpty { runs[runs.count - 1].width += 1 }
                continue
            }
            if let last = runs.last, last.style == cell.style, last.x + last.width == x {
                runs[runs.count - 1].width += 1
                runs[runs.count - 1].text.append(cell.char)
            } else {
                runs.append(Run(x: x, width: 1, style: cell.style, text: String(cell.char)))
            }
        }
        return runs
    }

    static func number(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return r == r.rounded() ? String(Int(r)) : String(r)
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }
}
