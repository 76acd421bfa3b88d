import BalancerCore
import ClusterModel
import HadeckBase
import Testing

@testable import ClusterCore

/// A host answers for the VIP only while its keepalived holds the address (keepalived 2.2.7 and the
/// Linux neighbour cache, as measured in ../shared/reference/real-cluster.md).
@Suite struct VIPOwnershipTests {
    func holders(_ c: Cluster) -> [String] { c.hosts.filter { $0.holds(c.spec.vip.host) }.map(\.name) }

    func requests(_ lines: [String], from: Double, to: Double) -> [String] {
        lines.filter { line in
            guard line.contains(#""type":"request""#), let comma = line.firstIndex(of: ",") else { return false }
            let t = Double(line[line.index(line.startIndex, offsetBy: 5)..<comma]) ?? -1
            return t >= from && t < to
        }
    }

    @Test func becomingMasterAddsTheAddressAndBackupsHaveNone() throws {
        let (runner, lines) = try simulate("end 5s")
        #expect(holders(runner.cluster) == ["lb1"])
        #expect(lines.contains { $0.contains(#""type":"vip.address","node":"lb1","ip":"127.0.0.99","state":"added""#) })
        let snap = runner.cluster.snapshot()
        #expect(snap.hosts.map(\.holdsVIP) == [true, false])
    }

    /// The real graceful stop: the VIP leaves lb1 at once, clients still send to lb1's MAC and get no
    /// answer until lb2's gratuitous ARP after Skew_Time (real: 0.72 s outage for 0.609 s).
    @Test func aGracefulStopRemovesTheAddressAtOnce() throws {
        let (runner, lines) = try simulate(
            "at 4s traffic 20/s clients 10\nat 10s stop lb1/keepalived\nat 11s expect master lb2\nend 12s")
        #expect(runner.failures.isEmpty)
        #expect(holders(runner.cluster) == ["lb2"])
        // (A request already inside lb1's haproxy at the stop is answered: the model routes whole requests.)
        let during = requests(lines, from: 10.01, to: 10.609375)
        #expect(during.count >= 10)
        #expect(
            during.allSatisfy {
                $0.contains(#""status":0"#) && $0.contains("lb1 no longer holds 127.0.0.99")
            }, "\(during)")
        #expect(requests(lines, from: 10.7, to: 12).allSatisfy { $0.contains(#""status":200"#) })
    }

    /// kill -9 leaves the address configured: lb1's haproxy serves until lb2's GARP moves the clients.
    @Test func killingKeepalivedLeavesTheAddressUntilItStartsAgain() throws {
        let (runner, lines) = try simulate(
            """
            at 4s traffic 20/s clients 10
            at 10s kill lb1/keepalived
            at 12s expect vip-mac lb1
            at 16s expect master lb2
            end 16s
            """)
        #expect(runner.failures.isEmpty)
        #expect(holders(runner.cluster).sorted() == ["lb1", "lb2"])
        #expect(requests(lines, from: 10, to: 16).allSatisfy { $0.contains(#""status":200"#) })
        try runner.cluster.apply(.start(.process(host: "lb1", .keepalived)))
        #expect(holders(runner.cluster) == ["lb2"], "keepalived removes the address it left, at start-up")
    }

    @Test func faultAndPowerOffRemoveTheAddress() throws {
        let (link, _) = try simulate("at 10s link lb1 down\nend 11s")
        #expect(holders(link.cluster).isEmpty || holders(link.cluster) == ["lb2"])
        #expect(!link.cluster.host(named: "lb1")!.holds("127.0.0.99"))
        let (power, _) = try simulate("at 10s poweroff lb1\nat 11s poweron lb1\nend 12s")
        #expect(!power.cluster.host(named: "lb1")!.holds("127.0.0.99"))
    }

    /// After a partition heals, lb2 steps down and removes the address. If the clients' entry still
    /// names lb2 and no gratuitous ARP comes, their packets are dropped until the entry goes stale
    /// (30 s reachable + 8 s of probes after the last answer) and they ask again: lb1 answers.
    @Test func aHealedSplitBrainsStaleEntryIsResolvedAgain() throws {
        let cluster = Cluster(spec: .article)
        cluster.run(until: .seconds(5))
        try cluster.apply(.traffic(enabled: true, rate: 10, clients: 5))
        try cluster.apply(.partition("lb1", "lb2"))
        cluster.run(until: .seconds(15))
        #expect(cluster.masters.map(\.name).sorted() == ["lb1", "lb2"])
        #expect(cluster.vipOwner?.name == "lb2")
        // Healed at 20.2 s: lb1's next advert (20.414062 s) reaches lb2 before lb2's own (21.023437 s),
        // so lb2 steps down and lb1 never hears a lower priority to answer with gratuitous ARPs.
        cluster.run(until: Instant(micros: 20_200_000))
        try cluster.apply(.heal(nil, nil))
        let lb2 = try #require(cluster.host(named: "lb2"))
        cluster.run(until: Instant(micros: 20_500_000))
        #expect(cluster.masters.map(\.name) == ["lb1"])
        #expect(cluster.vipOwner?.name == "lb2" && !lb2.holds("127.0.0.99"))
        let lastAnswer = try #require(cluster.arp.confirmed["127.0.0.99"])
        let failed = cluster.requestsFailed
        cluster.run(until: lastAnswer + .seconds(37))
        #expect(cluster.vipOwner?.name == "lb2")
        #expect(cluster.requestsFailed > failed, "requests to lb2's MAC are dropped meanwhile")
        cluster.run(until: lastAnswer + .seconds(39))
        #expect(cluster.vipOwner?.name == "lb1", "the clients asked again and lb1 answered")
        #expect(holders(cluster) == ["lb1"])
    }
}

extension Instant {
    static func seconds(_ s: Int64) -> Instant { Instant(micros: s * 1_000_000) }
}
