import ClusterConfig
import ClusterModel
import HadeckBase
import Testing

@testable import ClusterCore

/// The simulated source as the dashboard drives it: the wall clock in ticks.
@Suite struct SimulatedSourceTests {
    func source(_ text: String) throws -> SimulatedClusterSource {
        let (parsed, diags) = ScenarioParser.parse(text, file: "t.scenario")
        let scenario = try #require(parsed, "\(diags.items)")
        var spec = ClusterSpec.article
        spec.trafficOn = false
        return SimulatedClusterSource(cluster: Cluster(spec: spec), scenario: scenario)
    }

    @Test func atItsEndTheScenarioShowsEveryResultAndTheClusterRunsOn() throws {
        let s = try source(
            """
            end 8s
            at 5s expect master lb1
            at 5s expect master lb2
            expect vip-mac lb1
            at 6s kill webZ
            """)
        for _ in 0..<70 { s.advance(wallElapsed: .milliseconds(100)) }
        var snap = s.snapshot(requestLimit: 10, eventLimit: 10)
        #expect(snap.scenario?.finished == false)
        #expect(snap.scenario?.results.map(\.line) == [2, 3])
        for _ in 0..<20 { s.advance(wallElapsed: .milliseconds(100)) }
        snap = s.snapshot(requestLimit: 10, eventLimit: 10)
        let status = try #require(snap.scenario)
        #expect(status.finished && status.end == .zero + .seconds(8))
        #expect(status.results.map(\.line) == [2, 3, 4])
        #expect(status.results.map(\.ok) == [true, false, true])
        #expect(status.results[1].seen.contains("lb1"))
        // The untimed expectation was checked at the end itself, not when a tick happened to pass it.
        #expect(status.results[2].time == .zero + .seconds(8))
        #expect(status.problems.map(\.line) == [5])
        #expect(!status.passed)
        // The cluster keeps running, and the end is checked once.
        #expect(snap.time > .zero + .seconds(8))
        for _ in 0..<10 { s.advance(wallElapsed: .milliseconds(100)) }
        s.finishScenario()
        #expect(s.snapshot(requestLimit: 10, eventLimit: 10).scenario?.results.count == 3)
    }

    @Test func finishingEarlyChecksTheUntimedExpectationsOnce() throws {
        let s = try source("end 60s\nexpect master lb1\n")
        for _ in 0..<50 { s.advance(wallElapsed: .milliseconds(100)) }
        s.finishScenario()
        s.finishScenario()
        let status = try #require(s.snapshot(requestLimit: 1, eventLimit: 1).scenario)
        #expect(status.finished && status.results.count == 1 && status.passed)
    }

    @Test func simulatedRequestsCameThroughTheVIP() throws {
        var spec = ClusterSpec.article
        spec.trafficOn = true
        let s = SimulatedClusterSource(cluster: Cluster(spec: spec))
        for _ in 0..<80 { s.advance(wallElapsed: .milliseconds(100)) }
        let requests = s.snapshot(requestLimit: 50, eventLimit: 1).requests
        #expect(!requests.isEmpty)
        #expect(requests.allSatisfy { $0.entry == .vip })
    }
}
