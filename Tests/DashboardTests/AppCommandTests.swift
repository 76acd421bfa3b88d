import BalancerCore
import ClusterModel
import Dashboard
import Foundation
import HadeckBase
import Synchronization
import Testing

/// A source whose commands take time: `submit` returns at once and the answer comes when the test
/// says so (as the live cluster's does when its sockets follow).
final class SlowSource: ClusterSource {
    var snap = Fixtures.allUp()
    let waiting = Mutex<[@Sendable () -> Void]>([])

    func advance(wallElapsed: TimeSpan) {}
    func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot { snap }
    func perform(_ command: ControlCommand, by actor: String) throws -> String {
        Issue.record("the app waited for a command")
        return ""
    }
    func submit(
        _ command: ControlCommand, by actor: String, completion: @escaping @Sendable (Result<String, any Error>) -> Void
    ) {
        let text = DashboardAction.describe(command)
        waiting.withLock { $0.append { completion(.success("done: \(text)")) } }
    }

    func answerAll() {
        let all = waiting.withLock { list in
            defer { list.removeAll() }
            return list
        }
        for answer in all { answer() }
    }
}

/// A terminal that runs a script step per frame: a key, or something to do between frames.
final class ScriptedTerminal: TerminalBackend {
    enum Step {
        case key(Key)
        case idle
        case run(() -> Void)
    }

    var steps: [Step]
    var size: (width: Int, height: Int) = (80, 24)
    var screen = CellBuffer(width: 80, height: 24)
    /// The screen after each frame.
    var frames: [CellBuffer] = []

    init(_ steps: [Step]) { self.steps = steps }

    func readKey(timeoutMilliseconds: Int) throws -> Key? {
        frames.append(screen)
        guard !steps.isEmpty else { return .char("q") }
        switch steps.removeFirst() {
        case .key(let k): return k
        case .idle: return nil
        case .run(let body):
            body()
            return nil
        }
    }

    func paint(_ runs: [CellRun], clear: Bool) throws {
        if clear { screen = CellBuffer(width: size.width, height: size.height) }
        for r in runs { for (i, c) in r.cells.enumerated() { screen[r.x + i, r.y] = c } }
    }

    func restore() {}
}

@Suite struct AppCommandTests {
    func app(_ source: ClusterSource, exportTo dir: String = ".") -> DashboardApp {
        let ticks = Mutex<Int64>(0)
        return DashboardApp(source: source, options: DashboardOptions(exportDirectory: dir)) {
            ticks.withLock {
                $0 += 100_000
                return $0
            }
        }
    }

    @Test func aSlowCommandShowsAsPendingAndTheScreenGoesOn() throws {
        let source = SlowSource()
        let term = ScriptedTerminal([
            .key(.backTab), .key(.char("k")), .idle, .idle,
            .run { source.snap.requests = Fixtures.requests(count: 30, at: 50) },
            .run { source.answerAll() }, .idle,
        ])
        _ = try app(source).run(terminal: term)
        let status = term.frames.map { $0.textLines[22] }
        let frameAtPending = try #require(status.firstIndex { $0.contains("⧗ kill lb1/haproxy") })
        // The frames go on while it is pending: the newer requests show before the answer.
        let later = term.frames[(frameAtPending + 1)...]
        #expect(later.contains { $0.text.contains("50.00") && $0.textLines[22].contains("⧗") })
        #expect(status.last?.contains("done: kill lb1/haproxy") == true)
        #expect(!(status.last?.contains("⧗") ?? true))
    }

    @Test func readOnlySourcesSayCommandKeysAreOff() throws {
        let source = FakeSource()
        source.snap.source = SourceCapabilities(name: "attached", canPause: false, acceptsCommands: false)
        let term = ScriptedTerminal([.key(.char("d")), .idle])
        _ = try app(source).run(terminal: term)
        #expect(source.performed.isEmpty)
        #expect(term.frames.last!.textLines[22].contains("read-only: the attached cluster takes no commands"))
        #expect(term.frames.last!.textLines[0].contains("READ-ONLY"))
    }

    @Test func destructiveCommandsOnARealClusterNeedTheKeyTwiceWithinThreeSeconds() throws {
        let source = FakeSource()
        source.snap.source = SourceCapabilities(name: "attached", canPause: false, confirmsDestructive: true)
        // The app's clock moves 100 ms per reading: 40 idle frames are well over 3 s.
        let term = ScriptedTerminal(
            [.key(.backTab), .key(.char("k"))] + [.idle] + [.key(.char("k")), .idle]
                + [.key(.char("k"))] + Array(repeating: .idle, count: 40) + [.key(.char("k")), .idle]
                + [.key(.char("d")), .idle])
        _ = try app(source).run(terminal: term)
        let status = term.frames.map { $0.textLines[22] }
        #expect(status.contains { $0.contains("press k again to kill -9 lb1's haproxy (real cluster)") })
        #expect(status.contains { $0.contains("not confirmed: kill -9 lb1's haproxy not sent") })
        // Once within the window; the late second press only asked again.
        #expect(source.performed == [.cluster(.kill(.process(host: "lb1", .haproxy)))])
        // Drain is not destructive: sent at once (on the backends panel after Tab).
        let drain = FakeSource()
        drain.snap.source = source.snap.source
        _ = try app(drain).run(terminal: ScriptedTerminal([.key(.char("d")), .idle]))
        #expect(drain.performed == [.cluster(.setServerState(server: "webA", balancer: nil, .drain))])
    }

