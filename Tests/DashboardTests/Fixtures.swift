import BalancerCore
import ClusterModel
import Dashboard
import Foundation
import HadeckBase
import Testing

/// Hand-made snapshots of the article's cluster: lb1 (MASTER) and lb2 (BACKUP) in front of webA (jvm3) and webB (jvm2).
enum Fixtures {
    static func t(_ s: Double) -> Instant { Instant(micros: Int64(s * 1_000_000)) }

    static func hosts(master: Bool = true) -> [HostSnapshot] {
        [
            HostSnapshot(
                name: "lb1", address: "127.0.0.11", mac: "02:00:7f:00:00:0b", vrrpState: .master, basePriority: 150,
                effectivePriority: 150, haproxyPID: 9644, keepalivedPID: 9640, advertsSent: 42, advertsReceived: 0),
            HostSnapshot(
                name: "lb2", address: "127.0.0.12", mac: "02:00:7f:00:00:0c", vrrpState: .backup, basePriority: 100,
                effectivePriority: 100, haproxyPID: 9650, keepalivedPID: 9651, advertsSent: 0, advertsReceived: 42,
                masterDownDeadline: t(43.5), masterDownInterval: .fractionalSeconds(3.609375),
                heardMaster: "lb1", heardMasterPriority: 150),
        ]
    }

    static func servers(
        webA: ServerStatus = "UP", health: Int = 4, admin: AdminState = .ready, check: String = "L7OK/200"
    )
        -> [ServerRow]
    {
        ["lb1", "lb2"].flatMap { b in
            [
                ServerRow(
                    balancer: b, backend: "web", server: "webA", jvmRoute: "jvm3", address: "127.0.0.21:8081",
                    status: webA, adminState: admin, checkStatus: check, checkDuration: .milliseconds(2),
                    lastChange: t(1), weight: 1, initialWeight: 1, currentSessions: 1, totalSessions: 120,
                    requestsPerSecond: b == "lb1" ? 2.5 : 0, health: health, rise: 2, fall: 3),
                ServerRow(
                    balancer: b, backend: "web", server: "webB", jvmRoute: "jvm2", address: "127.0.0.22:8888",
                    status: "UP", checkStatus: "L7OK/200", checkDuration: .microseconds(900), lastChange: t(1),
                    weight: 1, initialWeight: 1, currentSessions: 0, totalSessions: 118,
                    requestsPerSecond: b == "lb1" ? 2.5 : 0, health: 4, rise: 2, fall: 3),
            ]
        }
    }

    static func requests(count: Int = 30, at time: Double = 42) -> [RequestRecord] {
        (0..<count).map { i in
            let server = i % 2 == 0 ? "webA" : "webB"
            return RequestRecord(
                time: t(time - Double(i) * 0.2), client: "client\(i % 3 + 1)", via: "lb1", server: server, status: 200,
                session: "8F3A2C\(i % 3)D91B4E.\(server == "webA" ? "jvm3" : "jvm2")",
                reason: i % 3 == 0 ? "new session, round robin" : "cookie SRV=\(server)",
                latency: .milliseconds(3 + Int64(i % 4)))
        }
    }

    static func events() -> [ClusterEvent] {
        [
            ClusterEvent(
                time: t(12.5),
                .backendState(balancer: "lb1", backend: "web", server: "webB", from: "DOWN", to: "UP", check: ""),
                why: "2 checks in a row passed (rise 2)"),
            ClusterEvent(
                time: t(3.6),
                .vrrpState(node: "lb1", from: .backup, to: .master, priority: 150, effectivePriority: 150),
                why: "no advert heard for the Master_Down_Interval (3.609375s)"),
            ClusterEvent(
                time: t(0.1), .process(node: "lb1", process: .haproxy, action: .start, pid: 9644),
                why: "the cluster started"),
        ]
    }

    static func arp(changedAt: Double = 3.6) -> ARPSnapshot {
        ARPSnapshot(
            ip: "127.0.0.99", mac: "02:00:7f:00:00:0b", owner: "lb1",
            history: [ARPSnapshot.Change(time: t(changedAt), fromMAC: nil, toMAC: "02:00:7f:00:00:0b", node: "lb1")])
    }

