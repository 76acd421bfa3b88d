import BalancerCore
import ClusterModel
import Dashboard
import HadeckBase
import Testing

/// The selection follows its row (a server, a balancer, a request, an event), not a row number.
@Suite struct SelectionTests {
    func press(_ keys: [Key], _ st: inout DashboardState, _ s: ClusterSnapshot) {
        for key in keys { for a in KeyHandler.handle(key: key, state: st, snapshot: s) { st.apply(a, snapshot: s) } }
    }

    @Test func aSelectedRequestStaysSelectedAsNewOnesArrive() {
        var s = Fixtures.allUp()
        var st = DashboardState()
        st.focus = .requests
        press([.down, .down, .down], &st, s)
        let chosen = s.requests[2]
        #expect(DashboardModel.selectedIndex(.requests, s, st) == 2)
        // Five newer requests come in on top.
        s.requests = Fixtures.requests(count: 5, at: 43.5) + s.requests
        #expect(DashboardModel.selectedIndex(.requests, s, st) == 7)
        let lines = render(s, st).textLines
        let marked = lines.first { $0.hasPrefix("▸") && $0.contains(fixedTime(chosen.time)) }
        #expect(marked != nil, "the selection mark is not on the request at \(fixedTime(chosen.time))")
        // The next key moves from where the request is now.
        press([.down], &st, s)
        #expect(DashboardModel.selectedIndex(.requests, s, st) == 8)
    }

    @Test func aSelectedServerStaysSelectedWhenRowsReorder() {
        var s = Fixtures.allUp()
        var st = DashboardState()
        press([.down], &st, s)
        #expect(st.selection[.backends]?.id == .server(backend: "web", server: "webB"))
        // The source lists webB first now.
        s.servers = s.servers.filter { $0.server == "webB" } + s.servers.filter { $0.server == "webA" }
        #expect(DashboardModel.selectedIndex(.backends, s, st) == 0)
        let drain = KeyHandler.handle(key: .char("d"), state: st, snapshot: s)
        #expect(drain == [.control(.cluster(.setServerState(server: "webB", balancer: nil, .drain)))])
        // Merged to per-balancer view and back: still webB.
        press([.char("v")], &st, s)
        #expect(DashboardModel.backendRows(s, st)[DashboardModel.selectedIndex(.backends, s, st)!].row.server == "webB")
    }

    @Test func aSelectedBalancerAndEventFollowTheirRows() {
        var s = Fixtures.allUp()
        var st = DashboardState()
        press([.backTab, .down], &st, s)
        #expect(st.focus == .balancers)
        s.hosts.reverse()
        #expect(DashboardModel.selectedIndex(.balancers, s, st) == 0)
        #expect(
            KeyHandler.handle(key: .char("k"), state: st, snapshot: s)
                == [.control(.cluster(.kill(.process(host: "lb2", .haproxy))))])
        // Events: one newer event on top moves the selected one down.
        st.focus = .events
        press([.down], &st, s)
        let chosen = s.events[0]
        s.events.insert(
            ClusterEvent(time: Fixtures.t(43), .say(text: "hello"), why: "the scenario's line 3 says so"), at: 0)
        #expect(DashboardModel.selectedIndex(.events, s, st) == 1)
        #expect(s.events[1] == chosen)
    }

    @Test func whenTheSelectedRowIsGoneTheRowInItsPlaceIsSelected() {
        var s = Fixtures.allUp()
        var st = DashboardState()
        st.focus = .requests
        press([.down, .down, .down, .down], &st, s)
        s.requests.remove(at: 3)
        #expect(DashboardModel.selectedIndex(.requests, s, st) == 3)
        s.requests = Array(s.requests.prefix(2))
        #expect(DashboardModel.selectedIndex(.requests, s, st) == 1)
    }

    func fixedTime(_ t: Instant) -> String {
        let v = (t.seconds * 100).rounded() / 100
        let whole = Int(v)
        let frac = Int(((v - Double(whole)) * 100).rounded())
        return "\(whole).\(frac < 10 ? "0" : "")\(frac)"
    }
}
