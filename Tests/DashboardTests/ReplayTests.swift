import BalancerCore
import ClusterModel
import Dashboard
import Foundation
import HadeckBase
import Synchronization
import Testing
import VRRPCore

/// The article's cluster from t=30 s, 0.1 s a frame: lb1's haproxy is killed at t=35 and lb2 takes
/// over at t=40 (its GARP moves the VIP to its MAC); lb2 answers from t=40.3.
final class FailoverSource: ClusterSource {
    var snap = Fixtures.allUp(time: 30)
    var submitted: [ControlCommand] = []

    init() { snap.requests = [] }

    func advance(wallElapsed: TimeSpan) {}
    func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot { snap }
    func perform(_ command: ControlCommand, by actor: String) throws -> String {
        submitted.append(command)
        return "done"
    }

    /// The next frame's cluster, 0.1 s later.
    func step() {
        let before = snap.time
        snap.time.micros += 100_000
        func crossed(_ t: Double) -> Bool { before < Fixtures.t(t) && snap.time >= Fixtures.t(t) }
        if crossed(35) {
            snap.hosts[0].haproxyPID = nil
            snap.events.insert(
                ClusterEvent(
                    time: Fixtures.t(35), .process(node: "lb1", process: .haproxy, action: .killed, pid: 9644),
                    why: "the test killed it"), at: 0)
        }
        if crossed(40) {
            snap.hosts[0].vrrpState = .backup
            snap.hosts[1].vrrpState = .master
            snap.events.insert(
                ClusterEvent(
                    time: Fixtures.t(40),
                    .vrrpState(node: "lb2", from: .backup, to: .master, priority: 100, effectivePriority: 100),
                    why: "no advert above its priority for the Master_Down_Interval",
                    timer: VRRPTimer(
                        kind: .masterDown, adverts: 3, advertInterval: .seconds(1), priority: 100,
                        value: .microseconds(3_609_375), armedAt: Fixtures.t(40) - .microseconds(3_609_375))),
                at: 0)
            snap.events.insert(
                ClusterEvent(
                    time: Fixtures.t(40),
                    .arpUpdate(ip: "127.0.0.99", mac: "02:00:7f:00:00:0c", node: "lb2"),
                    why: "gratuitous ARP from lb2"), at: 0)
            snap.arp = ARPSnapshot(
                ip: "127.0.0.99", mac: "02:00:7f:00:00:0c", owner: "lb2",
                history: [
                    ARPSnapshot.Change(
                        time: Fixtures.t(40), fromMAC: "02:00:7f:00:00:0b", toMAC: "02:00:7f:00:00:0c", node: "lb2")
                ] + snap.arp.history)
        }
        if snap.time >= Fixtures.t(40.3), snap.requests.isEmpty {
            snap.requests = [
                RequestRecord(
                    time: Fixtures.t(40.3), client: "client1", via: "lb2", server: "webA", status: 200, session: nil,
                    reason: "cookie SRV=A", latency: .milliseconds(2))
            ]
        }
    }
}

@Suite struct ReplayTests {
    static let vipOnLb1 = "VIP 127.0.0.99 → 02:00:7f:00:00:0b → lb1"
    static let vipOnLb2 = "VIP 127.0.0.99 → 02:00:7f:00:00:0c → lb2"

    func app(_ source: ClusterSource) -> DashboardApp {
        let ticks = Mutex<Int64>(0)
        return DashboardApp(source: source, options: DashboardOptions()) {
            ticks.withLock {
                $0 += 100_000
                return $0
            }
        }
    }

    /// 15 s of the failover source, one frame a step, then `then`.
    func run(_ source: FailoverSource, then: [ScriptedTerminal.Step]) throws -> (DashboardApp, ScriptedTerminal) {
        let steps = Array(repeating: ScriptedTerminal.Step.run { source.step() }, count: 150) + then
        let term = ScriptedTerminal(steps)
        term.size = (120, 40)
        let a = app(source)
        _ = try a.run(terminal: term)
        return (a, term)
    }

