import BalancerCore
import ClusterModel
import HadeckBase
import HadeckTestSupport
import Testing
import VRRPCore
import WebCore

@testable import ClusterCore

/// Each command the dashboard (or a scenario, or stdin) can send, and the core change it must make.
@Suite(.inTheBackground) struct CommandEffectTests {
    /// A cluster that has settled: lb1 MASTER, both servers UP, traffic flowing.
    func settled() -> SimulatedClusterSource {
        let source = SimulatedClusterSource(cluster: Cluster(spec: .article))
        source.advance(wallElapsed: .seconds(10))
        return source
    }

    func row(_ s: ClusterSnapshot, _ balancer: String, _ server: String) -> ServerRow? {
        s.servers.first { $0.balancer == balancer && $0.server == server }
    }

    func host(_ s: ClusterSnapshot, _ name: String) -> HostSnapshot? { s.hosts.first { $0.name == name } }

    @Test func settledClusterLooksLikeTheArticle() throws {
        let s = settled().snapshot(requestLimit: 50, eventLimit: 50)
        #expect(s.masters.map(\.name) == ["lb1"])
        #expect(s.arp.owner == "lb1" && s.arp.mac == "52:54:00:00:01:01")
        #expect(s.servers.count == 4 && s.servers.allSatisfy { $0.status == "UP" })
        #expect(try #require(row(s, "lb1", "webA")).jvmRoute == "jvm3")
        // The browsers wait until lb1 announces the VIP (3.414062 s): before, nobody could answer; after,
        // every request succeeds.
        let early = s.requests.filter { $0.time < Instant(micros: 3_414_062) }
        let late = s.requests.filter { $0.time >= Instant(micros: 3_414_062) }
        #expect(early.isEmpty, "\(early.map(\.reason))")
        #expect(late.count >= 20 && late.allSatisfy { $0.status == 200 })
        #expect(!s.traffic.waitingForFirstMaster)
        #expect(try #require(host(s, "lb2")).masterDownDeadline != nil)
    }

    @Test func trafficWaitsForTheFirstMaster() {
        let source = SimulatedClusterSource(cluster: Cluster(spec: .article))
        source.advance(wallElapsed: .seconds(3))
        let waiting = source.snapshot(requestLimit: 10, eventLimit: 0)
        #expect(waiting.traffic.on && waiting.traffic.waitingForFirstMaster)
        #expect(waiting.requests.isEmpty && source.cluster.requestsSent == 0)
        source.advance(wallElapsed: .seconds(1))
        #expect(!source.snapshot(requestLimit: 0, eventLimit: 0).traffic.waitingForFirstMaster)
        #expect(source.cluster.requestsSent > 0)
    }

    @Test func drainMaintReadyChangeAdminStateOnEveryBalancerOrOne() throws {
        let source = settled()
        _ = try source.perform(.cluster(.setServerState(server: "webA", balancer: nil, .drain)), by: "key d")
        var s = source.snapshot(requestLimit: 0, eventLimit: 10)
        #expect(row(s, "lb1", "webA")?.status == "DRAIN" && row(s, "lb2", "webA")?.status == "DRAIN")
        #expect(s.events.first?.type == .backendState && s.events.first?.why.contains("key d") == true)
        _ = try source.perform(.cluster(.setServerState(server: "webA", balancer: "lb2", .maint)), by: "key m")
        s = source.snapshot(requestLimit: 0, eventLimit: 10)
        #expect(row(s, "lb1", "webA")?.status == "DRAIN" && row(s, "lb2", "webA")?.status == "MAINT")
        _ = try source.perform(.cluster(.restore("webA")), by: "key r")
        s = source.snapshot(requestLimit: 0, eventLimit: 10)
        #expect(row(s, "lb1", "webA")?.adminState == .ready && row(s, "lb2", "webA")?.adminState == .ready)
    }

