import HadeckBase
import Testing

@testable import VRRPCore

@Suite struct CodecTests {
    static let pass = VRRPAuthentication(type: .pass, password: "1111")

    static func v2Expectation(auth: VRRPAuthentication? = pass) -> VRRPExpectation {
        VRRPExpectation(version: 2, virtualRouterID: 51, advertInterval: .seconds(1), authentication: auth)
    }

    static let v3Expectation = VRRPExpectation(version: 3, virtualRouterID: 51, advertInterval: .seconds(1))

    /// Recomputes the checksum of a (deliberately altered) packet so only the intended defect remains.
    static func fixChecksum(_ bytes: [UInt8], v3: (String, String)? = nil) -> [UInt8] {
        var b = bytes
        b[6] = 0
        b[7] = 0
        let sum =
            v3.map {
                VRRPCodec.internetChecksum(VRRPCodec.pseudoHeader(source: $0.0, destination: $0.1, length: b.count) + b)
            }
            ?? VRRPCodec.internetChecksum(b)
        b[6] = UInt8(sum >> 8)
        b[7] = UInt8(sum & 0xFF)
        return b
    }

    @Test func ipv4Helpers() {
        #expect(IPv4.bytes("192.168.1.99") == [192, 168, 1, 99])
        #expect(IPv4.string([127, 0, 1, 1]) == "127.0.1.1")
        #expect(IPv4.value("127.0.1.2")! > IPv4.value("127.0.1.1")!)
        for bad in ["1.2.3", "1.2.3.256", "a.b.c.d", "1..2.3", "1.2.3.4.5"] { #expect(IPv4.bytes(bad) == nil) }
    }

    @Test func v2KnownBytes() {
        // 0x21 (v2, type 1), VRID 51, prio 100, 1 address, auth type 1 (PASS), interval 1 s,
        // checksum, 192.168.1.99, "1111" zero-padded to 8 bytes.
        // Checksum by hand: 0x2133 + 0x6401 + 0x0101 + 0x0000 + 0xC0A8 + 0x0163 + 0x3131 + 0x3131
        //   = 0x1AAA2 -> fold 0xAAA2 + 0x1 = 0xAAA3 -> complement 0x555C.
        let expected: [UInt8] = [
            0x21, 0x33, 0x64, 0x01, 0x01, 0x01, 0x55, 0x5C,
            192, 168, 1, 99,
            0x31, 0x31, 0x31, 0x31, 0, 0, 0, 0,
        ]
        let advert = VRRPAdvert(
            version: 2, virtualRouterID: 51, priority: 100, advertInterval: .seconds(1),
            addresses: ["192.168.1.99"], authentication: Self.pass)
        let bytes = VRRPCodec.encode(advert, source: "127.0.1.1", destination: "127.0.1.2")
        #expect(bytes == expected)
        #expect(bytes.count == 20)
        #expect(
            VRRPCodec.decode(bytes, source: "x", destination: "y", expecting: Self.v2Expectation()) == .success(advert))
    }

