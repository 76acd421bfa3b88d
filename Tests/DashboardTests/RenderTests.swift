import ClusterModel
import Foundation
import HadeckBase
import Testing

@testable import Dashboard

@Suite struct RenderTests {
    let theme = Theme.dark

    func render(_ s: ClusterSnapshot, _ state: DashboardState = DashboardState(), _ w: Int = 80, _ h: Int = 24)
        -> CellBuffer
    {
        DashboardRenderer.render(snapshot: s, state: state, width: w, height: h, theme: theme)
    }

    @Test func allUp80x24() { assertSnapshot(render(Fixtures.allUp()), named: "all-up-80x24") }
    @Test func allUp160x50() {
        assertSnapshot(render(Fixtures.allUp(), DashboardState(), 160, 50), named: "all-up-160x50")
    }
    @Test func allUp120x40() {
        assertSnapshot(render(Fixtures.allUp(), DashboardState(), 120, 40), named: "all-up-120x40")
    }
    @Test func backendDown() { assertSnapshot(render(Fixtures.backendDown()), named: "backend-down-80x24") }
    @Test func rising() { assertSnapshot(render(Fixtures.rising()), named: "up-1-3-80x24") }
    @Test func drain() { assertSnapshot(render(Fixtures.drain()), named: "drain-80x24") }
    @Test func splitBrain() { assertSnapshot(render(Fixtures.splitBrain()), named: "split-brain-80x24") }
    @Test func splitBrainWide() {
        assertSnapshot(render(Fixtures.splitBrain(), DashboardState(), 160, 50), named: "split-brain-160x50")
    }
    @Test func countingDown() {
        assertSnapshot(render(Fixtures.backupCountingDown()), named: "backup-counting-down-80x24")
    }
    @Test func noMaster() { assertSnapshot(render(Fixtures.noMaster()), named: "no-master-80x24") }
    @Test func tiny() { assertSnapshot(render(Fixtures.allUp(), DashboardState(), 60, 20), named: "tiny-60x20") }
    @Test func tinyNarrow() { assertSnapshot(render(Fixtures.allUp(), DashboardState(), 30, 10), named: "tiny-30x10") }

    @Test func perBalancerViewWithSelection() {
        var st = DashboardState()
        st.backendsView = .perBalancer
        st.balancerIndex = 1
        st.apply(.select(.backends, 1), snapshot: Fixtures.backendDown())
        assertSnapshot(render(Fixtures.backendDown(), st), named: "per-balancer-lb2-selected-80x24")
    }

    @Test func helpOverlay() {
        var st = DashboardState()
        st.showHelp = true
        assertSnapshot(render(Fixtures.allUp(), st), named: "help-80x24")
    }

    @Test func filterInputAndFilter() {
        var st = DashboardState()
        st.filter = "client2"
        st.filterInput = "client2"
        st.focus = .requests
        let buf = render(Fixtures.allUp(), st)
        assertSnapshot(buf, named: "filter-client2-80x24")
        let lines = buf.textLines
        #expect(lines.contains { $0.contains("filter requests (client or server): client2") })
        #expect(!lines.contains { $0.contains("client1 ") || $0.contains("client3 ") })
    }

    @Test func largerTerminalShowsMore() {
        let small = render(Fixtures.allUp()).text
        let big = render(Fixtures.allUp(), DashboardState(), 160, 50).text
        func requestRows(_ t: String) -> Int { t.split(separator: "\n").filter { $0.contains("8F3A2C") }.count }
        #expect(requestRows(big) > requestRows(small) + 10)
        // Extra columns appear only with room.
        #expect(!small.contains("127.0.0.21:8081") && big.contains("127.0.0.21:8081"))
        #expect(!small.contains("OTHER BALANCERS") && big.contains("OTHER BALANCERS"))
        #expect(!small.contains("02:00:7f:00:00:0c") && big.contains("02:00:7f:00:00:0c"))
    }

    @Test func splitBrainIsAlarmStyled() {
        let buf = render(Fixtures.splitBrain())
        let line = buf.textLines[0]
        let x = Array(line).firstIndex(of: "S")!
        #expect(line.contains("SPLIT BRAIN: lb1 + lb2"))
        #expect(buf[x, 0].style.bg == theme[.alarm].bg)
    }

    @Test func arpChangeIsHighlightedBriefly() {
        var s = Fixtures.allUp(time: 5)
        let recent = render(s)
        s.time = Fixtures.t(30)
        let old = render(s)
        func vipRow(_ b: CellBuffer) -> Int { b.textLines.firstIndex { $0.contains("VIP 127.0.0.99 →") }! }
        let r = vipRow(recent)
        let x = Array(recent.textLines[r]).firstIndex(of: "V")!
        #expect(recent[x, r].style == theme[.highlight])
        #expect(old[x, vipRow(old)].style != theme[.highlight])
    }

