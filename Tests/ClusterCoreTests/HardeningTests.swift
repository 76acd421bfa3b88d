import BalancerCore
import ClusterModel
import HadeckBase
import HadeckTestSupport
import Testing
import VRRPCore

@testable import ClusterCore

/// Inputs that used to crash or run away, and commands that did nothing without a word.
@Suite(.inTheBackground) struct HardeningTests {
    @Test(arguments: [
        (
            "at 1e13s kill webA",
            "d.scenario:1: error: '1e13s' is beyond the longest time hadeck runs a cluster for (604800s, a week)"
        ),
        (
            "end 100000000s",
            "d.scenario:1: error: '100000000s' is beyond the longest time hadeck runs a cluster for (604800s, a week)"
        ),
        (
            "at +9e18 say \"x\"",
            "d.scenario:1: error: '+9e18' is beyond the longest time hadeck runs a cluster for (604800s, a week)"
        ),
        (
            "at 1s traffic 1000000/s",
            "d.scenario:1: error: 'traffic' rate 1000000/s is above the 10000/s the built-in browsers send at most"
        ),
    ])
    func timesAndRatesBeyondTheSupportedRangeAreFileLineErrors(_ text: String, _ message: String) {
        let (scenario, diags) = ScenarioParser.parse(text, file: "d.scenario")
        #expect(scenario == nil)
        #expect(diags.items.map(\.description) == [message])
    }

    @Test func aDurationTooLargeForInt64IsRefusedNotTrapped() {
        #expect(ScenarioParser.parseDuration("1e13s") == nil)
        #expect(ScenarioParser.parseDuration("99999999999999999999h") == nil)
        #expect(ScenarioParser.parseTime("604800s") == Instant(micros: 604_800_000_000))
    }

    /// 440,000 junk datagrams in 10 s used to become 400,000 events: now every one is counted and at
    /// most one event per reason per second says how many came.
    @Test func junkAdvertsAreCountedAlwaysAndReportedAtMostOncePerSecond() throws {
        let cluster = Cluster(spec: .article)
        cluster.run(until: Instant(micros: 5_000_000))
        var discardEvents: [ClusterEvent] = []
        cluster.onEvent = { if $0.type == .vrrpDiscard { discardEvents.append($0) } }
        let junk: [UInt8] = [0x21, 0x33, 0x64, 0x01, 0x01, 0x01, 0xFF, 0xFF] + Array(repeating: 0, count: 12)
        for i in 0..<20_000 {
            cluster.run(until: Instant(micros: 5_000_000 + Int64(i) * 250))
            cluster.receiveAdvert(junk, to: "lb2", fromAddress: "127.0.9.9", destination: VRRPCodec.multicastGroup)
        }
        let counted = try #require(cluster.host(named: "lb2")?.keepalived?.primary?.stats.discards.values.reduce(0, +))
        #expect(counted == 20_000)
        #expect(discardEvents.count <= 6, "\(discardEvents.count) events for 5 s of junk")
        #expect(discardEvents.dropFirst().allSatisfy { $0.why.contains("more for the same reason") })
    }

    @Test func commandsThatWouldDoNothingSayWhy() throws {
        let cluster = Cluster(spec: .article)
        cluster.run(until: Instant(micros: 5_000_000))
        #expect(throws: CommandError("no partition to heal: every balancer hears the others")) {
            try cluster.apply(.heal(nil, nil))
        }
        #expect(throws: CommandError("lb1 and lb2 are not cut off from each other: nothing to heal")) {
            try cluster.apply(.heal("lb1", "lb2"))
        }
        try cluster.apply(.partition("lb1", "lb2"))
        #expect(throws: CommandError("lb2 and lb1 are already cut off from each other")) {
            try cluster.apply(.partition("lb2", "lb1"))
        }
        #expect(throws: CommandError("lb1's link is already up")) { try cluster.apply(.link(host: "lb1", up: true)) }
        try cluster.apply(.setServerState(server: "webA", balancer: nil, .drain))
        #expect(throws: CommandError("webA is already drain on lb1, lb2")) {
            try cluster.apply(.setServerState(server: "webA", balancer: nil, .drain))
        }
    }
}
