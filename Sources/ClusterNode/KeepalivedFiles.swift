import Foundation
import HadeckBase
import HostNetwork
import VRRPCore

#if canImport(Glibc)
    import Glibc
#endif

/// What keepalived writes for the world outside, written the same way by `hadeck node`, so that a
/// watcher (`hadeck attach`, `hadeck lab status`, a person with `cat`) reads it like a real one's:
/// the notify FIFO's lines, the data dump (SIGUSR1) and the stats file (SIGUSR2).
enum KeepalivedFiles {
    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// `keepalived.data` in keepalived 2.2.7's layout, for the parts hadeck models.
    static func dataDump(_ s: NodeVRRPStatus, settings: NodeKeepalived.Settings) -> String {
        let g = settings.globals
        var lines = [
            "------< Global definitions >------",
            " Written by = hadeck node (keepalived 2.2.7's layout, the parts hadeck models)",
            " Router ID = \(g.routerID ?? "(none)")",
        ]
        if let fifo = g.notifyFIFO { lines.append(" VRRP notify fifo = \(fifo), uid:gid \(getuid()):\(getgid())") }
        lines += [
            " VRRP notify priority changes = \(g.notifyPriorityChanges)",
            " VRRP IPv4 mcast group = \(VRRPCodec.multicastGroup)",
            " Gratuitous ARP delay = \(g.garpMasterDelay.micros / 1_000_000)",
            " Gratuitous ARP repeat = \(g.garpMasterRepeat)",
            "------< VRRP Topology >------",
            " VRRP Instance = \(s.name)",
            "   VRRP Version = \(settings.instance.version)",
            "   State = \(s.state)",
        ]
        if let ip = s.masterIP { lines.append("   Master router = \(ip)") }
        if let p = s.masterPriority { lines.append("   Master priority = \(p)") }
        lines += [
            "   Wantstate = \(s.state)",
            "   Master down timer = \(s.masterDownInterval.micros) usecs",
            "   Interface = \(s.interface)",
            "   Using src_ip = \(s.sourceIP)",
        ]
        if s.multicast {
            lines.append("   Multicast address \(VRRPCodec.multicastGroup)")
        } else {
            lines += settings.instance.unicastPeers.map { "   Unicast peer = \($0)" }
        }
        lines += [
            "   Virtual Router ID = \(s.virtualRouterID)",
            "   Priority = \(s.basePriority)",
            "   Effective priority = \(s.effectivePriority)",
            "   Advert interval = \(formatSeconds(s.advertInterval.micros)) sec",
            "   Preempt = \(settings.instance.nopreempt ? "disabled" : "enabled")",
        ]
        switch s.authentication?.type {
        case .pass?:
            lines += ["   Authentication type = SIMPLE_PASSWORD", "   Password = \(s.authentication!.password)"]
        case .ah?: lines.append("   Authentication type = IPSEC_AH")
        case nil: lines.append("   Authentication type = none")
        }
        lines.append("   Virtual IP (\(s.vips.count)):")
        lines += s.vips.map { "     \($0) dev \(s.interface) scope global\(s.vipsInstalled ? " set" : "")" }
        if !s.scripts.isEmpty {
            lines.append("   Tracked scripts :")
            lines += s.scripts.map { "     \($0.name) weight \($0.weight)" }
            lines.append("------< VRRP Scripts >------")
            for script in s.scripts {
                let command: String
                switch script.check {
                case .haproxyAlive: command = "this host's haproxy (hadeck node's own)"
                case .unsupported(let text): command = "\(text) (not run by hadeck: counted as succeeding)"
                }
                lines += [
                    " VRRP Script = \(script.name)",
                    "   Command = '\(command)'",
                    "   Interval = \(formatSeconds(script.interval.micros)) sec",
                    "   Weight = \(script.weight)",
                    "   Rise = \(script.rise)",
                    "   Fall = \(script.fall)",
                    "   Status = \(script.initialising ? "INIT" : (script.isUp ? "GOOD" : "BAD"))",
                ]
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `keepalived.stats` exactly as keepalived 2.2.7 prints it, then the discards keepalived counts
    /// only for SNMP (checksum, version, VRID), under a heading of their own.
    static func stats(_ s: NodeVRRPStatus) -> String {
        let d = s.discards
        func n(_ reasons: VRRPDiscardReason...) -> Int { reasons.reduce(0) { $0 + d[$1, default: 0] } }
        let lines = [
            "VRRP Instance: \(s.name)",
            "  Advertisements:",
            "    Received: \(s.stats.advertsReceived)",
            "    Sent: \(s.stats.advertsSent)",
            "  Became master: \(s.stats.becameMaster)",
            "  Released master: \(s.releasedMaster)",
            "  Packet Errors:",
            "    Length: \(n(.truncated, .badLength))",
            "    TTL: \(n(.badTTL))",
            "    Invalid Type: \(n(.unknownType))",
            "    Advertisement Interval: \(n(.intervalMismatch))",
            "    Address List: \(n(.unexpectedDestination))",
            "  Authentication Errors:",
            "    Invalid Type: 0",
            // The codec tells a wrong type from a wrong password no more than "mismatch".
            "    Type Mismatch: 0",
            "    Failure: \(n(.authMismatch))",
            "  Priority Zero:",
            "    Received: \(s.stats.priorityZeroReceived)",
            "    Sent: \(s.stats.priorityZeroSent)",
            "  Other discards (hadeck):",
            "    Checksum: \(n(.badChecksum))",
            "    Version: \(n(.wrongVersion))",
            "    Virtual Router ID: \(n(.unknownVRID))",
            "    Not VRRP: \(n(.notVRRP))",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}

/// keepalived's `vrrp_notify_fifo`: opened read-write and non-blocking as keepalived does (a FIFO
/// nobody reads neither blocks nor fails the node; a full one loses lines), made if missing and
/// then removed again on close.
final class NotifyFIFOWriter {
    let path: String
    private var fd: Int32
    private let made: Bool

    init(path: String) throws(HostNetworkError) {
        self.path = path
        var s = stat()
        if lstat(path, &s) != 0 {
            guard mkfifo(path, 0o600) == 0 else { throw HostNetworkError("cannot make the FIFO \(path)") }
            made = true
        } else {
            guard s.st_mode & S_IFMT == S_IFIFO else {
                throw HostNetworkError("\(path) exists and is not a FIFO", errno: 0)
            }
            made = false
        }
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw HostNetworkError("open \(path)") }
    }

    /// `INSTANCE "VI_1" MASTER 150`.
    func write(state: String, instance: String, priority: Int) {
        guard fd >= 0 else { return }
        let line = Array("INSTANCE \"\(instance)\" \(state) \(priority)\n".utf8)
        _ = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
        if made { unlink(path) }
    }

    deinit { close() }
}
