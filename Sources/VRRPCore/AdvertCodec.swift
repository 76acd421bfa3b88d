import HadeckBase

// VRRP advertisement wire format: VRRPv2 (RFC 3768 §5) and VRRPv3 (RFC 5798 §5), IPv4 only.

/// Dotted-quad IPv4 helpers.
public enum IPv4 {
    /// The four bytes of a dotted-quad address (`"127.0.1.1"` -> `[127, 0, 1, 1]`), or `nil` if malformed.
    public static func bytes(_ dotted: String) -> [UInt8]? {
        let parts = dotted.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let n = UInt8(part) else { return nil }
            out.append(n)
        }
        return out
    }

    /// The dotted-quad text of four bytes.
    public static func string<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        bytes.map { String($0) }.joined(separator: ".")
    }

    /// The address as a host-order 32-bit number (for comparing primary IPs), or `nil` if malformed.
    public static func value(_ dotted: String) -> UInt32? {
        guard let b = bytes(dotted) else { return nil }
        return b.reduce(UInt32(0)) { ($0 << 8) | UInt32($1) }
    }
}

/// Why a received advertisement was thrown away (RFC 3768/5798 §7.1, keepalived's checks).
public enum VRRPDiscardReason: String, Hashable, Sendable, CaseIterable, Error, CustomStringConvertible {
    /// Shorter than its header, or than its address count says.
    case truncated
    /// The version nibble is not the one this instance speaks.
    case wrongVersion
    /// The checksum does not verify.
    case badChecksum
    /// The type nibble is not 1 (ADVERTISEMENT).
    case unknownType
    /// The VRID is not this instance's.
    case unknownVRID
    /// VRRPv2 authentication type or password differs.
    case authMismatch
    /// VRRPv2 advert interval differs from ours (VRRPv3 only notes it).
    case intervalMismatch
    /// Not an IPv4 packet of protocol 112 (a raw socket's neighbour, a broken header).
    case notVRRP
    /// Longer than its headers say (keepalived wants the exact length: "vrrp packet too long"), or an IP
    /// total length that is not what arrived.
    case badLength
    /// A multicast advert whose TTL is not 255: it crossed a router (RFC 3768 7.1).
    case badTTL
    /// Sent to the multicast group where unicast peers are configured, or the reverse.
    case unexpectedDestination

    /// A short human phrase for the reason.
    public var description: String {
        switch self {
        case .truncated: "truncated packet"
        case .wrongVersion: "wrong VRRP version"
        case .badChecksum: "bad checksum"
        case .unknownType: "unknown packet type"
        case .unknownVRID: "unknown virtual router id"
        case .authMismatch: "authentication mismatch"
        case .intervalMismatch: "advert interval mismatch"
        case .notVRRP: "not an IPv4 VRRP packet"
        case .badLength: "packet length mismatch"
        case .badTTL: "TTL is not 255"
        case .unexpectedDestination: "multicast and unicast mixed up"
        }
    }
}

/// One decoded (or to-be-encoded) VRRP advertisement.
public struct VRRPAdvert: Hashable, Sendable {
    /// 2 or 3.
    public var version: Int
    /// 1...255.
    public var virtualRouterID: Int
    /// 0...255; 0 means "the master is stopping".
    public var priority: Int
    /// v2: whole seconds on the wire; v3: centiseconds (12 bits) on the wire.
    public var advertInterval: TimeSpan
    /// The virtual IPv4 addresses, dotted quads.
    public var addresses: [String]
    /// v2 only: PASS (simple text, 8 bytes) or AH; `nil`: no authentication.
    public var authentication: VRRPAuthentication?

    /// The interval as carried on the wire: seconds (v2, at least 1) or centiseconds (v3, 1...4095).
    public var wireInterval: Int {
        if version == 2 { return max(1, min(255, Int(advertInterval.micros / 1_000_000))) }
        return max(1, min(0x0FFF, Int(advertInterval.micros / 10_000)))
    }
}

/// What a receiver expects of an advertisement; anything else is a discard.
public struct VRRPExpectation: Hashable, Sendable {
    /// 2 or 3.
    public var version: Int
    /// This instance's VRID.
    public var virtualRouterID: Int
    /// This instance's own `advert_int` (checked in v2 only).
    public var advertInterval: TimeSpan
    /// This instance's authentication (v2 only).
    public var authentication: VRRPAuthentication?

    /// Creates an expectation.
    public init(version: Int, virtualRouterID: Int, advertInterval: TimeSpan, authentication: VRRPAuthentication? = nil)
    {
        self.version = version
        self.virtualRouterID = virtualRouterID
        self.advertInterval = advertInterval
        self.authentication = authentication
    }
}

/// Encoder/decoder for VRRPv2 and VRRPv3 advertisements over IPv4.
public enum VRRPCodec {
    /// The VRRP multicast group, used as destination when no `unicast_peer` is configured.
    public static let multicastGroup = "224.0.0.18"
    /// IP protocol number of VRRP.
    public static let ipProtocol: UInt8 = 112
    /// VRRPv2 authentication type codes.
    static let authNone: UInt8 = 0, authPass: UInt8 = 1, authAH: UInt8 = 2

