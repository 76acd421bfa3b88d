import BalancerCore
import ClusterConfig
import ClusterModel
import HadeckBase
import HadeckConfig
import Testing
import WebCore

@testable import ClusterCore

/// The repository root, found from this file's path.
let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

func readRepositoryFile(_ relative: String) throws -> String {
    try ConfigFiles.read(repositoryRoot + "/" + relative)
}

/// Runs a scenario text on the built-in article cluster; returns the runner and the JSON lines.
func simulate(_ text: String, until: Instant? = nil) throws -> (ScenarioRunner, [String]) {
    let (parsed, diags) = ScenarioParser.parse(text, file: "test.scenario")
    let scenario = try #require(parsed, "\(diags.items)")
    var spec = ClusterSpec.article
    spec.trafficOn = false
    let cluster = Cluster(spec: spec)
    var lines: [String] = []
    cluster.onEvent = { lines.append($0.jsonLine) }
    let runner = ScenarioRunner(scenario: scenario, cluster: cluster)
    runner.runToEnd(until ?? scenario.endTime)
    return (runner, lines)
}

@Suite struct ArticleScenarioTests {
    @Test(arguments: [
        "demo1-backend-failure.scenario", "demo2-balancer-failover.scenario", "demo3-session-survives.scenario",
        "split-brain.scenario",
    ])
    func shippedScenarioPasses(file: String) throws {
        let text = try readRepositoryFile("Examples/scenarios/" + file)
        let (runner, _) = try simulate(text)
        #expect(runner.results.count >= 5)
        #expect(runner.commandErrors.isEmpty)
        for f in runner.failures {
            Issue.record("line \(f.step.line): \(f.expectation.text) failed at \(f.time): \(f.seen)")
        }
    }

    @Test func sameScenarioGivesByteIdenticalJSON() throws {
        let text = try readRepositoryFile("Examples/scenarios/demo2-balancer-failover.scenario")
        let (_, first) = try simulate(text)
        let (_, second) = try simulate(text)
        #expect(first.count > 200)
        #expect(first == second)
    }

    @Test func exampleClusterFileLoadsLikeTheBuiltIn() throws {
        let (loaded, diags) = ClusterLoader.load(
            path: repositoryRoot + "/Examples/article/cluster.yaml", read: ConfigFiles.read)
        #expect(diags.items.isEmpty, "\(diags.items)")
        let spec = ClusterSpec(try #require(loaded))
        let builtin = ClusterSpec.article
        #expect(spec.hosts.map(\.name) == builtin.hosts.map(\.name))
        #expect(spec.hosts.map(\.haproxy) == builtin.hosts.map(\.haproxy))
        #expect(spec.hosts.map(\.keepalived) == builtin.hosts.map(\.keepalived))
        #expect(spec.backends == builtin.backends)
    }
}

@Suite struct ClusterBehaviourTests {
    /// Events of one type, as (time, field) pairs.
    func times(_ lines: [String], _ needle: String) -> [String] {
        lines.filter { $0.contains(needle) }.compactMap { line in
            line.split(separator: ",").first.map { String($0.dropFirst(5)) }
        }
    }

    @Test func coldStartMakesLb1MasterAfterItsMasterDownInterval() throws {
        let (runner, lines) = try simulate("end 6s\nexpect master lb1\nexpect vip-mac lb1")
        #expect(runner.failures.isEmpty)
        // state MASTER priority 150 waits one Master_Down_Interval: 3 s + (256-150)/256 s = 3.414062 s.
        #expect(times(lines, #""to":"MASTER""#) == ["3.414062"])
        #expect(times(lines, #""type":"arp.update""#) == ["3.414062"])
        #expect(!lines.contains { $0.contains(#""node":"lb2","from":"BACKUP","to":"MASTER""#) })
    }