    @Test func sessionSuffixColouredByServerRoute() {
        let buf = render(Fixtures.allUp())
        let rows = buf.textLines
        let y = rows.firstIndex { $0.contains(".jvm3") }!
        let x = rows[y].distance(from: rows[y].startIndex, to: rows[y].range(of: ".jvm3")!.lowerBound) + 1
        #expect(buf[x, y].style.fg == theme[.jvm1].fg)  // jvm3 is the first route seen
    }

    /// `routeColours` keeps its last answer while the servers' names and routes stay the same: from
    /// one snapshot to the next it must still give what a fresh computation gives.
    @Test func routeColoursFollowTheServersFromOneSnapshotToTheNext() {
        func fresh(_ s: ClusterSnapshot) -> (routes: [String: ThemeRole], servers: [String: ThemeRole]) {
            var routes: [String: ThemeRole] = [:]
            var servers: [String: ThemeRole] = [:]
            for r in s.servers.prefix(s.servers.count / 2) {
                guard let j = r.jvmRoute else { continue }
                let role = routes[j] ?? ThemeRole.routes[routes.count % ThemeRole.routes.count]
                routes[j] = role
                if servers[r.server] == nil { servers[r.server] = role }
            }
            return (routes, servers)
        }
        let base = Fixtures.allUp()
        var rerouted = base
        for i in rerouted.servers.indices where rerouted.servers[i].server == "webA" {
            rerouted.servers[i].jvmRoute = "jvm9"
        }
        var renamed = base
        for i in renamed.servers.indices where renamed.servers[i].server == "webB" {
            renamed.servers[i].server = "webC"
        }
        var unrouted = base
        for i in unrouted.servers.indices { unrouted.servers[i].jvmRoute = nil }
        var swapped = base
        swapped.servers = [swapped.servers[1], swapped.servers[0], swapped.servers[3], swapped.servers[2]]
        for s in [base, base, rerouted, base, renamed, renamed, unrouted, swapped, base] {
            let (routes, servers) = DashboardModel.routeColours(s)
            let expected = fresh(s)
            #expect(routes == expected.routes && servers == expected.servers)
        }
        #expect(DashboardModel.routeColours(swapped).routes == ["jvm2": .jvm1, "jvm3": .jvm2])
    }
}

@Suite struct CellBufferTests {
    @Test func diffReportsOnlyChangedCells() {
        var a = CellBuffer(width: 10, height: 3)
        a.text(0, 0, "hello", .plain)
        var b = a
        b.text(1, 0, "a", .plain)
        b.text(3, 0, "p!", .plain)
        b.set(9, 2, "x", Style(bold: true))
        let runs = b.diff(from: a)
        #expect(runs.count == 3)
        #expect(runs[0] == CellRun(x: 1, y: 0, cells: [Cell("a")]))
        #expect(runs[1] == CellRun(x: 3, y: 0, cells: [Cell("p"), Cell("!")]))
        #expect(runs[2] == CellRun(x: 9, y: 2, cells: [Cell("x", Style(bold: true))]))
        #expect(b.diff(from: b).isEmpty)
    }

    @Test func styleOnlyChangeIsAChange() {
        var a = CellBuffer(width: 4, height: 1)
        a.text(0, 0, "ab", .plain)
        var b = a
        b.restyle(x: 1, y: 0, width: 1, height: 1) {
            var s = $0
            s.reverse = true
            return s
        }
        #expect(b.diff(from: a).map(\.x) == [1])
    }

    @Test func differentSizeRepaintsAll() {
        let a = CellBuffer(width: 4, height: 2)
        let b = CellBuffer(width: 5, height: 2)
        #expect(b.diff(from: a).count == 2)
        #expect(b.diff(from: a).allSatisfy { $0.cells.count == 5 })
    }

    @Test func textClipsAndGraphemesTakeOneCell() {
        var b = CellBuffer(width: 6, height: 1)
        #expect(b.text(2, 0, "héllo wörld", .plain) == 4)
        #expect(b.textLines == ["  héll"])
        var c = CellBuffer(width: 4, height: 1)
        c.text(0, 0, "e\u{301}x\u{7}", .plain)  // e + combining acute; a control char
        #expect(c[0, 0].char == "é")
        #expect(c[2, 0].char == "?")
    }

    @Test func boxAndBar() {
        var b = CellBuffer(width: 8, height: 3)
        b.box(x: 0, y: 0, width: 8, height: 3, title: "ab", .plain)
        #expect(b.textLines == ["┌─ ab ─┐", "│      │", "└──────┘"])
        var c = CellBuffer(width: 4, height: 1)
        c.bar(x: 0, y: 0, width: 4, fraction: 0.5, filled: .plain, empty: .plain)
        #expect(c.textLines == ["██░░"])
        c.bar(x: 0, y: 0, width: 4, fraction: 0.28, filled: .plain, empty: .plain)
        #expect(c.textLines == ["█▏░░"])
    }
}
