import BalancerCore
import ClusterModel
import HadeckBase
import Testing

@testable import Dashboard

@Suite struct KeyTests {
    static func state(_ focus: Panel, _ sel: Int?, _ view: BackendsView = .merged, balancer: Int = 0) -> DashboardState
    {
        var st = DashboardState()
        st.focus = focus
        st.backendsView = view
        st.balancerIndex = balancer
        if let sel { st.apply(.select(focus, sel), snapshot: Fixtures.allUp()) }
        return st
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var key: Key
        var focus: Panel
        var selection: Int?
        var view: BackendsView
        var balancer: Int
        var expected: ClusterCommand?
        var testDescription: String { "\(key) on \(focus) sel \(selection.map(String.init) ?? "-") \(view)" }
    }

    static let s = Fixtures.allUp()

    static let cases: [Case] = [
        // Backend row, merged view: every balancer.
        Case(
            key: .char("d"), focus: .backends, selection: 0, view: .merged, balancer: 0,
            expected: .setServerState(server: "webA", balancer: nil, .drain)),
        Case(
            key: .char("m"), focus: .backends, selection: 1, view: .merged, balancer: 0,
            expected: .setServerState(server: "webB", balancer: nil, .maint)),
        Case(key: .char("r"), focus: .backends, selection: 0, view: .merged, balancer: 0, expected: .restore("webA")),
        Case(
            key: .char("k"), focus: .backends, selection: 0, view: .merged, balancer: 0,
            expected: .kill(.backend("webA"))),
        Case(
            key: .char("+"), focus: .backends, selection: 0, view: .merged, balancer: 0,
            expected: .setWeight(server: "webA", balancer: nil, .relative(1))),
        Case(
            key: .char("-"), focus: .backends, selection: 0, view: .merged, balancer: 0,
            expected: .setWeight(server: "webA", balancer: nil, .relative(-1))),
        Case(
            key: .function(1), focus: .backends, selection: 0, view: .perBalancer, balancer: 1,
            expected: .setServerState(server: "webA", balancer: nil, .ready)),
        Case(
            key: .function(2), focus: .backends, selection: 0, view: .perBalancer, balancer: 1,
            expected: .setServerState(server: "webA", balancer: nil, .maint)),
        Case(
            key: .function(4), focus: .backends, selection: 0, view: .merged, balancer: 0,
            expected: .setWeight(server: "webA", balancer: nil, .reset)),
        Case(
            key: .function(5), focus: .backends, selection: 0, view: .merged, balancer: 0,
            expected: .setWeight(server: "webA", balancer: nil, .relative(-10))),
        Case(
            key: .function(6), focus: .backends, selection: 0, view: .merged, balancer: 0,
            expected: .setWeight(server: "webA", balancer: nil, .relative(-1))),
        Case(
            key: .function(7), focus: .backends, selection: 0, view: .merged, balancer: 0,
            expected: .setWeight(server: "webA", balancer: nil, .relative(1))),
        Case(
            key: .function(8), focus: .backends, selection: 0, view: .merged, balancer: 0,
            expected: .setWeight(server: "webA", balancer: nil, .relative(10))),
        // Backend row, per-balancer view: that balancer.
        Case(
            key: .char("d"), focus: .backends, selection: 1, view: .perBalancer, balancer: 1,
            expected: .setServerState(server: "webB", balancer: "lb2", .drain)),
        Case(
            key: .char("m"), focus: .backends, selection: 0, view: .perBalancer, balancer: 0,
            expected: .setServerState(server: "webA", balancer: "lb1", .maint)),
        Case(
            key: .function(8), focus: .backends, selection: 0, view: .perBalancer, balancer: 0,
            expected: .setWeight(server: "webA", balancer: "lb1", .relative(10))),
        Case(
            key: .char("r"), focus: .backends, selection: 0, view: .perBalancer, balancer: 1, expected: .restore("webA")
        ),
        // Balancer rows.
        Case(
            key: .char("k"), focus: .balancers, selection: 0, view: .merged, balancer: 0,
            expected: .kill(.process(host: "lb1", .haproxy))),
        Case(
            key: .char("K"), focus: .balancers, selection: 1, view: .merged, balancer: 0,
            expected: .kill(.process(host: "lb2", .keepalived))),
        Case(
            key: .char("s"), focus: .balancers, selection: 0, view: .merged, balancer: 0,
            expected: .stop(.process(host: "lb1", .keepalived))),
        Case(
            key: .char("p"), focus: .balancers, selection: 1, view: .merged, balancer: 0,
            expected: .powerOff(host: "lb2")),
        Case(key: .char("r"), focus: .balancers, selection: 0, view: .merged, balancer: 0, expected: .restore("lb1")),
        // Without a selection nothing is sent.
        // The balancers and backends panels start on their first row: the first key acts at once.
        Case(
            key: .char("d"), focus: .backends, selection: nil, view: .merged, balancer: 0,
            expected: .setServerState(server: "webA", balancer: nil, .drain)),
        Case(
            key: .char("k"), focus: .balancers, selection: nil, view: .merged, balancer: 0,
            expected: .kill(.process(host: "lb1", .haproxy))),
        Case(key: .char("k"), focus: .requests, selection: 0, view: .merged, balancer: 0, expected: nil),
        Case(key: .char("d"), focus: .events, selection: 0, view: .merged, balancer: 0, expected: nil),
        // A row past the end is no row: nothing is selected, so the panel's first row acts.
        Case(
            key: .char("d"), focus: .backends, selection: 9, view: .merged, balancer: 0,
            expected: .setServerState(server: "webA", balancer: nil, .drain)),
        // Anywhere.
        Case(
            key: .char("P"), focus: .events, selection: nil, view: .merged, balancer: 0,
            expected: .partition("lb1", "lb2")),
        Case(
            key: .char("t"), focus: .requests, selection: nil, view: .merged, balancer: 0,
            expected: .traffic(enabled: false, rate: nil, clients: nil)),
        Case(
            key: .char("["), focus: .backends, selection: nil, view: .merged, balancer: 0,
            expected: .traffic(enabled: nil, rate: 2.5, clients: nil)),
        Case(
            key: .char("]"), focus: .backends, selection: nil, view: .merged, balancer: 0,
            expected: .traffic(enabled: nil, rate: 10, clients: nil)),
    ]

