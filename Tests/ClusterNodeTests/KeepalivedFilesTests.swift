import Foundation
import HadeckBase
import HadeckTestSupport
import RealCluster
import Testing

@testable import ClusterNode
@testable import VRRPCore

/// What `hadeck node` writes for watchers, against what the real keepalived 2.2.7 wrote in the lab.
@Suite(.onItsOwnThread) struct KeepalivedFilesTests {
    static func status(state: VRRPState = .backup) -> NodeVRRPStatus {
        var stats = VRRPStats()
        stats.advertsReceived = 20
        stats.advertsSent = 23
        stats.becameMaster = 2
        stats.discards = [.badTTL: 2, .authMismatch: 1, .badChecksum: 4, .truncated: 1, .badLength: 1]
        var script = TrackedScriptStatus(
            name: "chk_haproxy", check: .haproxyAlive, weight: -60, interval: .seconds(2), rise: 1, fall: 2)
        script.initialising = false
        return NodeVRRPStatus(
            name: "VI_1", state: state, basePriority: 100, effectivePriority: 100, masterIP: "10.77.0.11",
            masterPriority: 150, sourceIP: "10.77.0.12", interface: "eth0", virtualRouterID: 51,
            advertInterval: .seconds(1), vips: ["10.77.0.10"], vipsInstalled: false,
            masterDownInterval: .microseconds(3_609_375), stats: stats, discards: stats.discards, releasedMaster: 1,
            scripts: [script], multicast: true, authentication: VRRPAuthentication(type: .pass, password: "hadeck51"))
    }

    static func realFixture(_ name: String) throws -> String {
        try String(contentsOfFile: repositoryRoot + "/Tests/RealClusterTests/Fixtures/" + name, encoding: .utf8)
    }

    @Test func statsFileHasKeepalivedsLayout() throws {
        var clean = Self.status()
        clean.discards = [:]
        let text = KeepalivedFiles.stats(clean)
        // Line for line what lb1's keepalived wrote (same counts), then hadeck's own discards.
        let real = try Self.realFixture("keepalived-lb1.keepalived-stats.txt")
        #expect(text.hasPrefix(real), "\(text)")
        let counters = try #require(KeepalivedStats.parse(KeepalivedFiles.stats(Self.status())).instance("VI_1"))
            .counters
        #expect(counters["Packet Errors/TTL"] == 2 && counters["Packet Errors/Length"] == 2)
        #expect(counters["Authentication Errors/Failure"] == 1 && counters["Other discards (hadeck)/Checksum"] == 4)
    }

    @Test func dataDumpReadsLikeTheRealBackups() throws {
        let settings = NodeKeepalived.Settings(
            instance: VRRPInstanceConfig(name: "VI_1", virtualRouterID: 51), globals: KeepalivedGlobals(),
            scripts: [], dumpDirectory: "/tmp")
        let ours = KeepalivedDataDump.parse(KeepalivedFiles.dataDump(Self.status(), settings: settings))
        let real = KeepalivedDataDump.parse(try Self.realFixture("keepalived-lb2-backup.keepalived-data.txt"))
        // Wall-clock fields (the real dump's `Last transition` and `Read timeout`, which the attach
        // source reads) cannot match a dump written at another time; hadeck node does not write them.
        var realInstance = try #require(real.instance("VI_1"))
        (realInstance.lastTransition, realInstance.readTimeout) = (nil, nil)
        #expect(ours.instance("VI_1") == realInstance, "\(String(describing: ours.instance("VI_1")))")
        #expect(ours.scripts == real.scripts)
    }

    @Test func notifyFIFOIsMadeWrittenAndRemoved() throws {
        let dir = try TemporaryDirectory("fifo")
        let path = dir.file("k.fifo")
        let writer = try NotifyFIFOWriter(path: path)
        let reader = try NotifyFIFOReader(path: path)
        writer.write(state: "MASTER", instance: "VI_1", priority: 150)
        writer.write(state: "MASTER_PRIORITY", instance: "VI_1", priority: 90)
        #expect(reader.nextLine(timeout: .seconds(1)) == "INSTANCE \"VI_1\" MASTER 150")
        #expect(NotifyLine.parse(Substring(reader.nextLine(timeout: .seconds(1)) ?? ""))?.event == "MASTER_PRIORITY")
        writer.close()
        #expect(!FileManager.default.fileExists(atPath: path), "a FIFO the node made goes with it")
        // One that was there stays (a reader may hold it across restarts); a plain file is refused.
        try dir.write("plain", "x")
        #expect(throws: (any Error).self) { try NotifyFIFOWriter(path: dir.file("plain")) }
        #expect(mkfifo(path, 0o600) == 0)
        try NotifyFIFOWriter(path: path).close()
        #expect(FileManager.default.fileExists(atPath: path))
    }
}