    /// The RFC 1071 Internet checksum (one's complement of the one's-complement sum of 16-bit words).
    public static func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count {
            sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
            i += 2
        }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// The IPv4 pseudo-header VRRPv3 checksums cover: source, destination, zero, protocol 112, VRRP length.
    public static func pseudoHeader(source: String, destination: String, length: Int) -> [UInt8] {
        (IPv4.bytes(source) ?? [0, 0, 0, 0]) + (IPv4.bytes(destination) ?? [0, 0, 0, 0])
            + [0, ipProtocol, UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
    }

    /// The 8 bytes of VRRPv2 authentication data for a configuration (password zero-padded for PASS).
    static func authData(_ auth: VRRPAuthentication?) -> [UInt8] {
        guard let auth, auth.type == .pass else { return [UInt8](repeating: 0, count: 8) }
        let pw = Array(auth.password.utf8.prefix(8))
        return pw + [UInt8](repeating: 0, count: 8 - pw.count)
    }

    static func authType(_ auth: VRRPAuthentication?) -> UInt8 {
        switch auth?.type {
        case nil: authNone
        case .pass?: authPass
        case .ah?: authAH
        }
    }

    /// Encodes an advertisement. `source`/`destination` feed the VRRPv3 pseudo-header checksum
    /// (on hadeck's wire, unicast UDP over loopback, the destination is the peer's IP).
    public static func encode(_ advert: VRRPAdvert, source: String, destination: String) -> [UInt8] {
        var out: [UInt8] = [
            UInt8((advert.version & 0x0F) << 4 | 1),
            UInt8(advert.virtualRouterID & 0xFF),
            UInt8(advert.priority & 0xFF),
            UInt8(advert.addresses.count & 0xFF),
        ]
        let interval = advert.wireInterval
        if advert.version == 2 {
            out += [authType(advert.authentication), UInt8(interval)]
        } else {
            out += [UInt8(interval >> 8 & 0x0F), UInt8(interval & 0xFF)]
        }
        out += [0, 0]
        for address in advert.addresses { out += IPv4.bytes(address) ?? [0, 0, 0, 0] }
        if advert.version == 2 { out += authData(advert.authentication) }
        let sum: UInt16
        if advert.version == 2 {
            sum = internetChecksum(out)
        } else {
            sum = internetChecksum(pseudoHeader(source: source, destination: destination, length: out.count) + out)
        }
        out[6] = UInt8(sum >> 8)
        out[7] = UInt8(sum & 0xFF)
        return out
    }

    /// Decodes and validates an advertisement against what the receiver expects.
    ///
    /// Checks run in this order: truncated header, version, truncated body, checksum, type, VRID,
    /// authentication (v2), advert interval (v2; a v3 difference is returned for the caller to note).
    public static func decode(
        _ bytes: [UInt8], source: String, destination: String, expecting: VRRPExpectation
    ) -> Result<VRRPAdvert, VRRPDiscardReason> {
        guard bytes.count >= 8 else { return .failure(.truncated) }
        let version = Int(bytes[0] >> 4)
        guard version == expecting.version else { return .failure(.wrongVersion) }
        let count = Int(bytes[3])
        let needed = 8 + 4 * count + (version == 2 ? 8 : 0)
        guard bytes.count >= needed else { return .failure(.truncated) }
        let message = Array(bytes[0..<needed])
        let sum: UInt16
        if version == 2 {
            sum = internetChecksum(message)
        } else {
            sum = internetChecksum(pseudoHeader(source: source, destination: destination, length: needed) + message)
        }
        guard sum == 0 else { return .failure(.badChecksum) }
        guard bytes[0] & 0x0F == 1 else { return .failure(.unknownType) }
        let vrid = Int(bytes[1])
        guard vrid == expecting.virtualRouterID else { return .failure(.unknownVRID) }
        var addresses: [String] = []
        for i in 0..<count { addresses.append(IPv4.string(bytes[(8 + 4 * i)..<(12 + 4 * i)])) }
        var interval: TimeSpan
        var auth: VRRPAuthentication? = nil
        if version == 2 {
            let data = Array(bytes[(8 + 4 * count)..<needed])
            guard bytes[4] == authType(expecting.authentication),
                bytes[4] != authPass || data == authData(expecting.authentication)
            else { return .failure(.authMismatch) }
            switch bytes[4] {
            case authPass:
                let pw = data.prefix { $0 != 0 }
                auth = VRRPAuthentication(type: .pass, password: String(decoding: pw, as: UTF8.self))
            case authAH: auth = VRRPAuthentication(type: .ah, password: "")
            default: auth = nil
            }
            interval = .seconds(Int64(bytes[5]))
            let ours = VRRPAdvert(
                version: 2, virtualRouterID: vrid, priority: 0, advertInterval: expecting.advertInterval, addresses: []
            ).wireInterval
            guard Int(bytes[5]) == ours else { return .failure(.intervalMismatch) }
        } else {
            let cs = Int(bytes[4] & 0x0F) << 8 | Int(bytes[5])
            interval = .milliseconds(Int64(cs) * 10)
        }
        return .success(
            VRRPAdvert(
                version: version, virtualRouterID: vrid, priority: Int(bytes[2]), advertInterval: interval,
                addresses: addresses, authentication: auth))
    }
}
