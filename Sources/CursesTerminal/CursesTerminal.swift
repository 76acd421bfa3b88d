import CNCurses
import ClusterModel
import Dashboard
import HadeckBase
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why the dashboard could not take the terminal.
public enum CursesError: Error, Hashable, Sendable, CustomStringConvertible {
    case notATerminal(String)
    case unknownTerminal(String)
    case cannotOpen(String)

    public var description: String {
        switch self {
        case .notATerminal(let which):
            "hadeck: the dashboard needs a terminal, but \(which) is not a TTY; use --headless to run without one"
        case .unknownTerminal(let term):
            "hadeck: unknown terminal type '\(term)' (TERM); try TERM=xterm-256color or use --headless"
        case .cannotOpen(let what): "hadeck: cannot open \(what)"
        }
    }
}

/// The last SIGINT/SIGTERM received (0: none). Set from the signal handler: an atomic store is signal-safe.
let pendingSignalNumber = Atomic<Int32>(0)

/// Raised by the signal handlers (an atomic exchange and a write(2), both async-signal-safe), so
/// that a wait for a key or a change ends at once on a signal, whichever thread the kernel
/// delivered it to. Made before the first handler is installed.
let signalWake = ChangeSignal()

/// The signal handlers' body: remember the signal, wake the waiting loop.
func noteSignal(_ sig: Int32) {
    pendingSignalNumber.store(sig, ordering: .relaxed)
    signalWake?.raise()
}

/// Only one curses screen can be active in a process.
let cursesActive = Mutex<Bool>(false)

/// Paints Dashboard cell buffers with ncurses and reads keys. The only ncurses code in hadeck.
public final class CursesTerminal: TerminalBackend {
    let screen: OpaquePointer
    let window: UnsafeMutablePointer<WINDOW>
    let output: UnsafeMutablePointer<FILE>?
    let input: UnsafeMutablePointer<FILE>?
    var pairs: [PairKey: Int32] = [:]
    var nextPair: Int32 = 1
    let colors: Int
    let maxPairs: Int
    var restored = false
    var previousInt: sighandler_t?
    var previousTerm: sighandler_t?
    var previousHup: sighandler_t?

    struct PairKey: Hashable {
        var fg: Int32
        var bg: Int32
    }

    /// Takes the terminal. `term` nil means `$TERM`; `outputPath`/`inputPath` nil mean stdout/stdin,
    /// which must then be TTYs unless `requireTTY` is false (headless tests).
    public init(
        term: String? = nil, outputPath: String? = nil, inputPath: String? = nil, requireTTY: Bool = true,
        handleSignals: Bool = true
    ) throws {
        if requireTTY && outputPath == nil && inputPath == nil {
            if isatty(STDOUT_FILENO) == 0 { throw CursesError.notATerminal("stdout") }
            if isatty(STDIN_FILENO) == 0 { throw CursesError.notATerminal("stdin") }
        }
        let taken = cursesActive.withLock { active -> Bool in
            if active { return false }
            active = true
            return true
        }
        guard taken else { throw CursesError.cannotOpen("a second curses screen in one process") }
        setlocale(LC_ALL, "")
        var out: UnsafeMutablePointer<FILE>? = nil
        var inp: UnsafeMutablePointer<FILE>? = nil
        if let outputPath {
            out = fopen(outputPath, "w")
            guard out != nil else {
                cursesActive.withLock { $0 = false }
                throw CursesError.cannotOpen(outputPath)
            }
        }
        if let inputPath {
            inp = fopen(inputPath, "r")
            guard inp != nil else {
                if let out { fclose(out) }
                cursesActive.withLock { $0 = false }
                throw CursesError.cannotOpen(inputPath)
            }
        }
        let termName = term ?? getenv("TERM").map { String(cString: $0) } ?? ""
        let scr: OpaquePointer? = termName.withCString { name in
            newterm(term == nil ? nil : name, out ?? hadeck_stdout(), inp ?? hadeck_stdin())
        }
        guard let scr else {
            if let out { fclose(out) }
            if let inp { fclose(inp) }
            cursesActive.withLock { $0 = false }
            throw CursesError.unknownTerminal(termName.isEmpty ? "(unset)" : termName)
        }
        screen = scr
        output = out
        input = inp
        _ = set_term(scr)
        window = hadeck_stdscr()
        if has_colors() {
            start_color()
            use_default_colors()
        }
        colors = has_colors() ? Int(hadeck_colors()) : 0
        maxPairs = has_colors() ? Int(hadeck_color_pairs()) : 0
        cbreak()
        noecho()
        nonl()
        keypad(window, true)
        set_escdelay(25)
        curs_set(0)
        leaveok(window, true)
        scrollok(window, false)
        if handleSignals {
            pendingSignalNumber.store(0, ordering: .relaxed)
            _ = signalWake
            previousInt = signal(SIGINT) { sig in noteSignal(sig) }
            previousTerm = signal(SIGTERM) { sig in noteSignal(sig) }
            // The terminal went away: leave too (instead of spinning on a closed input).
            previousHup = signal(SIGHUP) { sig in noteSignal(sig) }
        }
    }

