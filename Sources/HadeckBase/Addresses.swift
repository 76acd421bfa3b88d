/// An IPv4 address in dotted-quad form, parsed strictly: four decimal parts of 1-3 digits, each 0-255
/// (`127..0.1`, `127.0.0.1.`, `+1.2.3.4` and `1.2.3` are not addresses).
///
/// The one place the project decides what an address is and whether it is loopback: the cluster file,
/// the command line and the live cluster all ask here.
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var value: UInt32

    public init(value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    public init?(_ text: some StringProtocol) {
        var value: UInt32 = 0
        var parts = 0
        var digits = 0
        var part: UInt32 = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digits += 1
                part = part * 10 + UInt32(byte - UInt8(ascii: "0"))
                guard digits <= 3, part <= 255 else { return nil }
            case UInt8(ascii: "."):
                guard digits > 0, parts < 3 else { return nil }
                value = value << 8 | part
                parts += 1
                digits = 0
                part = 0
            default: return nil
            }
        }
        guard digits > 0, parts == 3 else { return nil }
        self.value = value << 8 | part
    }

    /// Inside 127.0.0.0/8.
    public var isLoopback: Bool { value >> 24 == 127 }

    public var octets: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    public var description: String { octets.map(String.init).joined(separator: ".") }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }
}

/// An Ethernet MAC address, written `52:54:00:00:01:01` (two hex digits per byte, six bytes).
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard part.count == 2, let b = UInt8(part, radix: 16) else { return nil }
            bytes.append(b)
        }
        self.bytes = bytes
    }

    /// Lower-case, as `ip neigh` and keepalived print it.
    public var description: String {
        bytes.map { b in
            let h = String(b, radix: 16)
            return h.count == 1 ? "0" + h : h
        }.joined(separator: ":")
    }
}
