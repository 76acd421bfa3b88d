import Foundation
import HadeckBase
import HadeckTestSupport
import RealCluster
import Testing
import VRRPCore

@testable import HostNetwork

@Suite(.serialized, .onItsOwnThread) struct HostNetworkTests {
    // MARK: rtnetlink messages (no root needed)

    @Test func addressMessageIsTheKernelsLayout() throws {
        let vip = try #require(IPv4Address("10.77.0.10"))
        let add = RouteNetlink.addressMessage(.add, address: vip, prefixLength: 32, interface: 2, sequence: 7)
        // nlmsghdr: length 40, RTM_NEWADDR (20), REQUEST|ACK|EXCL|CREATE (0x605), seq 7, pid 0;
        // ifaddrmsg: AF_INET, /32, no flags, scope universe, ifindex 2; IFA_LOCAL, IFA_ADDRESS.
        let expected: [UInt8] =
            [40, 0, 0, 0, 20, 0, 0x05, 0x06, 7, 0, 0, 0, 0, 0, 0, 0]
            + [2, 32, 0, 0, 2, 0, 0, 0]
            + [8, 0, 2, 0, 10, 77, 0, 10] + [8, 0, 1, 0, 10, 77, 0, 10]
        #expect(add == expected)
        let remove = RouteNetlink.addressMessage(.remove, address: vip, prefixLength: 32, interface: 2, sequence: 8)
        #expect(remove[4..<8] == [21, 0, 0x05, 0x00] && remove[8] == 8 && remove[16...] == expected[16...])
    }

    @Test func acknowledgementCarriesTheErrno() {
        func ack(sequence: UInt32, error: Int32) -> [UInt8] {
            RouteNetlink.bytes(UInt32(36)) + RouteNetlink.bytes(UInt16(2)) + [0, 0] + RouteNetlink.bytes(sequence)
                + [0, 0, 0, 0] + RouteNetlink.bytes(-error) + [UInt8](repeating: 0, count: 16)
        }
        #expect(RouteNetlink.acknowledgement(ack(sequence: 3, error: 0), sequence: 3) == 0)
        #expect(RouteNetlink.acknowledgement(ack(sequence: 3, error: EEXIST), sequence: 3) == EEXIST)
        #expect(RouteNetlink.acknowledgement(ack(sequence: 2, error: 0), sequence: 3) == nil, "another request's")
        #expect(RouteNetlink.acknowledgement(Array(ack(sequence: 3, error: 0).prefix(12)), sequence: 3) == nil)
    }

    // MARK: On real interfaces, in namespaces of the test's own

    @Test(.enabled(if: NamespacePair.missing == nil, "\(NamespacePair.missing ?? "")"))
    func interfaceFactsAndCarrier() async throws {
        let pair = try NamespacePair("i")
        defer { pair.remove() }
        let eth0 = try pair.inside(pair.a) { try NetworkInterface.named("eth0") }
        #expect(eth0.mac == NamespacePair.macA && eth0.index > 1 && eth0.isUp && eth0.hasCarrier)
        #expect(eth0.addresses == [IPv4Address("10.78.0.1")!])
        #expect(throws: HostNetworkError.self) { try pair.inside(pair.a) { try NetworkInterface.named("eth9") } }
        // The peer's end goes down: this end stays up but loses its carrier (as a pulled cable).
        // The kernel's link watch applies it a moment later.
        try pair.ip("-n", pair.b, "link", "set", "eth0", "down")
        var pulled = eth0
        let deadline = ContinuousClock.now + .seconds(2)
        while pulled.hasCarrier, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
            pulled = try pair.inside(pair.a) { try NetworkInterface.named("eth0") }
        }
        #expect(pulled.isUp && !pulled.hasCarrier)
        #expect(try pair.inside(pair.a) { HostNetworkNamespace.isSeparate }, "an ip netns namespace is the host's own")
        #expect(!HostNetworkNamespace.isSeparate, "the test runs in the machine's namespace")
    }

    @Test(.enabled(if: NamespacePair.missing == nil, "\(NamespacePair.missing ?? "")"))
    func addAndRemoveAVirtualIP() async throws {
        let pair = try NamespacePair("v")
        defer { pair.remove() }
        let vip = IPv4Address("10.78.0.10")!
        let steps = try pair.inside(pair.a) { () throws -> [String] in
            let eth0 = try NetworkInterface.named("eth0")
            let netlink = try InterfaceAddresses()
            var steps: [String] = []
            steps.append("add \(try netlink.add(vip, interface: eth0.index))")
            steps.append("again \(try netlink.add(vip, interface: eth0.index))")
            steps.append("\(try NetworkInterface.named("eth0").addresses)")
            steps.append("remove \(try netlink.remove(vip, interface: eth0.index))")
            steps.append("again \(try netlink.remove(vip, interface: eth0.index))")
            steps.append("\(try NetworkInterface.named("eth0").addresses)")
            return steps
        }
        #expect(
            steps == [
                "add true", "again false", "[10.78.0.1, 10.78.0.10]", "remove true", "again false", "[10.78.0.1]",
            ])
        // As keepalived adds it: /32, scope global, on eth0.
        try pair.inside(pair.a) {
            _ = try InterfaceAddresses().add(vip, interface: try NetworkInterface.named("eth0").index)
        }
        let shown = try ProgramRunner.run(["ip", "-n", pair.a, "-o", "-4", "addr", "show", "dev", "eth0"]).stdout
        #expect(shown.contains("inet 10.78.0.10/32 scope global eth0"), "\(shown)")
    }

    @Test(.enabled(if: NamespacePair.missing == nil, "\(NamespacePair.missing ?? "")"))
    func gratuitousARPReachesThePeerAsBuilt() async throws {
        let pair = try NamespacePair("g")
        defer { pair.remove() }
        let vip = IPv4Address("10.78.0.10")!
        let watcher = try pair.inside(pair.b) {
            try PacketSocket(interface: NetworkInterface.named("eth0"), etherType: PacketSocket.allTypes)
        }
        let frame = GratuitousARP.frame(mac: NamespacePair.macA, address: vip)
        try pair.inside(pair.a) {
            let socket = try PacketSocket(interface: NetworkInterface.named("eth0"), etherType: GratuitousARP.etherType)
            try socket.send(frame, to: GratuitousARP.broadcast)
        }
        var seen: [UInt8]?
        let deadline = ContinuousClock.now + .seconds(2)
        while seen != frame, ContinuousClock.now < deadline { seen = watcher.receive(timeout: .milliseconds(200)) }
        #expect(seen == frame, "the peer saw the frame byte for byte")
        // The peer's kernel took it as a neighbour update once it had an entry for the address.
        _ = try ProgramRunner.run([
            "ip", "-n", pair.b, "neigh", "replace", "10.78.0.10", "lladdr", "02:78:00:00:00:99",
            "dev", "eth0", "nud", "stale",
        ])
        try pair.inside(pair.a) {
            try PacketSocket(interface: NetworkInterface.named("eth0"), etherType: GratuitousARP.etherType)
                .send(frame, to: GratuitousARP.broadcast)
        }
        try await Task.sleep(for: .milliseconds(100))
        let neigh = try ProgramRunner.run(["ip", "-n", pair.b, "neigh", "show", "10.78.0.10"]).stdout
        #expect(neigh.contains("lladdr 02:78:00:00:00:01"), "\(neigh)")
    }
}