    @Test func rReplaysTheTakeoverAsItWasAndEscReturnsToLive() throws {
        let source = FailoverSource()
        let (app, term) = try run(
            source,
            then: [.key(.char("R"))] + Array(repeating: .run { source.step() }, count: 8) + [
                .key(.escape), .idle,
            ])
        let frames = term.frames.map(\.text)
        let live = try #require(frames.lastIndex { $0.contains(Self.vipOnLb2) && !$0.contains("REPLAY") })
        let replaying = frames.indices.filter { frames[$0].contains(" REPLAY ") }
        #expect(replaying.count >= 8, "REPLAY shown in \(replaying.count) frames")
        let first = try #require(replaying.first)
        // Two seconds before the fault: lb1 held the VIP; the live cluster ran on meanwhile.
        #expect(frames[first].contains(Self.vipOnLb1), "\(frames[first])")
        #expect(frames[first].contains("t=33.0s"), "\(frames[first])")
        #expect(frames[first].contains("lb1→lb2 at t=40.0s") && frames[first].contains("x0.25"))
        #expect(frames[first].contains("MASTER lb2"), "the banner names the live master")
        // 0.25x: 0.8 s of real time moved the replay by 0.2 s.
        let lastReplayed = try #require(replaying.last)
        #expect(frames[lastReplayed].contains("t=33.2"), "\(frames[lastReplayed].prefix(160))")
        #expect(frames[lastReplayed].contains("of 33.0-42.3s"), "\(frames[lastReplayed].prefix(160))")
        #expect(live > lastReplayed)
        #expect(app.replay == nil && app.state.replay == nil)
        // The live cluster went on: its history kept the frames after R too.
        #expect(app.history.frames.last?.time == source.snap.time)
    }

    @Test func speedKeysPauseAndCommandKeysHaveTheirReplayMeaning() throws {
        let source = FailoverSource()
        let (app, term) = try run(
            source,
            then: [
                .key(.char("R")), .key(.char(">")), .key(.char(">")), .key(.char(" ")), .idle, .idle,
                .key(.backTab), .key(.char("k")), .idle,
            ])
        let text = term.frames.last!.text
        #expect(text.contains("x1 PAUSED"), "\(text)")
        #expect(text.contains("commands act on the live cluster"), "\(text)")
        #expect(source.submitted.isEmpty, "a key in replay sent \(source.submitted)")
        #expect(app.replay?.paused == true)
        #expect(app.replay?.speed == 1)
    }

    @Test func withNoChangeOfMasterTheLastSecondsAreReplayed() throws {
        let source = FailoverSource()
        let term = ScriptedTerminal(
            Array(repeating: ScriptedTerminal.Step.run { source.snap.time.micros += 100_000 }, count: 30) + [
                .key(.char("R")), .idle,
            ])
        _ = try app(source).run(terminal: term)
        #expect(term.frames.last!.text.contains("REPLAY the last 3s (no change of master kept)"))
    }

    @Test func theHistoryIsBoundedAndCountsWhatItDropped() {
        var h = SnapshotHistory(capacity: 40)
        var s = Fixtures.allUp(time: 0)
        for _ in 0..<1000 {
            s.time.micros += 100_000
            h.record(s)
        }
        #expect(h.count < 45 && h.count >= 40)
        #expect(h.dropped == 1000 - h.count)
        #expect(h.frames.last?.time == s.time)
        // Each frame keeps no more rows than a screen could show.
        s.requests = Fixtures.requests(count: 300)
        h.record(s)
        #expect(h.frames.last?.requests.count == SnapshotHistory.keptRows)
    }

