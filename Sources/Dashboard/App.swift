import ClusterModel
import Foundation
import HadeckBase
import Synchronization

/// What the app loop needs from a terminal. `CursesTerminal` implements it with ncurses; tests use a fake.
public protocol TerminalBackend: AnyObject {
    /// The terminal's size now (columns, rows).
    var size: (width: Int, height: Int) { get }
    /// Waits up to `timeoutMilliseconds` for a key; nil when none came (the loop's tick).
    func readKey(timeoutMilliseconds: Int) throws -> Key?
    /// Whether `readKey(timeoutMilliseconds:orChange:)` also wakes when the signal is raised (and on
    /// SIGINT/SIGTERM/SIGHUP), so that the loop may sleep for a second instead of ticking.
    var canWaitForChange: Bool { get }
    /// Waits up to `timeoutMilliseconds` for a key, or until `change` is raised: nil when no key came.
    func readKey(timeoutMilliseconds: Int, orChange change: ChangeSignal) throws -> Key?
    /// Writes the runs; `clear` first blanks the whole screen (after a resize or theme change).
    func paint(_ runs: [CellRun], clear: Bool) throws
    /// Called when the theme changes (a backend may precompute colour pairs).
    func themeChanged(_ theme: Theme)
    /// A pending SIGINT/SIGTERM, if any: the loop then exits cleanly with 128 + signal.
    func pendingSignal() -> Int32?
    /// Puts the terminal back as it was. Always called once when `run` ends, however it ends.
    func restore()
}

extension TerminalBackend {
    public var canWaitForChange: Bool { false }
    public func readKey(timeoutMilliseconds: Int, orChange change: ChangeSignal) throws -> Key? {
        try readKey(timeoutMilliseconds: timeoutMilliseconds)
    }
    public func themeChanged(_ theme: Theme) {}
    public func pendingSignal() -> Int32? { nil }
}

/// What the CLI chooses for the dashboard.
public struct DashboardOptions: Sendable {
    /// A theme name (`dark`, `light`, `presenter`, `mono`, or `NAME.theme` in a themes directory) or a path.
    public var theme: String?
    /// Directories searched for `NAME.theme` before the built-in copies.
    public var themeDirectories: [String]
    /// The environment (for NO_COLOR and HADECK_THEMES).
    public var environment: [String: String]
    /// How long a key is waited for before the screen is refreshed anyway.
    public var tickMilliseconds: Int
    /// Who commands are performed by (shows in the source's events).
    public var actor: String
    /// How many requests/events to ask the source for (at least what the screen can show).
    public var requestLimit: Int
    public var eventLimit: Int
    /// Stop after this many ticks (tests); nil: until q or a signal.
    public var maxTicks: Int?
    /// Where `e` writes the events and the session (the current directory by default).
    public var exportDirectory: String
    /// What the session files `e` writes name as their writer (`hadeck 0.2.0`).
    public var sessionWriter = "hadeck"

    public init(
        theme: String? = nil, themeDirectories: [String]? = nil, environment: [String: String] = [:],
        tickMilliseconds: Int = 100, actor: String = "dashboard", requestLimit: Int = 200, eventLimit: Int = 200,
        maxTicks: Int? = nil, exportDirectory: String = "."
    ) {
        self.theme = theme
        self.themeDirectories = themeDirectories ?? Theme.defaultDirectories(environment: environment)
        self.environment = environment
        self.tickMilliseconds = tickMilliseconds
        self.actor = actor
        self.requestLimit = requestLimit
        self.eventLimit = eventLimit
        self.maxTicks = maxTicks
        self.exportDirectory = exportDirectory
    }
}

/// Answers to commands sent in the background, handed from any thread to the UI loop.
final class CommandMailbox: Sendable {
    private let answers = Mutex<[(id: Int, result: Result<String, any Error>)]>([])

    func post(_ id: Int, _ result: Result<String, any Error>) { answers.withLock { $0.append((id, result)) } }

