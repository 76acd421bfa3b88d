import BalancerCore
import ClusterConfig
import ClusterCore

/// One address the live cluster binds when it starts: what `hadeck doctor` checks is free.
public struct LiveListener: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        case tcp = "TCP"
        case udp = "UDP"
        /// A stats socket (runtime API): a unix socket file.
        case unixSocket = "unix socket"
    }

    public var kind: Kind
    /// Whose it is (`the VIP`, `lb1's haproxy (frontend web)`, `webA`).
    public var what: String
    /// `IP:PORT`, or the socket file's path.
    public var address: String
    /// For TCP and UDP.
    public var socketAddress: HostPort?

    public var description: String { "\(address) (\(kind.rawValue), \(what))" }
}

extension LiveCluster {
    /// Every address `start()` binds for `spec`, as it binds them: the VIP, each balancer's
    /// frontends on its own address and its stats sockets, each keepalived's VRRP socket, each app.
    public static func listeners(spec: ClusterSpec, options: LiveClusterOptions = LiveClusterOptions())
        -> [LiveListener]
    {
        var spec = spec
        if let vip = options.vip { spec = spec.withVIP(vip) }
        func tcp(_ what: String, _ a: HostPort) -> LiveListener {
            LiveListener(kind: .tcp, what: what, address: "\(a.host):\(a.port)", socketAddress: a)
        }
        var out = [tcp("the VIP", spec.vip)]
        for host in spec.hosts {
            for fe in host.haproxy.frontends {
                for bind in fe.binds {
                    out.append(
                        tcp(
                            "\(host.name)'s haproxy (\(fe.name))",
                            HostPort(host: host.address, port: bind.port)))
                }
            }
            for socket in host.haproxy.global.statsSockets {
                out.append(
                    LiveListener(
                        kind: .unixSocket, what: "\(host.name)'s stats socket", address: socket.path,
                        socketAddress: nil))
            }
            let vrrp = HostPort(host: host.address, port: options.vrrpPort)
            out.append(
                LiveListener(
                    kind: .udp, what: "\(host.name)'s keepalived (VRRP)", address: "\(vrrp.host):\(vrrp.port)",
                    socketAddress: vrrp))
        }
        for web in spec.backends { out.append(tcp(web.name, web.address)) }
        return out
    }
}
