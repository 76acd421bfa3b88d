import HadeckBase
import Testing

@testable import BalancerCore

@Test func roundrobinOneToThree() {
    let b = backend(.roundrobin, [server("webA", weight: 1), server("webB", weight: 3)])
    let seq = picks(b, 400)
    #expect(seq.filter { $0 == "webA" }.count == 100)
    #expect(seq.filter { $0 == "webB" }.count == 300)
    var run = 0
    var longest = 0
    for s in seq {
        run = s == "webB" ? run + 1 : 0
        longest = max(longest, run)
    }
    #expect(longest <= 3)
    #expect(b.snapshot(now: .zero).map(\.lbtot) == [100, 300])
}

@Test(arguments: [(BalanceAlgorithm.roundrobin, 100, 300), (.staticRR, 200, 200)])
func setWeightAffectsOnlyDynamicAlgorithms(algo: BalanceAlgorithm, countA: Int, countB: Int) {
    let b = backend(algo, [server("webA"), server("webB")])
    let result = Result { () throws(BalancerError) in try b.setWeight(server: "webB", .absolute(3), now: .zero) }
    if algo == .staticRR {
        #expect(
            throws: BalancerError("Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.")
        ) {
            try result.get()
        }
    }
    let seq = picks(b, 400)
    #expect(seq.filter { $0 == "webA" }.count == countA)
    #expect(seq.filter { $0 == "webB" }.count == countB)
}

@Test func staticRRAcceptsZeroWeight() throws {
    let b = backend(.staticRR, [server("webA"), server("webB")])
    _ = try b.setWeight(server: "webB", .percent(0), now: .zero)
    #expect(Set(picks(b, 10)) == ["webA"])
    _ = try b.setWeight(server: "webB", .percent(100), now: .zero)
    #expect(picks(b, 4).filter { $0 == "webB" }.count == 2)
}

@Test func leastconnFollowsRequestsInFlight() {
    let b = backend(.leastconn, [server("webA"), server("webB"), server("webC")])
    // A request counts from its assignment (admit), before it connects, as HAProxy's `served`.
    var onA1 = assigned(b, "webA")
    var onA2 = assigned(b, "webA")
    _ = assigned(b, "webB")
    #expect(picks(b, 1) == ["webC"])
    _ = assigned(b, "webC")
    #expect(picks(b, 1) == ["webB"] || picks(b, 1) == ["webC"])
    _ = b.finish(&onA1, now: .zero)
    _ = b.finish(&onA2, now: .zero)
    #expect(picks(b, 1) == ["webA"])
    // Equal load: round robin among the tied servers.
    let even = backend(.leastconn, [server("webA"), server("webB")])
    #expect(picks(even, 4) == ["webA", "webB", "webA", "webB"])
    #expect(even.connections(of: "webA") == 0)
}

@Test func backupOnlyWhenActivesUnusable() throws {
    for all in [false, true] {
        let b = backend(.roundrobin, [server("webA"), server("bk1", backup: true), server("bk2", backup: true)]) {
            $0.allbackups = all
        }
        #expect(Set(picks(b, 6)) == ["webA"])
        _ = try b.setAdminState(server: "webA", .maint, now: .zero)
        #expect(Set(picks(b, 6)) == (all ? ["bk1", "bk2"] : ["bk1"]))
        let decision = b.route(request: RoutedRequest(), now: .zero)
        #expect(decision.reason.hasSuffix("(backup)"))
        _ = try b.setAdminState(server: "bk1", .drain, now: .zero)
        #expect(Set(picks(b, 6)) == ["bk2"])
        _ = try b.setAdminState(server: "webA", .ready, now: .zero)
        #expect(Set(picks(b, 6)) == ["webA"])
    }
}

@Test func sourceHashingIsStable() {
    let make = { backend(.source, [server("webA"), server("webB"), server("webC")]) }
    let b1 = make()
    let b2 = make()
    for client in ["10.0.0.1", "10.0.0.2", "192.168.1.99", "127.0.0.5:41234", "::1"] {
        let first = picks(b1, 1, client: client)[0]
        #expect(picks(b1, 5, client: client) == Array(repeating: first, count: 5))
        #expect(picks(b2, 1, client: client) == [first])
    }
    // Map-based hashing: the address as a number modulo the total weight (3) over the map.
    #expect(sourceHash("10.0.0.1") == 0x0A00_0001)
    #expect(picks(b1, 1, client: "10.0.0.3") == [b1.serverNames[Int(sourceHash("10.0.0.3") % 3)]])
    #expect(Set(["10.0.0.1", "10.0.0.2", "10.0.0.3"].map { picks(b1, 1, client: $0)[0] }).count == 3)
}

