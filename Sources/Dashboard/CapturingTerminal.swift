import Foundation
import HadeckBase

/// What to keep of a dashboard run besides the screen itself.
public struct CaptureOptions: Sendable {
    /// `--record FILE.cast`: the session as an asciicast v2 file.
    public var recordPath: String?
    /// `--screenshot FILE.svg`: the last screen as SVG when the dashboard ends.
    public var screenshotPath: String?
    /// The environment (TERM goes in the recording's header).
    public var environment: [String: String]

    public init(recordPath: String? = nil, screenshotPath: String? = nil, environment: [String: String] = [:]) {
        self.recordPath = recordPath
        self.screenshotPath = screenshotPath
        self.environment = environment
    }

    public var isEmpty: Bool { recordPath == nil && screenshotPath == nil }
}

/// A terminal that passes everything to another one and keeps a copy of the screen: every frame
/// painted goes to an asciicast recording (with its time, and resizes), the last one to an SVG
/// picture when the dashboard ends. `stopWhen` ends the dashboard as a `q` would (a scripted run
/// at its scenario's end).
public final class CapturingTerminal: TerminalBackend {
    let inner: TerminalBackend
    let options: CaptureOptions
    let stopWhen: (() -> Bool)?
    /// The screen as last painted.
    public private(set) var screen: CellBuffer
    public private(set) var theme: Theme = .dark
    var recording: AsciicastWriter?
    var recordingBegun = false
    let clock = ContinuousClock()
    let started: ContinuousClock.Instant
    /// Keys still to give the app to end it (Esc leaves any prompt, then `q`).
    var stopKeys: [Key]?
    var finished = false
    /// Where writing a file failed, for the caller to print once the terminal is back.
    public private(set) var problems: [String] = []

    public init(wrapping inner: TerminalBackend, options: CaptureOptions, stopWhen: (() -> Bool)? = nil) throws {
        self.inner = inner
        self.options = options
        self.stopWhen = stopWhen
        let size = inner.size
        screen = CellBuffer(width: size.width, height: size.height)
        started = clock.now
        // The file is made now, so that a path that cannot be written stops the run before it starts;
        // its header is written with the first frame, when the theme is known.
        if let path = options.recordPath {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw AsciicastError.cannotCreate(path)
            }
        }
    }

    /// The recording, begun with the first frame (its header has the size and the theme).
    func recorder() throws -> AsciicastWriter? {
        if let recording { return recording }
        guard let path = options.recordPath, !recordingBegun else { return nil }
        recordingBegun = true
        recording = try AsciicastWriter(
            path: path, width: screen.width, height: screen.height, palette: ScreenPalette(theme: theme),
            title: "hadeck", timestamp: Int(Date().timeIntervalSince1970), environment: options.environment)
        return recording
    }

    var elapsed: Double {
        let d = clock.now - started
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    public var size: (width: Int, height: Int) { inner.size }

    public func readKey(timeoutMilliseconds: Int) throws -> Key? {
        if stopKeys == nil, let stopWhen, stopWhen() { stopKeys = [.escape, .char("q")] }
        if var keys = stopKeys, !keys.isEmpty {
            let key = keys.removeFirst()
            stopKeys = keys
            return key
        }
        return try inner.readKey(timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Waits on the inner terminal's input and the signal, unless a stop condition must be looked at
    /// every tick (a scripted run's end).
    public var canWaitForChange: Bool { stopWhen == nil && inner.canWaitForChange }

    public func readKey(timeoutMilliseconds: Int, orChange change: ChangeSignal) throws -> Key? {
        guard stopWhen == nil else { return try readKey(timeoutMilliseconds: timeoutMilliseconds) }
        return try inner.readKey(timeoutMilliseconds: timeoutMilliseconds, orChange: change)
    }

    public func paint(_ runs: [CellRun], clear: Bool) throws {
        try inner.paint(runs, clear: clear)
        let size = inner.size
        var resized = false
        if size.width != screen.width || size.height != screen.height {
            screen = CellBuffer(width: size.width, height: size.height)
            resized = true
        }
        var rows = Set<Int>()
        for run in runs {
            for (i, cell) in run.cells.enumerated() { screen[run.x + i, run.y] = cell }
            rows.insert(run.y)
        }
        let t = elapsed
        let first = !recordingBegun
        do {
            guard let recording = try recorder() else { return }
            if resized && !first { try recording.resize(width: size.width, height: size.height, at: t) }
            var text = clear || resized ? TerminalBytes.clearScreen : ""
            for y in (clear || resized ? Array(0..<screen.height) : rows.sorted()) where y < screen.height {
                text += TerminalBytes.row(screen, y)
            }
            try recording.output(text, at: t)
        } catch {
            problems.append("hadeck: the recording \(options.recordPath ?? "") stopped: \(error)")
            recording?.close()
            recording = nil
        }
    }

    public func themeChanged(_ theme: Theme) {
        self.theme = theme
        inner.themeChanged(theme)
    }

    public func pendingSignal() -> Int32? { inner.pendingSignal() }

    public func restore() {
        inner.restore()
        guard !finished else { return }
        finished = true
        recording?.close()
        if let path = options.screenshotPath {
            let svg = SVGScreen.render(screen, palette: ScreenPalette(theme: theme), title: "hadeck")
            do { try svg.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                problems.append("hadeck: cannot write the screenshot \(path): \(error.localizedDescription)")
            }
        }
    }
}
