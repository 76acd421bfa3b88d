import HadeckBase

/// The gratuitous ARP keepalived sends for a virtual IP when it becomes MASTER (keepalived 2.2.7,
/// vrrp_arp.c): an Ethernet broadcast carrying an ARP *request* whose sender and target address are
/// both the VIP, with the host's own MAC as sender and the broadcast address as target hardware
/// address. Every neighbour that has an entry for the VIP updates it to the sender's MAC.
public enum GratuitousARP {
    public static let broadcast: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    /// The Ethernet type of ARP.
    public static let etherType: UInt16 = 0x0806

    /// The 42-byte Ethernet frame (no padding: the kernel sends it as given).
    public static func frame(mac: MACAddress, address: IPv4Address) -> [UInt8] {
        let ip = address.octets
        return broadcast + mac.bytes + [UInt8(etherType >> 8), UInt8(etherType & 0xFF)]
            // Hardware type Ethernet, protocol IPv4, address lengths 6 and 4, operation 1 (request).
            + [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]
            + mac.bytes + ip + broadcast + ip
    }
}
