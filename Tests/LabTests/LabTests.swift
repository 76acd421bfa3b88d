import AttachConfig
import Foundation
import HadeckBase
import HadeckTestSupport
import RealCluster
import Testing

@testable import Lab

/// VRRP's timers on the lab (keepalived 2.2.7, advert_int 1): Master_Down_Interval of lb2 (priority
/// 100) is 3 x 1 s + (256 - 100) / 256 s = 3.609 s, Skew_Time 0.609 s; chk_haproxy detects a dead
/// haproxy within fall 2 x interval 2 s. Each bound adds 500 ms for scheduling and the FIFO.
enum Bounds {
    static let masterDown = Duration.milliseconds(3609)
    static let skew = Duration.milliseconds(609)
    static let detection = Duration.seconds(4)
    static let slack = Duration.milliseconds(500)
}

/// Prints how long lb2 took to become MASTER after `action` (the test log is the measurement).
func report(_ action: String, _ took: Duration?) {
    print("\(action): lb2 MASTER after \(took.map { String(format: "%.2f s", $0.seconds) } ?? "never")")
}

/// lb1 died without a priority-0 advert reaching lb2: lb2 waited out its Master_Down_Interval from
/// lb1's last advert (sent at most one advert interval before the fault), not Skew_Time.
func expectSilentDeath(_ took: Duration?, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let took else { return }
    #expect(
        took >= Bounds.masterDown - .seconds(1), "lb2 took over after \(took): a priority-0 advert got through",
        sourceLocation: sourceLocation)
}

/// The lab for real: Debian's haproxy and keepalived in network namespaces. The tests on the run's
/// one shared lab are one serialized suite, so they never drive it at the same time; the tests
/// that build labs of their own (`LabsOfTheirOwnTests`) are another, which runs beside it.
@Suite(.serialized, .tags(.lab), .onItsOwnThreadWithoutASlot)
struct LabTests {
    static let lb1MAC = LabLayout.host("lb1")!.mac!
    static let lb2MAC = LabLayout.host("lb2")!.mac!

    /// Says what the lab tests need and which of it is missing (they are skipped with that reason).
    /// With HADECK_REQUIRE_LAB=1 (CI), a missing piece fails the run instead of skipping silently.
    @Test func capabilityProbe() {
        let c = LabEnvironment.capabilities
        let found = [
            "root \(c.root ? "yes" : "no")", "ip \(c.ip ?? "missing")", "haproxy \(c.haproxy ?? "missing")",
            "keepalived \(c.keepalived ?? "missing")", "nft \(c.nft ?? "missing")",
            "network namespaces \(c.root && c.ip != nil ? (c.namespaceProblem ?? "yes") : "not probed")",
        ]
        print("lab capability probe: \(found.joined(separator: ", "))")
        if LabEnvironment.ready {
            print("lab capability probe: the lab tests run")
        } else {
            print("lab capability probe: the lab tests are skipped: \(LabEnvironment.missing.joined(separator: "; "))")
        }
        if ProcessInfo.processInfo.environment["HADECK_REQUIRE_LAB"] == "1" {
            #expect(LabEnvironment.missing.isEmpty, "HADECK_REQUIRE_LAB=1 but: \(LabEnvironment.missing)")
        }
        // The probe itself leaves nothing behind.
        #expect(!NetworkNamespace.exists(LabEnvironment.prefix + "probe"))
    }

    // MARK: The shared lab

