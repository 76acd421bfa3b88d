import ClusterCore
import ClusterModel
import Dashboard
import Foundation
import HadeckBase
import HadeckCLI
import HadeckTestSupport
import Testing

/// `--headless --save-session FILE` then `hadeck replay FILE`: the replay ends on the screen the
/// dashboard had. The second demonstration simulated at 20x (3.5 s), so the screen is deterministic.
@Suite(.onItsOwnThread) struct ReplayTests {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()
    static let binary = root + "/.build/debug/hadeck"
    static let demo2 = root + "/Examples/scenarios/demo2-balancer-failover.scenario"
    static var built: Bool { FileManager.default.isExecutableFile(atPath: binary) }

    /// The dashboard's screen on the same scenario, run in-process as `--simulate --scale 20` runs
    /// it, to `end`.
    static func dashboardScreen(until end: Instant, width: Int, height: Int) throws -> String {
        guard case .success(let (scenario, spec)) = ScenarioLoader.loadSpec(path: demo2) else {
            throw ReplayTestError.cannotLoad
        }
        let source = SimulatedClusterSource(cluster: Cluster(spec: spec), scenario: scenario)
        _ = try source.perform(.setTimeScale(20), by: "the command line")
        let runner = try #require(source.runner)
        // Up to a whole number of 20 us steps before the end, then across the scenario's end as the
        // dashboard's clock crosses it (its untimed expectations checked at the end).
        let steps = Int64(1 + (end - scenario.endTime).micros / 20)
        let last = end - TimeSpan(micros: steps * 20)
        var t = Instant.zero
        while t < last {
            t = min(last, t + .seconds(1))
            runner.advance(to: t)
        }
        source.advance(wallElapsed: TimeSpan(micros: steps))
        #expect(source.cluster.now == end && source.scenarioFinished)
        let snap = source.snapshot(requestLimit: 200, eventLimit: 200)
        return DashboardRenderer.render(
            snapshot: snap, state: DashboardState(), width: width, height: height, theme: .dark
        ).text
    }

    enum ReplayTestError: Error { case cannotLoad }

    @Test(.enabled(if: built, "needs a built .build/debug/hadeck"))
    func replayOfAHeadlessSessionEndsOnTheScreenTheDashboardHad() throws {
        let dir = try TemporaryDirectory("presenter-replay")
        let session = dir.file("demo2.session")
        let run = try runProgram(
            [
                Self.binary, "--simulate", "--scale", "20", "--headless", "--script", Self.demo2, "--save-session",
                session,
            ],
            timeout: 60)
        #expect(run.status == 0, "\(run.stderr)")
        let recorded = try ReplayCommand.load(session)
        #expect(recorded.header.version == SessionFile.version && recorded.header.source == "simulated")
        #expect(recorded.keyframes.count >= 60 && recorded.events.count > 300)
        // Every event the headless run printed is in the session, after those of the cluster's start.
        let printed = run.stdout.split(separator: "\n").count
        #expect(recorded.events.count > printed && recorded.events.first?.time == .zero)

        let replayed = try runProgram(
            [Self.binary, "replay", session, "--until", "end", "--width", "120", "--height", "40"], timeout: 30)
        #expect(replayed.status == 0, "\(replayed.stderr)")
        let expected = try Self.dashboardScreen(until: recorded.end, width: 120, height: 40)
        #expect(replayed.stdout == expected + "\n")
        #expect(expected.contains("MASTER lb2"))

        // Halfway, the VIP as it was then: on lb1 again after the restore (t=30 s).
        let middle = try runProgram([Self.binary, "replay", session, "--until", "30s"], timeout: 30)
        #expect(
            middle.stdout.contains("MASTER lb1") && middle.stdout.contains("VIP 127.0.0.99 → 52:54:00:00:01:01 → lb1"))
        // And the snapshot as JSON decodes as one.
        let json = try runProgram([Self.binary, "replay", session, "--until", "30s", "--json"], timeout: 30)
        let snap = try JSONDecoder().decode(ClusterSnapshot.self, from: Data(json.stdout.utf8))
        #expect(snap.masters.map(\.name) == ["lb1"] && snap.time <= Instant(micros: 30_000_000))
        // A failover's timeline from a replayed session is the one the run had.
        #expect(FailoverTimeline.all(events: recorded.events).map(\.newMaster) == ["lb2", "lb1", "lb2", "lb1", "lb2"])
    }

    @Test func aSessionFileNamesWhatIsWrongWithIt() throws {
        #expect(
            throws: SessionFile.ReadError(
                .error, file: "x", line: 1, "not a hadeck session (no \"format\":\"hadeck-session\" header)")
        ) {
            try SessionFile.parse("{\"t\":1}\n", file: "x")
        }
        let header = try SessionFile.headerLine(SessionFile.Header(cluster: "c", source: "live", writer: "t"))
        let newer = header.replacingOccurrences(of: "\"version\":1", with: "\"version\":9")
        #expect(throws: SessionFile.ReadError.self) { try SessionFile.parse(newer + "\n", file: "x") }
        // A last line cut short (the recorder was killed) is left out; one in the middle is an error.
        let event = try SessionFile.line(.event(ClusterEvent(time: .zero, .say(text: "hi"), why: "w")))
        #expect(
            try SessionFile.parse([header, event, "{\"t\":2,\"ev"].joined(separator: "\n"), file: "x").events.count == 1
        )
        #expect(throws: SessionFile.ReadError(.error, file: "x", line: 2, "neither an event nor a keyframe")) {
            try SessionFile.parse([header, "{\"t\":2}", event].joined(separator: "\n"), file: "x")
        }
    }
}
