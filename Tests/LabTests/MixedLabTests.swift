import AttachConfig
import Foundation
import HadeckBase
import HadeckTestSupport
import HostNetwork
import RealCluster
import Testing

@testable import Lab

/// The mixed lab: Debian's haproxy and keepalived on lb1, `hadeck node` on lb2, in a lab of its own
/// (`hdkt-PID-m`). In the suite of labs of their own, beside the shared lab's tests.
extension LabsOfTheirOwnTests {
    static let curl = ProgramRunner.which("curl")

    @Test(
        .enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"),
        .enabled(if: curl != nil, "needs curl"))
    func mixedLabFailsOverToHadeckAndBackWithoutErrorsAtTheRealKeepalived() async throws {
        let id = LabEnvironment.prefix + "m"
        let lab = try Lab(id: id, hadeck: LabEnvironment.hadeck, mixed: true)
        defer { _ = try? lab.down() }
        let up = try await Blocking.run {
            try ProgramRunner.run([LabEnvironment.hadeck, "lab", "up", "--mixed", "--id", id], timeout: .seconds(40))
        }
        try #require(up.succeeded, "\(up.stdout) \(up.stderr)")
        #expect(up.stdout.contains("started lb2's hadeck node"), "\(up.stdout)")

        // lb2 is one hadeck process speaking VRRP with the real keepalived of lb1.
        let node = try #require(lab.runningNode("lb2"))
        #expect(node.command == "hadeck" && lab.runningHAProxy("lb2") == nil && lab.runningKeepalived("lb2") == nil)
        #expect(lab.vrrpState("lb1")?.state == "MASTER")
        #expect(
            try await eventually(within: .seconds(3)) { lab.vrrpState("lb2")?.masterRouter == "10.77.0.11" },
            "hadeck's lb2 is BACKUP to the real lb1: \(String(describing: lab.vrrpState("lb2")))")
        let fifo1 = try NotifyFIFOReader(path: lab.layout.notifyFIFO("lb1"))
        let fifo2 = try NotifyFIFOReader(path: lab.layout.notifyFIFO("lb2"))
        _ = drain(fifo1)
        #expect(drain(fifo2).last == "INSTANCE \"VI_1\" BACKUP 100", "hadeck writes keepalived's FIFO lines")

        // A session through the VIP (curl with a cookie jar, from the client's namespace): on lb1.
        let jar = try TemporaryDirectory("mixed-lab")
        let first = try await curlVIP(lab, jar: jar.file("cookies"))
        #expect(first.status == 200 && lab.clientNeighbour()?.mac == LabTests.lb1MAC)
        let session = try #require(first.session)

        // What lb2 puts on the wire, seen from the client.
        let wire = try WireRecorder(namespace: lab.layout.namespace("client"), from: LabTests.lb2MAC)