    /// Requests and events are kept once each, not once per frame, and every frame comes back as it
    /// was recorded: shifted lists, a burst of more rows than a frame keeps, a shorter list, rows
    /// that repeat, a frame replaced by a newer one at the same time, and frames dropped.
    @Test func theHistoryKeepsEachRowOnceAndGivesBackEveryFrameExactly() {
        var h = SnapshotHistory(capacity: 60)
        var log: [RequestRecord] = []
        var events: [ClusterEvent] = []
        var recorded: [ClusterSnapshot] = []
        var s = Fixtures.allUp(time: 0)
        for frame in 0..<300 {
            // Mostly one new row a frame; now and then none, a burst, or two alike.
            let burst = frame % 50 == 7 ? 150 : (frame % 9 == 0 ? 0 : frame * 7 % 3 + 1)
            for i in 0..<burst {
                let same = frame % 11 == 0 && i == 1
                log.append(
                    same
                        ? log[log.count - 1]
                        : RequestRecord(
                            time: s.time, client: "client\(log.count)", via: "lb1", server: "webA", status: 200,
                            session: nil, reason: "round robin", latency: .milliseconds(1)))
                events.append(
                    ClusterEvent(time: s.time, .say(text: "row \(events.count)"), why: "frame \(frame)"))
            }
            let shown = frame % 37 == 5 ? 30 : 120
            s.requests = Array(log.suffix(shown).reversed())
            s.events = Array(events.suffix(shown).reversed())
            if frame % 13 != 4 { s.time.micros += 1_000_000 }
            h.record(s)
            var expected = s
            expected.requests = Array(s.requests.prefix(SnapshotHistory.keptRows))
            expected.events = Array(s.events.prefix(SnapshotHistory.keptRows))
            if let last = recorded.last, last.time >= s.time {
                recorded[recorded.count - 1] = expected
            } else {
                recorded.append(expected)
            }
        }
        let frames = h.frames
        let kept = Array(recorded.suffix(frames.count))
        #expect(h.dropped == recorded.count - frames.count && h.dropped > 0)
        #expect(frames.map(\.time) == kept.map(\.time))
        let wrong = frames.indices.filter {
            frames[$0].requests != kept[$0].requests || frames[$0].events != kept[$0].events
        }
        #expect(
            wrong.isEmpty,
            "\(wrong.count) of \(frames.count) frames differ from what was recorded, first \(wrong.first ?? 0)")
        #expect(h.last?.requests == kept.last?.requests && h.first?.events == kept.first?.events)
        // Each row once (plus the lists kept anew after a burst or a shorter list), not 2 x 100 a frame.
        let perFrame = 2 * SnapshotHistory.keptRows * frames.count
        #expect(h.rowsKept < perFrame / 10, "\(h.rowsKept) rows kept for \(frames.count) frames")
    }

    @Test func theHistoryKeepsTwoMinutesAtMost() {
        var h = SnapshotHistory(capacity: 10_000)
        var s = Fixtures.allUp(time: 0)
        for _ in 0..<400 {
            s.time.micros += 1_000_000
            h.record(s)
        }
        let span = h.frames.last!.time - h.frames.first!.time
        #expect(span <= SnapshotHistory.window + .seconds(5), "\(span.seconds) s kept")
        #expect(h.dropped > 0)
    }

    @Test func theReplayClockFollowsItsSpeedAndStopsAtItsEnd() {
        var h = SnapshotHistory()
        let source = FailoverSource()
        for _ in 0..<150 {
            source.step()
            h.record(source.snap)
        }
        var r = try! #require(h.replay())
        #expect(r.start == Fixtures.t(33) && r.frame.time == Fixtures.t(33))
        r.advance(wall: .seconds(4))
        #expect(r.position == Fixtures.t(34))
        #expect(r.frame.time == Fixtures.t(34))
        r.speed = 4
        r.advance(wall: .seconds(60))
        #expect(r.atEnd && r.frame.time <= r.end)
        r.seek(to: Fixtures.t(0))
        #expect(r.position == r.start)
    }
}

/// The strip and the banner as drawn: the failover source after its 15 s.
@Suite struct TimelineRenderTests {
    func finished() -> FailoverSource {
        let source = FailoverSource()
        for _ in 0..<150 { source.step() }
        return source
    }

