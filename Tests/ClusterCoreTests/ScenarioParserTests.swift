import BalancerCore
import ClusterModel
import HadeckBase
import Testing

@testable import ClusterCore

@Suite struct ScenarioParserTests {
    @Test(arguments: [
        ("at 12s kill lb1/haproxy", Instant(micros: 12_000_000), ClusterCommand.kill(.process(host: "lb1", .haproxy))),
        ("at 20s stop lb1/keepalived", Instant(micros: 20_000_000), .stop(.process(host: "lb1", .keepalived))),
        ("at 30s poweroff lb1", Instant(micros: 30_000_000), .powerOff(host: "lb1")),
        ("at 40s partition lb1 lb2", Instant(micros: 40_000_000), .partition("lb1", "lb2")),
        ("at 45s heal", Instant(micros: 45_000_000), .heal(nil, nil)),
        ("at 5s drain webA", Instant(micros: 5_000_000), .setServerState(server: "webA", balancer: nil, .drain)),
        (
            "at 5s maint webA on lb2", Instant(micros: 5_000_000),
            .setServerState(server: "webA", balancer: "lb2", .maint)
        ),
        ("at 2s traffic 20/s clients 5", Instant(micros: 2_000_000), .traffic(enabled: true, rate: 20, clients: 5)),
        ("at 800ms traffic off", Instant(micros: 800_000), .traffic(enabled: false, rate: nil, clients: nil)),
        (
            "at 1.5s weight webB 50%", Instant(micros: 1_500_000),
            .setWeight(server: "webB", balancer: nil, .percent(50))
        ),
        ("at 1m restore lb1", Instant(micros: 60_000_000), .restore("lb1")),
        ("at 3s say \"hello \\\"world\\\"\" # comment", Instant(micros: 3_000_000), .say("hello \"world\"")),
    ])
    func parsesTimedCommands(line: String, time: Instant, command: ClusterCommand) throws {
        let (scenario, diags) = ScenarioParser.parse(line, file: "t.scenario")
        #expect(!diags.hasErrors, "\(diags.items)")
        let step = try #require(scenario?.steps.first)
        #expect(step.time == time)
        #expect(step.kind == .command(command))
    }

    @Test(arguments: [
        ("at 13.3s expect master lb2", ScenarioExpectation.master("lb2")),
        ("at 1s expect vip-mac lb2", .vipMAC(host: "lb2")),
        ("at 1s expect sessions-kept", .sessionsKept),
        ("at 1s expect server webA DOWN on lb1", .serverStatus(server: "webA", status: "DOWN", balancer: "lb1")),
        ("at 1s expect server webA UP 1/3 on lb1", .serverStatus(server: "webA", status: "UP 1/3", balancer: "lb1")),
        ("at 1s expect state lb1 backup", .vrrpState(host: "lb1", state: .backup)),
        ("at 1s expect priority lb1 90", .priority(host: "lb1", value: 90)),
        ("at 1s expect process lb1/haproxy dead", .process(host: "lb1", .haproxy, running: false)),
        ("at 1s expect master none", .master(nil)),
    ])
    func parsesExpectations(line: String, expectation: ScenarioExpectation) throws {
        let (scenario, diags) = ScenarioParser.parse(line, file: "t.scenario")
        #expect(!diags.hasErrors, "\(diags.items)")
        #expect(try #require(scenario?.steps.first).kind == .expect(expectation))
    }

    @Test func relativeTimesAndUntimedExpectations() throws {
        let text = """
            name "demo"
            at 10s kill webA
            at +2.5s expect master lb1
            expect sessions-kept
            say "after"
            """
        let (scenario, diags) = ScenarioParser.parse(text, file: "d.scenario")
        #expect(!diags.hasErrors)
        let s = try #require(scenario)
        #expect(s.name == "demo")
        #expect(
            s.steps.map(\.time) == [
                Instant(micros: 10_000_000), Instant(micros: 12_500_000), nil, Instant(micros: 12_500_000),
            ])
        #expect(s.steps.map(\.line) == [2, 3, 4, 5])
        #expect(s.endTime == Instant(micros: 17_500_000))
    }

    @Test(arguments: [
        ("at soon kill webA", "d.scenario:1: error: 'at' needs a time such as 12s, 1.5s, 800ms or +2s"),
        ("at 1s explode lb1", "d.scenario:1: error: unknown command 'explode'"),
        (
            "at 1s kill lb1/nginx",
            "d.scenario:1: error: 'kill' needs one target: a backend (webA) or HOST/haproxy or HOST/keepalived"
        ),
        (
            "at 1s expect weather sunny",
            "d.scenario:1: error: unknown expectation 'weather sunny' (master, split-brain, vip-mac, sessions-kept, clients-on, server, state, priority, process)"
        ),
        ("\n\nat 1s say \"unterminated", "d.scenario:3: error: unterminated quoted string"),
        ("at 1s partition lb1 lb1", "d.scenario:1: error: 'partition' takes two different host names"),
        ("at 1s traffic fast", "d.scenario:1: error: 'traffic' expects on, off, RATE/s and/or 'clients N', got 'fast'"),
    ])
    func errorsNameFileAndLine(text: String, message: String) {
        let (scenario, diags) = ScenarioParser.parse(text, file: "d.scenario")
        #expect(scenario == nil)
        #expect(diags.items.map(\.description) == [message])
    }

    @Test func commandTextRoundTrips() throws {
        let commands: [ClusterCommand] = [
            .kill(.process(host: "lb1", .haproxy)), .stop(.backend("webA")), .powerOn(host: "lb2"),
            .setWeight(server: "webA", balancer: "lb1", .relative(-10)), .traffic(enabled: true, rate: 2.5, clients: 3),
            .heal("lb1", "lb2"), .link(host: "lb1", up: false), .setServerState(server: "webB", balancer: nil, .ready),
        ]
        for c in commands {
            let words = try ScenarioParser.tokenize(c.text)
            #expect(try ScenarioParser.parseCommand(words).get() == c, "\(c.text)")
        }
    }
}

@Suite struct SegmentTests {
    @Test func arpCacheChangesOnlyOnGratuitousARPThatMovesIt() throws {
        var cache = ARPCache()
        let a = try #require(MACAddress("52:54:00:00:01:01"))
        let b = try #require(MACAddress("52:54:00:00:01:02"))
        #expect(cache.mac(for: "127.0.0.99") == nil)
        #expect(cache.receiveGratuitousARP(ip: "127.0.0.99", mac: a, node: "lb1", at: .zero) != nil)
        #expect(cache.receiveGratuitousARP(ip: "127.0.0.99", mac: a, node: "lb1", at: Instant(micros: 5)) == nil)
        let moved = cache.receiveGratuitousARP(ip: "127.0.0.99", mac: b, node: "lb2", at: Instant(micros: 9))
        let change = try #require(moved)
        #expect(change.from == a && change.to == b && change.node == "lb2")
        #expect(cache.mac(for: "127.0.0.99") == b)
        #expect(cache.history.count == 2)
        #expect(cache.garpsSeen == 3)
    }

    @Test func macAddressParsing() {
        #expect(MACAddress("52:54:00:0A:01:ff")?.description == "52:54:00:0a:01:ff")
        #expect(MACAddress("52:54:00:00:01") == nil)
        #expect(MACAddress("52:54:00:00:01:zz") == nil)
    }
}
