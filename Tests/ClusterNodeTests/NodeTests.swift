import Foundation
import HadeckBase
import HadeckTestSupport
import HostNetwork
import RealCluster
import Testing

@testable import ClusterNode
@testable import VRRPCore

#if canImport(Glibc)
    import Glibc
#endif

/// `hadeck node` on real interfaces, in two namespaces of the test's own: the node on one side of a
/// veth pair, the test on the other, sending what a neighbour may send.
@Suite(.serialized, .onItsOwnThread) struct NodeTests {
    static let hadeck: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/.build/debug/hadeck"
    }()

    static let missing: String? = {
        if let m = NamespacePair.missing { return m }
        if !FileManager.default.isExecutableFile(atPath: hadeck) { return "\(hadeck) is not built" }
        return nil
    }()

    static let auth = VRRPAuthentication(type: .pass, password: "hadeck52")

    static let keepalivedConf = """
        global_defs {
            router_id node-test
            vrrp_notify_fifo FIFO
            vrrp_notify_priority_changes true
        }
        vrrp_instance VI_T {
            state BACKUP
            interface eth0
            virtual_router_id 52
            priority 100
            advert_int 1
            authentication {
                auth_type PASS
                auth_pass hadeck52
            }
            virtual_ipaddress {
                10.78.0.10
            }
        }
        """

    static let haproxyCfg = """
        global
            node node-test
        defaults
            mode http
            timeout connect 1s
            timeout client 5s
            timeout server 5s
        listen web
            bind :8080
            server app 10.78.0.2:9 check inter 60000
        """

    /// An advert from the test's side (10.78.0.2): priority 200 unless told, VRID 52, PASS hadeck52.
    static func advert(priority: Int = 200, vrid: Int = 52, interval: Int64 = 1, password: String = "hadeck52")
        -> [UInt8]
    {
        VRRPCodec.encode(
            VRRPAdvert(
                version: 2, virtualRouterID: vrid, priority: priority, advertInterval: .seconds(interval),
                addresses: ["10.78.0.10"], authentication: VRRPAuthentication(type: .pass, password: password)),
            source: NamespacePair.addressB, destination: VRRPCodec.multicastGroup)
    }

    /// A running node in `pair.a` and its files.
    struct RunningNode {
        let dir: TemporaryDirectory
        let pid: Int32

        var fifo: String { dir.file("notify.fifo") }

        func signalAndRead(_ signal: Int32, _ name: String) async throws -> String {
            let path = dir.file(name)
            try? FileManager.default.removeItem(atPath: path)
            kill(pid, signal)
            let deadline = ContinuousClock.now + .seconds(2)
            while ContinuousClock.now < deadline {
                if let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty { return text }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw NamespacePair.Failure(description: "no \(name) after signal \(signal)")
        }
    }

    static func startNode(in pair: NamespacePair) async throws -> RunningNode {
        let dir = try TemporaryDirectory("node")
        let conf = try dir.write(
            "keepalived.conf", keepalivedConf.replacingOccurrences(of: "FIFO", with: dir.file("notify.fifo")))
        let cfg = try dir.write("haproxy.cfg", haproxyCfg)
        try ProgramRunner.startDetached(
            [
                "ip", "netns", "exec", pair.a, hadeck, "node", "-f", cfg, "-k", conf, "--pid-file",
                dir.file("node.pid"),
            ], environment: ["TMPDIR": dir.path], logFile: dir.file("node.log"))
        // Generous: what is tested is the node's behaviour, not how fast a loaded machine starts it.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let pid = LinuxProcess.readPidFile(dir.file("node.pid")), LinuxProcess.isRunning(pid) {
                return RunningNode(dir: dir, pid: pid)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let log = (try? String(contentsOfFile: dir.file("node.log"), encoding: .utf8)) ?? ""
        throw NamespacePair.Failure(description: "hadeck node did not start: \(log)")
    }

    /// Sends `payload` as IP protocol 112 from `pair.b` with `ttl`, to the group or to the node.
    static func send(
        _ payload: [UInt8], ttl: Int32 = 255, to destination: String = "224.0.0.18", in pair: NamespacePair
    )
        throws
    {
        try pair.inside(pair.b) {
            let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue), 112)
            guard fd >= 0 else { throw NamespacePair.Failure(description: "raw socket: \(errno)") }
            defer { close(fd) }
            var value = ttl
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, &value, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, Int32(IPPROTO_IP), IP_TTL, &value, socklen_t(MemoryLayout<Int32>.size))
            var device = Array("eth0".utf8CString)
            setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, &device, socklen_t(device.count))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = IPv4Address(destination)!.value.bigEndian
            let sent = payload.withUnsafeBytes { bytes in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            guard sent == payload.count else { throw NamespacePair.Failure(description: "sendto: \(errno)") }
        }
    }

    @Test(.enabled(if: missing == nil, "\(missing ?? "")"))
    func junkIsCountedByReasonAndTheNodeKeepsItsState() async throws {
        let pair = try NamespacePair("j")
        defer { pair.remove() }
        let node = try await Self.startNode(in: pair)
        defer { kill(node.pid, SIGKILL) }
        let fifo = try NotifyFIFOReader(path: node.fifo)
        #expect(fifo.nextLine(timeout: .seconds(2)) == "INSTANCE \"VI_T\" BACKUP 100")

        var truncated = Self.advert()
        truncated.removeLast(4)
        var badChecksum = Self.advert()
        badChecksum[7] ^= 0xFF
        let v3 = VRRPCodec.encode(
            VRRPAdvert(
                version: 3, virtualRouterID: 52, priority: 200, advertInterval: .seconds(1), addresses: ["10.78.0.10"]),
            source: NamespacePair.addressB, destination: VRRPCodec.multicastGroup)
        let junk: [([UInt8], Int32, String)] = [
            (Self.advert(), 64, VRRPCodec.multicastGroup),  // TTL 64: crossed a router
            (truncated, 255, VRRPCodec.multicastGroup),
            (Self.advert() + [0, 0, 0, 0], 255, VRRPCodec.multicastGroup),
            (badChecksum, 255, VRRPCodec.multicastGroup),
            (Self.advert(password: "wrong"), 255, VRRPCodec.multicastGroup),
            (Self.advert(vrid: 99), 255, VRRPCodec.multicastGroup),
            (Self.advert(interval: 2), 255, VRRPCodec.multicastGroup),
            (v3, 255, VRRPCodec.multicastGroup),
            (Self.advert(), 255, NamespacePair.addressA),  // unicast to a multicast instance
            ([0x21], 255, VRRPCodec.multicastGroup),
        ]
        for (payload, ttl, destination) in junk { try Self.send(payload, ttl: ttl, to: destination, in: pair) }
        // One good advert at priority 200: the node follows that master.
        try Self.send(Self.advert(), in: pair)
        try await Task.sleep(for: .milliseconds(300))
        #expect(LinuxProcess.isRunning(node.pid), "junk never stops the node")

        let stats = KeepalivedStats.parse(try await node.signalAndRead(SIGUSR2, "keepalived.stats"))
        let counters = try #require(stats.instance("VI_T")).counters
        #expect(counters["Advertisements/Received"] == 1, "\(counters)")
        #expect(counters["Packet Errors/TTL"] == 1)
        #expect(counters["Packet Errors/Length"] == 3, "truncated, too long, a lone byte")
        #expect(counters["Packet Errors/Advertisement Interval"] == 1)
        #expect(counters["Packet Errors/Address List"] == 1, "unicast where multicast is configured")
        #expect(counters["Authentication Errors/Failure"] == 1)
        #expect(counters["Other discards (hadeck)/Checksum"] == 1)
        #expect(counters["Other discards (hadeck)/Virtual Router ID"] == 1)
        #expect(counters["Other discards (hadeck)/Version"] == 1)

        // The master speaks again (a BACKUP that hears nothing for 3.6 s takes over, which a loaded
        // machine can let happen while the stats were read), then the dump shows whom it follows.
        try Self.send(Self.advert(), in: pair)
        try await Task.sleep(for: .milliseconds(100))
        let dump = KeepalivedDataDump.parse(try await node.signalAndRead(SIGUSR1, "keepalived.data"))
        let instance = try #require(dump.instance("VI_T"))
        #expect(instance.state == "BACKUP" && instance.masterRouter == NamespacePair.addressB)
        #expect(instance.masterPriority == 200 && instance.effectivePriority == 100 && instance.basePriority == 100)
        let log = try String(contentsOfFile: node.dir.file("node.log"), encoding: .utf8)
        #expect(log.contains("discarded a packet from 10.78.0.2: TTL is not 255"), "\(log)")
    }

    @Test(.enabled(if: missing == nil, "\(missing ?? "")"))
    func takesOverAddsTheVIPAndLeavesGracefully() async throws {
        let pair = try NamespacePair("t")
        defer { pair.remove() }
        let wire = try pair.inside(pair.b) {
            try PacketSocket(interface: NetworkInterface.named("eth0"), etherType: PacketSocket.allTypes)
        }
        let node = try await Self.startNode(in: pair)
        defer { kill(node.pid, SIGKILL) }
        let fifo = try NotifyFIFOReader(path: node.fifo)
        #expect(fifo.nextLine(timeout: .seconds(2)) == "INSTANCE \"VI_T\" BACKUP 100")
        // Nobody else: MASTER after Master_Down_Interval (3.609 s at priority 100), the VIP on eth0.
        let start = ContinuousClock.now
        #expect(fifo.nextLine(timeout: .seconds(5)) == "INSTANCE \"VI_T\" MASTER 100")
        let took = ContinuousClock.now - start
        #expect(took > .milliseconds(2500) && took < .milliseconds(4300), "\(took)")
        // (The FIFO line comes first; the address follows at once.)
        #expect(try await Self.addresses(pair, become: [NamespacePair.addressA, "10.78.0.10"]))
        // The peer saw the advert, then the gratuitous ARPs for the VIP from the node's MAC.
        var frames: [[UInt8]] = []
        while let f = wire.receive(timeout: .milliseconds(200)) { frames.append(f) }
        let garp = GratuitousARP.frame(mac: NamespacePair.macA, address: IPv4Address("10.78.0.10")!)
        #expect(frames.filter { $0 == garp }.count == 5, "5 GARPs")
        let adverts = frames.filter { $0.count == 54 && $0[23] == 112 }
        #expect(!adverts.isEmpty && adverts.allSatisfy { Array($0[34...]) == Self.advertFromNode(priority: 100) })
        // A higher priority advert: BACKUP again, the VIP removed.
        try Self.send(Self.advert(priority: 200), in: pair)
        #expect(fifo.nextLine(timeout: .seconds(1)) == "INSTANCE \"VI_T\" BACKUP 100")
        #expect(try await Self.addresses(pair, become: [NamespacePair.addressA]))
        // Its master stops sending: MASTER again; SIGTERM: a priority-0 advert, the VIP removed, exit.
        #expect(fifo.nextLine(timeout: .seconds(5)) == "INSTANCE \"VI_T\" MASTER 100")
        while wire.receive(timeout: .milliseconds(50)) != nil {}
        kill(node.pid, SIGTERM)
        #expect(fifo.nextLine(timeout: .seconds(2)) == "INSTANCE \"VI_T\" STOP 100")
        #expect(LinuxProcess.waitUntilGone([node.pid], timeout: .seconds(3)))
        var last: [[UInt8]] = []
        while let f = wire.receive(timeout: .milliseconds(100)) { last.append(f) }
        #expect(last.contains { $0.count == 54 && Array($0[34...]) == Self.advertFromNode(priority: 0) })
        #expect(try await Self.addresses(pair, become: [NamespacePair.addressA]))
        #expect(!FileManager.default.fileExists(atPath: node.dir.file("node.pid")), "the pid file is removed")
    }

    /// Whether the node's eth0 holds exactly `expected` within half a second.
    static func addresses(_ pair: NamespacePair, become expected: [String]) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(500)
        while true {
            let now = try pair.inside(pair.a) { try NetworkInterface.named("eth0").addresses.map(\.description) }
            if now == expected { return true }
            if ContinuousClock.now > deadline { return false }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    static func advertFromNode(priority: Int) -> [UInt8] {
        VRRPCodec.encode(
            VRRPAdvert(
                version: 2, virtualRouterID: 52, priority: priority, advertInterval: .seconds(1),
                addresses: ["10.78.0.10"], authentication: auth),
            source: NamespacePair.addressA, destination: VRRPCodec.multicastGroup)
    }
}
