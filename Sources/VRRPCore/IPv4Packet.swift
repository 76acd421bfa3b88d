// VRRP's IPv4 envelope: the header fields keepalived asks the kernel for when it sends an advert, and
// the checks it makes on a received packet before it looks at the VRRP message (keepalived 2.2.7,
// vrrp.c: vrrp_check_packet).

/// The IPv4 header of a received VRRP packet.
public struct VRRPIPv4Header: Hashable, Sendable {
    /// IHL x 4.
    public var headerLength: Int
    /// The TOS byte (DSCP and ECN): keepalived sends 0xc0.
    public var tos: UInt8
    public var totalLength: Int
    /// The kernel's: it counts up per destination.
    public var identification: UInt16
    public var dontFragment: Bool
    public var ttl: UInt8
    public var ipProtocol: UInt8
    /// The kernel's too.
    public var checksum: UInt16
    public var source: String
    public var destination: String

    /// Whether the destination is a multicast address (224.0.0.0/4).
    public var isMulticast: Bool { (IPv4.value(destination) ?? 0) >> 28 == 0xE }
}

extension VRRPCodec {
    /// RFC 3768 5.2.3 and 7.1: a VRRP packet is sent with TTL 255 and a receiver discards any other
    /// (multicast) TTL, so an advert never comes from beyond the link.
    public static let ipTTL: UInt8 = 255
    /// keepalived's `IPTOS_PREC_INTERNETCONTROL`: precedence 6 (network control).
    public static let ipTOS: UInt8 = 0xC0

    /// The length of a whole VRRP message whose first four bytes are `header`: v2 has 8 bytes of
    /// authentication data after the addresses, v3 none. Nil for fewer than four bytes.
    public static func messageLength(_ header: ArraySlice<UInt8>) -> Int? {
        guard header.count >= 4 else { return nil }
        let count = Int(header[header.startIndex + 3])
        return 8 + 4 * count + (header[header.startIndex] >> 4 == 2 ? 8 : 0)
    }

    /// The IPv4 header of `packet`; nil when it is not an IPv4 header.
    public static func ipv4Header(_ packet: [UInt8]) -> VRRPIPv4Header? {
        guard packet.count >= 20, packet[0] >> 4 == 4 else { return nil }
        let ihl = Int(packet[0] & 0x0F) * 4
        guard ihl >= 20, packet.count >= ihl else { return nil }
        func word(_ i: Int) -> Int { Int(packet[i]) << 8 | Int(packet[i + 1]) }
        return VRRPIPv4Header(
            headerLength: ihl, tos: packet[1], totalLength: word(2), identification: UInt16(word(4)),
            dontFragment: packet[6] & 0x40 != 0, ttl: packet[8], ipProtocol: packet[9], checksum: UInt16(word(10)),
            source: IPv4.string(packet[12..<16]), destination: IPv4.string(packet[16..<20]))
    }

    /// A packet as a raw IPv4 socket receives it (header included), checked as keepalived checks it
    /// before the VRRP message: IPv4 protocol 112, the exact length its headers give, TTL 255 unless
    /// the instance speaks unicast, and the destination kind (`multicast`: no unicast peers are
    /// configured). Returns the header and the VRRP message for `VRRPInstance.receive`.
    public static func vrrpMessage(
        inIPv4 packet: [UInt8], multicast: Bool
    ) -> Result<(header: VRRPIPv4Header, message: [UInt8]), VRRPDiscardReason> {
        guard let header = ipv4Header(packet) else { return .failure(packet.count < 20 ? .truncated : .notVRRP) }
        guard header.ipProtocol == ipProtocol else { return .failure(.notVRRP) }
        let message = packet[header.headerLength...]
        guard let expected = messageLength(message), message.count >= expected else { return .failure(.truncated) }
        guard message.count == expected, header.totalLength == packet.count else { return .failure(.badLength) }
        if multicast && header.ttl != ipTTL { return .failure(.badTTL) }
        guard header.isMulticast == multicast else { return .failure(.unexpectedDestination) }
        return .success((header, Array(message)))
    }
}
