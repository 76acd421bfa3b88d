import BalancerCore
import ClusterCore
import ClusterModel
import HadeckBase
import HadeckTestSupport
import LiveCluster
import LiveEngine
import Testing
import VRRPCore
import WebCore

/// The same checks against both data planes: the simulated network (virtual time) and the live
/// sockets (real time). What the dashboard, scenarios and conformance runs rely on holds for either.
@Suite("Data plane contract: simulated network and live sockets", .tags(.live), .onItsOwnThread)
struct DataPlaneContractTests {
    enum Plane: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case simulated, live
        var testDescription: String { rawValue }
    }

    /// A cluster on either plane, driven the same way.
    final class Harness: @unchecked Sendable {
        let simulated: Cluster?
        let live: LiveCluster?

        init(_ plane: Plane, slot: Int) async throws {
            let spec = articleSpec(slot: slot, trafficOn: true, rate: 8, clients: 4)
            switch plane {
            case .simulated:
                simulated = Cluster(spec: spec)
                live = nil
            case .live:
                simulated = nil
                let cluster = try LiveCluster(spec: spec)
                try await cluster.start()
                live = cluster
            }
        }

        /// Lets `seconds` pass: virtual time runs at once, real time is waited for.
        func pass(_ seconds: Double) async throws {
            if let simulated {
                simulated.run(until: simulated.now + .fractionalSeconds(seconds))
            } else {
                try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            }
        }

        func core<T: Sendable>(_ body: @escaping @Sendable (Cluster) throws -> T) async throws -> T {
            if let simulated { return try body(simulated) }
            return try await live!.withCore(body)
        }

        func stop() async { await live?.shutdown() }
    }

    @Test(arguments: Plane.allCases)
    func advertsRequestsPartitionsAndChecks(_ plane: Plane) async throws {
        let h = try await Harness(plane, slot: allocateSlot())
        // Adverts cross the network: lb1 takes over after its Master_Down_Interval, lb2 hears it.
        try await h.pass(4.5)
        #expect(try await h.core { $0.masters.map(\.name) } == ["lb1"])
        let heard = try await h.core { $0.host(named: "lb2")?.keepalived?.primary?.stats.advertsReceived ?? 0 }
        #expect(heard >= 1)
        // Requests reach the backends through the VIP and come back with their sessions.
        try await h.pass(2)
        let (sent, failed, sessions) = try await h.core { c in
            (c.requestsSent, c.requestsFailed, c.browsers.compactMap(\.session))
        }
        #expect(sent >= 8 && failed == 0, "\(sent) sent, \(failed) failed")
        #expect(!sessions.isEmpty && sessions.allSatisfy { $0.hasSuffix(".jvm3") || $0.hasSuffix(".jvm2") })
        // A partition stops the adverts between the two hosts.
        _ = try await h.core { try $0.apply(.partition("lb1", "lb2"), by: "the contract") }
        try await h.pass(0.2)
        let before = try await h.core { $0.host(named: "lb2")?.keepalived?.primary?.stats.advertsReceived ?? 0 }
        try await h.pass(2.2)
        let after = try await h.core { $0.host(named: "lb2")?.keepalived?.primary?.stats.advertsReceived ?? 0 }
        #expect(after == before, "lb2 kept hearing lb1 through a partition")
        _ = try await h.core { try $0.apply(.heal(nil, nil), by: "the contract") }
        // Health checks see a dead app: webA goes DOWN on every balancer (inter 2 s, fall 3).
        _ = try await h.core { try $0.apply(.kill(.backend("webA")), by: "the contract") }
        try await h.pass(7.5)
        let statuses = try await h.core { c in
            c.snapshot(requestLimit: 0, eventLimit: 0).servers.filter { $0.server == "webA" }.map(\.status.description)
        }
        #expect(statuses == ["DOWN", "DOWN"], "\(statuses)")
        await h.stop()
    }
}