    func take() -> [(id: Int, result: Result<String, any Error>)] {
        answers.withLock { list in
            defer { list.removeAll() }
            return list
        }
    }
}

/// The dashboard's loop: keys in, commands to the source, snapshots rendered, only changed cells painted.
/// Commands never hold the screen: they are submitted, show as pending, and their answer comes
/// when it comes.
public final class DashboardApp {
    public let source: ClusterSource
    public let options: DashboardOptions
    public private(set) var state = DashboardState()
    public private(set) var theme: Theme
    let noColor: Bool
    /// Reads a monotonic clock in microseconds (injectable for tests).
    let now: () -> Int64
    /// The last frame painted (nil: repaint everything).
    var previous: CellBuffer?
    let mailbox = CommandMailbox()
    /// Commands submitted and not answered, oldest first.
    var inFlight: [(id: Int, name: String)] = []
    var nextCommandID = 0
    /// What the last frame showed, to skip frames that would show the same (see `frameDue`).
    var shown: ShownFrame?
    /// Frames drawn and skipped (tests, and the idle CPU it saves).
    public private(set) var framesDrawn = 0
    public private(set) var framesSkipped = 0
    /// Every snapshot taken, for instant replay (bounded).
    public private(set) var history = SnapshotHistory()
    /// The replay running, if any, and the UI clock it last moved at.
    public private(set) var replay: Replay?
    var replayClock: Int64?
    /// Whether the last live snapshot had a failover's countdown running (then it is asked for every tick).
    var liveCountingDown = false

    public init(source: ClusterSource, options: DashboardOptions, now: (() -> Int64)? = nil) {
        self.source = source
        self.options = options
        let choice = Theme.load(options.theme, directories: options.themeDirectories, environment: options.environment)
        theme = choice.theme
        noColor = choice.noColor
        state.themeName = choice.theme.name
        if let m = choice.message {
            state.status = m
            state.statusIsError = true
        } else if choice.noColor {
            state.status = "NO_COLOR is set: mono theme"
        }
        if let now {
            self.now = now
        } else {
            let clock = ContinuousClock()
            let start = clock.now
            self.now = {
                let d = clock.now - start
                return d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
            }
        }
    }