    @Test(arguments: cases) func keyMapsToCommand(_ c: Case) {
        let st = Self.state(c.focus, c.selection, c.view, balancer: c.balancer)
        let actions = KeyHandler.handle(key: c.key, state: st, snapshot: Self.s)
        let commands = actions.compactMap { a -> ClusterCommand? in
            if case .control(.cluster(let cmd)) = a { return cmd }
            return nil
        }
        if let e = c.expected {
            #expect(commands == [e])
        } else {
            #expect(commands.isEmpty)
            #expect(actions.contains { if case .message = $0 { true } else { false } })
        }
    }

    @Test func powerOnWhenOff() {
        let s = Fixtures.noMaster()
        let a = KeyHandler.handle(key: .char("p"), state: Self.state(.balancers, 0), snapshot: s)
        #expect(a == [.control(.cluster(.powerOn(host: "lb1")))])
    }

    @Test func partitionHealsWhenPartitioned() {
        let a = KeyHandler.handle(key: .char("P"), state: DashboardState(), snapshot: Fixtures.splitBrain())
        #expect(a == [.control(.cluster(.heal(nil, nil)))])
    }

    @Test func trafficRateHasAFloor() {
        var s = Fixtures.allUp()
        s.traffic.rate = 0.5
        #expect(
            KeyHandler.handle(key: .char("["), state: DashboardState(), snapshot: s)
                == [.control(.cluster(.traffic(enabled: nil, rate: 0.5, clients: nil)))])
    }

    @Test func timeScaleAndPause() {
        var s = Fixtures.allUp()
        let st = DashboardState()
        #expect(KeyHandler.handle(key: .char("<"), state: st, snapshot: s) == [.control(.setTimeScale(0.5))])
        #expect(KeyHandler.handle(key: .char(">"), state: st, snapshot: s) == [.control(.setTimeScale(2))])
        s.timeScale = 1.0 / 16
        #expect(KeyHandler.handle(key: .char("<"), state: st, snapshot: s) == [.control(.setTimeScale(1.0 / 16))])
        s.timeScale = 16
        #expect(KeyHandler.handle(key: .char(">"), state: st, snapshot: s) == [.control(.setTimeScale(16))])
        #expect(KeyHandler.handle(key: .char(" "), state: st, snapshot: s) == [.control(.setPaused(true))])
        s.paused = true
        #expect(KeyHandler.handle(key: .char(" "), state: st, snapshot: s) == [.control(.setPaused(false))])
    }

    @Test func uiActions() {
        let s = Fixtures.allUp()
        let st = DashboardState()
        #expect(KeyHandler.handle(key: .char("q"), state: st, snapshot: s) == [.quit])
        #expect(KeyHandler.handle(key: .char("T"), state: st, snapshot: s) == [.nextTheme])
        #expect(KeyHandler.handle(key: .char("?"), state: st, snapshot: s) == [.toggleHelp])
        #expect(KeyHandler.handle(key: .char("v"), state: st, snapshot: s) == [.toggleBackendsView])
        #expect(KeyHandler.handle(key: .char("b"), state: st, snapshot: s) == [.nextBalancer])
        #expect(KeyHandler.handle(key: .tab, state: st, snapshot: s) == [.focus(.requests)])
        #expect(KeyHandler.handle(key: .backTab, state: st, snapshot: s) == [.focus(.balancers)])
        #expect(KeyHandler.handle(key: .resize, state: st, snapshot: s) == [.redraw])
        #expect(KeyHandler.handle(key: .char("/"), state: st, snapshot: s) == [.editFilter("")])
        // Help open: any key closes it, q still quits.
        var help = st
        help.showHelp = true
        #expect(KeyHandler.handle(key: .char("d"), state: help, snapshot: s) == [.toggleHelp])
        #expect(KeyHandler.handle(key: .char("q"), state: help, snapshot: s) == [.quit])
        // Names for the status line.
        #expect(
            DashboardAction.control(.cluster(.setServerState(server: "webA", balancer: "lb1", .drain))).name
                == "drain webA on lb1")
        #expect(DashboardAction.control(.setTimeScale(0.25)).name == "time scale x0.25")
    }

    @Test func selectionMoves() {
        let s = Fixtures.allUp()
        var st = DashboardState()
        st.focus = .requests
        #expect(KeyHandler.handle(key: .down, state: st, snapshot: s) == [.select(.requests, 0)])
        st.apply(.select(.requests, 5), snapshot: s)
        #expect(KeyHandler.handle(key: .up, state: st, snapshot: s) == [.select(.requests, 4)])
        #expect(KeyHandler.handle(key: .pageDown, state: st, snapshot: s) == [.select(.requests, 15)])
        #expect(KeyHandler.handle(key: .pageUp, state: st, snapshot: s) == [.select(.requests, 0)])
        #expect(KeyHandler.handle(key: .home, state: st, snapshot: s) == [.select(.requests, 0)])
        #expect(KeyHandler.handle(key: .end, state: st, snapshot: s) == [.select(.requests, 29)])
    }

    @Test func filterInput() {
        let s = Fixtures.allUp()
        var st = DashboardState()
        for key in [
            Key.char("/"), .char("c"), .char("x"), .backspace, .char("l"), .char("i"), .char("e"),
            .char("n"), .char("t"), .char("2"),
        ] {
            for a in KeyHandler.handle(key: key, state: st, snapshot: s) { st.apply(a, snapshot: s) }
        }
        #expect(st.filterInput == "client2")
        // q while typing is a letter, not quit.
        #expect(KeyHandler.handle(key: .char("q"), state: st, snapshot: s) == [.editFilter("client2q")])
        for a in KeyHandler.handle(key: .enter, state: st, snapshot: s) { st.apply(a, snapshot: s) }
        #expect(st.filter == "client2" && st.filterInput == nil)
        #expect(DashboardModel.requests(s, st).allSatisfy { $0.client == "client2" })
        #expect(DashboardModel.requests(s, st).count == 10)
        // Filter by server too; Esc clears.
        st.filter = "WEBA"
        #expect(DashboardModel.requests(s, st).allSatisfy { $0.server == "webA" })
        for a in KeyHandler.handle(key: .escape, state: st, snapshot: s) { st.apply(a, snapshot: s) }
        #expect(st.filter.isEmpty)
        st.filterInput = "zz"
        for a in KeyHandler.handle(key: .escape, state: st, snapshot: s) { st.apply(a, snapshot: s) }
        #expect(st.filterInput == nil && st.filter.isEmpty)
    }

    @Test func focusSelectsFirstRowOfCommandPanels() {
        let s = Fixtures.allUp()
        var st = DashboardState()
        st.apply(.focus(.balancers), snapshot: s)
        #expect(st.selection[.balancers] == Selection(id: .balancer("lb1"), index: 0))
        st.apply(.nextBalancer, snapshot: s)
        #expect(st.backendsView == .perBalancer && st.balancerIndex == 1)
    }
}
