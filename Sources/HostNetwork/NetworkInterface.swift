import Foundation
import HadeckBase

#if canImport(Glibc)
    import Glibc
#endif

/// Why a host network operation failed, with the system's own words.
public struct HostNetworkError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ what: String, errno code: Int32 = errno) {
        description = code == 0 ? what : "\(what): \(String(cString: strerror(code)))"
    }
}

/// One network interface of this network namespace as the kernel reports it now.
public struct NetworkInterface: Hashable, Sendable {
    public var name: String
    public var index: Int32
    public var mac: MACAddress?
    /// IFF_UP: configured up.
    public var isUp: Bool
    /// IFF_LOWER_UP: the link has carrier (a pulled cable, or a veth whose peer is down, clears it at
    /// once; IFF_RUNNING follows only when the kernel's link watch runs, up to a second later).
    public var hasCarrier: Bool
    /// Its IPv4 addresses in the kernel's order: the primary address first.
    public var addresses: [IPv4Address]

    /// The interface `name` (ioctl for the MAC; getifaddrs, which reads netlink, for flags and addresses).
    public static func named(_ name: String) throws(HostNetworkError) -> NetworkInterface {
        guard name.utf8.count < Int(IFNAMSIZ) else { throw HostNetworkError("interface name '\(name)' is too long") }
        let index = Int32(bitPattern: if_nametoindex(name))
        guard index > 0 else { throw HostNetworkError("no interface \(name) in this network namespace", errno: 0) }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HostNetworkError("socket") }
        defer { close(fd) }
        var mac: MACAddress?
        var request = ifreq(named: name)
        if ioctl(fd, UInt(SIOCGIFHWADDR), &request) == 0, request.ifr_ifru.ifru_hwaddr.sa_family == 1 {  // ARPHRD_ETHER
            let data = withUnsafeBytes(of: request.ifr_ifru.ifru_hwaddr.sa_data) { Array($0.prefix(6)) }
            mac = MACAddress(bytes: data)
        }
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { throw HostNetworkError("getifaddrs") }
        defer { freeifaddrs(list) }
        var flags: UInt32 = 0
        var addresses: [IPv4Address] = []
        var next = list
        while let entry = next {
            defer { next = entry.pointee.ifa_next }
            guard String(cString: entry.pointee.ifa_name) == name else { continue }
            flags = entry.pointee.ifa_flags
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == AF_INET else { continue }
            let value = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
            addresses.append(IPv4Address(value: UInt32(bigEndian: value)))
        }
        return NetworkInterface(
            name: name, index: index, mac: mac, isUp: flags & UInt32(IFF_UP) != 0,
            hasCarrier: flags & lowerUp != 0, addresses: addresses)
    }

    /// IFF_LOWER_UP (<linux/if.h>, beyond the 16 bits SIOCGIFFLAGS returns).
    static let lowerUp: UInt32 = 0x10000
}

extension ifreq {
    /// A request for interface `name` (shorter than IFNAMSIZ), everything else zero.
    init(named name: String) {
        self.init()
        withUnsafeMutableBytes(of: &ifr_ifrn.ifrn_name) { buffer in
            for (i, byte) in name.utf8.enumerated() where i < buffer.count - 1 { buffer[i] = byte }
        }
    }
}

/// Facts about this process's place in the machine's networking.
public enum HostNetworkNamespace {
    /// Whether this process runs in a network namespace made for it rather than the machine's own:
    /// one that `ip netns` names (/run/netns), or any other than pid 1's when that can be read (it
    /// often cannot: /proc/1 may be hidden even from root). Not knowing counts as the machine's own.
    public static var isSeparate: Bool {
        guard let mine = inode("/proc/thread-self/ns/net") else { return false }
        let named = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        if named.contains(where: { inode("/run/netns/" + $0) == mine }) { return true }
        guard let machine = inode("/proc/1/ns/net") else { return false }
        return mine != machine
    }

    private static func inode(_ path: String) -> [UInt64]? {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        return [UInt64(s.st_dev), UInt64(s.st_ino)]
    }
}
