import AttachConfig
import BalancerCore
import ClusterModel
import HadeckBase
import RealCluster
import Testing

@testable import AttachedCluster

@Suite struct ControlsTests {
    let lb1Socket = StatsSocketAddress.unix("/run/hadeck-lab/hdk/lb1/haproxy.sock")
    let lb2Socket = StatsSocketAddress.unix("/run/hadeck-lab/hdk/lb2/haproxy.sock")

    func plan(_ c: ClusterCommand, _ run: Run) throws(ControlError) -> [ActionPart] {
        try Controls.plan(c, state: run.state)
    }

    @Test func adminAndWeightGoToEveryBalancersRuntimeAPI() throws {
        let run = try baseline()
        let drain = try plan(.setServerState(server: "webA", balancer: nil, .drain), run)
        #expect(
            drain == [
                ActionPart(
                    .admin(server: "webA", .drain),
                    [
                        .runtime(balancer: "lb1", socket: lb1Socket, line: "set server web/webA state drain"),
                        .runtime(balancer: "lb2", socket: lb2Socket, line: "set server web/webA state drain"),
                    ])
            ])
        let onOne = try plan(.setServerState(server: "webB", balancer: "lb2", .maint), run)
        #expect(
            onOne[0].steps == [.runtime(balancer: "lb2", socket: lb2Socket, line: "set server web/webB state maint")])
        let plus = try plan(.setWeight(server: "webA", balancer: "lb1", .relative(9)), run)
        #expect(plus[0].steps == [.runtime(balancer: "lb1", socket: lb1Socket, line: "set server web/webA weight 10")])
        let pct = try plan(.setWeight(server: "webA", balancer: "lb1", .percent(50)), run)
        #expect(pct[0].steps == [.runtime(balancer: "lb1", socket: lb1Socket, line: "set server web/webA weight 50%")])
        let reset = try plan(.setWeight(server: "webA", balancer: "lb1", .reset), run)
        #expect(reset[0].steps == [.runtime(balancer: "lb1", socket: lb1Socket, line: "set server web/webA weight 1")])
        #expect(throws: ControlError("no balancer's haproxy has a server 'webC' (servers: webA, webB)")) {
            try plan(.setServerState(server: "webC", balancer: nil, .drain), run)
        }
    }

    @Test func processCommandsAreTheFilesTemplatesWithWholeValues() throws {
        let run = try baseline()
        #expect(
            try plan(.kill(.process(host: "lb1", .haproxy)), run) == [
                ActionPart(
                    .process(host: "lb1", .haproxy, .killed, pids: [4242]),
                    [.program(what: "lb1 haproxy kill", arguments: ["kill", "-9", "4242"])])
            ])
        #expect(
            try plan(.kill(.process(host: "lb1", .keepalived)), run) == [
                ActionPart(
                    .process(host: "lb1", .keepalived, .killed, pids: [50, 51]),
                    [.program(what: "lb1 keepalived kill", arguments: ["hadeck", "lab", "kill", "lb1/keepalived"])])
            ])
        #expect(
            try plan(.stop(.process(host: "lb1", .keepalived)), run)[0].steps == [
                .program(what: "lb1 keepalived stop", arguments: ["kill", "-TERM", "50"])
            ])
        #expect(
            try plan(.powerOff(host: "lb1"), run)[0].steps == [
                .program(what: "lb1 power off", arguments: ["hadeck", "lab", "poweroff", "lb1"])
            ])
        #expect(throws: ControlError("lb1's haproxy already runs (pid 4242)")) {
            try plan(.start(.process(host: "lb1", .haproxy)), run)
        }
        #expect(throws: ControlError("the attach file has no haproxy 'start' command for lb2")) {
            try plan(.start(.process(host: "lb2", .haproxy)), run)
        }
        #expect(throws: ControlError("the attach file has no 'power off' command for lb2")) {
            try plan(.powerOff(host: "lb2"), run)
        }
        #expect(throws: ControlError("no balancer 'lb3' in the attach file (balancers: lb1, lb2)")) {
            try plan(.kill(.process(host: "lb3", .haproxy)), run)
        }
        #expect(throws: ControlError("an attached cluster's traffic comes from its own clients: hadeck sends none")) {
            try plan(.traffic(enabled: true, rate: nil, clients: nil), run)
        }
    }

    @Test func deadProcessesAreNotKilledAgain() throws {
        var run = try baseline()
        run.see(1, .processes(balancer: "lb1", ProcessReadings(haproxy: .notRunning)))
        #expect(throws: ControlError("lb1's haproxy is not running (no pid)")) {
            try plan(.kill(.process(host: "lb1", .haproxy)), run)
        }
        #expect(
            try plan(.restore("lb1"), run) == [
                ActionPart(
                    .process(host: "lb1", .haproxy, .start, pids: []),
                    [.program(what: "lb1 haproxy start", arguments: ["hadeck", "lab", "start", "lb1/haproxy"])])
            ])
        #expect(throws: ControlError("the attach file's 'servers' has no 'webB' (servers: webA)")) {
            try plan(.kill(.backend("webB")), run)
        }
        #expect(throws: ControlError("webA's application is not running (no pid)")) {
            try plan(.kill(.backend("webA")), run)
        }
        run.see(2, .app(server: "webA", .running(777)))
        #expect(
            try plan(.kill(.backend("webA")), run)[0].steps == [
                .program(what: "webA kill", arguments: ["kill", "-9", "777"])
            ])
    }

    @Test func restoreAServerReadiesItWhereverItIsDrained() throws {
        var run = try baseline()
        var drained = try status()
        drained.servers = drained.servers.map { s in
            var s = s
            if s.server == "webA" { s.admin = .forcedDrain }
            return s
        }
        run.see(1, .stats(balancer: "lb2", drained))
        run.see(1, .app(server: "webA", .running(777)))
        #expect(
            try plan(.restore("webA"), run) == [
                ActionPart(
                    .admin(server: "webA", .ready),
                    [.runtime(balancer: "lb2", socket: lb2Socket, line: "set server web/webA state ready")])
            ])
        #expect(throws: ControlError("webB: nothing to restore (it runs and is ready everywhere)")) {
            try plan(.restore("webB"), run)
        }
        #expect(throws: ControlError("no balancer or server named 'nope'")) { try plan(.restore("nope"), run) }
    }

    @Test func partitionAndHealUseTheNamesAsWholeArguments() throws {
        let run = try baseline()
        #expect(
            try plan(.partition("lb1", "lb2"), run)[0].steps == [
                .program(what: "partition", arguments: ["hadeck", "lab", "partition", "lb1", "lb2"])
            ])
        #expect(try plan(.heal(nil, nil), run)[0].intent == .heal("lb1", "lb2"))
    }
}