        // kill -9 of lb1's real haproxy: hadeck's lb2 takes over within detection + Master_Down_Interval.
        let bound = Bounds.detection + Bounds.masterDown + Bounds.slack
        let lb2Master = watch(fifo2, for: "MASTER", within: bound)
        _ = try lab.killHAProxy("lb1")
        let killed = ContinuousClock.now
        let took = try await lb2Master.value
        report("mixed lab, kill -9 lb1/haproxy", took)
        try #require(took != nil, "hadeck's lb2 was not MASTER within \(bound) of the kill")
        expectSilentDeath(took)
        #expect(try await eventually(within: .seconds(1)) { lab.clientNeighbour()?.mac == LabTests.lb2MAC })
        #expect(
            try await eventually(within: .seconds(1)) {
                lab.interface("lb2")?.addresses.contains(LabLayout.vip) == true
            },
            "hadeck added the VIP to lb2's eth0")
        let second = try await curlVIP(lab, jar: jar.file("cookies"))
        #expect(second.status == 200 && second.session == session, "the session survives: \(second)")
        #expect(second.servedBy == first.servedBy && second.servedBy != nil)
        // Long enough as MASTER for the second batch of gratuitous ARPs (garp_master_delay 5 s).
        try await Task.sleep(until: killed + took! + .milliseconds(5300))

        // lb1's haproxy back: the real keepalived preempts (ignoring hadeck's priority 100 for its
        // Master_Down_Interval) and hadeck's lb2 steps down and removes the VIP.
        let lb1Master = watch(fifo1, for: "MASTER", within: .seconds(2) + Bounds.masterDown + .seconds(2))
        let lb2Backup = watch(fifo2, for: "BACKUP", within: .seconds(2) + Bounds.masterDown + .seconds(3))
        _ = try lab.startHAProxy("lb1")
        let back = try await lb1Master.value
        print("mixed lab, lb1's haproxy restarted: lb1 MASTER again after \(back.map { "\($0.seconds) s" } ?? "never")")
        #expect(back != nil, "the real keepalived did not preempt back")
        #expect(try await lb2Backup.value != nil, "hadeck's lb2 did not step down")
        #expect(try await eventually(within: .seconds(1)) { lab.interface("lb2")?.addresses == ["10.77.0.12"] })
        #expect(try await eventually(within: .seconds(1)) { lab.clientNeighbour()?.mac == LabTests.lb1MAC })

        // The real keepalived counted hadeck's adverts and refused none of them.
        let real = try #require(lab.vrrpStats("lb1"), "lb1's keepalived wrote no stats file")
        print("mixed lab, lb1's keepalived stats: \(real.counters.sorted { $0.key < $1.key })")
        #expect((real.advertsReceived ?? 0) >= 3, "lb1 heard hadeck's adverts while lb2 was MASTER")
        #expect(!real.errors.isEmpty && real.errors.values.allSatisfy { $0 == 0 }, "\(real.errors)")
        let ours = try #require(lab.vrrpStats("lb2"), "hadeck's lb2 wrote no stats file")
        #expect((ours.advertsReceived ?? 0) > 0 && ours.errors.values.allSatisfy { $0 == 0 }, "\(ours.counters)")
        #expect(ours.counters["Became master"] == 1 && ours.counters["Released master"] == 1)

        // hadeck's frames are keepalived's (the captures of the real lb2): the advert but for the
        // kernel's IP id and header checksum, the gratuitous ARPs byte for byte, 5 at once, 5 s later 5 more.
        let frames = wire.stop()
        try expectKeepalivedFrames(frames)

        let before = snapshotProcesses(lab)
        try await Blocking.run { try lab.down() }
        #expect(leftovers(of: id, before: before).isEmpty, "\(leftovers(of: id, before: before))")
    }

    func expectKeepalivedFrames(_ frames: [CaptureFile.Frame]) throws {
        let fixtures = LabEnvironment.repositoryRoot + "/Tests/VRRPCoreTests/Fixtures/"
        let advert = try #require(try CaptureFile(path: fixtures + "vrrp-advert-lb2.pcap").frames.first?.bytes)
        let garp = try #require(try CaptureFile(path: fixtures + "garp-lb2.pcap").frames.first?.bytes)
        // VRRP: IPv4 of protocol 112; gratuitous ARP: ARP whose sender and target address are the same.
        let adverts = frames.filter { $0.bytes.count > 23 && $0.bytes[12...13] == [0x08, 0x00] && $0.bytes[23] == 112 }
        let garps = frames.filter {
            $0.bytes.count >= 42 && $0.bytes[12...13] == [0x08, 0x06] && $0.bytes[28..<32] == $0.bytes[38..<42]
        }
        let firstAdvert = try #require(adverts.first, "lb2 sent no advert")
        func masked(_ b: [UInt8]) -> [UInt8] {
            var b = b
            for i in [18, 19, 24, 25] where i < b.count { b[i] = 0 }
            return b
        }
        for a in adverts { #expect(masked(a.bytes) == masked(advert), "\(a.bytes) vs keepalived's \(advert)") }
        #expect(adverts.count >= 5, "one advert a second while MASTER: \(adverts.count)")
        for g in garps { #expect(g.bytes == garp, "\(g.bytes) vs keepalived's \(garp)") }
        let batch = garps.filter { $0.time - firstAdvert.time < 0.05 }
        #expect(batch.count == 5 && batch.allSatisfy { $0.time >= firstAdvert.time }, "5 GARPs after the first advert")
        let later = garps.filter { abs($0.time - firstAdvert.time - 5) < 0.1 }
        #expect(later.count == 5, "5 more 5 s later: \(garps.map { $0.time - firstAdvert.time })")
    }
}

/// The files a mixed lab writes for its node host.
@Suite(.onItsOwnThread) struct MixedLabFilesTests {
    let layout = LabLayout(id: LabLayout.mixedID)

    @Test func nodeHostsTrackScriptIsHaproxyLiveness() {
        let lb2 = LabLayout.host("lb2")!
        let text = layout.keepalivedConfigText(lb2, hadeckNode: true)
        #expect(text.contains("script \"killall -0 haproxy\"") && !text.contains(layout.checkScript("lb2")))
        // Everything else is the real host's file.
        let real = layout.keepalivedConfigText(lb2)
        let differs = Set(text.split(separator: "\n")).symmetricDifference(real.split(separator: "\n"))
        #expect(differs.allSatisfy { $0.contains("script") || $0.contains("haproxy") }, "\(differs)")
        #expect(layout.id == "hdkm" && layout.namespace("lb2") == "hdkm-lb2")
    }

    @Test func attachFileNamesTheNodeForBothPrograms() throws {
        let attach = layout.attachFileValue(hadeck: "/usr/bin/hadeck", node: "lb2")
        let lb2 = try #require(attach.balancer("lb2"))
        #expect(lb2.haproxy?.pid == .file(layout.nodePidFile("lb2")))
        #expect(lb2.keepalived?.pid == .file(layout.nodePidFile("lb2")) && lb2.keepalived?.vrrpPid == nil)
        let lb1 = try #require(attach.balancer("lb1"))
        #expect(lb1.haproxy?.pid == .file(layout.haproxyPidFile("lb1")))
        #expect(lb1.keepalived?.vrrpPid == .file(layout.vrrpPidFile("lb1")))
    }
}

/// One `curl` from the lab's client through the VIP, with a cookie jar file.
struct CurlReply: CustomStringConvertible {
    var status: Int?
    var servedBy: String?
    var session: String?

    var description: String { "status \(status ?? 0), served by \(servedBy ?? "?"), session \(session ?? "none")" }
}

func curlVIP(_ lab: Lab, jar: String) async throws -> CurlReply {
    let argv = [
        LabEnvironment.hadeck, "lab", "exec", "--id", lab.layout.id, "client", LabsOfTheirOwnTests.curl!, "-s", "-m",
        "2", "-c",
        jar, "-b", jar, "-D", "-", "-o", "/dev/null", "http://\(LabLayout.vip)/login",
    ]
    let out = try await Blocking.run { try ProgramRunner.run(argv) }
    var reply = CurlReply()
    for line in out.stdout.split(whereSeparator: \.isNewline) {
        let lower = line.lowercased()
        if lower.hasPrefix("http/") { reply.status = Int(line.split(separator: " ").dropFirst().first ?? "") }
        if lower.hasPrefix("x-served-by:") {
            reply.servedBy = line.dropFirst("x-served-by:".count).trimmingCharacters(in: .whitespaces)
        }
    }
    // The jar (Netscape format): ... TAB name TAB value.
    let cookies = (try? String(contentsOfFile: jar, encoding: .utf8)) ?? ""
    for line in cookies.split(whereSeparator: \.isNewline) {
        let fields = line.split(separator: "\t")
        if fields.count == 7, fields[5] == "JSESSIONID" { reply.session = String(fields[6]) }
    }
    return reply
}

/// The lines a FIFO holds now (those written while nobody read it included).
func drain(_ reader: NotifyFIFOReader) -> [String] {
    var lines: [String] = []
    while let line = reader.nextLine(timeout: .milliseconds(100)) { lines.append(line) }
    return lines
}

/// Like `watchFIFO`, on a reader of this test's own.
func watch(_ reader: NotifyFIFOReader, for state: String, within: Duration) -> Task<Duration?, any Error> {
    let start = ContinuousClock.now
    return Task {
        try await Blocking.run {
            let deadline = start + within
            while ContinuousClock.now < deadline {
                guard let line = reader.nextLine(timeout: deadline - ContinuousClock.now) else { break }
                if NotifyLine.parse(Substring(line))?.state == state { return ContinuousClock.now - start }
            }
            return nil
        }
    }
}

/// Records the frames one MAC sends, as a host on the bridge sees them (an AF_PACKET socket in
/// that host's namespace), on a thread of its own until `stop` (or until it is released).
final class WireRecorder: Sendable {
    private final class Recording: @unchecked Sendable {
        let lock = NSLock()
        var frames: [CaptureFile.Frame] = []
        var running = true
        let done = DispatchSemaphore(value: 0)
    }

    private let recording = Recording()

    init(namespace: String, from mac: String) throws {
        let socket = try NetworkNamespace.onThread(in: namespace) {
            Result { try PacketSocket(interface: NetworkInterface.named("eth0"), etherType: PacketSocket.allTypes) }
        }.get()
        let source = MACAddress(mac)!.bytes
        let r = recording
        Thread.detachNewThread {
            while r.lock.withLock({ r.running }) {
                guard let bytes = socket.receive(timeout: .milliseconds(100)), bytes.count >= 14,
                    Array(bytes[6..<12]) == source
                else { continue }
                let now = Date().timeIntervalSince1970
                r.lock.withLock { r.frames.append(CaptureFile.Frame(time: now, bytes: bytes)) }
            }
            r.done.signal()
        }
    }

    deinit { recording.lock.withLock { recording.running = false } }

    /// Stops recording; the frames seen so far.
    func stop() -> [CaptureFile.Frame] {
        recording.lock.withLock { recording.running = false }
        recording.done.wait()
        return recording.lock.withLock { recording.frames }
    }
}
