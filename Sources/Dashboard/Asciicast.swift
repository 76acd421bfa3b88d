import Foundation
import HadeckBase

/// Writes an asciicast v2 file (asciinema's format): a JSON header line with the terminal's width,
/// height and theme colours, then one JSON array per event: `[seconds, "o", text]` for output,
/// `[seconds, "r", "COLSxROWS"]` for a resize. Lines go to the file as they come, so a recording
/// cut short by a crash keeps what it had.
public final class AsciicastWriter {
    public let path: String
    let handle: FileHandle
    public private(set) var width: Int
    public private(set) var height: Int
    public private(set) var eventCount = 0

    /// Creates (or truncates) the file and writes the header. `timestamp`: Unix seconds of the start.
    public init(
        path: String, width: Int, height: Int, palette: ScreenPalette, title: String? = nil,
        timestamp: Int? = nil, environment: [String: String] = [:]
    ) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw AsciicastError.cannotCreate(path)
        }
        guard let handle = FileHandle(forWritingAtPath: path) else { throw AsciicastError.cannotCreate(path) }
        self.path = path
        self.handle = handle
        self.width = width
        self.height = height
        var header: [(String, JSONValue)] = [
            ("version", 2), ("width", .int(Int64(width))), ("height", .int(Int64(height))),
        ]
        if let timestamp { header.append(("timestamp", .int(Int64(timestamp)))) }
        if let title { header.append(("title", .string(title))) }
        let env = ["TERM", "SHELL"].compactMap { k in environment[k].map { (k, JSONValue.string($0)) } }
        if !env.isEmpty { header.append(("env", .object(env))) }
        header.append(
            (
                "theme",
                .object([
                    ("fg", .string(palette.foreground)), ("bg", .string(palette.background)),
                    ("palette", .string(ScreenPalette.basicPalette)),
                ])
            ))
        try write(JSONValue.object(header).encoded)
    }

    /// Output at `seconds` since the start.
    public func output(_ text: String, at seconds: Double) throws {
        guard !text.isEmpty else { return }
        try write(JSONValue.array([.double(seconds), "o", .string(text)]).encoded)
    }

    /// The terminal took a new size at `seconds`.
    public func resize(width: Int, height: Int, at seconds: Double) throws {
        self.width = width
        self.height = height
        try write(JSONValue.array([.double(seconds), "r", .string("\(width)x\(height)")]).encoded)
    }

    public func close() { try? handle.close() }

    func write(_ line: String) throws {
        try handle.write(contentsOf: Array((line + "\n").utf8))
        eventCount += 1
    }
}

public enum AsciicastError: Error, CustomStringConvertible, Hashable, Sendable {
    case cannotCreate(String)

    public var description: String {
        switch self {
        case .cannotCreate(let path): "hadeck: cannot create the recording \(path)"
        }
    }
}

/// The terminal bytes (VT100/xterm: cursor positioning and SGR colours) that draw cell rows: what a
/// recording holds, whichever terminal library painted the screen.
public enum TerminalBytes {
    /// Clears the screen and homes the cursor, with the cursor hidden (a dashboard shows none).
    public static let clearScreen = "\u{1B}[?25l\u{1B}[0m\u{1B}[H\u{1B}[2J"

    /// The whole row `y` of `buffer`, from its first column, with its styles.
    public static func row(_ buffer: CellBuffer, _ y: Int) -> String {
        var out = "\u{1B}[\(y + 1);1H"
        var current: Style?
        for x in 0..<buffer.width {
            let cell = buffer[x, y]
            if cell.isContinuation { continue }
            if cell.style != current {
                out += sgr(cell.style)
                current = cell.style
            }
            out.append(cell.char)
        }
        return out + "\u{1B}[0m"
    }

    /// Select Graphic Rendition for a style, from a reset.
    public static func sgr(_ s: Style) -> String {
        var codes = ["0"]
        if s.bold { codes.append("1") }
        if s.underline { codes.append("4") }
        if s.reverse { codes.append("7") }
        if case .index(let n) = s.fg { codes.append("38;5;\(n)") }
        if case .index(let n) = s.bg { codes.append("48;5;\(n)") }
        return "\u{1B}[" + codes.joined(separator: ";") + "m"
    }
}