    /// Runs until `q` (returns 0) or SIGINT/SIGTERM (returns 128 + signal). The terminal is restored
    /// however the loop ends, thrown errors included.
    public func run(terminal: TerminalBackend) throws -> Int32 {
        defer { terminal.restore() }
        terminal.themeChanged(theme)
        var last = now()
        var ticks = 0
        var fullRepaint = true
        var snap: ClusterSnapshot?
        var snapshotAt = Int64.min
        var sequence: Int?
        // Keys, answers and expiries change what the screen shows: the next tick looks again.
        var changed = true
        while true {
            if let sig = terminal.pendingSignal() { return 128 + sig }
            let t = now()
            source.advance(wallElapsed: TimeSpan(micros: max(0, t - last)))
            last = t
            if collectAnswers() { changed = true }
            if let asked = state.confirmation, t > asked.expires {
                state.confirmation = nil
                state.status = "not confirmed: \(asked.consequence) not sent"
                state.statusIsError = false
                changed = true
            }
            // A source that signals its changes lets the loop sleep between them (see below); a
            // scenario's source gives its signal once the scenario has ended. Lowered before the
            // sequence is read: a change made from here on raises it again.
            let changeSignal = terminal.canWaitForChange ? source.changeSignal : nil
            changeSignal?.lower()
            // A source that says nothing happened since the last snapshot is asked again once a
            // second (its clocks and counters), or at once when a failover's countdown runs.
            let seen = source.changeSequence
            var looked = false
            if snap == nil || changed || fullRepaint || seen == nil || seen != sequence
                || t - snapshotAt >= ShownFrame.clockOnlyInterval || liveCountingDown
            {
                let fresh = source.snapshot(requestLimit: options.requestLimit, eventLimit: options.eventLimit)
                snap = fresh
                snapshotAt = t
                sequence = seen
                history.record(fresh)
                liveCountingDown = ShownFrame.countingDown(fresh)
                looked = true
            }
            // A replay moves on with the real clock and shows its frame; the live cluster runs on.
            if var r = replay, let live = snap {
                r.advance(wall: TimeSpan(micros: max(0, t - (replayClock ?? t))))
                replayClock = t
                replay = r
                state.replay = r.status(wallClock: wallClock(), live: live)
            }
            if let shownSnapshot = replay?.frame ?? snap, looked || replay != nil {
                keepScrollInBounds(shownSnapshot, terminal.size)
                let frame = ShownFrame(shownSnapshot, state, terminal.size)
                if fullRepaint || frameDue(frame, at: t) {
                    try draw(shownSnapshot, terminal: terminal, full: fullRepaint)
                    shown = frame
                    shown?.drawnAt = t
                    framesDrawn += 1
                } else {
                    framesSkipped += 1
                }
            } else {
                framesSkipped += 1
            }
            fullRepaint = false
            changed = false
            ticks += 1
            if let maxTicks = options.maxTicks, ticks >= maxTicks { return 0 }
            // While a command runs, look for its answer often.
            var wait = inFlight.isEmpty ? options.tickMilliseconds : min(options.tickMilliseconds, 20)
            let pressed: Key?
            if let changeSignal, inFlight.isEmpty, replay == nil, !liveCountingDown {
                // Nothing moves by itself before the next clock-only frame (or a confirmation's
                // expiry): sleep until then, woken at once by a key, a change or a signal.
                var until = snapshotAt + ShownFrame.clockOnlyInterval
                if let asked = state.confirmation { until = min(until, asked.expires + 1) }
                wait = max(wait, Int((until - now()) / 1000) + 1)
                pressed = try terminal.readKey(timeoutMilliseconds: wait, orChange: changeSignal)
            } else {
                pressed = try terminal.readKey(timeoutMilliseconds: wait)
            }
            guard let key = pressed, let live = snap else { continue }
            // Keys act on what the screen shows: in a replay, the replayed snapshot.
            let current = replay?.frame ?? live
            changed = true
            if key == .resize { fullRepaint = true }
            for action in KeyHandler.handle(key: key, state: state, snapshot: current, now: t) {
                state.apply(action, snapshot: current)
                switch action {
                case .quit: return 0
                case .redraw: fullRepaint = true
                case .nextTheme:
                    nextTheme()
                    terminal.themeChanged(theme)
                    fullRepaint = true
                case .control(let command): send(command, name: action.name)
                case .exportEvents: export(current)
                case .startReplay: startReplay(at: t)
                case .endReplay: endReplay()
                case .replay(let change): changeReplay(change)
                default: break
                }
            }
            // A source that answers at once shows its answer in the very next frame.
            collectAnswers()
        }
    }

    /// Whether a frame would show something new. A frame that differs from the last one only in
    /// its clocks (the header's time, "4.2s ago") is drawn once a second, not ten times: an idle
    /// dashboard costs almost nothing. A master-down countdown with adverts missing (a failover
    /// on its way) moves at the full rate.
    func frameDue(_ frame: ShownFrame, at t: Int64) -> Bool {
        guard let shown else { return true }
        if frame != shown { return true }
        if frame.countingDown { return true }
        return t - shown.drawnAt >= ShownFrame.clockOnlyInterval
    }

    /// `R`: the last change of master from the kept history, at 0.25x.
    func startReplay(at t: Int64) {
        guard let r = history.replay(), let live = history.last else {
            state.status = "nothing to replay yet"
            state.statusIsError = false
            return
        }
        replay = r
        replayClock = t
        state.replay = r.status(wallClock: wallClock(), live: live)
        state.status =
            "replay of \(r.what) from \(r.frames.count) kept frames (\(history.count) kept, \(history.dropped) dropped)"
        state.statusIsError = false
    }

    func endReplay() {
        replay = nil
        replayClock = nil
        state.replay = nil
        state.status = "live"
        state.statusIsError = false
    }