    static func allUp(time: Double = 42) -> ClusterSnapshot {
        ClusterSnapshot(
            time: t(time), clusterName: "article", scenarioName: nil, caption: nil,
            vip: HostPort(host: "127.0.0.99", port: 80), requestsPerSecond: 5,
            traffic: TrafficSnapshot(on: true, rate: 5, clients: 3), hosts: hosts(), arp: arp(),
            servers: servers(), requests: requests(at: time), events: events())
    }

    static func backendDown() -> ClusterSnapshot {
        var s = allUp()
        s.servers = servers(webA: "DOWN", health: 0, check: "L4CON")
        for i in s.servers.indices where s.servers[i].server == "webA" { s.servers[i].appRunning = false }
        return s
    }

    static func rising() -> ClusterSnapshot {
        var s = allUp()
        s.servers = servers(webA: "UP 1/3", health: 3, check: "L4CON")
        return s
    }

    static func drain() -> ClusterSnapshot {
        var s = allUp()
        s.servers = servers(webA: "DRAIN", admin: .drain)
        return s
    }

    static func splitBrain() -> ClusterSnapshot {
        var s = allUp(time: 60)
        s.hosts[0].partitionedFrom = ["lb2"]
        s.hosts[1].partitionedFrom = ["lb1"]
        s.hosts[1].vrrpState = .master
        s.hosts[1].masterDownDeadline = nil
        s.hosts[1].advertsSent = 12
        s.arp = ARPSnapshot(
            ip: "127.0.0.99", mac: "02:00:7f:00:00:0c", owner: "lb2",
            history: [
                ARPSnapshot.Change(
                    time: t(58.2), fromMAC: "02:00:7f:00:00:0b", toMAC: "02:00:7f:00:00:0c", node: "lb2"),
                ARPSnapshot.Change(time: t(3.6), fromMAC: nil, toMAC: "02:00:7f:00:00:0b", node: "lb1"),
            ])
        s.caption = "The link between the balancers is cut: both think they are MASTER."
        s.scenarioName = "split-brain"
        return s
    }

    /// lb1's haproxy was killed: its priority dropped (150 -> 90) and lb2 is counting down.
    static func backupCountingDown() -> ClusterSnapshot {
        var s = allUp(time: 42.4)
        s.hosts[0].haproxyPID = nil
        s.hosts[0].effectivePriority = 90
        s.hosts[1].masterDownDeadline = t(43.5)
        s.timeScale = 0.25
        s.requestSampling = 10
        return s
    }

    static func noMaster() -> ClusterSnapshot {
        var s = allUp()
        s.hosts[0].vrrpState = .off
        s.hosts[0].poweredOn = false
        s.hosts[0].haproxyPID = nil
        s.hosts[0].keepalivedPID = nil
        s.paused = true
        return s
    }
}

/// Compares a rendered screen with `__Snapshots__/NAME.txt` beside this file.
/// A missing file is recorded and the test fails; `HADECK_RECORD=1` re-records every snapshot.
func assertSnapshot(
    _ buffer: CellBuffer, named name: String, filePath: String = #filePath,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let dir = URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("__Snapshots__")
    let file = dir.appendingPathComponent("\(name).txt")
    let actual = buffer.text + "\n"
    let record = ProcessInfo.processInfo.environment["HADECK_RECORD"].map { !$0.isEmpty && $0 != "0" } ?? false
    guard let expected = try? String(contentsOf: file, encoding: .utf8), !record else {
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try? actual.write(to: file, atomically: true, encoding: .utf8)
        if !record {
            Issue.record(
                "snapshot \(name).txt was missing: recorded it now; check it and run again",
                sourceLocation: sourceLocation)
        }
        return
    }
    if expected != actual {
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        var firstDiff = 0
        while firstDiff < min(e.count, a.count) && e[firstDiff] == a[firstDiff] { firstDiff += 1 }
        Issue.record(
            """
            snapshot \(name).txt differs at line \(firstDiff + 1) (HADECK_RECORD=1 to re-record):
            expected: \(firstDiff < e.count ? String(e[firstDiff]) : "<end>")
            actual:   \(firstDiff < a.count ? String(a[firstDiff]) : "<end>")
            --- actual screen ---
            \(actual)
            """, sourceLocation: sourceLocation)
    }
}
