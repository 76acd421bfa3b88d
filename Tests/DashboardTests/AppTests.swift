import BalancerCore
import ClusterModel
import Dashboard
import HadeckBase
import Testing

final class FakeSource: ClusterSource {
    var snap = Fixtures.allUp()
    var performed: [ControlCommand] = []
    var advanced: [TimeSpan] = []
    var failWith: String?

    struct Failure: Error, CustomStringConvertible { var description: String }

    func advance(wallElapsed: TimeSpan) { advanced.append(wallElapsed) }
    func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot { snap }
    func perform(_ command: ControlCommand, by actor: String) throws -> String {
        if let failWith { throw Failure(description: failWith) }
        performed.append(command)
        return "ok: \(DashboardAction.describe(command))"
    }
}

final class FakeTerminal: TerminalBackend {
    var keys: [Key?]
    var size: (width: Int, height: Int)
    var painted: [(runs: [CellRun], clear: Bool)] = []
    var screen: CellBuffer
    var restored = 0
    var throwWhenKeysRunOut = false
    var signal: Int32?

    struct Broken: Error {}

    init(keys: [Key?], width: Int = 80, height: Int = 24) {
        self.keys = keys
        size = (width, height)
        screen = CellBuffer(width: width, height: height)
    }

    func readKey(timeoutMilliseconds: Int) throws -> Key? {
        if keys.isEmpty {
            if throwWhenKeysRunOut { throw Broken() }
            return .char("q")
        }
        let k = keys.removeFirst()
        if k == .resize { size = (120, 40) }
        return k
    }

    func paint(_ runs: [CellRun], clear: Bool) throws {
        painted.append((runs, clear))
        if clear || screen.width != size.width || screen.height != size.height {
            screen = CellBuffer(width: size.width, height: size.height)
        }
        for r in runs { for (i, c) in r.cells.enumerated() { screen[r.x + i, r.y] = c } }
    }

    func pendingSignal() -> Int32? { signal }
    func restore() { restored += 1 }
}

@Suite struct AppTests {
    func app(_ source: FakeSource, env: [String: String] = [:]) -> DashboardApp {
        var clock: Int64 = 0
        return DashboardApp(source: source, options: DashboardOptions(environment: env)) {
            clock += 100_000
            return clock
        }
    }

    @Test func keysLeadToPerformAndQuitReturnsZero() throws {
        let source = FakeSource()
        let term = FakeTerminal(keys: [.down, .char("d"), .char("t"), .char(">"), nil, .char("q")])
        let status = try app(source).run(terminal: term)
        #expect(status == 0)
        #expect(term.restored == 1)
        #expect(
            source.performed == [
                // Down from the first row (selected by default) selects webB.
                .cluster(.setServerState(server: "webB", balancer: nil, .drain)),
                .cluster(.traffic(enabled: false, rate: nil, clients: nil)),
                .setTimeScale(2),
            ])
        #expect(source.advanced.allSatisfy { $0 == .milliseconds(100) })
        #expect(term.screen.textLines.contains { $0.contains("ok: time scale x2") })
    }

    @Test func paintsOnlyChangesAfterTheFirstFrame() throws {
        let source = FakeSource()
        let term = FakeTerminal(keys: [nil, nil, .tab, .char("q")])
        _ = try app(source).run(terminal: term)
        #expect(term.painted.first?.clear == true)
        #expect(term.painted.first?.runs.count == 24)
        // Identical frames paint nothing; the Tab only repaints what moved.
        #expect(term.painted.count == 2)
        #expect(term.painted[1].clear == false)
        #expect(term.painted[1].runs.reduce(0) { $0 + $1.cells.count } < 200)
        let expected = DashboardRenderer.render(
            snapshot: source.snap,
            state: {
                var s = DashboardState()
                s.focus = .requests
                return s
            }(), width: 80,
            height: 24, theme: .dark)
        #expect(term.screen == expected)
    }

    @Test func resizeRepaintsAtOnce() throws {
        let term = FakeTerminal(keys: [.resize, .char("q")])
        _ = try app(FakeSource()).run(terminal: term)
        #expect(term.painted.last?.clear == true)
        #expect(term.screen.width == 120 && term.screen.height == 40)
    }

    @Test func performErrorsShowOnTheStatusLine() throws {
        let source = FakeSource()
        source.failWith = "haproxy on lb1 is already dead"
        let term = FakeTerminal(keys: [.char("P"), nil, .char("q")])
        #expect(try app(source).run(terminal: term) == 0)
        #expect(term.screen.textLines.contains { $0.contains("partition lb1 lb2: haproxy on lb1 is already dead") })
    }

    @Test func terminalIsRestoredWhenSomethingThrows() {
        let term = FakeTerminal(keys: [.down])
        term.throwWhenKeysRunOut = true
        #expect(throws: FakeTerminal.Broken.self) { try app(FakeSource()).run(terminal: term) }
        #expect(term.restored == 1)
    }

    @Test func signalEndsTheLoopCleanly() throws {
        let term = FakeTerminal(keys: [])
        term.signal = 15
        #expect(try app(FakeSource()).run(terminal: term) == 143)
        #expect(term.restored == 1)
    }

    @Test func themeCyclingAndNoColor() throws {
        let term = FakeTerminal(keys: [.char("T"), nil, .char("q")])
        let a = app(FakeSource())
        _ = try a.run(terminal: term)
        #expect(a.theme.name == "light")
        let mono = app(FakeSource(), env: ["NO_COLOR": "yes"])
        _ = try mono.run(terminal: FakeTerminal(keys: [.char("T"), .char("q")]))
        #expect(mono.theme.name == "mono")
    }

    @Test func helpOverlayOpensAndCloses() throws {
        let term = FakeTerminal(keys: [.char("?"), nil])
        term.throwWhenKeysRunOut = true
        let a = app(FakeSource())
        _ = try? a.run(terminal: term)
        #expect(term.screen.textLines.contains { $0.contains("hadeck keys") })
        #expect(a.state.showHelp)
    }
}