    func changeReplay(_ change: ReplayChange) {
        guard var r = replay else { return }
        switch change {
        case .speed(let v): r.speed = v
        case .togglePause: r.paused.toggle()
        case .seek(let d): r.seek(to: r.position + d)
        case .restart: r.seek(to: r.start)
        }
        replay = r
        if let live = history.last { state.replay = r.status(wallClock: wallClock(), live: live) }
    }

    /// The time of day for the replay banner (`06:21:03`).
    func wallClock() -> String { Self.clockFormat.string(from: Date()) }

    static let clockFormat: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "HH:mm:ss"
        return f
    }()

    /// Submits a command; it shows as pending until its answer comes.
    func send(_ command: ControlCommand, name: String) {
        let id = nextCommandID
        nextCommandID += 1
        inFlight.append((id, name))
        state.pending = inFlight.map(\.name)
        let mailbox = self.mailbox
        source.submit(command, by: options.actor) { mailbox.post(id, $0) }
    }

    /// Takes the answers that came: each one's result replaces the status line. True when any came.
    @discardableResult
    func collectAnswers() -> Bool {
        let answers = mailbox.take()
        guard !answers.isEmpty else { return false }
        for (id, result) in answers {
            guard let i = inFlight.firstIndex(where: { $0.id == id }) else { continue }
            let name = inFlight.remove(at: i).name
            switch result {
            case .success(let reply):
                state.status = reply.isEmpty ? name : reply
                state.statusIsError = false
            case .failure(let error):
                state.status = "\(name): \(error)"
                state.statusIsError = true
            }
        }
        state.pending = inFlight.map(\.name)
        return true
    }

    func keepScrollInBounds(_ snap: ClusterSnapshot, _ size: (width: Int, height: Int)) {
        guard state.showHelp || state.detail != nil else { return }
        let limits = DashboardRenderer.scrollLimits(
            snapshot: snap, state: state, width: size.width, height: size.height)
        state.helpScroll = min(state.helpScroll, limits.help)
        state.detailScroll = min(state.detailScroll, limits.detail)
    }

    /// `e`: the events panel's history, oldest first, one JSON line each, in a file named by the
    /// time; and the whole kept history as a session file beside it, for `hadeck replay`.
    func export(_ snap: ClusterSnapshot) {
        let stamp = DateFormatter()
        stamp.locale = Locale(identifier: "en_US_POSIX")
        stamp.dateFormat = "yyyyMMdd-HHmmss"
        let time = stamp.string(from: Date())
        let dir = options.exportDirectory
        let name = Self.freeName("hadeck-events-\(time)", ".jsonl", in: dir)
        let text = snap.events.reversed().map { $0.jsonLine + "\n" }.joined()
        do {
            try text.write(toFile: (dir as NSString).appendingPathComponent(name), atomically: true, encoding: .utf8)
        } catch {
            state.status = "cannot save the events to \(name): \(error.localizedDescription)"
            state.statusIsError = true
            return
        }
        let session = Self.freeName("hadeck-session-\(time)", ".session", in: dir)
        do {
            guard let whole = try history.sessionText(writer: options.sessionWriter) else {
                state.status = "saved \(snap.events.count) events to \(name) (no history kept yet for a session)"
                state.statusIsError = false
                return
            }
            try whole.write(
                toFile: (dir as NSString).appendingPathComponent(session), atomically: true, encoding: .utf8)
            let span = (history.last?.time ?? .zero) - (history.first?.time ?? .zero)
            state.status =
                "saved \(session) (hadeck replay \(session): \(history.count) frames, \(fixed(span.seconds, 1))s) "
                + "and \(snap.events.count) events to \(name)"
            state.statusIsError = false
        } catch {
            state.status = "saved \(snap.events.count) events to \(name); cannot save \(session): \(error)"
            state.statusIsError = true
        }
    }

    /// `BASE.EXT` in `dir`, or `BASE-2.EXT`, `BASE-3.EXT`... when it exists.
    static func freeName(_ base: String, _ ext: String, in dir: String) -> String {
        var name = base + ext
        var n = 2
        while FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(name)) {
            name = "\(base)-\(n)\(ext)"
            n += 1
        }
        return name
    }

    func draw(_ snap: ClusterSnapshot, terminal: TerminalBackend, full: Bool) throws {
        let size = terminal.size
        let frame = DashboardRenderer.render(
            snapshot: snap, state: state, width: size.width, height: size.height, theme: theme)
        if full || previous == nil || previous!.width != frame.width || previous!.height != frame.height {
            try terminal.paint(frame.allRuns, clear: true)
        } else {
            let runs = frame.diff(from: previous!)
            if !runs.isEmpty { try terminal.paint(runs, clear: false) }
        }
        previous = frame
    }

    func nextTheme() {
        if noColor {
            state.status = "NO_COLOR is set: staying mono"
            state.statusIsError = false
            return
        }
        let names = Theme.builtinNames
        let i = names.firstIndex(of: theme.name).map { ($0 + 1) % names.count } ?? 0
        theme = Theme.builtin(names[i]) ?? .dark
        state.themeName = theme.name
        state.status = "theme \(theme.name)"
        state.statusIsError = false
    }
}

