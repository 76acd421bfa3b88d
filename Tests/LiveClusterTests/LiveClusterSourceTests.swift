import ClusterConfig
import ClusterCore
import ClusterModel
import Foundation
import HadeckBase
import HadeckTestSupport
import LiveCluster
import Synchronization
import Testing

/// The live cluster as the dashboard sees it (addresses 127.68.20.x and up: the dashboard's own).
@Suite(.onItsOwnThread) struct LiveClusterSourceTests {
    func start(slot: Int, scenario: String? = nil) async throws -> (LiveCluster, LiveClusterSource) {
        var parsed: Scenario?
        if let scenario {
            let (s, diags) = ScenarioParser.parse(scenario, file: "live.scenario")
            #expect(diags.items.isEmpty)
            parsed = s
        }
        let live = try LiveCluster(spec: articleSpec(slot: slot, net: "127.68"), scenario: parsed)
        try await live.start()
        let source = LiveClusterSource(live: live)
        let ready = await eventually(within: .seconds(8)) {
            source.snapshot(requestLimit: 1, eventLimit: 1).arp.owner == "lb1"
        }
        #expect(ready, "lb1 never took the VIP")
        return (live, source)
    }

    @Test(.enabled(if: curlPath != nil, "needs curl"))
    func requestsSayWhetherTheyCameThroughTheVIPOrStraightToABalancer() async throws {
        let (live, source) = try await start(slot: 20)
        let jar = NSTemporaryDirectory() + "hadeck-dash-jar-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: jar) }
        _ = try curl("http://127.68.20.99:8080/login", jar: jar)
        _ = try curl("http://127.68.20.2:8080/login", jar: jar)
        let seen = await eventually(within: .seconds(3)) {
            source.snapshot(requestLimit: 10, eventLimit: 1).requests.count >= 2
        }
        #expect(seen)
        let requests = source.snapshot(requestLimit: 10, eventLimit: 1).requests
        // Newest first: the direct one to lb2's own address, then the one through the VIP (lb1 holds it).
        #expect(requests.map(\.entry) == [.direct, .vip])
        #expect(requests.map(\.via) == ["lb2", "lb1"])
        // A real client shows as IP:port.
        for r in requests {
            let parts = r.client.split(separator: ":")
            #expect(parts.count == 2 && parts[0] == "127.0.0.1" && Int(parts[1]) != nil, "\(r.client)")
        }
        await live.shutdown()
    }

    @Test func commandsCompleteInTheBackgroundAndTheSnapshotDoesNotWaitForThem() async throws {
        let (live, source) = try await start(slot: 21)
        let answer = Mutex<Result<String, any Error>?>(nil)
        let clock = ContinuousClock()
        let before = clock.now
        source.submit(.cluster(.kill(.process(host: "lb1", .haproxy))), by: "the test") { r in
            answer.withLock { $0 = r }
        }
        // submit returned at once; a snapshot meanwhile does not wait for the haproxy to stop.
        _ = source.snapshot(requestLimit: 1, eventLimit: 1)
        #expect(clock.now - before < .milliseconds(500))
        let done = await eventually(within: .seconds(5)) { answer.withLock { $0 != nil } }
        #expect(done)
        let text = try answer.withLock { try $0?.get() }
        #expect(text == "kill lb1/haproxy")
        #expect(source.snapshot(requestLimit: 1, eventLimit: 1).hosts.first { $0.name == "lb1" }?.haproxyPID == nil)
        // Virtual-time commands are refused with a reason, through the same path.
        let refused = Mutex<String?>(nil)
        source.submit(.setPaused(true), by: "the test") { r in
            if case .failure(let e) = r { refused.withLock { $0 = "\(e)" } }
        }
        #expect(refused.withLock { $0 }?.contains("real time") == true)
        await live.shutdown()
    }

    @Test func aScriptedRunShowsItsResultsAtTheEndAndKeepsRunning() async throws {
        let (live, source) = try await start(
            slot: 22,
            scenario: """
                end 5s
                at 4s expect master lb1
                expect vip-mac lb2
                """)
        let ended = await eventually(within: .seconds(10)) {
            source.advance(wallElapsed: .milliseconds(100))
            return source.snapshot(requestLimit: 1, eventLimit: 1).scenario?.finished == true
        }
        #expect(ended)
        let status = try #require(source.snapshot(requestLimit: 1, eventLimit: 1).scenario)
        #expect(status.results.map(\.line) == [2, 3])
        #expect(status.results.map(\.ok) == [true, false])
        // Finishing again (as the headless run does at its end) checks nothing twice.
        let problems = try live.finishScenario()
        #expect(problems.count == 1 && problems[0].contains("live.scenario:3:"))
        #expect(source.snapshot(requestLimit: 1, eventLimit: 1).scenario?.results.count == 2)
        let t = source.snapshot(requestLimit: 1, eventLimit: 1).time
        try await Task.sleep(for: .milliseconds(300))
        #expect(source.snapshot(requestLimit: 1, eventLimit: 1).time > t)
        await live.shutdown()
    }
}
