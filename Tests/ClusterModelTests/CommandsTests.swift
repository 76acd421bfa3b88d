import BalancerCore
import ClusterModel
import HadeckBase
import Testing

@Suite("Cluster commands print as scenario lines")
struct CommandTextTests {
    @Test(
        arguments: [
            (ClusterCommand.say("hello"), "say \"hello\""),
            (.traffic(enabled: true, rate: 20, clients: 5), "traffic on 20/s clients 5"),
            (.traffic(enabled: nil, rate: 2.5, clients: nil), "traffic 2.5/s"),
            (.kill(.process(host: "lb1", .haproxy)), "kill lb1/haproxy"),
            (.stop(.process(host: "lb1", .keepalived)), "stop lb1/keepalived"),
            (.start(.backend("webA")), "start webA"),
            (.powerOff(host: "lb1"), "poweroff lb1"),
            (.partition("lb1", "lb2"), "partition lb1 lb2"),
            (.heal(nil, nil), "heal"),
            (.link(host: "lb2", up: false), "link lb2 down"),
            (.setServerState(server: "webA", balancer: "lb1", .drain), "drain webA on lb1"),
            (.setWeight(server: "webB", balancer: nil, .percent(50)), "weight webB 50%"),
            (.setWeight(server: "webB", balancer: nil, .relative(-10)), "weight webB -10"),
            (.setWeight(server: "webB", balancer: nil, .relative(10)), "weight webB +10"),
            (.setWeight(server: "webB", balancer: "lb2", .reset), "weight webB reset on lb2"),
            (.restore("lb1"), "restore lb1"),
        ])
    func text(_ command: ClusterCommand, _ line: String) {
        #expect(command.text == line)
    }

    @Test func ratesPrintWithoutATrailingZero() {
        #expect(formatRate(4) == "4")
        #expect(formatRate(0.25) == "0.25")
    }
}

@Suite("Snapshots")
struct SnapshotTests {
    @Test func mastersAreTheHostsInStateMaster() {
        func host(_ name: String, _ state: HostVRRPState) -> HostSnapshot {
            HostSnapshot(
                name: name, address: "127.0.1.1", mac: "", vrrpState: state, basePriority: 100, effectivePriority: 100)
        }
        var s = ClusterSnapshot(
            time: .zero, clusterName: "t", vip: HostPort(host: "127.0.0.99", port: 8080),
            hosts: [host("lb1", .master), host("lb2", .backup)], arp: ARPSnapshot(ip: "127.0.0.99"))
        #expect(s.masters.map(\.name) == ["lb1"])
        s.hosts[1].vrrpState = .master
        #expect(s.masters.map(\.name) == ["lb1", "lb2"])
    }
}