@Test func firstFillsServersInOrder() {
    let b = backend(.first, [server("webA", maxconn: 2), server("webB", maxconn: 2)])
    var chosen: [RoutingDecision] = []
    for id in 0..<4 {
        var d = b.route(request: RoutedRequest(), now: .zero)
        #expect(b.admit(&d, request: id, now: .zero) == .dispatch)
        chosen.append(d)
    }
    #expect(chosen.map(\.server) == ["webA", "webA", "webB", "webB"])
    #expect(b.route(request: RoutedRequest(), now: .zero).server == nil)
    _ = b.finish(&chosen[0], now: .zero)
    #expect(b.route(request: RoutedRequest(), now: .zero).server == "webA")
}

/// A request routed to `name` (which the caller expects) and holding its slot.
private func assigned(_ b: Backend, _ name: String) -> RoutingDecision {
    var d = b.route(request: RoutedRequest(), now: .zero)
    d.server = name
    _ = b.admit(&d, request: 0, now: .zero)
    return d
}

struct WeightCase: Sendable, CustomStringConvertible {
    var change: WeightSetting
    var result: Result<Int, BalancerError>
    var description: String { "\(change)" }
}

@Test(arguments: [
    WeightCase(change: .absolute(0), result: .success(0)),
    WeightCase(change: .absolute(256), result: .success(256)),
    WeightCase(
        change: .absolute(257),
        result: .failure(BalancerError("Absolute weight can only be between 0 and 256 inclusive."))),
    WeightCase(
        change: .absolute(-1),
        result: .failure(BalancerError("Absolute weight can only be between 0 and 256 inclusive."))),
    WeightCase(change: .percent(50), result: .success(5)),
    WeightCase(change: .percent(3000), result: .success(256)),
    WeightCase(change: .percent(-5), result: .failure(BalancerError("Relative weight must be positive."))),
])
func setWeightRules(c: WeightCase) {
    let b = backend(.roundrobin, [server("webA", weight: 10)])
    do {
        _ = try b.setWeight(server: "webA", c.change, now: .zero)
        let w = try b.weight("webA", now: .zero)
        #expect(Result<Int, BalancerError>.success(w.current) == c.result)
        #expect(w.description == "\(w.current) (initial 10)")
    } catch {
        #expect(Result<Int, BalancerError>.failure(error) == c.result)
    }
}

@Test func weightErrorsAndParsing() throws {
    let b = backend(.roundrobin, [server("webA", weight: 10)])
    #expect(throws: BalancerError("No such server.")) { try b.setWeight(server: "nope", .absolute(1), now: .zero) }
    #expect(try WeightSetting.parse("50%") == .percent(50))
    #expect(try WeightSetting.parse("7") == .absolute(7))
    #expect(throws: BalancerError("Trailing garbage in weight string")) { try WeightSetting.parse("7x") }
    #expect(throws: BalancerError("Require <weight> or <weight%>.")) { try WeightSetting.parse("") }
    let t = try b.setWeight(server: "webA", .absolute(0), now: .zero)
    #expect(
        t.first?.why == "webA weight changed from 10 to 0 (initial 10): no new clients, cookie clients still served")
    _ = try b.resetWeight(server: "webA", now: .zero)
    #expect(try b.weight("webA", now: .zero).description == "10 (initial 10)")
}

@Test func slowstartRampsAfterComingBackUp() throws {
    var s = server("webA", weight: 100, check: true)
    s.slowstart = .seconds(8)
    let b = backend(.roundrobin, [s, server("webB")])
    // No ramp at start-up.
    #expect(try b.weight("webA", now: .zero).effective == 100)
    var t = Instant.zero
    for outcome in [CheckOutcome.refused, .connected, .connected] {
        t = b.nextCheckDue!
        _ = b.startDueChecks(now: t)
        _ = b.completeCheck(server: "webA", outcome: outcome, duration: .zero, now: t)
    }
    #expect(b.status(of: "webA") == "UP")
    #expect(b.snapshot(now: t).first?.lastChange == t)
    // Measured on HAProxy 2.6.12: 7 -> 19 -> ... -> 94 -> 100 over 8 s.
    var seen: [Int] = []
    for k in Int64(0)...9 { seen.append(try b.weight("webA", now: t + .seconds(k)).effective) }
    #expect(seen.first == 7)
    #expect(seen[1] == 19)
    #expect(seen[7] == 94)
    #expect(seen[8] == 100)
    #expect(seen[9] == 100)
    #expect(seen == seen.sorted())
    #expect(try b.weight("webA", now: t).current == 100)
}
