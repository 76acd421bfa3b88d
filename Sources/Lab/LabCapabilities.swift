import RealCluster

#if canImport(Glibc)
    import Glibc
#endif

/// What the lab needs from this machine, and what is missing, in words a person can act on.
public struct LabCapabilities: Hashable, Sendable {
    /// Debian's programs, by their packaged paths (a `haproxy` elsewhere in PATH is not used).
    public static let haproxyPath = "/usr/sbin/haproxy"
    public static let keepalivedPath = "/usr/sbin/keepalived"

    public var root: Bool
    /// `ip` from iproute2.
    public var ip: String?
    public var haproxy: String?
    public var keepalived: String?
    /// `nft`, for partitions only.
    public var nft: String?
    /// `setsid` from util-linux, to start daemons.
    public var setsid: String?
    /// Why network namespaces cannot be made, when a probe was run and failed.
    public var namespaceProblem: String?

    /// What this machine has. With `probeNamespace`, also creates and deletes that namespace to
    /// prove namespaces work (needs root).
    public static func current(probeNamespace: String? = nil) -> LabCapabilities {
        let exec = { (path: String) in ProgramRunner.which(path) }
        var c = LabCapabilities(
            root: geteuid() == 0, ip: exec("ip"), haproxy: exec(haproxyPath), keepalived: exec(keepalivedPath),
            nft: exec("nft"), setsid: exec("setsid"), namespaceProblem: nil)
        if let name = probeNamespace, c.root, let ip = c.ip {
            c.namespaceProblem = Self.probe(ip: ip, namespace: name)
        }
        return c
    }

    /// Creates and deletes `namespace`; the failure's text, or nil when namespaces work.
    static func probe(ip: String, namespace: String) -> String? {
        do {
            let add = try ProgramRunner.run([ip, "netns", "add", namespace])
            guard add.succeeded else { return "ip netns add failed: \(add.firstErrorLine)" }
            let del = try ProgramRunner.run([ip, "netns", "delete", namespace])
            guard del.succeeded else { return "ip netns delete failed: \(del.firstErrorLine)" }
            return nil
        } catch {
            return error.description
        }
    }

    /// One line per missing piece, each saying what to do; empty when the lab can run.
    public var missing: [String] {
        var lines: [String] = []
        if !root { lines.append("not root: the lab creates network namespaces and links (run it as root, e.g. sudo)") }
        if ip == nil { lines.append("ip (iproute2) is missing: apt-get install iproute2") }
        let daemons = [(Self.haproxyPath, haproxy), (Self.keepalivedPath, keepalived)].filter { $0.1 == nil }.map(\.0)
        if !daemons.isEmpty {
            lines.append(
                "\(daemons.joined(separator: " and ")) missing: apt-get install haproxy keepalived (Debian's packages)")
        }
        if nft == nil { lines.append("nft is missing (partitions need it): apt-get install nftables") }
        if setsid == nil { lines.append("setsid is missing: apt-get install util-linux") }
        if let namespaceProblem { lines.append("network namespaces are not available here: \(namespaceProblem)") }
        return lines
    }

    /// Throws the first missing piece `hadeck lab up` cannot do without (nft is needed only to partition).
    public func requireForLab() throws(LabError) {
        if let first = missing.first(where: { !$0.hasPrefix("nft") }) { throw .missing("hadeck lab: \(first)") }
    }
}