    @Test func killOfHaproxyMovesTheVIPWhenPrioritiesCross() throws {
        let (runner, lines) = try simulate(
            """
            at 4s traffic 4/s clients 4
            at 12s kill lb1/haproxy
            at 25s expect master lb2
            at 25s expect vip-mac lb2
            at 25s expect sessions-kept
            """)
        #expect(runner.failures.isEmpty, "\(runner.failures.map(\.seen))")
        // chk_haproxy runs every 2 s: fails at 14 s and 16 s (fall 2) -> 150 - 60 = 90 at 16 s.
        #expect(times(lines, #""type":"vrrp.priority","node":"lb1","from":150,"to":90"#) == ["16"])
        // lb2 ignores adverts below its 100 without resetting its timer: MASTER 3.609375 s after the
        // last advert it accepted (lb1's at 15.414062 s).
        #expect(times(lines, #""node":"lb2","from":"BACKUP","to":"MASTER""#) == ["19.023437"])
        // Requests between the kill and the takeover are refused by lb1, then flow through lb2 with the same sessions.
        let refused = lines.filter { $0.contains(#""reason":"connection refused: lb1's haproxy is not running""#) }
        #expect(!refused.isEmpty)
        #expect(lines.contains { $0.contains(#""via":"lb2""#) && $0.contains(#""status":200"#) })
    }

    @Test func gracefulStopHandsOverAfterSkewTime() throws {
        let (runner, lines) = try simulate("at 10s stop lb1/keepalived\nat 11s expect master lb2\nend 12s")
        #expect(runner.failures.isEmpty)
        #expect(times(lines, #""node":"lb2","from":"BACKUP","to":"MASTER""#) == ["10.609375"])
    }

    @Test func powerOffLeavesTheARPEntryStaleUntilTheBackupTakesOver() throws {
        let (runner, lines) = try simulate(
            """
            at 4s traffic 2/s clients 2
            at 10s poweroff lb1
            at 12s expect vip-mac lb1
            at 12s expect master none
            at 16s expect master lb2
            at 16s expect vip-mac lb2
            """)
        #expect(runner.failures.isEmpty, "\(runner.failures.map(\.seen))")
        // Last advert from lb1 at 9.414062 s; 3.609375 s later lb2 takes over.
        #expect(times(lines, #""node":"lb2","from":"BACKUP","to":"MASTER""#) == ["13.023437"])
        #expect(lines.contains { $0.contains("is powered off but the ARP cache still maps the VIP to its MAC") })
    }

    @Test func partitionMakesSplitBrainAndTheARPCacheFollowsTheLastGARP() throws {
        let (runner, lines) = try simulate(
            """
            at 10s partition lb1 lb2
            at 15s expect split-brain
            at 15s expect vip-mac lb2
            at 20s heal
            at 21s expect master lb1
            at 21s expect vip-mac lb1
            """)
        #expect(runner.failures.isEmpty, "\(runner.failures.map(\.seen))")
        // lb2 last heard lb1 at 9.414062 s: MASTER at 13.023437 s while lb1 stays MASTER too.
        #expect(times(lines, #""node":"lb2","from":"BACKUP","to":"MASTER""#) == ["13.023437"])
        // After the heal lb1 hears lb2's next advert (20.023437 s, priority 100 < 150), forces a new
        // election and re-sends GARP: the ARP cache moves back to lb1 then.
        #expect(times(lines, #""type":"arp.update""#) == ["3.414062", "13.023437", "20.023437"])
    }

    @Test func drainKeepsCookieClientsAndTakesNoNewOnes() throws {
        let (runner, lines) = try simulate(
            """
            at 4s traffic 4/s clients 2
            at 8s drain webA
            at 9s traffic clients 4
            at 14s expect server webA DRAIN on lb1
            """)
        #expect(runner.failures.isEmpty)
        let cluster = runner.cluster
        // c1 logged in on webA before the drain and stays there; c3 and c4 arrive after it and go to webB.
        #expect(cluster.browsers[0].session?.hasSuffix(".jvm3") == true)
        #expect(cluster.browsers[2].session?.hasSuffix(".jvm2") == true)
        #expect(cluster.browsers[3].session?.hasSuffix(".jvm2") == true)
        #expect(
            lines.contains { $0.contains(#""client":"c1""#) && $0.contains("cookie SRV=A names webA which is DRAIN") })
    }

    @Test func commandsNamingUnknownThingsFailClearly() {
        let cluster = Cluster(spec: .article)
        #expect(throws: CommandError("no balancer host named 'lb9' (hosts: lb1, lb2)")) {
            try cluster.apply(.powerOff(host: "lb9"))
        }
        #expect(throws: CommandError("no backend named 'webZ' (backends: webA, webB)")) {
            try cluster.apply(.kill(.backend("webZ")))
        }
        #expect(throws: CommandError("lb1's keepalived is not running")) {
            try cluster.apply(.kill(.process(host: "lb1", .keepalived)))
            try cluster.apply(.kill(.process(host: "lb1", .keepalived)))
        }
    }

    @Test func restartedHaproxyGetsANewPid() throws {
        let cluster = Cluster(spec: .article)
        let lb1 = try #require(cluster.host(named: "lb1"))
        let before = try #require(lb1.haproxy?.pid)
        try cluster.apply(.kill(.process(host: "lb1", .haproxy)))
        #expect(lb1.haproxy == nil)
        try cluster.apply(.restore("lb1"))
        let after = try #require(lb1.haproxy?.pid)
        #expect(after != before)
    }
}
