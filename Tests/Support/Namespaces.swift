import Foundation
import HadeckBase
import RealCluster

#if canImport(Glibc)
    import Glibc
#endif

/// Two network namespaces of a test's own (`hdkn-PID-TAGa`, `hdkn-PID-TAGb`) joined by a veth pair,
/// `eth0` on each side with 10.78.0.1/24 and 10.78.0.2/24: nothing in the machine's own namespace.
/// `remove()` deletes both (the veth pair goes with them); call it in a `defer`.
public final class NamespacePair: Sendable {
    public static let prefix = "hdkn-\(getpid())-"
    public static let macA = MACAddress("02:78:00:00:00:01")!
    public static let macB = MACAddress("02:78:00:00:00:02")!
    public static let addressA = "10.78.0.1"
    public static let addressB = "10.78.0.2"

    /// Why a pair cannot be made here, or nil.
    public static let missing: String? = {
        if geteuid() != 0 { return "not root: network namespaces need it" }
        if ProgramRunner.which("ip") == nil { return "ip (iproute2) is missing" }
        return nil
    }()

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public let a: String
    public let b: String

    /// Pairs of earlier test runs that died (their pid is gone): their processes and namespaces.
    private static let abandonedRemoved: Void = {
        for name in NetworkNamespace.names() where name.hasPrefix("hdkn-") {
            guard let pid = Int32(name.dropFirst(5).prefix { $0.isNumber }), !LinuxProcess.isRunning(pid) else {
                continue
            }
            for p in NetworkNamespace.processes(in: name) { kill(p, SIGKILL) }
            _ = try? ProgramRunner.run(["ip", "netns", "delete", name])
        }
    }()

    public init(_ tag: String) throws {
        Self.abandonedRemoved
        a = Self.prefix + tag + "a"
        b = Self.prefix + tag + "b"
        do {
            try ip("netns", "add", a)
            try ip("netns", "add", b)
            try ip(
                "-n", a, "link", "add", "eth0", "address", Self.macA.description, "type", "veth", "peer", "name",
                "eth0", "netns", b, "address", Self.macB.description)
            for (ns, address) in [(a, Self.addressA), (b, Self.addressB)] {
                try ip("-n", ns, "addr", "add", address + "/24", "dev", "eth0")
                try ip("-n", ns, "link", "set", "eth0", "up")
                try ip("-n", ns, "link", "set", "lo", "up")
            }
        } catch {
            remove()
            throw error
        }
    }

    /// Deletes both namespaces and kills whatever still runs in them.
    public func remove() {
        for ns in [a, b] {
            for pid in NetworkNamespace.processes(in: ns) { kill(pid, SIGKILL) }
            _ = try? ProgramRunner.run(["ip", "netns", "delete", ns])
        }
    }

    public func ip(_ args: String...) throws {
        let out = try ProgramRunner.run(["ip"] + args)
        guard out.succeeded else { throw Failure(description: "ip \(args.joined(separator: " ")): \(out.stderr)") }
    }

    /// Runs `body` on a thread inside namespace `ns`.
    public func inside<T: Sendable>(_ ns: String, _ body: @escaping @Sendable () throws -> T) throws -> T {
        try NetworkNamespace.onThread(in: ns) { Result { try body() } }.get()
    }
}
