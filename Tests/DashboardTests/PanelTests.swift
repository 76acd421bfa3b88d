import BalancerCore
import ClusterModel
import Dashboard
import Foundation
import HadeckBase
import Testing
import VRRPCore

/// Where `text` starts on row `y`, in cells (a wide character counts two), or nil.
func cellX(of text: String, row y: Int, in b: CellBuffer) -> Int? {
    var cells: [(x: Int, ch: Character)] = []
    for x in 0..<b.width where !b[x, y].isContinuation { cells.append((x, b[x, y].char)) }
    let needle = Array(text)
    guard needle.count <= cells.count else { return nil }
    for i in 0...(cells.count - needle.count) where (0..<needle.count).allSatisfy({ cells[i + $0].ch == needle[$0] }) {
        return cells[i].x
    }
    return nil
}

func render(_ s: ClusterSnapshot, _ state: DashboardState = DashboardState(), _ w: Int = 80, _ h: Int = 24)
    -> CellBuffer
{
    DashboardRenderer.render(snapshot: s, state: state, width: w, height: h, theme: .dark)
}

@Suite struct WideTextTests {
    /// A CJK balancer and server name, emoji in a session cookie and a path: every column still
    /// starts at the same cell on every row.
    static func cjk() -> ClusterSnapshot {
        var s = Fixtures.allUp()
        s.hosts[0].name = "東京lb1"
        s.hosts[1].name = "大阪负载均衡器"
        for i in s.servers.indices where s.servers[i].server == "webA" { s.servers[i].server = "ウェブA" }
        for i in s.requests.indices where i % 3 == 0 {
            s.requests[i].client = "客户端\(i)"
            s.requests[i].session = "😀🍪A\(i).jvm3"
            s.requests[i].reason = "GET /🍕/ログイン → cookie SRV=🍪"
            s.requests[i].server = "ウェブA"
        }
        s.events[0].why = "ウェブA passed 2 checks in a row 🎉 (rise 2) and is back UP"
        return s
    }

    @Test func columnsStayInLine() {
        let b = render(Self.cjk(), DashboardState(), 100, 40)
        let lines = b.textLines
        let requestRows = (0..<b.height).filter { lines[$0].contains(" 200 ") }
        #expect(requestRows.count > 10)
        // ST and SESSION columns start at the same cell on every request row.
        let stX = Set(requestRows.compactMap { cellX(of: "200", row: $0, in: b) })
        #expect(stX.count == 1, "ST column moves: \(stX)")
        let reasonX = Set(
            requestRows.compactMap { y in
                ["new session", "cookie SRV", "GET /"].compactMap { cellX(of: $0, row: y, in: b) }.min()
            })
        #expect(reasonX.count == 1, "REASON column moves: \(reasonX)")
        // The balancers table: STATE after a CJK host name is where it is after an ASCII one.
        let hostRows = (0..<b.height).filter {
            lines[$0].dropFirst().hasPrefix("東京") || lines[$0].dropFirst().hasPrefix("大阪")
        }
        #expect(hostRows.count == 2)
        let stateX = Set(
            hostRows.compactMap { y in cellX(of: "MASTER", row: y, in: b) ?? cellX(of: "BACKUP", row: y, in: b) })
        #expect(stateX.count == 1, "STATE column moves: \(stateX)")
        // A name too long for its column is cut whole, with an ellipsis, never half a character.
        #expect(lines.contains { $0.contains("大阪负…") })
        for y in 0..<b.height {
            for x in 0..<b.width where b[x, y].width == 2 { #expect(x + 1 < b.width && b[x + 1, y].isContinuation) }
        }
    }

    @Test func snapshot() { assertSnapshot(render(Self.cjk(), DashboardState(), 100, 40), named: "cjk-emoji-100x40") }
}

@Suite struct PanelTests {
    @Test func clientShowsIPAndPortAndDirectRequestsSayDirect() {
        var s = Fixtures.allUp()
        s.requests[0].client = "127.0.0.1:54321"
        s.requests[0].entry = .direct
        s.requests[1].client = "127.0.0.1:54322"
        s.requests[1].entry = .vip
        let lines = render(s).textLines
        #expect(lines.contains { $0.contains("127.0.0.1:54321 lb1 direct") })
        #expect(lines.contains { $0.contains("127.0.0.1:54322 lb1 ") && !$0.contains("54322 lb1 direct") })
    }

