import BalancerCore
import ClusterConfig
import ClusterModel
import HadeckBase
import HadeckConfig
import VRRPCore
import WebCore

/// A balancer host: a machine with a MAC on the client segment, running a haproxy and a keepalived.
public final class BalancerHost {
    public let name: String
    public let address: String
    public let mac: MACAddress
    public let haproxyConfig: HAProxyConfig
    public let keepalivedConfig: KeepalivedConfig
    public internal(set) var poweredOn = true
    /// The running haproxy, nil while it is dead or stopped.
    public internal(set) var haproxy: HAProxyProcess?
    /// The running keepalived, nil while it is dead or stopped.
    public internal(set) var keepalived: KeepalivedProcess?
    /// Whether the interface keepalived tracks is up.
    public internal(set) var linkUp = true
    /// pid the next haproxy start will get.
    var nextHAProxyPID: Int
    var nextKeepalivedPID: Int

    init(definition: ClusterHost, pidBase: Int) {
        name = definition.name
        address = definition.address
        mac = definition.mac
        haproxyConfig = definition.haproxy
        keepalivedConfig = definition.keepalived
        nextHAProxyPID = pidBase
        nextKeepalivedPID = pidBase - 10
    }

    /// The virtual addresses configured on the host: added by its keepalived as MASTER, removed on
    /// BACKUP, FAULT and a graceful stop, left by a kill -9 until keepalived starts again, gone with power.
    public internal(set) var configuredVIPs: Set<String> = []

    /// Whether the host answers for `ip` (it is powered on and has the address).
    public func holds(_ ip: String) -> Bool { poweredOn && configuredVIPs.contains(ip) }

    /// How the last keepalived ended (nil: it never ran, or runs now).
    public internal(set) var keepalivedEnded: ProcessAction?

    /// The VRRP state as the dashboard shows it; without keepalived, how it went.
    public var vrrpState: HostVRRPState {
        guard poweredOn else { return .off }
        guard let keepalived else { return keepalivedEnded == .killed ? .killed : .stopped }
        return keepalived.primary.map { HostVRRPState($0.state) } ?? .initialize
    }
}

/// What a cluster is made of, ready to run: hosts with parsed configs, backends, traffic.
public struct ClusterHost: Sendable {
    public var name: String
    public var address: String
    public var mac: MACAddress
    public var haproxy: HAProxyConfig
    public var keepalived: KeepalivedConfig
}

/// A whole cluster definition with parsed configurations.
public struct ClusterSpec: Sendable {
    public var name: String
    public var vip: HostPort
    public var hosts: [ClusterHost]
    public var backends: [BackendServerDefinition]
    public var trafficRate: Double
    public var clients: Int
    public var trafficOn: Bool

    public init(
        name: String, vip: HostPort, hosts: [ClusterHost], backends: [BackendServerDefinition],
        trafficRate: Double = 5, clients: Int = 5, trafficOn: Bool = true
    ) {
        self.name = name
        self.vip = vip
        self.hosts = hosts
        self.backends = backends
        self.trafficRate = trafficRate
        self.clients = clients
        self.trafficOn = trafficOn
    }
}

extension ClusterSpec {
    /// The cluster with its VIP at `vip` (`--vip`): the address the clients use and the virtual
    /// address every keepalived announces move together, or no gratuitous ARP would ever name it.
    public func withVIP(_ vip: HostPort) -> ClusterSpec {
        var moved = self
        let old = self.vip.host
        for h in moved.hosts.indices {
            for i in moved.hosts[h].keepalived.instances.indices {
                moved.hosts[h].keepalived.instances[i].virtualIPAddresses = moved.hosts[h].keepalived.instances[i]
                    .virtualIPAddresses.map { entry in
                        let address = entry.split(separator: "/", maxSplits: 1)
                        guard address.first.map(String.init) == old else { return entry }
                        return vip.host + (address.count == 2 ? "/" + address[1] : "")
                    }
            }
        }
        moved.vip = vip
        return moved
    }

    /// With the VIP moved to `vip`: nil when some balancer's haproxy binds the VIP's port, otherwise
    /// why no request through it could be served (the ports the configurations do bind).
    public func vipProblem(_ vip: HostPort) -> String? {
        let ports = Set(hosts.flatMap { $0.haproxy.frontends.flatMap { $0.binds.map(\.port) } })
        guard !ports.contains(vip.port) else { return nil }
        let bound = ports.sorted().map(String.init).joined(separator: ", ")
        return "no balancer's haproxy binds port \(vip.port), so nothing would answer the VIP \(vip)"
            + (bound.isEmpty ? "" : " (the haproxy.cfg files bind \(bound): keep one of those ports, or add a 'bind')")
    }
}

extension ClusterSpec {
    /// A spec from a loaded cluster file.
    public init(_ loaded: LoadedCluster) {
        let f = loaded.file
        self.init(
            name: f.name, vip: f.vip,
            hosts: loaded.hosts.map { h in
                ClusterHost(
                    name: h.definition.name, address: h.definition.address,
                    mac: MACAddress(h.definition.mac) ?? MACAddress("02:00:00:00:00:00")!, haproxy: h.haproxy,
                    keepalived: h.keepalived)
            },
            backends: f.backends, trafficRate: f.trafficRate, clients: f.clients, trafficOn: f.trafficOn)
    }

    /// The article's cluster (built in).
    public static var article: ClusterSpec { ClusterSpec(ClusterLoader.article()) }
}
