import BalancerCore
import HadeckBase
import VRRPCore

/// One balancer's two configuration files, parsed, for the drift check.
public struct BalancerConfigFiles: Sendable {
    /// The balancer's name in messages (`lb1`).
    public var name: String
    public var haproxyFile: String
    public var haproxy: HAProxyConfig
    public var keepalivedFile: String
    public var keepalived: KeepalivedConfig
    public var keepalivedSources: KeepalivedSources
    /// The host's own address (the cluster file's), used when `unicast_src_ip` is not set.
    public var address: String?

    public init(
        name: String, haproxyFile: String, haproxy: HAProxyConfig, keepalivedFile: String,
        keepalived: KeepalivedConfig, keepalivedSources: KeepalivedSources, address: String? = nil
    ) {
        self.name = name
        self.haproxyFile = haproxyFile
        self.haproxy = haproxy
        self.keepalivedFile = keepalivedFile
        self.keepalived = keepalived
        self.keepalivedSources = keepalivedSources
        self.address = address
    }
}

/// Differences between two balancers' configurations that break a failover: what one balancer
/// decided (a persistence cookie, a VRRP election) the other would decide differently.
///
/// Every finding is a warning on the first balancer's line that names the second's line too.
public enum ConfigDrift {
    public static func check(_ a: BalancerConfigFiles, _ b: BalancerConfigFiles) -> Diagnostics {
        var d = Diagnostics()
        haproxy(a, b, &d)
        keepalived(a, b, &d)
        return d
    }

    // MARK: haproxy.cfg

    private static func haproxy(_ a: BalancerConfigFiles, _ b: BalancerConfigFiles, _ d: inout Diagnostics) {
        let fa = a.haproxyFile
        let fb = b.haproxyFile
        for ba in a.haproxy.backends {
            guard let bb = b.haproxy.backend(named: ba.name) else {
                d.warn(
                    fa, ba.line,
                    "backend '\(ba.name)' is in \(a.name)'s \(fa) but not in \(b.name)'s \(fb): after a failover its requests have nowhere to go"
                )
                continue
            }
            let label = "backend '\(ba.name)'"
            switch (ba.cookie, bb.cookie) {
            case (let ca?, let cb?) where ca.name != cb.name || ca.mode != cb.mode:
                d.warn(
                    fa, ba.cookieLine,
                    "\(label): cookie '\(ca.name)' \(ca.mode.rawValue) on \(a.name) differs from cookie '\(cb.name)' \(cb.mode.rawValue) on \(b.name) (\(fb):\(bb.cookieLine)): a session made on \(a.name) would be rebalanced on \(b.name)"
                )
            case (let ca?, nil):
                d.warn(
                    fa, ba.cookieLine,
                    "\(label): cookie '\(ca.name)' on \(a.name) but no cookie on \(b.name) (\(fb):\(bb.line)): a session made on \(a.name) would be rebalanced on \(b.name)"
                )
            case (nil, let cb?):
                d.warn(
                    fa, ba.line,
                    "\(label): no cookie on \(a.name) but cookie '\(cb.name)' on \(b.name) (\(fb):\(bb.cookieLine)): a session made on \(b.name) would be rebalanced on \(a.name)"
                )
            default:
                break
            }
            for sa in ba.servers {
                guard let sb = bb.servers.first(where: { $0.name == sa.name }) else {
                    d.warn(
                        fa, sa.line,
                        "\(label): server '\(sa.name)' is on \(a.name) but not on \(b.name) (\(fb):\(bb.line)): the two balancers share the load differently and \(b.name) cannot honour a cookie for it"
                    )
                    continue
                }
                if sa.address != sb.address {
                    d.warn(
                        fa, sa.line,
                        "\(label): server '\(sa.name)' is \(sa.address) on \(a.name) but \(sb.address) on \(b.name) (\(fb):\(sb.line)): the same cookie leads to different servers"
                    )
                }
                if ba.cookie != nil, bb.cookie != nil, sa.cookie != sb.cookie {
                    d.warn(
                        fa, sa.line,
                        "\(label): server '\(sa.name)' has cookie value \(quoted(sa.cookie)) on \(a.name) but \(quoted(sb.cookie)) on \(b.name) (\(fb):\(sb.line)): a session made on \(a.name) would be rebalanced on \(b.name)"
                    )
                }
            }
            for sb in bb.servers where !ba.servers.contains(where: { $0.name == sb.name }) {
                d.warn(
                    fa, ba.line,
                    "\(label): server '\(sb.name)' is on \(b.name) (\(fb):\(sb.line)) but not on \(a.name): the two balancers share the load differently and \(a.name) cannot honour a cookie for it"
                )
            }
            for (x, y, fx, fy) in [(a, b, fa, fb), (b, a, fb, fa)] {
                let bx = x.haproxy.backend(named: ba.name)!
                guard let table = bx.stickTable, table.peers == nil else { continue }
                let other = y.haproxy.backend(named: ba.name)!
                d.warn(
                    fx, table.line,
                    "\(label): 'stick-table' without 'peers' on \(x.name): its entries are not shared with \(y.name) (\(fy):\(other.stickTable?.line ?? other.line)), so the stickiness is lost on failover"
                )
            }
        }
        for bb in b.haproxy.backends where a.haproxy.backend(named: bb.name) == nil {
            d.warn(
                fb, bb.line,
                "backend '\(bb.name)' is in \(b.name)'s \(fb) but not in \(a.name)'s \(fa): after a failover its requests have nowhere to go"
            )
        }
    }