    @Test(.enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"))
    func lb1IsMasterAndTheClientSeesItsMAC() async throws {
        let lab = try await SharedLab.baseline()
        let status = lab.status()
        let lb1 = try #require(status.hosts.first { $0.host.name == "lb1" })
        let lb2 = try #require(status.hosts.first { $0.host.name == "lb2" })
        #expect(lb1.vrrp?.state == "MASTER" && lb1.vrrp?.effectivePriority == 150 && lb1.holdsVIP)
        #expect(lb2.vrrp?.state == "BACKUP" && lb2.vrrp?.masterRouter == "10.77.0.11" && !lb2.holdsVIP)
        #expect(lb1.interface?.mac == Self.lb1MAC && lb2.interface?.mac == Self.lb2MAC)
        #expect(status.hosts.first { $0.host.name == "client" }?.neighbour?.mac == Self.lb1MAC)
        // The attach file names what a watcher reads, and each path exists.
        let (attach, _) = AttachFile.load(path: lab.layout.attachFile)
        let a = try #require(attach?.balancer("lb1"))
        #expect(a.haproxy?.stats == .unix(lab.layout.statsSocket("lb1")))
        if case .file(let fifo) = a.keepalived?.fifo { #expect(FileManager.default.fileExists(atPath: fifo)) }
        #expect(AttachCommands.pid(a.haproxy?.pid) == lab.runningHAProxy("lb1")?.pid)
    }

    @Test(.enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"))
    func clientGetsASessionAndSRVCookieThroughTheVIP() async throws {
        let lab = try await SharedLab.baseline()
        var jar = CookieJar()
        let first = try await clientRequest(lab, jar: &jar)
        #expect(first.status == 200)
        let session = try #require(jar.cookies["JSESSIONID"])
        let srv = try #require(jar.cookies["SRV"])
        #expect(session.hasSuffix(".jvm3") || session.hasSuffix(".jvm2"), "\(session)")
        #expect((srv == "A") == session.hasSuffix(".jvm3") && ["A", "B"].contains(srv))
        let second = try await clientRequest(lab, jar: &jar)
        #expect(second.setCookies.isEmpty, "a sticky client gets no new cookie")
        #expect(jar.cookies["JSESSIONID"] == session && second.values("x-served-by") == first.values("x-served-by"))
        // The README's way: `hadeck lab exec client curl ...`; its exit status is curl's.
        if let curl = ProgramRunner.which("curl") {
            let exec = [LabEnvironment.hadeck, "lab", "exec", "--id", lab.layout.id, "client"]
            let out = try ProgramRunner.run(
                exec + [curl, "-s", "-D", "-", "-o", "/dev/null", "http://\(LabLayout.vip)/login"])
            #expect(out.succeeded && out.stdout.contains("JSESSIONID=") && out.stdout.contains("SRV="), "\(out)")
            let refused = try ProgramRunner.run(exec + [curl, "-s", "http://\(LabLayout.vip):81/"])
            #expect(refused.status == 7, "curl's 'could not connect' comes back as hadeck's exit status")
        }
    }

    @Test(.enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"))
    func drainThroughEachStatsSocket() async throws {
        let lab = try await SharedLab.baseline()
        for host in ["lb1", "lb2"] {
            let socket = StatsSocketAddress.unix(lab.layout.statsSocket(host))
            let reply = try RuntimeAPI.send("set server web/webA state drain", to: socket)
            #expect(reply.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(host): \(reply)")
        }
        for host in ["lb1", "lb2"] {
            let rows = try RuntimeAPI.showStat(.unix(lab.layout.statsSocket(host)))
            #expect(rows.first { $0.server == "webA" }?.status == "DRAIN", "\(host)")
            #expect(rows.first { $0.server == "webB" }?.status == "UP", "\(host)")
            _ = try RuntimeAPI.send("set server web/webA state ready", to: .unix(lab.layout.statsSocket(host)))
            #expect(
                try RuntimeAPI.showStat(.unix(lab.layout.statsSocket(host))).first { $0.server == "webA" }?.status
                    == "UP")
        }
    }

    @Test(.enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"))
    func cablePullMakesLb1FaultAndLb2Master() async throws {
        let lab = try await SharedLab.baseline()
        let before = snapshotProcesses(lab)
        let lb1Fault = try watchFIFO("lb1", for: "FAULT", within: Bounds.slack)
        let lb2Master = try watchFIFO("lb2", for: "MASTER", within: Bounds.masterDown + Bounds.slack)
        try lab.setLink("lb1", up: false)
        #expect(try await lb1Fault.value != nil, "keepalived goes FAULT at once")
        let took = try await lb2Master.value
        #expect(took != nil, "lb2 was not MASTER within Master_Down_Interval of the cable pull")
        report("cable pull lb1", took)
        expectSilentDeath(took)
        #expect(
            before.allSatisfy { LinuxProcess.stat($0.pid)?.startTime == $0.startTime }, "every process keeps running")
        let lb1Master = try watchFIFO("lb1", for: "MASTER", within: .seconds(2) + Bounds.masterDown + .seconds(1))
        try lab.setLink("lb1", up: true)
        #expect(try await lb1Master.value != nil, "lb1 did not take the VIP back after its cable was plugged in")
    }

    @Test(.enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"))
    func partitionMakesASplitBrainAndHealEndsIt() async throws {
        let lab = try await SharedLab.baseline()
        let lb2Master = try watchFIFO("lb2", for: "MASTER", within: Bounds.masterDown + Bounds.slack)
        try lab.partition("lb1", "lb2")
        #expect(try lab.isPartitioned())
        let took = try await lb2Master.value
        #expect(took != nil, "lb2 did not take over behind the partition")
        report("partition lb1 lb2", took)
        #expect(try SharedLab.fifo("lb1").availableLines().isEmpty, "lb1 stays MASTER: it hears nothing either")
        #expect(lab.vrrpState("lb1")?.state == "MASTER" && lab.vrrpState("lb2")?.state == "MASTER", "split brain")
        let lb2Backup = try watchFIFO("lb2", for: "BACKUP", within: .seconds(1) + Bounds.slack)
        try lab.heal()
        #expect(try !lab.isPartitioned())
        // lb1's priority 150 advert reaches lb2 again within one advert interval: lb2 steps down.
        #expect(try await lb2Backup.value != nil, "lb2 did not step down after the heal")
    }
}

/// Tests that build, break and remove labs of their own (ids `hdkt-PID-c`, `-r`, `-m`, `-t`,
/// `-k`), never the shared one: serialized among themselves, beside the shared lab's suite.
/// Their bounds are keepalived's timers and a lab's start, which another lab in other namespaces
/// does not move (the two suites together keep the machine's cores mostly idle: they wait on real
/// timers).
@Suite(.serialized, .tags(.lab), .onItsOwnThreadWithoutASlot)
struct LabsOfTheirOwnTests {

    @Test(.enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"))
    func upThenDownTwiceLeavesNothing() async throws {
        let id = LabEnvironment.prefix + "c"
        let lab = try Lab(id: id, hadeck: LabEnvironment.hadeck)
        defer { _ = try? lab.down() }
        for round in 1...2 {
            let start = ContinuousClock.now
            let up = try await Blocking.run {
                try ProgramRunner.run([LabEnvironment.hadeck, "lab", "up", "--id", id], timeout: .seconds(40))
            }
            let upTime = ContinuousClock.now - start
            #expect(up.succeeded, "round \(round): \(up.stdout) \(up.stderr)")
            let lines = up.stdout.split(separator: "\n")
            #expect(lines.last.map(String.init) == lab.layout.attachFile, "the attach file's path is the last line")
            #expect(upTime < .seconds(15), "lab up took \(upTime)")
            let (attach, diags) = AttachFile.load(path: lab.layout.attachFile)
            #expect(attach?.balancers.count == 2 && diags.items.isEmpty, "\(diags.items)")
            let before = snapshotProcesses(lab)
            #expect(Set(before.map(\.command)) == ["haproxy", "keepalived", "hadeck"], "\(before)")
            #expect(before.count == 8, "2 haproxy, 2 x 2 keepalived, 2 app servers: \(before)")

            let down = try await Blocking.run {
                try ProgramRunner.run([LabEnvironment.hadeck, "lab", "down", "--id", id], timeout: .seconds(30))
            }
            #expect(down.succeeded, "\(down.stderr)")
            let left = leftovers(of: id, before: before)
            #expect(left.isEmpty, "round \(round) left: \(left)")
            print("lab lifecycle round \(round): up \(upTime), down ok")
        }
        let again = try await Blocking.run { try lab.down() }
        #expect(again.isEmpty, "a second down finds nothing")
    }

    @Test(.enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"))
    func upRepairsAHalfBuiltLab() async throws {
        let id = LabEnvironment.prefix + "r"
        let lab = try Lab(id: id, hadeck: LabEnvironment.hadeck)
        defer { _ = try? lab.down() }
        // An `up` killed (-9) half way: some namespaces, links and processes made, others not.
        let killed = try await Blocking.run {
            try ProgramRunner.run([LabEnvironment.hadeck, "lab", "up", "--id", id], timeout: .milliseconds(700))
        }
        #expect(killed.timedOut, "the first up was meant to be cut short")
        try await Blocking.run { try lab.up(timeout: .seconds(20)) }
        #expect(lab.status().hosts.allSatisfy { $0.namespaceExists && $0.processes.allSatisfy(\.running) })

        // Break it the other ways a crash or a person can: a host's namespace gone with its
        // processes, a bridge port gone, an app dead, a stale pid file.
        let lb2Processes = NetworkNamespace.processes(in: lab.layout.namespace("lb2"))
        for pid in lb2Processes { LinuxProcess.send(SIGKILL, to: pid) }
        _ = try ProgramRunner.run(["ip", "netns", "delete", lab.layout.namespace("lb2")])
        _ = try ProgramRunner.run(["ip", "-n", lab.layout.namespace("bridge"), "link", "delete", "client"])
        _ = try lab.killApp("webA")
        // webB dead and its pid file naming another program (a reused pid: this test process).
        _ = try lab.killApp("webB")
        try "\(getpid())\n".write(toFile: lab.layout.appPidFile("webB"), atomically: true, encoding: .utf8)
        try await Blocking.run { try lab.up(timeout: .seconds(20)) }
        let status = lab.status()
        #expect(status.hosts.allSatisfy { $0.namespaceExists && $0.processes.allSatisfy(\.running) }, "\(status.text)")
        #expect(status.hosts.first { $0.host.name == "lb2" }?.vrrp?.state == "BACKUP")
        #expect(status.hosts.first { $0.host.name == "client" }?.neighbour?.mac == LabTests.lb1MAC)

        // A crash in the middle of up, then down: nothing is left.
        let before = snapshotProcesses(lab)
        _ = try lab.killKeepalived("lb1")
        _ = try await Blocking.run {
            try ProgramRunner.run([LabEnvironment.hadeck, "lab", "up", "--id", id], timeout: .milliseconds(150))
        }
        let during = snapshotProcesses(lab)
        try await Blocking.run { try lab.down() }
        let left = leftovers(of: id, before: before + during)
        #expect(left.isEmpty, "left after down: \(left)")
    }
}