    func render(_ s: ClusterSnapshot, _ state: DashboardState = DashboardState(), _ w: Int, _ h: Int) -> CellBuffer {
        DashboardRenderer.render(snapshot: s, state: state, width: w, height: h, theme: .dark)
    }

    @Test func theVIPPanelShowsTheLastChangeOfMastersPhases() throws {
        let s = finished().snap
        let buf = render(s, DashboardState(), 120, 40)
        assertSnapshot(buf, named: "failover-timeline-120x40")
        let text = buf.text
        #expect(text.contains("failover lb1→lb2 t=40.0s (5s ago)  fault→service 5.300s"), "\(text)")
        #expect(text.contains("■ timer 3.609s (formula 3.609s)"))
        #expect(text.contains("■ first answer 0.300s"))
        assertSnapshot(render(s, DashboardState(), 160, 50), named: "failover-timeline-160x50")
        // 80x24: the title line alone.
        let small = render(s, DashboardState(), 80, 24).text
        #expect(small.contains("failover lb1→lb2") && !small.contains("■ timer"))
    }

    @Test func theTakeoversDetailListsEveryPhaseWithItsFormula() throws {
        let s = finished().snap
        let takeover = try #require(s.events.first { $0.type == .vrrpState })
        let content = DetailContent.make(.event(takeover), s)
        let timer = try #require(content.lines.first { $0.label == "timer" && $0.value.contains("ran out") })
        #expect(timer.value.contains("3.609375 s"), "\(timer.value)")
        #expect(timer.value.contains("formula 3.609375 s: Master_Down_Interval = 3 x 1 s + (256 - 100)/256 s"))
        #expect(content.lines.contains { $0.label == "failover" && $0.value == "lb1 -> lb2 at t=40 s" })
    }

    @Test func theReplayBannerSaysWhatWhereHowFastAndTheRealClock() throws {
        let source = finished()
        var h = SnapshotHistory()
        let replayed = FailoverSource()
        for _ in 0..<150 {
            replayed.step()
            h.record(replayed.snap)
        }
        var r = try #require(h.replay())
        r.advance(wall: .seconds(8))
        var state = DashboardState()
        state.replay = r.status(wallClock: "06:21:03", live: source.snap)
        let buf = render(r.frame, state, 120, 40)
        assertSnapshot(buf, named: "replay-120x40")
        #expect(buf.textLines[0].hasPrefix(" REPLAY lb1→lb2 at t=40.0s  t=35.00s of 33.0-42.3s  x0.25 ▶"))
        #expect(buf.textLines[0].contains("now 06:21:03, live t=45.0s MASTER lb2"))
        #expect(buf.text.contains(ReplayTests.vipOnLb1))
        #expect(buf.textLines.last?.contains("R/Esc live") == true)
    }
}

@Suite struct ResetKeyTests {
    @Test func xRestoresWhatIsDownResetsWeightsAndTurnsTrafficOn() {
        var s = Fixtures.backendDown()
        s.hosts[0].haproxyPID = nil
        s.traffic.on = false
        for i in s.servers.indices where s.servers[i].server == "webB" { s.servers[i].weight = 5 }
        let actions = KeyHandler.handle(key: .char("X"), state: DashboardState(), snapshot: s)
        #expect(
            actions == [
                .control(.cluster(.restore("lb1"))), .control(.cluster(.restore("webA"))),
                .control(.cluster(.setWeight(server: "webB", balancer: nil, .reset))),
                .control(.cluster(.traffic(enabled: true, rate: nil, clients: nil))),
            ])
    }

    @Test func aCleanClusterHasNothingToReset() {
        let actions = KeyHandler.handle(key: .char("X"), state: DashboardState(), snapshot: Fixtures.allUp())
        #expect(actions == [.message("nothing to reset: every balancer and server runs, traffic is on")])
    }
}
