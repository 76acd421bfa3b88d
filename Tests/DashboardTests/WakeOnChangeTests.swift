import BalancerCore
import ClusterModel
import HadeckBase
import Testing

@testable import Dashboard

/// A source that signals its changes lets the dashboard sleep until one comes (or a key, or the
/// next once-a-second frame) instead of looking ten times a second.
@Suite struct WakeOnChangeTests {
    final class SignallingSource: ClusterSource {
        let signal = ChangeSignal()
        var sequence = 0
        var snapshots = 0
        var snap: ClusterSnapshot = {
            var s = Fixtures.allUp()
            s.hosts[1].masterDownDeadline = nil  // no takeover counting down
            return s
        }()
        func advance(wallElapsed: TimeSpan) {}
        func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot {
            snapshots += 1
            return snap
        }
        func perform(_ command: ControlCommand, by actor: String) throws -> String { "ok" }
        /// False while a scenario would play: the source gives no signal then.
        var offersSignal = true
        var changeSequence: Int? { sequence }
        var changeSignal: ChangeSignal? { offersSignal ? signal : nil }
    }

    /// A terminal that can wait on the signal; each wait is recorded and passes the time asked.
    final class WaitingTerminal: TerminalBackend {
        var size: (width: Int, height: Int) = (80, 24)
        var waits: [(milliseconds: Int, onChange: Bool)] = []
        var clock: Int64 = 0
        /// Run at each wait, before it returns: what happens while the dashboard sleeps.
        var during: [(WaitingTerminal) -> Key?] = []
        var canWaitForChange: Bool { true }
        func readKey(timeoutMilliseconds: Int) throws -> Key? { try next(timeoutMilliseconds, onChange: false) }
        func readKey(timeoutMilliseconds: Int, orChange change: ChangeSignal) throws -> Key? {
            try next(timeoutMilliseconds, onChange: true)
        }
        private func next(_ ms: Int, onChange: Bool) throws -> Key? {
            waits.append((ms, onChange))
            guard !during.isEmpty else { return .char("q") }
            return during.removeFirst()(self)
        }
        func paint(_ runs: [CellRun], clear: Bool) throws {}
        func restore() {}
    }

    @Test func anIdleDashboardSleepsUntilItsNextClockFrameAndAChangeWakesIt() throws {
        let source = SignallingSource()
        #expect(source.signal != nil)
        let term = WaitingTerminal()
        term.during = [
            // Nothing happens for a whole wait: the time it asked for passes.
            { t in
                t.clock += Int64(t.waits.last!.milliseconds) * 1000
                return nil
            },
            // 200 ms into the next wait, an event: the source counts it and raises the signal.
            { t in
                t.clock += 200_000
                source.sequence += 1
                source.signal?.raise()
                return nil
            },
        ]
        let app = DashboardApp(source: source, options: DashboardOptions()) { term.clock }
        #expect(try app.run(terminal: term) == 0)
        #expect(term.waits.count == 3 && term.waits.allSatisfy(\.onChange), "\(term.waits)")
        // Each wait lasts until the next once-a-second frame, not a 100 ms tick.
        #expect(term.waits.first.map { $0.milliseconds > 900 && $0.milliseconds <= 1001 } == true, "\(term.waits)")
        // First frame, the clock frame a second later, and the change at once.
        #expect(source.snapshots == 3, "\(source.snapshots) snapshots")
        // The dashboard lowered the signal when it looked.
        #expect(source.signal?.isRaised == false)
        #expect(term.waits[2].milliseconds > 700, "after the change it sleeps until the next clock frame")
    }

    /// A master-down countdown with adverts missing moves on every tick: no long sleep then.
    @Test func whileATakeoverCountsDownItTicks() throws {
        let source = SignallingSource()
        source.snap = Fixtures.allUp()
        #expect(ShownFrame.countingDown(source.snap))
        let term = WaitingTerminal()
        term.during = [{ _ in nil }]
        _ = try DashboardApp(source: source, options: DashboardOptions()) { term.clock }.run(terminal: term)
        #expect(term.waits.count == 2 && term.waits.allSatisfy { !$0.onChange && $0.milliseconds == 100 })
    }

    /// A live scenario's source offers its signal only once the scenario has ended: from then on the
    /// loop sleeps.
    @Test func aSignalOfferedLaterIsUsedFromThen() throws {
        let source = SignallingSource()
        source.offersSignal = false
        let term = WaitingTerminal()
        term.during = [
            { _ in nil },
            { _ in
                source.offersSignal = true
                return nil
            },
        ]
        _ = try DashboardApp(source: source, options: DashboardOptions()) { term.clock }.run(terminal: term)
        #expect(term.waits.map(\.onChange) == [false, false, true], "\(term.waits)")
    }

    @Test func withoutASignalTheLoopTicksAsBefore() throws {
        final class Plain: ClusterSource {
            func advance(wallElapsed: TimeSpan) {}
            func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot { Fixtures.allUp() }
            func perform(_ command: ControlCommand, by actor: String) throws -> String { "ok" }
        }
        let term = WaitingTerminal()
        term.during = [{ _ in nil }, { _ in nil }]
        _ = try DashboardApp(source: Plain(), options: DashboardOptions()) { term.clock }.run(terminal: term)
        #expect(term.waits.count == 3 && term.waits.allSatisfy { !$0.onChange && $0.milliseconds == 100 })
    }
}
