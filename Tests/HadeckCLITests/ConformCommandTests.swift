import BalancerCore
import ClusterCore
import ClusterModel
import Conformance
import Foundation
import HadeckBase
import HadeckTestSupport
import Testing

@testable import HadeckCLI

/// `hadeck conform`'s embedded side: one run per outcome a scenario's races can have.
@Suite(.inTheBackground) struct ConformCommandTests {
    static func load(_ name: String) throws -> (Scenario, ClusterSpec) {
        let path = repositoryRoot + "/Examples/conformance/\(name).scenario"
        guard case .success(let loaded) = ScenarioLoader.loadSpec(path: path) else {
            throw TestFailure(description: "\(path) does not load")
        }
        return loaded
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// After the heal, the master whose advert crosses first decides: lb1 hearing lb2's lower advert
    /// answers with its own and a gratuitous ARP (the client is back within one advert); lb2 hearing
    /// lb1's first steps down without a word, and the client keeps sending to lb2's MAC.
    @Test func aHealedPartitionIsPlayedOncePerOutcomeOfItsAdvertRace() throws {
        let (scenario, spec) = try Self.load("partition")
        let branches = EmbeddedConformance.branches(scenario, spec: spec)
        #expect(branches.count == 2)
        #expect(branches.first?.shift == .zero)
        let heals = branches.map { branch in
            let i = branch.run.actions.firstIndex { if case .heal(_, _) = $0.command { true } else { false } }!
            let window = Conformance.window(branch.run, i)
            return (
                events: Conformance.outcome(branch.run)[i],
                outage: Conformance.outage(branch.run.samples, in: window).outage
            )
        }
        let answered = try #require(heals.first { $0.events.contains("VIP -> lb1's MAC") })
        let silent = try #require(heals.first { !$0.events.contains("VIP -> lb1's MAC") })
        #expect(answered.events == ["VIP -> lb1's MAC", "lb2 BACKUP"])
        #expect(silent.events == ["lb2 BACKUP"])
        #expect(answered.outage <= .milliseconds(200))
        #expect(silent.outage >= .seconds(5), "the client stays on lb2's MAC until the run ends")
        // Nothing before the heal differs.
        for branch in branches {
            #expect(Conformance.outcome(branch.run).dropLast() == Conformance.outcome(branches[0].run).dropLast())
        }
    }

    @Test func aScenarioWithoutAHealHasOneEmbeddedRun() throws {
        let (scenario, spec) = try Self.load("graceful-stop")
        #expect(EmbeddedConformance.branches(scenario, spec: spec).count == 1)
    }

    /// The same probe as on the lab (10 ms, 100 ms timeout) on the embedded cluster: a graceful stop
    /// drops lb1's VIP at once and lb2 takes over after Skew_Time (0.609 s), so the client sees ~0.7 s
    /// of timeouts, as the real 0.72 s (real-cluster.md). The stop falls between two probe requests
    /// (as `hadeck conform` places its actions): on a request's own instant the outage would begin a
    /// whole probe step later, an edge the lab's random phase hardly ever meets.
    @Test func theEmbeddedGracefulStopsOutageIsTheRealOnes() throws {
        let cluster = EmbeddedConformance.probeCluster(.article)
        var samples: [ProbeSample] = []
        cluster.onEvent = { e in
            if let r = e.request {
                samples.append(ProbeSample(start: r.time - r.latency, end: r.time, ok: r.status == 200))
            }
        }
        cluster.run(until: at(10.005))
        try cluster.apply(.stop(.process(host: "lb1", .keepalived)))
        cluster.run(until: at(13))
        let o = Conformance.outage(samples, in: at(10)..<at(13))
        #expect(abs(o.outage.micros - 720_000) <= 100_000, "outage \(o.outage)")
        #expect(o.failed >= 6 && o.failed <= 8, "\(o.failed) timeouts")
        let failed = samples.filter { !$0.ok && $0.start >= at(10) }
        #expect(failed.allSatisfy { $0.end - $0.start == .milliseconds(100) }, "each failure is a timeout")
    }

    /// Demonstration 1 with the lab's probe: webA's app is killed while the probe's jar says SRV=A.
    /// haproxy retries webA after its turn-around (min(timeout connect 5 s, 1 s)) and redispatches
    /// only on the last retry, so each request outlasts the probe's 100 ms; the probe gives up, its
    /// jar keeps SRV=A, and the outage lasts until webA is DOWN (three failed checks), as on the
    /// lab (real 5.108 s for webA DOWN after 5.111 s: BENCHMARKS.md, hadeck conform).
    @Test func theEmbeddedBackendFailuresOutageLastsUntilTheServerIsDown() throws {
        let cluster = EmbeddedConformance.probeCluster(.article)
        var samples: [ProbeSample] = []
        var servers: [(start: Instant, server: String?)] = []
        var down: Instant?
        cluster.onEvent = { e in
            if let r = e.request {
                if r.status == 200 { servers.append((r.time - r.latency, r.server)) }
                samples.append(
                    ProbeSample(start: r.time - r.latency, end: r.time, ok: r.status == 200, session: r.session))
            } else if case .backendState("lb1", _, "webA", _, let to, _) = e.kind, to.base == .down,
                to.progress == nil
            {
                down = down ?? e.time
            }
        }
        cluster.run(until: at(10.005))
        #expect(servers.last?.server == "webA", "the probe is on webA (SRV=A) before the kill")
        try cluster.apply(.kill(.backend("webA")))
        cluster.run(until: at(20))
        let o = Conformance.outage(samples, in: at(10)..<at(20))
        let downAt = try #require(down)
        // Three failed checks, inter 2 s: DOWN 4-6 s after the kill (plus the check's own time), by
        // the checks' phase (the lab: 5.11 s).
        let untilDown = downAt - at(10.005)
        #expect(untilDown >= .seconds(4) && untilDown <= .milliseconds(6_100), "webA DOWN \(downAt)")
        #expect(abs((o.outage - untilDown).micros) <= 100_000, "outage \(o.outage), webA DOWN after \(untilDown)")
        let failed = samples.filter { !$0.ok && $0.start >= at(10) }
        #expect(failed.count > 40)
        #expect(failed.allSatisfy { $0.end - $0.start == .milliseconds(100) }, "each failure is the probe's timeout")
        // The answers of the requests it gave up on (redispatched to webB on the last retry) reach
        // nobody: the jar moves to SRV=B only with the first answered request after webA is DOWN.
        let firstOK = try #require(servers.first { $0.start >= at(10.005) })
        #expect(firstOK.start >= downAt && firstOK.server == "webB")
    }
}

private func at(_ s: Double) -> Instant { Instant(micros: Int64((s * 1_000_000).rounded())) }