    @Test(arguments: [
        (WeightChange.absolute(50), 50), (.percent(200), 2), (.relative(10), 11), (.relative(-10), 0), (.reset, 1),
    ])
    func weightChanges(change: WeightChange, expected: Int) throws {
        let source = settled()
        _ = try source.perform(.cluster(.setWeight(server: "webB", balancer: "lb1", change)), by: "key F5")
        let s = source.snapshot(requestLimit: 0, eventLimit: 10)
        #expect(row(s, "lb1", "webB")?.weight == expected)
        #expect(row(s, "lb2", "webB")?.weight == 1)
    }

    @Test func killAndRestoreABackend() throws {
        let source = settled()
        _ = try source.perform(.cluster(.kill(.backend("webB"))), by: "key k")
        #expect(source.cluster.webServer(named: "webB")?.running == false)
        source.advance(wallElapsed: .seconds(8))
        #expect(row(source.snapshot(requestLimit: 0, eventLimit: 0), "lb1", "webB")?.status == "DOWN")
        _ = try source.perform(.cluster(.restore("webB")), by: "key r")
        #expect(source.cluster.webServer(named: "webB")?.running == true)
        source.advance(wallElapsed: .seconds(5))
        #expect(row(source.snapshot(requestLimit: 0, eventLimit: 0), "lb1", "webB")?.status == "UP")
    }

    @Test func balancerHostKeys() throws {
        let source = settled()
        _ = try source.perform(.cluster(.kill(.process(host: "lb1", .haproxy))), by: "key k")
        #expect(host(source.snapshot(requestLimit: 0, eventLimit: 0), "lb1")?.haproxyPID == nil)
        _ = try source.perform(.cluster(.kill(.process(host: "lb1", .keepalived))), by: "key K")
        var s = source.snapshot(requestLimit: 0, eventLimit: 0)
        // kill -9: no priority-0 advert, so it shows as killed, not as a graceful stop.
        #expect(host(s, "lb1")?.keepalivedPID == nil && host(s, "lb1")?.vrrpState == .killed)
        source.advance(wallElapsed: .seconds(4))
        s = source.snapshot(requestLimit: 0, eventLimit: 0)
        #expect(s.masters.map(\.name) == ["lb2"] && s.arp.owner == "lb2")
        _ = try source.perform(.cluster(.restore("lb1")), by: "key r")
        s = source.snapshot(requestLimit: 0, eventLimit: 0)
        #expect(host(s, "lb1")?.haproxyPID != nil && host(s, "lb1")?.keepalivedPID != nil)
        _ = try source.perform(.cluster(.stop(.process(host: "lb2", .keepalived))), by: "key s")
        #expect(host(source.snapshot(requestLimit: 0, eventLimit: 0), "lb2")?.vrrpState == .stopped)
        _ = try source.perform(.cluster(.powerOff(host: "lb2")), by: "key p")
        #expect(host(source.snapshot(requestLimit: 0, eventLimit: 0), "lb2")?.vrrpState == .off)
        _ = try source.perform(.cluster(.powerOn(host: "lb2")), by: "key p")
        #expect(host(source.snapshot(requestLimit: 0, eventLimit: 0), "lb2")?.poweredOn == true)
    }

    @Test func partitionAndHeal() throws {
        let source = settled()
        _ = try source.perform(.cluster(.partition("lb1", "lb2")), by: "key P")
        #expect(host(source.snapshot(requestLimit: 0, eventLimit: 0), "lb1")?.partitionedFrom == ["lb2"])
        source.advance(wallElapsed: .seconds(5))
        #expect(source.snapshot(requestLimit: 0, eventLimit: 0).masters.count == 2)
        _ = try source.perform(.cluster(.heal(nil, nil)), by: "key P")
        source.advance(wallElapsed: .seconds(2))
        let s = source.snapshot(requestLimit: 0, eventLimit: 0)
        #expect(s.masters.map(\.name) == ["lb1"] && host(s, "lb1")?.partitionedFrom == [])
    }

