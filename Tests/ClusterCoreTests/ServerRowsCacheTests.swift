import BalancerCore
import ClusterConfig
import ClusterModel
import HadeckBase
import Testing
import WebCore

@testable import ClusterCore

/// The snapshot's server rows are kept between snapshots and updated in place (SnapshotRows.swift):
/// after every kind of change they must equal rows made from scratch, as the snapshot made them
/// before (every server's `Backend.snapshot`, its app server found by address or name).
@Suite struct ServerRowsCacheTests {
    /// The rows made from nothing: each host's haproxy, each backend's `snapshot(now:)`.
    func freshRows(_ c: Cluster) -> [ServerRow] {
        let (_, perKey) = c.requestMeter.rates(at: c.now)
        var rows: [ServerRow] = []
        for h in c.hosts {
            guard let hp = h.haproxy else { continue }
            for b in hp.backends {
                for s in b.backend.snapshot(now: c.now) {
                    let address = s.address.description
                    let web = (c.webServerIndex.byAddress[address] ?? c.webServerIndex.byName[s.name]).map {
                        c.webServers[$0]
                    }
                    let slot = c.meterSlots[Cluster.MeterKey(via: h.name, server: s.name)]
                    let count = slot.map { $0 < perKey.count ? perKey[$0] : 0 } ?? 0
                    rows.append(
                        ServerRow(
                            balancer: h.name, backend: b.name, server: s.name, jvmRoute: web?.jvmRoute,
                            address: address, status: s.state, adminState: s.adminState,
                            checkStatus: s.checkStatusText, checkDuration: s.checkDuration, lastChange: s.lastChange,
                            weight: s.weight.current, initialWeight: s.weight.initial,
                            currentSessions: s.currentSessions, totalSessions: s.totalSessions,
                            requestsPerSecond: Double(count) / Double(c.requestMeter.windowSeconds),
                            health: s.health, rise: s.rise, fall: s.fall, checked: s.checked, backup: s.backup,
                            appRunning: web?.running))
                }
            }
        }
        return rows
    }

    /// Runs `seconds` of virtual time in dashboard ticks, comparing the snapshot's rows with fresh
    /// ones at every tick; returns how many ticks had rows that changed.
    @discardableResult
    func tick(_ source: SimulatedClusterSource, seconds: Int, _ note: String) -> Int {
        var moved = 0
        var last = source.snapshot(requestLimit: 0, eventLimit: 0).servers
        for _ in 0..<(seconds * 10) {
            source.advance(wallElapsed: .milliseconds(100))
            let rows = source.snapshot(requestLimit: 0, eventLimit: 0).servers
            let fresh = freshRows(source.cluster)
            #expect(rows == fresh, "\(note) at t=\(source.cluster.now.seconds): \(firstDifference(rows, fresh))")
            if rows != last { moved += 1 }
            last = rows
        }
        return moved
    }

    func firstDifference(_ a: [ServerRow], _ b: [ServerRow]) -> String {
        guard a.count == b.count else { return "\(a.count) rows against \(b.count)" }
        guard let i = a.indices.first(where: { a[$0] != b[$0] }) else { return "none" }
        return "row \(i): \(a[i]) against \(b[i])"
    }

    @Test func cachedRowsEqualFreshOnesThroughEveryKindOfChange() throws {
        let source = SimulatedClusterSource(
            cluster: Cluster(spec: .synthetic(backends: 6, rate: 60, clients: 12)))
        // Start-up: checks settle, traffic starts once lb1 announces the VIP.
        #expect(tick(source, seconds: 8, "start-up") > 20)
        let settled = source.snapshot(requestLimit: 0, eventLimit: 0)
        #expect(settled.servers.count == 12 && settled.servers.contains { $0.requestsPerSecond > 0 })
        // Every answered request is counted for its balancer and server: the rows' rates add up to
        // the cluster's.
        let sum = settled.servers.reduce(0) { $0 + $1.requestsPerSecond }
        #expect(abs(sum - settled.requestsPerSecond) < 1e-9, "\(sum) against \(settled.requestsPerSecond)")

        let steps: [(ClusterCommand, Int)] = [
            (.setServerState(server: "web2", balancer: nil, .drain), 2),
            (.setServerState(server: "web2", balancer: "lb2", .maint), 2),
            (.setServerState(server: "web2", balancer: nil, .ready), 2),
            (.setWeight(server: "web3", balancer: nil, .absolute(7)), 1),
            (.setWeight(server: "web3", balancer: "lb1", .percent(50)), 1),
            (.setWeight(server: "web3", balancer: nil, .reset), 1),
            // The app dies: checks fail one by one (DOWN 1/3 ... DOWN), its rows say `dead`.
            (.kill(.backend("web4")), 10),
            (.start(.backend("web4")), 10),
            // lb2's haproxy goes (its rows leave the snapshot) and comes back as a new process.
            (.kill(.process(host: "lb2", .haproxy)), 3),
            (.start(.process(host: "lb2", .haproxy)), 5),
            // The master goes: the VIP moves, traffic goes through lb2.
            (.powerOff(host: "lb1"), 8),
            (.powerOn(host: "lb1"), 8),
        ]
        for (command, seconds) in steps {
            _ = try source.perform(.cluster(command), by: "test")
            tick(source, seconds: seconds, command.text)
        }
        let end = source.snapshot(requestLimit: 0, eventLimit: 0)
        #expect(end.servers.count == 12)
    }

    @Test func aRestartedHAProxyGetsRowsMadeAgain() throws {
        let source = SimulatedClusterSource(cluster: Cluster(spec: .article))
        tick(source, seconds: 6, "start-up")
        let before = try #require(
            source.snapshot(requestLimit: 0, eventLimit: 0).servers.first { $0.balancer == "lb1" })
        _ = try source.perform(.cluster(.setWeight(server: before.server, balancer: "lb1", .absolute(9))), by: "test")
        _ = try source.perform(.cluster(.kill(.process(host: "lb1", .haproxy))), by: "test")
        _ = try source.perform(.cluster(.start(.process(host: "lb1", .haproxy))), by: "test")
        // The new process starts from its configuration: weight 1 again, a fresh start time.
        let after = try #require(source.snapshot(requestLimit: 0, eventLimit: 0).servers.first { $0.balancer == "lb1" })
        #expect(after.weight == before.initialWeight && after.lastChange > before.lastChange)
        #expect(source.snapshot(requestLimit: 0, eventLimit: 0).servers == freshRows(source.cluster))
        tick(source, seconds: 4, "after the restart")
    }
}