/// What a frame shows, but for the clocks: equal values draw the same screen save for the time.
struct ShownFrame: Equatable {
    static let clockOnlyInterval: Int64 = 1_000_000

    var state: DashboardState
    var width: Int
    var height: Int
    var hosts: [HostSnapshot]
    var arp: ARPSnapshot
    var servers: [ServerRow]
    var newestRequest: RequestRecord?
    var requestCount: Int
    var newestEvent: ClusterEvent?
    var eventCount: Int
    var traffic: TrafficSnapshot
    var requestsPerSecond: Double
    var caption: String?
    var paused: Bool
    var timeScale: Double
    var source: SourceCapabilities
    var feeds: [FeedStatus]
    var scenario: ScenarioStatus?
    /// A BACKUP's master-down timer running with its master's adverts missing.
    var countingDown: Bool
    /// Not compared: when the frame was drawn.
    var drawnAt: Int64 = 0

    init(_ s: ClusterSnapshot, _ state: DashboardState, _ size: (width: Int, height: Int)) {
        self.state = state
        width = size.width
        height = size.height
        hosts = s.hosts
        arp = s.arp
        servers = s.servers
        newestRequest = s.requests.first
        requestCount = s.requests.count
        newestEvent = s.events.first
        eventCount = s.events.count
        traffic = s.traffic
        requestsPerSecond = s.requestsPerSecond
        caption = s.caption
        paused = s.paused
        timeScale = s.timeScale
        source = s.source
        feeds = s.feeds
        scenario = s.scenario
        countingDown = Self.countingDown(s)
    }

    /// A BACKUP's master-down timer running with its master's adverts missing: the timer is 3 advert
    /// intervals and a skew; more than one interval gone means adverts stopped.
    static func countingDown(_ s: ClusterSnapshot) -> Bool {
        s.hosts.contains { h in
            guard h.vrrpState == .backup, let deadline = h.masterDownDeadline, let interval = h.masterDownInterval
            else { return false }
            let left = deadline - s.time
            return left.micros > 0 && left.micros < interval.micros * 2 / 3
        }
    }

    static func == (a: ShownFrame, b: ShownFrame) -> Bool {
        a.state == b.state && a.width == b.width && a.height == b.height && a.hosts == b.hosts && a.arp == b.arp
            && a.newestRequest == b.newestRequest && a.requestCount == b.requestCount
            && a.newestEvent == b.newestEvent && a.eventCount == b.eventCount && a.traffic == b.traffic
            && a.requestsPerSecond == b.requestsPerSecond && a.caption == b.caption && a.paused == b.paused
            && a.timeScale == b.timeScale && a.source == b.source && a.feeds == b.feeds && a.scenario == b.scenario
            && a.countingDown == b.countingDown && a.servers == b.servers
    }
}
