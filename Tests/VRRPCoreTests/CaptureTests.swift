import HadeckBase
import HadeckTestSupport
import Testing

@testable import VRRPCore

/// The codec against keepalived 2.2.7's own packets, captured on the lab's bridge (Fixtures/ holds
/// ../shared/reference/captures/): VRID 51, PASS "hadeck51", VIP 10.77.0.10, lb1 10.77.0.11
/// (02:77:00:00:00:11) priority 150, lb2 10.77.0.12 (02:77:00:00:00:12) priority 100.
@Suite struct CaptureTests {
    static let vip = "10.77.0.10"
    static let auth = VRRPAuthentication(type: .pass, password: "hadeck51")
    static let expectation = VRRPExpectation(
        version: 2, virtualRouterID: 51, advertInterval: .seconds(1), authentication: auth)
    static let multicastMAC: [UInt8] = [0x01, 0x00, 0x5E, 0x00, 0x00, 0x12]

    static func advert(priority: Int) -> VRRPAdvert {
        VRRPAdvert(
            version: 2, virtualRouterID: 51, priority: priority, advertInterval: .seconds(1), addresses: [vip],
            authentication: auth)
    }

    /// The one frame of a single-packet capture.
    static func onlyFrame(_ name: String) throws -> EthernetFrame {
        let capture = try CaptureFile.fixture(name)
        #expect(capture.frames.count == 1, "\(name) holds one packet")
        let first = try #require(capture.frames.first)
        return try #require(EthernetFrame(first.bytes))
    }

    @Test(arguments: [
        ("vrrp-advert-lb1.pcap", 150, "10.77.0.11", "02:77:00:00:00:11"),
        ("vrrp-advert-lb2.pcap", 100, "10.77.0.12", "02:77:00:00:00:12"),
        ("vrrp-prio0-lb1.pcap", 0, "10.77.0.11", "02:77:00:00:00:11"),
    ])
    func encodedAdvertIsKeepalivedsByteForByte(file: String, priority: Int, source: String, mac: String) throws {
        let frame = try Self.onlyFrame(file)
        #expect(frame.destination == Self.multicastMAC && frame.source == MACAddress(mac)?.bytes)
        #expect(frame.etherType == 0x0800)
        let (header, message) = try VRRPCodec.vrrpMessage(inIPv4: frame.payload, multicast: true).get()
        // The VRRP message: header, checksum over the 20 bytes, the VIP, "hadeck51" as the 8 bytes of auth data.
        let encoded = VRRPCodec.encode(Self.advert(priority: priority), source: source, destination: "224.0.0.18")
        #expect(encoded == message, "\(file): \(hex(encoded)) vs keepalived's \(hex(message))")
        #expect(encoded.count == 20)
        // The IP header fields keepalived sets; the id and header checksum are the kernel's.
        #expect(header.tos == VRRPCodec.ipTOS && header.ttl == VRRPCodec.ipTTL && header.ipProtocol == 112)
        #expect(!header.dontFragment && header.headerLength == 20 && header.totalLength == 40)
        #expect(header.source == source && header.destination == VRRPCodec.multicastGroup)
        #expect(VRRPCodec.internetChecksum(Array(frame.payload[0..<20])) == 0, "the kernel's header checksum holds")
        // And it decodes back to the same advert.
        let decoded = VRRPCodec.decode(message, source: source, destination: "224.0.0.18", expecting: Self.expectation)
        #expect(decoded == .success(Self.advert(priority: priority)))
    }

