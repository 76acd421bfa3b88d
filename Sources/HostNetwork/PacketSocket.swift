import CLinuxShims
import HadeckBase

#if canImport(Glibc)
    import Glibc
#endif

/// An AF_PACKET socket on one interface: whole Ethernet frames out (gratuitous ARPs, which no IP
/// socket can send: the sender address is the VIP) and, for watchers and tests, frames in.
public final class PacketSocket: Sendable {
    /// Every Ethernet type (ETH_P_ALL), for watching the wire.
    public static let allTypes: UInt16 = 0x0003

    public let interface: NetworkInterface
    public let etherType: UInt16
    private let fd: Int32

    /// Opens a packet socket for frames of `etherType` on `interface` (in this thread's network namespace).
    public init(interface: NetworkInterface, etherType: UInt16) throws(HostNetworkError) {
        self.interface = interface
        self.etherType = etherType
        fd = hadeck_packet_socket(interface.index, etherType)
        guard fd >= 0 else { throw HostNetworkError("AF_PACKET socket on \(interface.name)") }
    }

    deinit { close(fd) }

    /// Sends `frame` (Ethernet header included, as given) to the link-layer address `destination`.
    public func send(_ frame: [UInt8], to destination: [UInt8]) throws(HostNetworkError) {
        guard destination.count == 6 else { throw HostNetworkError("a MAC address has 6 bytes", errno: 0) }
        let sent = frame.withUnsafeBytes { bytes in
            destination.withUnsafeBufferPointer { mac in
                hadeck_packet_send(fd, interface.index, mac.baseAddress, bytes.baseAddress, UInt(bytes.count))
            }
        }
        guard sent == frame.count else { throw HostNetworkError("sending a frame on \(interface.name)") }
    }

    /// The next frame that arrives within `timeout` (sent or received on the interface), or nil.
    public func receive(timeout: Duration) -> [UInt8]? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let (seconds, attos) = timeout.components
        let millis = max(0, Int32(clamping: seconds * 1000 + attos / 1_000_000_000_000_000))
        guard poll(&p, 1, millis) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? Array(buffer[0..<n]) : nil
    }
}
