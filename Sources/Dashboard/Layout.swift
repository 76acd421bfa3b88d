/// A rectangle of cells on the screen: where a widget draws. Widgets get one and never draw outside it.
public struct Rect: Hashable, Sendable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = max(0, width)
        self.height = max(0, height)
    }

    public static let zero = Rect(x: 0, y: 0, width: 0, height: 0)

    public var isEmpty: Bool { width == 0 || height == 0 }
    /// One past the last column / row.
    public var right: Int { x + width }
    public var bottom: Int { y + height }

    /// The rectangle with `n` cells taken off each side (`horizontal` and `vertical` separately).
    public func inset(horizontal: Int = 0, vertical: Int = 0) -> Rect {
        Rect(x: x + horizontal, y: y + vertical, width: width - 2 * horizontal, height: height - 2 * vertical)
    }

    /// Row `i` (0-based) of the rectangle, one cell high.
    public func row(_ i: Int) -> Rect { Rect(x: x, y: y + i, width: width, height: i < height ? 1 : 0) }

    /// The part below the first `n` rows.
    public func dropFirst(_ n: Int) -> Rect { Rect(x: x, y: y + min(n, height), width: width, height: height - n) }

    /// The first `n` rows.
    public func prefix(_ n: Int) -> Rect { Rect(x: x, y: y, width: width, height: min(n, height)) }

    /// The part both rectangles cover.
    public func intersection(_ o: Rect) -> Rect {
        let x0 = max(x, o.x)
        let y0 = max(y, o.y)
        return Rect(x: x0, y: y0, width: min(right, o.right) - x0, height: min(bottom, o.bottom) - y0)
    }

    /// A `width` x `height` rectangle centred in this one (clipped to it).
    public func centered(width w: Int, height h: Int) -> Rect {
        let w = min(w, width)
        let h = min(h, height)
        return Rect(x: x + (width - w) / 2, y: y + (height - h) / 2, width: w, height: h)
    }

    public var description: String { "\(width)x\(height)@\(x),\(y)" }
}

/// How much of a split one part asks for (ratatui's `Constraint`).
public enum Constraint: Hashable, Sendable {
    /// Exactly `n` cells (given up last when space runs short).
    case length(Int)
    /// `n` percent of the whole.
    case percentage(Int)
    /// `a/b` of the whole.
    case ratio(Int, Int)
    /// At least `n` cells; grows when nothing else takes what is left.
    case min(Int)
    /// What is left, shared among `fill`s by weight.
    case fill(Int)
}

/// Splits a rectangle into rows (vertical) or columns (horizontal) by constraints (ratatui's `Layout`).
///
/// Each part first gets what it asks for (`fill` nothing, `min` its minimum). Space left over goes
/// to the `fill` parts by weight, or, without any, to the `min` parts, or to the last part. When the
/// parts ask for more than there is, the last ones are cut first. A `spacing` of 1 leaves a gap
/// (e.g. for a `│` between columns) between neighbours.
public struct Layout: Sendable {
    public enum Direction: Sendable { case vertical, horizontal }

    public var direction: Direction
    public var constraints: [Constraint]
    public var spacing: Int

    public init(_ direction: Direction, _ constraints: [Constraint], spacing: Int = 0) {
        self.direction = direction
        self.constraints = constraints
        self.spacing = spacing
    }

    public static func vertical(_ c: [Constraint], spacing: Int = 0) -> Layout {
        Layout(.vertical, c, spacing: spacing)
    }
    public static func horizontal(_ c: [Constraint], spacing: Int = 0) -> Layout {
        Layout(.horizontal, c, spacing: spacing)
    }

    public func split(_ area: Rect) -> [Rect] {
        guard !constraints.isEmpty else { return [] }
        let whole = direction == .vertical ? area.height : area.width
        let total = max(0, whole - spacing * (constraints.count - 1))
        var sizes = constraints.map { c -> Int in
            switch c {
            case .length(let n), .min(let n): max(0, n)
            case .percentage(let p): total * max(0, p) / 100
            case .ratio(let a, let b): b > 0 ? total * max(0, a) / b : 0
            case .fill: 0
            }
        }
        var excess = total - sizes.reduce(0, +)
        if excess < 0 {
            for i in sizes.indices.reversed() where excess < 0 {
                let cut = min(sizes[i], -excess)
                sizes[i] -= cut
                excess += cut
            }
        } else if excess > 0 {
            let fills = constraints.indices.compactMap { i -> (Int, Int)? in
                if case .fill(let w) = constraints[i] { return (i, max(1, w)) }
                return nil
            }
            let mins = constraints.indices.filter { if case .min = constraints[$0] { true } else { false } }
            if !fills.isEmpty {
                let weights = fills.reduce(0) { $0 + $1.1 }
                var given = 0
                for (k, (i, w)) in fills.enumerated() {
                    let share = k == fills.count - 1 ? excess - given : excess * w / weights
                    sizes[i] += share
                    given += share
                }
            } else if !mins.isEmpty {
                for (k, i) in mins.enumerated() {
                    sizes[i] += excess / mins.count + (k < excess % mins.count ? 1 : 0)
                }
            } else {
                sizes[sizes.count - 1] += excess
            }
        }
        var out: [Rect] = []
        var pos = direction == .vertical ? area.y : area.x
        for size in sizes {
            switch direction {
            case .vertical: out.append(Rect(x: area.x, y: pos, width: area.width, height: size))
            case .horizontal: out.append(Rect(x: pos, y: area.y, width: size, height: area.height))
            }
            pos += size + spacing
        }
        return out
    }
}
