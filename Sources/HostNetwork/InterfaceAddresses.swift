import Foundation
import HadeckBase

#if canImport(Glibc)
    import Glibc
#endif

/// Adds and removes IPv4 addresses on an interface through rtnetlink, as keepalived does for its
/// virtual IPs (RTM_NEWADDR / RTM_DELADDR; `ip addr add VIP/32 dev eth0` does the same).
public final class InterfaceAddresses: @unchecked Sendable {
    private let fd: Int32
    /// Guards the sequence number and the request/ack exchange on the one socket.
    private let lock = NSLock()
    private var sequence: UInt32 = 0

    public init() throws(HostNetworkError) {
        fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), RouteNetlink.netlinkRoute)
        guard fd >= 0 else { throw HostNetworkError("netlink socket") }
        // An answer always comes at once; a second is for a machine under load.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Adds `address/prefixLength` (scope global) to interface `index`. False: it was there already.
    @discardableResult
    public func add(_ address: IPv4Address, prefixLength: Int = 32, interface index: Int32) throws(HostNetworkError)
        -> Bool
    {
        let code = try request(.add, address, prefixLength, index)
        if code == EEXIST { return false }
        guard code == 0 else { throw HostNetworkError("adding \(address)/\(prefixLength)", errno: code) }
        return true
    }

    /// Removes `address/prefixLength` from interface `index`. False: it was not there.
    @discardableResult
    public func remove(_ address: IPv4Address, prefixLength: Int = 32, interface index: Int32)
        throws(HostNetworkError) -> Bool
    {
        let code = try request(.remove, address, prefixLength, index)
        if code == EADDRNOTAVAIL { return false }
        guard code == 0 else { throw HostNetworkError("removing \(address)/\(prefixLength)", errno: code) }
        return true
    }

    /// Sends one request and returns the kernel's answer (0, or an errno).
    private func request(_ operation: RouteNetlink.Operation, _ address: IPv4Address, _ prefix: Int, _ index: Int32)
        throws(HostNetworkError) -> Int32
    {
        lock.lock()
        defer { lock.unlock() }
        sequence &+= 1
        let message = RouteNetlink.addressMessage(
            operation, address: address, prefixLength: prefix, interface: index, sequence: sequence)
        let sent = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == message.count else { throw HostNetworkError("netlink send") }
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { throw HostNetworkError("netlink: no answer from the kernel") }
            if let code = RouteNetlink.acknowledgement(Array(buffer[0..<n]), sequence: sequence) { return code }
        }
    }
}

/// The rtnetlink messages, as bytes (the structs are in <linux/rtnetlink.h>, which Swift's Glibc
/// module lacks; the layout is the kernel's stable ABI, in this machine's byte order).
public enum RouteNetlink {
    static let netlinkRoute: Int32 = 0
    static let newAddress: UInt16 = 20, deleteAddress: UInt16 = 21, error: UInt16 = 2
    static let request: UInt16 = 0x1, acknowledge: UInt16 = 0x4, exclusive: UInt16 = 0x200, create: UInt16 = 0x400
    static let addressAttribute: UInt16 = 1, localAttribute: UInt16 = 2

    public enum Operation: Sendable {
        case add, remove
    }

    /// nlmsghdr + ifaddrmsg (AF_INET, scope universe) + IFA_LOCAL + IFA_ADDRESS.
    public static func addressMessage(
        _ operation: Operation, address: IPv4Address, prefixLength: Int, interface index: Int32, sequence: UInt32
    ) -> [UInt8] {
        let flags: UInt16 = operation == .add ? request | acknowledge | create | exclusive : request | acknowledge
        var body: [UInt8] = [UInt8(AF_INET), UInt8(prefixLength), 0, 0] + bytes(UInt32(bitPattern: index))
        for type in [localAttribute, addressAttribute] { body += bytes(UInt16(8)) + bytes(type) + address.octets }
        return bytes(UInt32(16 + body.count)) + bytes(operation == .add ? newAddress : deleteAddress) + bytes(flags)
            + bytes(sequence) + bytes(UInt32(0)) + body
    }

    /// The errno of the NLMSG_ERROR answering `sequence` in `reply` (0: done), or nil if it holds none.
    public static func acknowledgement(_ reply: [UInt8], sequence: UInt32) -> Int32? {
        var offset = 0
        while offset + 20 <= reply.count {
            let length = Int(value(reply, offset, UInt32.self))
            guard length >= 16, offset + length <= reply.count else { return nil }
            if value(reply, offset + 4, UInt16.self) == error, value(reply, offset + 8, UInt32.self) == sequence {
                return -value(reply, offset + 16, Int32.self)
            }
            offset += (length + 3) & ~3
        }
        return nil
    }

    static func bytes<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

    static func value<T: FixedWidthInteger>(_ b: [UInt8], _ at: Int, _: T.Type) -> T {
        b[at..<at + MemoryLayout<T>.size].withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }
}
