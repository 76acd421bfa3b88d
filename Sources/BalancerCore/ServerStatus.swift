/// The status column of HAProxy's `show stat` and stats page, as a value: `UP`, `DOWN`, `UP 1/3`
/// (one of fall 3 checks failed: going down), `DOWN 2/2` (two of rise 2 passed: going up), `NOLB`,
/// `DRAIN`, `MAINT`, `no check`, and what a real HAProxy adds after them (`MAINT (via be/s)`).
public struct ServerStatus: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral, Codable {
    public enum Base: String, Hashable, Sendable, CaseIterable, Codable {
        case up = "UP"
        case down = "DOWN"
        case nolb = "NOLB"
        case drain = "DRAIN"
        case maint = "MAINT"
        case noCheck = "no check"
    }

    /// Checks counted while the server changes state: `count` of `of`.
    public struct Progress: Hashable, Sendable, Codable {
        public var count: Int
        public var of: Int
    }

    public var base: Base
    public var progress: Progress?
    /// Text a real HAProxy puts after the status, e.g. `(via be_app/web1)`, `(resolution)`; shown as is.
    public var detail: String?

    public init(_ base: Base, progress: Progress? = nil, detail: String? = nil) {
        self.base = base
        self.progress = progress
        self.detail = detail
    }

    /// Reads the text HAProxy prints (a real HAProxy's `show stat` for an attached cluster). Unknown
    /// words keep their text as the detail of a `DOWN`, so nothing is shown as up that is not.
    public init(parsing text: some StringProtocol) {
        let trimmed = text.trimmingWhitespace()
        if trimmed.lowercased().hasPrefix("no check") {
            self.init(.noCheck)
            return
        }
        var words = trimmed.split(separator: " ", maxSplits: 2).map(String.init)
        guard let first = words.first, let base = Base(rawValue: first.uppercased()) else {
            self.init(.down, detail: trimmed.isEmpty ? nil : trimmed)
            return
        }
        words.removeFirst()
        var progress: Progress?
        if let counts = words.first, let slash = counts.firstIndex(of: "/"),
            let n = Int(counts[..<slash]), let m = Int(counts[counts.index(after: slash)...])
        {
            progress = Progress(count: n, of: m)
            words.removeFirst()
        }
        let rest = words.joined(separator: " ")
        self.init(base, progress: progress, detail: rest.isEmpty ? nil : rest)
    }

    public init(stringLiteral value: String) { self.init(parsing: value) }

    public var description: String {
        var text = base.rawValue
        if let progress { text += " \(progress.count)/\(progress.of)" }
        if let detail { text += " " + detail }
        return text
    }

    /// Changing state: `UP 1/3`, `DOWN 2/2`, `DRAIN 1/3`.
    public var isTransition: Bool { progress != nil }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}