    @Test func v3KnownBytes() {
        // 0x31 (v3, type 1), VRID 51, prio 100, 1 address, rsvd 0 + 100 cs, checksum, 127.0.0.99.
        // Pseudo-header 127.0.1.1 -> 127.0.1.2, 0, 112, length 12:
        //   0x7F00 + 0x0101 + 0x7F00 + 0x0102 + 0x0070 + 0x000C = 0x1007F
        // Message: 0x3133 + 0x6401 + 0x0064 + 0x7F00 + 0x0063 = 0x114FB
        //   total 0x2157A -> fold 0x157A + 0x2 = 0x157C -> complement 0xEA83.
        let expected: [UInt8] = [0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0xEA, 0x83, 127, 0, 0, 99]
        let advert = VRRPAdvert(
            version: 3, virtualRouterID: 51, priority: 100, advertInterval: .seconds(1), addresses: ["127.0.0.99"])
        let bytes = VRRPCodec.encode(advert, source: "127.0.1.1", destination: "127.0.1.2")
        #expect(bytes == expected)
        #expect(
            VRRPCodec.decode(bytes, source: "127.0.1.1", destination: "127.0.1.2", expecting: Self.v3Expectation)
                == .success(advert))
        // The pseudo-header matters: the same bytes do not verify for another destination.
        #expect(
            VRRPCodec.decode(bytes, source: "127.0.1.1", destination: "127.0.1.3", expecting: Self.v3Expectation)
                == .failure(.badChecksum))
    }

    @Test(arguments: [
        VRRPAdvert(
            version: 2, virtualRouterID: 1, priority: 0, advertInterval: .seconds(3),
            addresses: ["10.0.0.1", "10.0.0.2"], authentication: nil),
        VRRPAdvert(
            version: 2, virtualRouterID: 255, priority: 255, advertInterval: .seconds(1),
            addresses: [], authentication: VRRPAuthentication(type: .pass, password: "secretpassword")),
        VRRPAdvert(
            version: 3, virtualRouterID: 7, priority: 150, advertInterval: .milliseconds(500),
            addresses: ["127.0.0.99"]),
        VRRPAdvert(
            version: 3, virtualRouterID: 200, priority: 1, advertInterval: .milliseconds(40_950),
            addresses: ["1.2.3.4", "5.6.7.8", "9.10.11.12"]),
    ])
    func roundTrip(advert: VRRPAdvert) {
        let bytes = VRRPCodec.encode(advert, source: "127.0.1.1", destination: "127.0.1.2")
        #expect(bytes.count == 8 + 4 * advert.addresses.count + (advert.version == 2 ? 8 : 0))
        let expect = VRRPExpectation(
            version: advert.version, virtualRouterID: advert.virtualRouterID,
            advertInterval: advert.advertInterval, authentication: advert.authentication)
        let decoded = VRRPCodec.decode(bytes, source: "127.0.1.1", destination: "127.0.1.2", expecting: expect)
        #expect(decoded == .success(advert))
        if advert.version == 3 { #expect(advert.wireInterval * 10_000 == Int(advert.advertInterval.micros)) }
    }

    static let goodV2 = VRRPCodec.encode(
        VRRPAdvert(
            version: 2, virtualRouterID: 51, priority: 100, advertInterval: .seconds(1),
            addresses: ["192.168.1.99"], authentication: pass),
        source: "127.0.1.1", destination: "127.0.1.2")

    static let goodV3 = VRRPCodec.encode(
        VRRPAdvert(
            version: 3, virtualRouterID: 51, priority: 100, advertInterval: .seconds(2), addresses: ["127.0.0.99"]),
        source: "127.0.1.1", destination: "127.0.1.2")

    @Test func truncated() {
        #expect(
            VRRPCodec.decode(
                Array(Self.goodV2.prefix(7)), source: "a", destination: "b", expecting: Self.v2Expectation())
                == .failure(.truncated))
        // Header fine, but the address count promises more than is there.
        #expect(
            VRRPCodec.decode(
                Array(Self.goodV2.prefix(16)), source: "a", destination: "b", expecting: Self.v2Expectation())
                == .failure(.truncated))
    }

    @Test func wrongVersion() {
        #expect(
            VRRPCodec.decode(
                Self.goodV3, source: "127.0.1.1", destination: "127.0.1.2", expecting: Self.v2Expectation())
                == .failure(.wrongVersion))
    }

    @Test func badChecksum() {
        var b = Self.goodV2
        b[2] = 101  // priority changed after the checksum was computed
        #expect(
            VRRPCodec.decode(b, source: "a", destination: "b", expecting: Self.v2Expectation())
                == .failure(.badChecksum))
    }

    @Test func unknownType() {
        var b = Self.goodV2
        b[0] = 0x22
        #expect(
            VRRPCodec.decode(Self.fixChecksum(b), source: "a", destination: "b", expecting: Self.v2Expectation())
                == .failure(.unknownType))
    }

    @Test func unknownVRID() {
        var b = Self.goodV2
        b[1] = 52
        #expect(
            VRRPCodec.decode(Self.fixChecksum(b), source: "a", destination: "b", expecting: Self.v2Expectation())
                == .failure(.unknownVRID))
    }

    @Test func authMismatch() {
        // Wrong password.
        let other = VRRPExpectation(
            version: 2, virtualRouterID: 51, advertInterval: .seconds(1),
            authentication: VRRPAuthentication(type: .pass, password: "2222"))
        #expect(
            VRRPCodec.decode(Self.goodV2, source: "a", destination: "b", expecting: other) == .failure(.authMismatch))
        // We expect none, they send PASS.
        #expect(
            VRRPCodec.decode(Self.goodV2, source: "a", destination: "b", expecting: Self.v2Expectation(auth: nil))
                == .failure(.authMismatch))
    }

    @Test func intervalMismatchV2() {
        var b = Self.goodV2
        b[5] = 2
        #expect(
            VRRPCodec.decode(Self.fixChecksum(b), source: "a", destination: "b", expecting: Self.v2Expectation())
                == .failure(.intervalMismatch))
    }

    @Test func intervalDifferenceIsOnlyNotedInV3() throws {
        let decoded = try VRRPCodec.decode(
            Self.goodV3, source: "127.0.1.1", destination: "127.0.1.2", expecting: Self.v3Expectation
        ).get()
        #expect(decoded.advertInterval == .seconds(2))
    }
}