    private static func quoted(_ value: String?) -> String { value.map { "'\($0)'" } ?? "none" }

    // MARK: keepalived.conf

    private static func keepalived(_ a: BalancerConfigFiles, _ b: BalancerConfigFiles, _ d: inout Diagnostics) {
        for ia in a.keepalived.instances {
            // Pair instances by name, else by VRID: either way they are meant to be one VRRP router.
            let ib =
                b.keepalived.instances.first { $0.name == ia.name }
                ?? b.keepalived.instances.first { $0.virtualRouterID == ia.virtualRouterID }
            let la = { (keyword: String) in line(a, ia.name, keyword, fallback: ia.line) }
            guard let ib else {
                let at = la("vrrp_instance")
                d.warn(
                    at.file, at.line,
                    "vrrp_instance \(ia.name) is on \(a.name) but \(b.name) (\(b.keepalivedFile)) has no instance of that name or VRID: nothing takes over its VIPs"
                )
                continue
            }
            let lb = { (keyword: String) in line(b, ib.name, keyword, fallback: ib.line) }
            let label = "(\(ia.name))"
            func warn(_ keyword: String, _ message: String) {
                let at = la(keyword)
                let other = lb(keyword)
                d.warn(at.file, at.line, "\(label) \(message) (\(b.name): \(other))")
            }
            if ia.virtualRouterID != ib.virtualRouterID {
                warn(
                    "virtual_router_id",
                    "virtual_router_id \(ia.virtualRouterID) on \(a.name) differs from \(ib.virtualRouterID) on \(b.name): they are two VRRP routers, and both become MASTER"
                )
            }
            if ia.advertInterval != ib.advertInterval {
                warn(
                    "advert_int",
                    "advert_int \(ia.advertInterval) on \(a.name) differs from \(ib.advertInterval) on \(b.name): keepalived discards adverts with another interval (VRRPv2), so both become MASTER"
                )
            }
            if ia.authentication != ib.authentication {
                // The passwords themselves stay out of the message.
                let keyword = ia.authentication == nil ? "vrrp_instance" : "auth_pass"
                let what =
                    ia.authentication?.type == ib.authentication?.type
                    ? "auth_pass differs between \(a.name) and \(b.name)"
                    : "authentication \(auth(ia.authentication)) on \(a.name) differs from \(auth(ib.authentication)) on \(b.name)"
                warn(keyword, "\(what): each discards the other's adverts, so both become MASTER")
            }
            if Set(ia.virtualIPAddresses) != Set(ib.virtualIPAddresses) {
                warn(
                    "virtual_ipaddress",
                    "virtual_ipaddress \(ia.virtualIPAddresses.joined(separator: ", ")) on \(a.name) differs from \(ib.virtualIPAddresses.joined(separator: ", ")) on \(b.name): a failover moves other addresses than the clients use"
                )
            }
            if ia.initialState == .master, ib.initialState == .master, ia.priority == ib.priority {
                warn(
                    "state",
                    "both balancers say 'state MASTER' with priority \(ia.priority): neither yields by priority, the higher primary IP wins, and a restart of either one moves the VIP"
                )
            }
            unicast(a, ia, b, ib, label, &d)
            unicast(b, ib, a, ia, "(\(ib.name))", &d)
        }
    }

    /// `x`'s unicast peers must name `y` (its `unicast_src_ip`, or its address).
    private static func unicast(
        _ x: BalancerConfigFiles, _ ix: VRRPInstanceConfig, _ y: BalancerConfigFiles, _ iy: VRRPInstanceConfig,
        _ label: String, _ d: inout Diagnostics
    ) {
        guard !ix.unicastPeers.isEmpty else {
            if !iy.unicastPeers.isEmpty {
                let at = line(x, ix.name, "vrrp_instance", fallback: ix.line)
                d.warn(
                    at.file, at.line,
                    "\(label) \(x.name) sends adverts by multicast but \(y.name) uses unicast peers (\(line(y, iy.name, "unicast_peer", fallback: iy.line))): they do not hear each other"
                )
            }
            return
        }
        guard let target = iy.unicastSourceIP ?? y.address else { return }
        let peers = ix.unicastPeers.map { $0.split(separator: "/").first.map(String.init) ?? $0 }
        guard !peers.contains(target) else { return }
        let at = line(x, ix.name, "unicast_peer", fallback: ix.line)
        let other =
            iy.unicastSourceIP == nil
            ? "its address" : "its unicast_src_ip, \(line(y, iy.name, "unicast_src_ip", fallback: iy.line))"
        d.warn(
            at.file, at.line,
            "\(label) \(x.name)'s unicast_peer list (\(peers.joined(separator: ", "))) does not name \(y.name) (\(target), \(other)): \(y.name) never hears \(x.name)'s adverts and becomes MASTER too"
        )
    }

    private static func auth(_ a: VRRPAuthentication?) -> String { a?.type.rawValue ?? "none" }

    private static func line(_ x: BalancerConfigFiles, _ instance: String, _ keyword: String, fallback: Int)
        -> SourceLine
    {
        x.keepalivedSources.line(instance, keyword) ?? SourceLine(file: x.keepalivedFile, line: fallback)
    }
}