    @Test func killedKeepalivedShowsKilledWithoutADropToZero() {
        var s = Fixtures.allUp()
        s.hosts[0].vrrpState = .killed
        s.hosts[0].keepalivedPID = nil
        s.hosts[0].effectivePriority = 0
        s.hosts[1].vrrpState = .stopped
        s.hosts[1].keepalivedPID = nil
        s.hosts[1].effectivePriority = 0
        let lines = render(s, DashboardState(), 120, 40).textLines
        let lb1 = lines.first { $0.contains("lb1") && $0.contains("KILLED") }
        let lb2 = lines.first { $0.contains("lb2") && $0.contains("STOP") }
        #expect(lb1 != nil && !lb1!.contains("->"), "\(lb1 ?? "no lb1 row")")
        #expect(lb1?.contains("sent no advert") == true)
        #expect(lb2?.contains("100 -> 0") == true, "\(lb2 ?? "no lb2 row")")
    }

    @Test func feedsShowTheirAgeAndAStaleOrLostOneAtOnceInTheAlarmColour() {
        var s = Fixtures.allUp()
        s.feeds = [
            FeedStatus(name: "lb1 haproxy stats", area: .backends, lastUpdate: Fixtures.t(40.8), health: .ok),
            FeedStatus(
                name: "lb2 keepalived fifo", area: .balancers, lastUpdate: Fixtures.t(30),
                health: .lost("FIFO closed")),
            FeedStatus(
                name: "haproxy log", area: .requests, lastUpdate: Fixtures.t(35), health: .stale("no line for 7 s")),
        ]
        let b = render(s, DashboardState(), 160, 50)
        let lines = b.textLines
        #expect(lines.contains { $0.contains("Backends") && $0.contains("data 1.2 s old") })
        let lost = try! #require(lines.firstIndex { $0.contains("lb2 keepalived fifo LOST: FIFO closed") })
        let x = cellX(of: "lb2 keepalived fifo LOST", row: lost, in: b)!
        #expect(b[x, lost].style == Theme.dark[.alarm])
        #expect(lines.contains { $0.contains("haproxy log STALE (7.0 s old): no line for 7 s") })
        // The rows of a lost feed are not shown as if current: dimmed.
        let lb1Row = lines.firstIndex { $0.contains("lb1") && $0.contains("MASTER") && !$0.contains("hadeck") }!
        let hx = cellX(of: "MASTER", row: lb1Row, in: b)!
        #expect(b[hx, lb1Row].style == Theme.dark[.dim])
    }

    @Test func waitingForTheFirstMasterStaysInTheStatusBar() {
        var s = Fixtures.allUp()
        s.traffic.waitingForFirstMaster = true
        #expect(render(s).textLines[22].contains("traffic waits for the first master to announce the VIP"))
    }

    static func finished(failing: Bool) -> ClusterSnapshot {
        var s = Fixtures.allUp()
        s.scenarioName = "Demonstration 1"
        s.scenario = ScenarioStatus(
            name: "Demonstration 1", file: "demo1.scenario", end: Fixtures.t(40), finished: true,
            results: [
                .init(line: 10, check: "expect master lb1", ok: true, seen: "lb1", time: Fixtures.t(10)),
                .init(line: 12, check: "expect vip-mac lb1", ok: true, seen: "lb1", time: Fixtures.t(10)),
                .init(
                    line: 20, check: "expect server webA DOWN on lb2", ok: !failing, seen: failing ? "UP" : "DOWN",
                    time: Fixtures.t(20)),
                .init(line: 35, check: "expect clients-on webB", ok: true, seen: "webB", time: Fixtures.t(35)),
            ])
        return s
    }