    @Test func trafficTimeScaleAndPause() throws {
        let source = settled()
        _ = try source.perform(.cluster(.traffic(enabled: false, rate: nil, clients: nil)), by: "key t")
        let before = source.cluster.requestsSent
        source.advance(wallElapsed: .seconds(3))
        #expect(source.cluster.requestsSent == before)
        _ = try source.perform(.cluster(.traffic(enabled: true, rate: 20, clients: nil)), by: "key ]")
        source.advance(wallElapsed: .seconds(1))
        #expect(source.cluster.requestsSent - before >= 19)
        _ = try source.perform(.setTimeScale(0.25), by: "key <")
        let t0 = source.cluster.now
        source.advance(wallElapsed: .seconds(4))
        #expect(source.cluster.now - t0 == .seconds(1))
        _ = try source.perform(.setPaused(true), by: "key space")
        source.advance(wallElapsed: .seconds(4))
        #expect(source.cluster.now - t0 == .seconds(1))
        let snapshot = source.snapshot(requestLimit: 0, eventLimit: 5)
        #expect(snapshot.paused)
        // Time-scale and pause changes are events with their why, like every other action.
        #expect(
            snapshot.events.prefix(2).map(\.why) == [
                "key space paused the cluster's clock",
                "key < set the time scale to x0.25 (virtual seconds per real second)",
            ])
    }

    @Test func heavyTrafficIsSampledAndRatesStayExact() throws {
        let source = settled()
        _ = try source.perform(.cluster(.traffic(enabled: true, rate: 500, clients: 200)), by: "test")
        source.advance(wallElapsed: .seconds(8))
        let s = source.snapshot(requestLimit: 100, eventLimit: 0)
        #expect(abs(s.requestsPerSecond - 500) < 5, "\(s.requestsPerSecond)")
        #expect(s.requestSampling == 10)
        let perServer = s.servers.filter { $0.balancer == "lb1" }.map(\.requestsPerSecond).reduce(0, +)
        #expect(abs(perServer - 500) < 5)
        // Consecutive sampled requests are about 10 requests (20 ms at 500/s) apart.
        let gaps = zip(s.requests, s.requests.dropFirst()).map { ($0.time - $1.time).micros }
        #expect(gaps.allSatisfy { $0 >= 15_000 && $0 <= 25_000 }, "\(gaps.prefix(10))")
    }
}

@Suite struct MisleadingWhyTests {
    /// After a restore lb1 hears lb2's adverts (priority 100, below its 150): the why says so.
    @Test func aRestoredMasterSaysItHeardLowerPriorityAdverts() throws {
        let source = SimulatedClusterSource(cluster: Cluster(spec: .article))
        source.advance(wallElapsed: .seconds(5))
        _ = try source.perform(.cluster(.kill(.process(host: "lb1", .keepalived))), by: "test")
        source.advance(wallElapsed: .seconds(5))
        var events: [ClusterEvent] = []
        source.cluster.onEvent = { events.append($0) }
        _ = try source.perform(.cluster(.restore("lb1")), by: "test")
        source.advance(wallElapsed: .seconds(5))
        let takeover = try #require(
            events.first {
                if case .vrrpState("lb1", .backup, .master, _, _) = $0.kind { true } else { false }
            })
        #expect(!takeover.why.contains("no advert heard"), "\(takeover.why)")
        #expect(takeover.why.contains("127.0.1.2 advertises only 100"), "\(takeover.why)")
        #expect(takeover.timer?.description == "Master_Down_Interval = 3 x 1 s + (256 - 150)/256 s = 3.414062 s")
    }

    /// Checks do not run in maintenance; the first pass afterwards is the first in a row.
    @Test func leavingMaintenanceCountsChecksAfresh() throws {
        let source = SimulatedClusterSource(cluster: Cluster(spec: .article))
        source.advance(wallElapsed: .seconds(30))
        _ = try source.perform(.cluster(.setServerState(server: "webA", balancer: "lb1", .maint)), by: "test")
        source.advance(wallElapsed: .seconds(10))
        var events: [ClusterEvent] = []
        source.cluster.onEvent = { events.append($0) }
        _ = try source.perform(.cluster(.setServerState(server: "webA", balancer: "lb1", .ready)), by: "test")
        source.advance(wallElapsed: .seconds(5))
        let up = try #require(
            events.first {
                if case .backendState("lb1", _, "webA", _, let to, _) = $0.kind { to == "UP" } else { false }
            })
        #expect(up.why.contains("passed its 1st check in a row"), "\(up.why)")
    }
}
