import BalancerCore
import HadeckTestSupport
import Testing

@testable import LiveEngine

/// `check port N` and `check addr A` on real sockets: the health checks go where they say, not to
/// the server's traffic address.
@Suite("Live balancer: check port and check addr", .serialized, .onItsOwnThread)
struct CheckTargetTests {
    static let net = 90

    @Test func checksConnectToTheirPortAndAddressNotTheServers() async throws {
        let n = Self.net
        // webA's traffic port has no listener but its check port is the app's; webB's app answers
        // on its own address but its checks go to an address and port where nothing listens.
        let config = """
            defaults
                mode http
                timeout connect 200ms
                timeout client 5s
                timeout server 5s
            listen web
                bind 127.77.\(n).1:18080
                server webA 127.77.\(n).2:18099 check port 18081 inter 100 rise 1 fall 1
                server webB 127.77.\(n).3:18888 check addr 127.77.\(n).2 port 18098 inter 100 rise 1 fall 1
            """
        let cluster = try await TestCluster.start(net: n, config: config)
        defer { Task { await cluster.stop() } }
        #expect(await cluster.waitFor(server: "webB", status: "DOWN"))
        // Several check intervals later webA is still UP: its checks reach the app on 18081.
        try await Task.sleep(for: .milliseconds(500))
        let servers = await cluster.balancer.snapshot().flatMap(\.servers)
        #expect(servers.first { $0.name == "webA" }?.status == "UP")
        #expect(servers.first { $0.name == "webB" }?.status == "DOWN")
        #expect(!cluster.transitions.all.contains { $0.transition.server == "webA" })
        let down = try #require(cluster.transitions.all.first { $0.transition.server == "webB" })
        #expect(down.transition.checkStatus == "L4CON")
    }
}