    @Test func resultBarShowsEveryExpectationWithItsLine() {
        let ok = render(Self.finished(failing: false)).textLines
        #expect(ok.contains { $0.contains("Scenario ended at t=40.0s: all 4 expectations hold") })
        for entry in ["✓ 10 master lb1", "✓ 12 vip-mac lb1", "✓ 20 server webA DOWN on lb2", "✓ 35 clients-on webB"] {
            #expect(ok.contains { $0.contains(entry) }, "\(entry) missing")
        }
        let failed = render(Self.finished(failing: true))
        #expect(failed.textLines.contains { $0.contains("1 of 4 FAILED") })
        #expect(failed.textLines.contains { $0.contains("✗ 20 server webA DOWN on lb2 (seen: UP)") })
        assertSnapshot(failed, named: "result-bar-failed-80x24")
        // Not before the end.
        var running = Self.finished(failing: false)
        running.scenario?.finished = false
        #expect(!render(running).textLines.contains { $0.contains("Scenario ended") })
    }

    static let takeover = ClusterEvent(
        time: Fixtures.t(3.414062),
        .vrrpState(node: "lb1", from: .backup, to: .master, priority: 150, effectivePriority: 150),
        why:
            "no advert heard for 3.414062 s (Master_Down_Interval: 3 x Master_Adver_Interval 1 s + Skew_Time (256 - 150)/256 s): lb1 takes over as MASTER and sends gratuitous ARP for the VIP",
        timer: VRRPTimer(
            kind: .masterDown, adverts: 3, advertInterval: .seconds(1), priority: 150,
            value: .microseconds(3_414_062)))

    @Test func detailViewShowsTheWholeWhyEveryFieldAndTheTimersFormula() {
        var s = Fixtures.allUp()
        s.events.insert(Self.takeover, at: 0)
        var st = DashboardState()
        st.focus = .events
        for key in [Key.down, .enter] {
            for a in KeyHandler.handle(key: key, state: st, snapshot: s) { st.apply(a, snapshot: s) }
        }
        #expect(st.detail == .event(Self.takeover))
        #expect(st.mode == .detail)
        let b = render(s, st)
        #expect(b.textLines[1].contains("Event at t=3.414 s · vrrp.state"))
        // The whole why and the formula, wrapped, nothing cut: the detail's lines read as one text.
        let text = b.textLines.compactMap { line -> String? in
            guard line.hasPrefix("│ ") else { return nil }
            return line.dropFirst(2).trimmingCharacters(in: CharacterSet(charactersIn: " │"))
        }.joined(separator: " ").split(separator: " ").joined(separator: " ")
        #expect(text.contains(Self.takeover.why))
        #expect(text.contains("Master_Down_Interval = 3 x 1 s + (256 - 150)/256 s = 3.414062 s"))
        for field in ["node", "from", "to", "priority", "effective_priority"] {
            #expect(b.textLines.contains { $0.contains("│ \(field) ") }, "field \(field) missing")
        }
        assertSnapshot(b, named: "event-detail-80x24")
        // Esc closes it.
        for a in KeyHandler.handle(key: .escape, state: st, snapshot: s) { st.apply(a, snapshot: s) }
        #expect(st.detail == nil && st.mode == .normal)
    }

    @Test func detailOfARequestSaysHowItCame() {
        var s = Fixtures.allUp()
        s.requests[0].client = "127.0.0.1:40000"
        s.requests[0].entry = .direct
        s.requests[0].requestLine = "GET /login HTTP/1.1"
        var st = DashboardState()
        st.focus = .requests
        for key in [Key.down, .enter] {
            for a in KeyHandler.handle(key: key, state: st, snapshot: s) { st.apply(a, snapshot: s) }
        }
        let text = render(s, st).text
        #expect(text.contains("Request at t=42.000 s from 127.0.0.1:40000"))
        #expect(text.contains("straight to lb1's own address, past the VIP"))
        #expect(text.contains("GET /login HTTP/1.1"))
    }
}