    deinit { restore() }

    /// Whether the dashboard could take this terminal, checked without touching it: stdout and stdin
    /// are TTYs and `TERM` names a known terminal. Run before anything starts, so that `hadeck > file`
    /// says so at once instead of starting a cluster first.
    public static func preflight(term: String? = nil) throws {
        if isatty(STDOUT_FILENO) == 0 { throw CursesError.notATerminal("stdout") }
        if isatty(STDIN_FILENO) == 0 { throw CursesError.notATerminal("stdin") }
        let termName = term ?? getenv("TERM").map { String(cString: $0) } ?? ""
        guard !termName.isEmpty else { throw CursesError.unknownTerminal("(unset)") }
        let known = knows(term: termName)
        if !known { throw CursesError.unknownTerminal(termName) }
    }

    /// Whether ncurses finds a terminfo entry for `term` (what `hadeck doctor` checks).
    public static func knows(term termName: String) -> Bool {
        // A screen on /dev/null loads the terminfo entry as the real one would, and shows nothing.
        guard let out = fopen("/dev/null", "w") else { return true }
        defer { fclose(out) }
        guard let inp = fopen("/dev/null", "r") else { return true }
        defer { fclose(inp) }
        return cursesActive.withLock { active -> Bool in
            if active { return true }  // a screen is already up: its TERM was fine
            guard let scr = termName.withCString({ newterm($0, out, inp) }) else { return false }
            endwin()
            delscreen(scr)
            return true
        }
    }

    public var size: (width: Int, height: Int) {
        (Int(getmaxx(window)), Int(getmaxy(window)))
    }