    @Test func eWritesTheEventsAsJSONLinesAndNamesTheFile() throws {
        let dir = NSTemporaryDirectory() + "hadeck-export-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = FakeSource()
        let term = ScriptedTerminal([.key(.char("e")), .idle, .key(.char("e")), .idle])
        _ = try app(source, exportTo: dir).run(terminal: term)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        // Each press: the events and a session, under names of their own.
        #expect(files.filter { $0.hasSuffix(".jsonl") }.count == 2, "\(files)")
        #expect(files.filter { $0.hasSuffix(".session") }.count == 2, "\(files)")
        let name = try #require(files.first)
        #expect(name.hasPrefix("hadeck-events-") && name.hasSuffix(".jsonl"))
        let session = try #require(files.first { $0.hasSuffix(".session") })
        let status = term.frames.map { $0.textLines[22] }
        // At 80 columns the result bar shows the session file it wrote.
        #expect(status.contains { $0.contains("saved \(session)") }, "\(status)")
        let lines = try String(contentsOfFile: dir + "/" + name, encoding: .utf8).split(separator: "\n")
        // Oldest first, each the event's own JSON line.
        #expect(lines == source.snap.events.reversed().map { Substring($0.jsonLine) })
    }
}

@Suite struct FrameSkipTests {
    /// The app's clock moves 100 ms per reading, one reading per frame.
    func run(_ source: FakeSource, frames: Int, change: ((Int) -> Void)? = nil) throws -> DashboardApp {
        let ticks = Mutex<Int64>(0)
        let app = DashboardApp(source: source, options: DashboardOptions()) {
            ticks.withLock {
                $0 += 100_000
                return $0
            }
        }
        var steps: [ScriptedTerminal.Step] = []
        for i in 0..<frames { steps.append(change.map { c in .run { c(i) } } ?? .idle) }
        _ = try app.run(terminal: ScriptedTerminal(steps))
        return app
    }

    @Test func aScreenThatOnlyItsClocksChangeIsDrawnOnceASecond() throws {
        let source = FakeSource()
        // Idle: lb1's advert every second restarts lb2's timer; nothing else moves but the clock.
        let app = try run(source, frames: 50) { i in
            source.snap.time.micros += 100_000
            if i % 10 == 0 { source.snap.hosts[1].masterDownDeadline = source.snap.time + .fractionalSeconds(3.609375) }
        }
        // 5 s of frames: the first, then one a second (the advert's).
        #expect(app.framesDrawn <= 8, "\(app.framesDrawn) drawn")
        #expect(app.framesSkipped >= 42)
    }

    @Test func anyChangeIsDrawnAtOnce() throws {
        let source = FakeSource()
        let app = try run(source, frames: 20) { i in
            source.snap.time.micros += 100_000
            if i % 2 == 0 { source.snap.hosts[0].advertsSent? += 1 }
        }
        #expect(app.framesDrawn >= 10)
    }

    @Test func aCountdownWithAdvertsMissingMovesAtTheFullRate() throws {
        let source = FakeSource()
        // lb2's timer has 1 s of its 3.6 s left: lb1's adverts stopped.
        source.snap.hosts[1].masterDownDeadline = source.snap.time + .seconds(1)
        let app = try run(source, frames: 8) { _ in source.snap.time.micros += 100_000 }
        #expect(app.framesSkipped == 0)
    }
}

/// A source that says when something happened: the dashboard asks it for snapshots only then
/// (and once a second for its clocks and counters).
final class SequencedSource: ClusterSource {
    var snap = Fixtures.allUp()
    var sequence = 0
    var snapshots = 0

    init() { snap.hosts[1].masterDownDeadline = nil }

    var changeSequence: Int? { sequence }
    func advance(wallElapsed: TimeSpan) {}
    func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot {
        snapshots += 1
        return snap
    }
    func perform(_ command: ControlCommand, by actor: String) throws -> String { "" }
}

@Suite struct SnapshotOnChangeTests {
    @Test func anIdleSourceIsAskedOnceASecondAndAtOnceAfterAnEvent() throws {
        let source = SequencedSource()
        let ticks = Mutex<Int64>(0)
        let app = DashboardApp(source: source, options: DashboardOptions()) {
            ticks.withLock {
                $0 += 100_000
                return $0
            }
        }
        let term = ScriptedTerminal(
            Array(repeating: .idle, count: 30) + [
                .run {
                    source.sequence += 1
                    source.snap.events.insert(
                        ClusterEvent(time: Fixtures.t(45), .say(text: "now"), why: "the test says so"), at: 0)
                }
            ] + [.idle, .idle])
        _ = try app.run(terminal: term)
        // 3 s idle: the first snapshot and about one a second; the event's at once.
        #expect(source.snapshots <= 6, "\(source.snapshots) snapshots")
        #expect(term.frames.last!.text.contains("\"now\""))
    }
}
