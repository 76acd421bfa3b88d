import Foundation

/// The frames of a capture file, as tcpdump (pcap) or Wireshark (pcapng) wrote them: enough to read
/// the reference captures of keepalived's packets as test fixtures. Ethernet link type only, either
/// byte order, one section.
public struct CaptureFile: Sendable {
    public struct Frame: Sendable {
        /// Seconds since the epoch.
        public var time: Double
        public var bytes: [UInt8]

        public init(time: Double, bytes: [UInt8]) {
            self.time = time
            self.bytes = bytes
        }
    }

    public var frames: [Frame]

    public enum Problem: Error, CustomStringConvertible {
        case unreadable(String)
        case malformed(String)

        public var description: String {
            switch self {
            case .unreadable(let s), .malformed(let s): s
            }
        }
    }

    /// The fixture `name` of the test target whose source file is `file` (its `Fixtures/` folder).
    public static func fixture(_ name: String, beside file: String = #filePath) throws -> CaptureFile {
        var parts = file.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast()
        return try CaptureFile(path: parts.joined(separator: "/") + "/Fixtures/" + name)
    }

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw Problem.unreadable(path) }
        try self.init(bytes: [UInt8](data), name: path)
    }

    public init(bytes: [UInt8], name: String = "capture") throws {
        var reader = Reader(bytes: bytes)
        guard let magic = reader.u32(at: 0, little: true) else { throw Problem.malformed("\(name): empty") }
        switch magic {
        case 0xA1B2_C3D4, 0xD4C3_B2A1, 0xA1B2_3C4D, 0x4D3C_B2A1:
            frames = try Self.pcap(&reader, magic: magic, name: name)
        case 0x0A0D_0D0A:
            frames = try Self.pcapng(&reader, name: name)
        default:
            throw Problem.malformed("\(name): neither pcap nor pcapng")
        }
    }

    private static func pcap(_ r: inout Reader, magic: UInt32, name: String) throws -> [Frame] {
        let little = magic == 0xA1B2_C3D4 || magic == 0xA1B2_3C4D
        let nanos = magic == 0xA1B2_3C4D || magic == 0x4D3C_B2A1
        guard r.u32(at: 20, little: little) == 1 else { throw Problem.malformed("\(name): not Ethernet") }
        var offset = 24
        var frames: [Frame] = []
        while offset < r.bytes.count {
            guard let sec = r.u32(at: offset, little: little), let frac = r.u32(at: offset + 4, little: little),
                let length = r.u32(at: offset + 8, little: little), offset + 16 + Int(length) <= r.bytes.count
            else { throw Problem.malformed("\(name): truncated record at \(offset)") }
            let start = offset + 16
            frames.append(
                Frame(
                    time: Double(sec) + Double(frac) / (nanos ? 1e9 : 1e6),
                    bytes: Array(r.bytes[start..<start + Int(length)])))
            offset = start + Int(length)
        }
        return frames
    }

    /// Section header, interface description and enhanced packet blocks; others are skipped.
    private static func pcapng(_ r: inout Reader, name: String) throws -> [Frame] {
        guard let order = r.u32(at: 8, little: true) else { throw Problem.malformed("\(name): truncated") }
        let little = order == 0x1A2B_3C4D
        var offset = 0
        var frames: [Frame] = []
        var resolution = 1e6
        while offset + 12 <= r.bytes.count {
            guard let type = r.u32(at: offset, little: little), let length = r.u32(at: offset + 4, little: little),
                length >= 12, offset + Int(length) <= r.bytes.count
            else { throw Problem.malformed("\(name): truncated block at \(offset)") }
            switch type {
            case 1:
                guard r.bytes.count > offset + 8, r.u16(at: offset + 8, little: little) == 1 else {
                    throw Problem.malformed("\(name): not Ethernet")
                }
                // if_tsresol (option 9): a power of ten (the default, 10^-6) is all Wireshark writes here.
                var option = offset + 16
                while option + 4 <= offset + Int(length) - 4, let code = r.u16(at: option, little: little), code != 0 {
                    let size = Int(r.u16(at: option + 2, little: little) ?? 0)
                    if code == 9, size == 1, r.bytes[option + 4] & 0x80 == 0 {
                        resolution = pow(10, Double(r.bytes[option + 4]))
                    }
                    option += 4 + (size + 3) / 4 * 4
                }
            case 6:
                guard let high = r.u32(at: offset + 12, little: little),
                    let low = r.u32(at: offset + 16, little: little),
                    let captured = r.u32(at: offset + 20, little: little), 28 + Int(captured) <= Int(length)
                else { throw Problem.malformed("\(name): bad packet block at \(offset)") }
                let start = offset + 28
                let stamp = Double(UInt64(high) << 32 | UInt64(low)) / resolution
                frames.append(Frame(time: stamp, bytes: Array(r.bytes[start..<start + Int(captured)])))
            default:
                break
            }
            offset += Int(length)
        }
        return frames
    }

    private struct Reader {
        var bytes: [UInt8]

        func u32(at i: Int, little: Bool) -> UInt32? {
            guard i >= 0, i + 4 <= bytes.count else { return nil }
            let b = bytes[i..<i + 4].map(UInt32.init)
            return little ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24
        }

        func u16(at i: Int, little: Bool) -> UInt16? {
            guard i >= 0, i + 2 <= bytes.count else { return nil }
            return little ? UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8 : UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
        }
    }
}

/// The parts of an Ethernet frame a VRRP or ARP test looks at.
public struct EthernetFrame: Sendable {
    public var destination: [UInt8]
    public var source: [UInt8]
    public var etherType: UInt16
    public var payload: [UInt8]

    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 14 else { return nil }
        destination = Array(bytes[0..<6])
        source = Array(bytes[6..<12])
        etherType = UInt16(bytes[12]) << 8 | UInt16(bytes[13])
        payload = Array(bytes[14...])
    }
}
