import Foundation
import Testing

@testable import RealCluster

/// The fixtures are what the lab's real keepalived 2.2.7 (its data dumps, `keepalived.data`), haproxy 2.6
/// and iproute2 printed.
private let fixtures: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast()
    return parts.joined(separator: "/") + "/Fixtures/"
}()

private func fixture(_ name: String) throws -> String {
    try String(contentsOfFile: fixtures + name, encoding: .utf8)
}

@Suite struct ReadingTests {
    @Test func notifyFIFOLines() {
        #expect(
            NotifyLine.parse("INSTANCE \"VI_1\" MASTER 150")
                == NotifyLine(kind: .instance, name: "VI_1", event: "MASTER", priority: 150))
        let prio = NotifyLine.parse("INSTANCE \"VI_1\" MASTER_PRIORITY 90")
        #expect(prio?.event == "MASTER_PRIORITY" && prio?.state == nil && prio?.priority == 90)
        #expect(NotifyLine.parse("GROUP \"my group\" BACKUP 0")?.name == "my group")
        #expect(NotifyLine.parse("INSTANCE \"VI_1\" FAULT 150")?.state == "FAULT")
        for junk in ["", "INSTANCE VI_1 MASTER 150", "WHAT \"x\" MASTER 1", "INSTANCE \"VI_1\" MASTER high"] {
            #expect(NotifyLine.parse(Substring(junk)) == nil, "\(junk)")
        }
    }

    @Test func dataDumpOfABackupNamesItsMaster() throws {
        let dump = KeepalivedDataDump.parse(try fixture("keepalived-lb2-backup.keepalived-data.txt"))
        let vi = try #require(dump.instance("VI_1"))
        #expect(vi.state == "BACKUP" && vi.masterRouter == "10.77.0.11" && vi.masterPriority == 150)
        #expect(vi.basePriority == 100 && vi.effectivePriority == 100)
        #expect(
            dump.scripts == [
                KeepalivedDataDump.Script(name: "chk_haproxy", status: "GOOD", weight: -60, rise: 1, fall: 2)
            ])
        #expect(dump.instance(nil) == vi && dump.instance("VI_9") == nil)
        // The timers a watcher needs: when it last changed state and when its Master_Down_Timer fires.
        #expect(vi.lastTransition == 1_796_179_910.752448 && vi.readTimeout == 1_796_179_926.715701)
        #expect(vi.masterDownTimer == 3_609_375 && vi.advertInterval == 1_000_000)
        #expect(vi.interface == "eth0" && vi.sourceAddress == "10.77.0.12" && vi.virtualAddresses == ["10.77.0.10"])
        #expect(vi.trackedScripts == [KeepalivedDataDump.TrackedScript(name: "chk_haproxy", weight: -60)])
        #expect(dump.interface("eth0")?.mac == "02:77:00:00:00:12" && dump.interface("eth0")?.address == "10.77.0.12")
        #expect(KeepalivedDataDump.isComplete(try fixture("keepalived-lb2-backup.keepalived-data.txt")))
        #expect(!KeepalivedDataDump.isComplete("------< VRRP Topology >------\n VRRP Instance = VI_1\n"))
        #expect(KeepalivedDataDump.microseconds("100 centi-sec") == 1_000_000)
    }

    @Test func dataDumpOfAMaster() throws {
        let dump = KeepalivedDataDump.parse(try fixture("keepalived-lb1-master.keepalived-data.txt"))
        let vi = try #require(dump.instance("VI_1"))
        #expect(vi.state == "MASTER" && vi.masterRouter == nil && vi.basePriority == 150 && vi.effectivePriority == 150)
    }

    /// lb1's real keepalived after hadeck's lb2 (`hadeck node`) was MASTER for 20 adverts.
    @Test func statsFileCountsAndErrors() throws {
        let stats = KeepalivedStats.parse(try fixture("keepalived-lb1.keepalived-stats.txt"))
        let vi = try #require(stats.instance("VI_1"))
        #expect(vi.advertsReceived == 20 && vi.advertsSent == 23)
        #expect(vi.counters["Became master"] == 2 && vi.counters["Released master"] == 1)
        #expect(vi.counters["Priority Zero/Sent"] == 0 && vi.counters["Priority Zero/Received"] == 0)
        #expect(vi.errors.count == 8 && vi.errors.values.allSatisfy { $0 == 0 }, "\(vi.errors)")
        #expect(
            vi.errors.keys.contains("Packet Errors/TTL") && vi.errors.keys.contains("Authentication Errors/Failure"))
        #expect(KeepalivedStats.parse("").instances.isEmpty)
    }

    @Test func showStatRows() throws {
        let rows = ShowStatRow.parse(try fixture("show-stat-lb1.csv"))
        #expect(rows.map(\.server) == ["FRONTEND", "webA", "webB", "BACKEND"])
        #expect(rows.allSatisfy { $0.proxy == "web" })
        let webA = try #require(rows.first { $0.server == "webA" })
        #expect(webA.status == "UP" && webA["addr"] == "10.77.0.21:8081" && webA["cookie"] == "A")
        #expect(ShowStatRow.parse("Unknown command.\n").isEmpty)
    }

    @Test func oneRoundTripOfInfoStatAndServersState() throws {
        // What `show info;show stat;show servers state` answers, split by content.
        let status = HAProxyStatus.parse(
            try fixture("show-info-stat-servers-state-lb1.txt"))
        #expect(status.info.pid == 1508 && status.info.node == "lb1" && status.info.version == "2.6.12-1+deb12u4")
        #expect(status.stat.map(\.server) == ["FRONTEND", "webA", "webB", "BACKEND"])
        #expect(status.servers.map(\.server) == ["webA", "webB"])
        let webA = try #require(status.servers.first)
        #expect(webA.backend == "web" && webA.operationalState == 2 && webA.admin.isEmpty && webA.port == 8081)
        #expect(webA.weight == 1 && webA.initialWeight == 1 && webA.checkHealth == 4)
        // Each answer ends with an empty line; extra newlines between them are not a section.
        let sections = blankLineSections("Name: HAProxy\nPid: 7\n\n\n# pxname,svname\nweb,webA\n\n1\n# be_id\n\n")
        #expect(sections == ["Name: HAProxy\nPid: 7", "\n# pxname,svname\nweb,webA", "1\n# be_id", ""])
        #expect(blankLineSections("") == [""] && blankLineSections("a\n\n") == ["a", ""])
        #expect(
            ShowInfo.parse("Name: HAProxy\nPid:  7 \t\nnode:\n").fields == ["Name": "HAProxy", "Pid": "7", "node": ""])
        // A refused command leaves its part empty.
        let refused = HAProxyStatus.parse("Permission denied\n\n")
        #expect(refused.stat.isEmpty && refused.servers.isEmpty && refused.info.pid == nil)
        let drained = ServerStateRow.parse(
            "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight\n2 web 1 webA 10.0.0.1 2 8 1\n"
        )
        #expect(drained.first?.admin == .forcedDrain)
    }

    @Test func neighbourEntries() throws {
        let json = try NeighbourEntry.parseJSON(fixture("neigh-client.json"))
        #expect(
            json == [
                NeighbourEntry(address: "10.77.0.10", device: "eth0", mac: "02:77:00:00:00:11", states: ["REACHABLE"])
            ])
        #expect(NeighbourEntry.parseJSON("[]").isEmpty && NeighbourEntry.parseJSON("not json").isEmpty)
        let line = NeighbourEntry.parseLine("10.77.0.10 dev eth0 lladdr 02:77:00:00:00:12 STALE")
        #expect(
            line == NeighbourEntry(address: "10.77.0.10", device: "eth0", mac: "02:77:00:00:00:12", states: ["STALE"]))
        let deleted = NeighbourEntry.parseLine("Deleted 10.77.0.10 dev eth0 lladdr 02:77:00:00:00:12 STALE")
        #expect(deleted?.deleted == true)
        #expect(NeighbourEntry.parseLine("10.77.0.10 dev eth0 FAILED")?.mac == nil)
        #expect(NeighbourEntry.parseLine("garbage") == nil)
    }

    @Test func procStatWithAWeirdCommandName() {
        let s = ProcessStat.parse("1234 (a b) c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 0 0")
        #expect(s?.command == "a b) c)" && s?.state == "S" && s?.parent == 1 && s?.startTime == 98765)
        #expect(ProcessStat.parse("1234 (zombie) Z 1 0 0 0 0 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0")?.isRunning == false)
        #expect(LinuxProcess.stat(getpid())?.isRunning == true)
        #expect(LinuxProcess.parsePid("4242\n") == 4242 && LinuxProcess.parsePid("") == nil)
    }

    @Test func httpRepliesAndCookies() throws {
        let reply = try #require(
            HTTPProbe.parse(
                "HTTP/1.1 200 OK\r\nset-cookie: JSESSIONID=ABC.jvm3; Path=/; HttpOnly\r\nSet-Cookie: SRV=A; path=/\r\n\r\nbody"
            ))
        #expect(reply.status == 200 && reply.body == "body")
        var jar = CookieJar()
        jar.take(reply)
        #expect(jar.header == "JSESSIONID=ABC.jvm3; SRV=A")
        #expect(HTTPProbe.parse("SSH-2.0-x\r\n\r\n") == nil)
    }
}