    public func pendingSignal() -> Int32? {
        let s = pendingSignalNumber.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    public func readKey(timeoutMilliseconds: Int) throws -> Key? {
        wtimeout(window, Int32(timeoutMilliseconds))
        var ch: wint_t = 0
        let r = wget_wch(window, &ch)
        if r == ERR {
            // A closed terminal makes every read fail at once: without this the loop would spin. SIGHUP
            // may not get through (signals can be blocked while curses writes), so look at the fd itself.
            if inputHungUp() { pendingSignalNumber.store(SIGHUP, ordering: .relaxed) }
            return nil
        }
        if r == KEY_CODE_YES { return Self.decode(functionKey: Int32(ch)) }
        return Self.decode(char: UInt32(ch))
    }

    public var canWaitForChange: Bool { true }

    /// Sleeps in poll(2) on the terminal's input, `change` and the signal handlers' descriptor: a
    /// key is read as soon as it is typed, a change or a signal ends the wait with nil.
    public func readKey(timeoutMilliseconds: Int, orChange change: ChangeSignal) throws -> Key? {
        // What ncurses holds already (the rest of a sequence it read ahead) comes first.
        if let key = try readKey(timeoutMilliseconds: 0) { return key }
        if pendingSignalNumber.load(ordering: .relaxed) != 0 { return nil }
        var fds = [
            pollfd(fd: input.map { fileno($0) } ?? STDIN_FILENO, events: Int16(POLLIN), revents: 0),
            pollfd(fd: change.descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: signalWake?.descriptor ?? -1, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&fds, 3, Int32(clamping: timeoutMilliseconds))
        if fds[2].revents != 0 { signalWake?.lower() }
        // A key (or a hangup, which readKey notices), else a change, a signal, or the time is up;
        // after EINTR ncurses may hold a KEY_RESIZE (SIGWINCH).
        if ready > 0, fds[0].revents != 0 { return try readKey(timeoutMilliseconds: 25) }
        return try readKey(timeoutMilliseconds: 0)
    }

    /// True when the terminal we read keys from is gone (hangup, error, closed).
    func inputHungUp() -> Bool {
        var fds = pollfd(fd: input.map { fileno($0) } ?? STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        guard poll(&fds, 1, 0) >= 0 else { return errno != EINTR }
        return fds.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0
    }

    static func decode(functionKey k: Int32) -> Key? {
        switch k {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_BTAB: return .backTab
        case KEY_ENTER: return .enter
        case KEY_BACKSPACE: return .backspace
        case KEY_RESIZE: return .resize
        default:
            for n in 1...12 where k == hadeck_key_f(Int32(n)) { return .function(n) }
            return nil
        }
    }

    static func decode(char c: UInt32) -> Key? {
        switch c {
        case 9: return .tab
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        default:
            guard let scalar = Unicode.Scalar(c) else { return nil }
            return .char(Character(scalar))
        }
    }

    public func themeChanged(_ theme: Theme) {
        // Pairs are made on demand from each cell's colours; a new theme starts afresh.
        pairs = [:]
        nextPair = 1
    }

    /// The colour as this terminal can show it: 256 colours as they are, 8/16-colour terminals get the nearest.
    func termColor(_ c: TermColor) -> Int32 {
        guard case .index(let n) = c else { return -1 }
        if colors >= 256 || n < colors { return Int32(n) }
        return Int32(nearestBasic(n, limit: colors))
    }

    func pair(_ st: Style) -> Int32 {
        guard colors > 0 else { return 0 }
        let key = PairKey(fg: termColor(st.fg), bg: termColor(st.bg))
        if key.fg == -1 && key.bg == -1 { return 0 }
        if let p = pairs[key] { return p }
        guard Int(nextPair) < min(maxPairs, 32767) else { return 0 }
        let p = nextPair
        nextPair += 1
        init_pair(Int16(p), Int16(key.fg), Int16(key.bg))
        pairs[key] = p
        return p
    }

    func attrs(_ st: Style) -> attr_t {
        var a = hadeck_a_normal()
        if st.bold { a |= hadeck_a_bold() }
        if st.underline { a |= hadeck_a_underline() }
        if st.reverse { a |= hadeck_a_reverse() }
        return a
    }

    public func paint(_ runs: [CellRun], clear: Bool) throws {
        if clear { werase(window) }
        var wide: [wchar_t] = []
        for run in runs {
            var i = 0
            while i < run.cells.count {
                // The right half of a wide character: the terminal drew it with the left half.
                if run.cells[i].isContinuation {
                    i += 1
                    continue
                }
                let st = run.cells[i].style
                var j = i
                wide.removeAll(keepingCapacity: true)
                while j < run.cells.count && (run.cells[j].style == st || run.cells[j].isContinuation) {
                    // One cell per Character: its scalars (base + combining marks) go out together.
                    if !run.cells[j].isContinuation {
                        run.cells[j].forEachScalar { wide.append(wchar_t(bitPattern: $0)) }
                    }
                    j += 1
                }
                _ = hadeck_put(window, Int32(run.y), Int32(run.x + i), wide, Int32(wide.count), attrs(st), pair(st))
                i = j
            }
        }
        wnoutrefresh(window)
        doupdate()
    }

    /// Reads back the characters of one screen row (tests).
    public func rowText(_ y: Int) -> String {
        var s = ""
        var buf = [wchar_t](repeating: 0, count: 8)
        for x in 0..<size.width {
            let n = hadeck_char_at(window, Int32(y), Int32(x), &buf, 8)
            for k in 0..<Int(n) { if let u = Unicode.Scalar(UInt32(bitPattern: buf[k])) { s.unicodeScalars.append(u) } }
        }
        return s
    }

    public func restore() {
        guard !restored else { return }
        restored = true
        curs_set(1)
        endwin()
        delscreen(screen)
        if let output { fclose(output) }
        if let input { fclose(input) }
        if let previousInt { signal(SIGINT, previousInt) }
        if let previousTerm { signal(SIGTERM, previousTerm) }
        if let previousHup { signal(SIGHUP, previousHup) }
        cursesActive.withLock { $0 = false }
    }
}

/// The nearest of the first `limit` (8 or 16) colours to an xterm 256-colour index.
func nearestBasic(_ n: Int, limit: Int) -> Int {
    if n < 16 { return limit >= 16 ? n : (n >= 8 ? n - 8 : n) }
    var r = 0
    var g = 0
    var b = 0
    if n >= 232 {
        let v = 8 + (n - 232) * 10
        r = v
        g = v
        b = v
    } else {
        let i = n - 16
        let steps = [0, 95, 135, 175, 215, 255]
        r = steps[i / 36]
        g = steps[(i / 6) % 6]
        b = steps[i % 6]
    }
    let basic: [(Int, Int, Int)] = [
        (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
        (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255),
        (255, 255, 255),
    ]
    var best = 0
    var bestD = Int.max
    for (i, c) in basic.prefix(max(8, min(16, limit))).enumerated() {
        let d = (c.0 - r) * (c.0 - r) + (c.1 - g) * (c.1 - g) + (c.2 - b) * (c.2 - b)
        if d < bestD {
            bestD = d
            best = i
        }
    }
    return best
}

/// Runs the dashboard on this process's terminal until `q` or a signal; returns the exit status
/// (0 after `q`, 130 after Ctrl-C, 143 after SIGTERM). Throws `CursesError` when there is no usable terminal
/// (print it and suggest `--headless`). The terminal is restored however it ends.
public func runDashboard(source: ClusterSource, options: DashboardOptions) throws -> Int32 {
    let terminal = try CursesTerminal()
    defer { terminal.restore() }
    let app = DashboardApp(source: source, options: options)
    return try app.run(terminal: terminal)
}