    @Test func passwordIsNULPaddedAndCutAtEightBytes() {
        let short = VRRPAdvert(
            version: 2, virtualRouterID: 51, priority: 100, advertInterval: .seconds(1), addresses: [Self.vip],
            authentication: VRRPAuthentication(type: .pass, password: "hadeck"))
        let long = VRRPAdvert(
            version: 2, virtualRouterID: 51, priority: 100, advertInterval: .seconds(1), addresses: [Self.vip],
            authentication: VRRPAuthentication(type: .pass, password: "hadeck51-and-more"))
        let shortBytes = VRRPCodec.encode(short, source: "", destination: "")
        #expect(Array(shortBytes[12...]) == Array("hadeck".utf8) + [0, 0])
        #expect(
            VRRPCodec.encode(long, source: "", destination: "")
                == VRRPCodec.encode(Self.advert(priority: 100), source: "", destination: ""))
    }

    /// Every advert of a whole failover (lb1 at 150, then 90 once its haproxy died, lb2 at 100, lb1's
    /// priority-0 advert on its graceful stop) decodes and encodes back to keepalived's bytes.
    @Test func everyAdvertOfAFailoverSessionReencodes() throws {
        let capture = try CaptureFile.fixture("session-vrrp-arp.pcap")
        var priorities: [String: Set<Int>] = [:]
        var adverts = 0
        for raw in capture.frames {
            guard let frame = EthernetFrame(raw.bytes), frame.etherType == 0x0800,
                VRRPCodec.ipv4Header(frame.payload)?.ipProtocol == 112
            else { continue }
            let (header, message) = try VRRPCodec.vrrpMessage(inIPv4: frame.payload, multicast: true).get()
            let advert = try VRRPCodec.decode(
                message, source: header.source, destination: header.destination, expecting: Self.expectation
            ).get()
            #expect(VRRPCodec.encode(advert, source: header.source, destination: header.destination) == message)
            #expect(header.tos == 0xC0 && header.ttl == 255 && !header.dontFragment)
            priorities[header.source, default: []].insert(advert.priority)
            adverts += 1
        }
        #expect(adverts == 266)
        #expect(priorities == ["10.77.0.11": [150, 90, 0], "10.77.0.12": [100]])
    }

    @Test func gratuitousARPIsKeepalivedsByteForByte() throws {
        let captured = try CaptureFile.fixture("garp-lb2.pcap").frames.first?.bytes
        let mac = try #require(MACAddress("02:77:00:00:00:12"))
        let vip = try #require(IPv4Address(Self.vip))
        let built = GratuitousARP.frame(mac: mac, address: vip)
        #expect(built == captured, "\(hex(built))")
        #expect(built.count == 42)
        // Each GARP of the session (a broadcast request, sender = target = the VIP) is that frame from
        // its sender's MAC. (The session also holds a reply to one: a host that held the VIP answering.)
        var garps = 0
        for raw in try CaptureFile.fixture("session-vrrp-arp.pcap").frames {
            guard let frame = EthernetFrame(raw.bytes), frame.etherType == GratuitousARP.etherType,
                frame.destination == GratuitousARP.broadcast, frame.payload[14..<18] == frame.payload[24..<28]
            else { continue }
            let sender = try #require(MACAddress(bytes: frame.source))
            #expect(raw.bytes == GratuitousARP.frame(mac: sender, address: IPv4Address(Self.vip)!))
            garps += 1
        }
        #expect(garps % 5 == 0 && garps >= 10, "GARPs come in batches of 5: \(garps)")
    }

    // MARK: What a receiver throws away before the VRRP message

    static func capturedPacket() throws -> [UInt8] { try onlyFrame("vrrp-advert-lb2.pcap").payload }

    /// `packet` with its IP header checksum made right again, so only the intended defect remains.
    static func fixHeader(_ packet: [UInt8]) -> [UInt8] {
        var p = packet
        p[10] = 0
        p[11] = 0
        let sum = VRRPCodec.internetChecksum(Array(p[0..<20]))
        p[10] = UInt8(sum >> 8)
        p[11] = UInt8(sum & 0xFF)
        return p
    }

    @Test func ttlBelow255IsDiscardedWhenMulticast() throws {
        var p = try Self.capturedPacket()
        p[8] = 254
        p = Self.fixHeader(p)
        #expect(VRRPCodec.vrrpMessage(inIPv4: p, multicast: true).failure == .badTTL)
    }

    @Test func lengthsMustBeExact() throws {
        let p = try Self.capturedPacket()
        #expect(VRRPCodec.vrrpMessage(inIPv4: Array(p.dropLast()), multicast: true).failure == .truncated)
        var longer = p + [0]
        longer[3] = 41
        #expect(VRRPCodec.vrrpMessage(inIPv4: Self.fixHeader(longer), multicast: true).failure == .badLength)
        #expect(VRRPCodec.vrrpMessage(inIPv4: Array(p[0..<24]), multicast: true).failure == .truncated)
        #expect(VRRPCodec.vrrpMessage(inIPv4: Array(p[0..<12]), multicast: true).failure == .truncated)
    }

    @Test func otherProtocolsAndVersionsAreNotVRRP() throws {
        var p = try Self.capturedPacket()
        p[9] = 17
        #expect(VRRPCodec.vrrpMessage(inIPv4: Self.fixHeader(p), multicast: true).failure == .notVRRP)
        var v6 = try Self.capturedPacket()
        v6[0] = 0x65
        #expect(VRRPCodec.vrrpMessage(inIPv4: v6, multicast: true).failure == .notVRRP)
    }

    @Test func multicastAdvertToAUnicastInstanceIsUnexpected() throws {
        let p = try Self.capturedPacket()
        #expect(VRRPCodec.vrrpMessage(inIPv4: p, multicast: false).failure == .unexpectedDestination)
        // Unicast: TTL is not checked (keepalived checks it for multicast only), the destination is.
        var unicast = p
        unicast[8] = 64
        unicast.replaceSubrange(16..<20, with: [10, 77, 0, 11])
        #expect(VRRPCodec.vrrpMessage(inIPv4: Self.fixHeader(unicast), multicast: false).failure == nil)
        #expect(VRRPCodec.vrrpMessage(inIPv4: Self.fixHeader(unicast), multicast: true).failure == .badTTL)
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
}

extension Result {
    var failure: Failure? {
        if case .failure(let f) = self { return f }
        return nil
    }
}
