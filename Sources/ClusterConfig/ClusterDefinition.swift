import BalancerCore
import HadeckBase
import HadeckConfig
import VRRPCore
import YAMLDocument
import Yams

/// One balancer host of a cluster file: where it lives and which configs it runs.
public struct BalancerHostDefinition: Hashable, Sendable {
    public var name: String
    public var address: String
    public var mac: String
    /// Path of its haproxy.cfg, relative to the cluster file (or as written).
    public var haproxyFile: String
    /// Path of its keepalived.conf, relative to the cluster file (or as written).
    public var keepalivedFile: String
    public var line: Int
}

/// One web backend of a cluster file.
public struct BackendServerDefinition: Hashable, Sendable {
    public var name: String
    public var address: HostPort
    /// Tomcat's `jvmRoute`: the suffix of the session ids this server issues.
    public var jvmRoute: String
    public var line: Int

    public init(name: String, address: HostPort, jvmRoute: String, line: Int) {
        self.name = name
        self.address = address
        self.jvmRoute = jvmRoute
        self.line = line
    }
}

/// The raw content of a cluster file (YAML), before the configs it names are read.
///
/// ```yaml
/// name: article
/// vip: 127.0.0.99:8080
/// balancers:
///   lb1: {address: 127.0.1.1, mac: "52:54:00:00:01:01", haproxy: haproxy-lb1.cfg, keepalived: keepalived-lb1.conf}
///   lb2: {address: 127.0.1.2, mac: "52:54:00:00:01:02", haproxy: haproxy-lb2.cfg, keepalived: keepalived-lb2.conf}
/// backends:
///   webA: {address: 127.0.2.1:8081, jvmRoute: jvm3}
///   webB: {address: 127.0.2.2:8888, jvmRoute: jvm2}
/// traffic: {rate: 5, clients: 5}
/// ```
public struct ClusterFile: Hashable, Sendable {
    /// The most requests per second the built-in browsers send: beyond, a simulated hour would take
    /// longer than the hour, and the live cluster would spend its loop on them.
    public static let maximumTrafficRate = 10_000.0

    public var name: String
    public var vip: HostPort
    public var balancers: [BalancerHostDefinition]
    public var backends: [BackendServerDefinition]
    /// Requests per second the built-in browsers send in total when traffic is on.
    public var trafficRate: Double = 5
    public var clients: Int = 5
    /// Whether traffic runs from the start.
    public var trafficOn: Bool = true

    /// Parses a cluster file. Errors and warnings name `file:line`.
    public static func parse(_ text: String, file: String) -> (ClusterFile?, Diagnostics) {
        var d = Diagnostics()
        // libyaml composes nested nodes recursively: a file nested thousands deep overflows the stack.
        let root: Node
        switch YAMLDocument.compose(text, kind: "the cluster file", needs: "a cluster file needs 3") {
        case .failure(let problem):
            d.error(file, problem.line, problem.message)
            return (nil, d)
        case .success(nil):
            d.error(file, 1, "the cluster file is empty")
            return (nil, d)
        case .success(let node?):
            root = node
        }
        guard let top = root.mapping else {
            d.error(file, line(root), "the cluster file must be a mapping with name, vip, balancers and backends")
            return (nil, d)
        }
        var result = ClusterFile(
            name: "cluster", vip: HostPort(host: "127.0.0.99", port: 8080), balancers: [], backends: [])
        var declared: [String: Int] = [:]
        for (keyNode, value) in top {
            let key = keyNode.string ?? ""
            declared[key] = value.mapping?.count ?? 0
            switch key {
            case "name":
                result.name = value.string ?? result.name
            case "vip":
                if let addr = ipv4Address(value, file: file, defaultPort: 8080, into: &d) { result.vip = addr }
            case "balancers":
                guard let m = value.mapping else {
                    d.error(file, line(value), "'balancers' must map host names to {address, mac, haproxy, keepalived}")
                    continue
                }
                for (nameNode, host) in m {
                    let name = nameNode.string ?? ""
                    guard let fields = host.mapping else {
                        d.error(file, line(host), "balancer '\(name)' must be a mapping")
                        continue
                    }
                    var address: String?
                    var mac: String?
                    var haproxy: String?
                    var keepalived: String?
                    // Keys given with a bad value already have their error: not "has no" as well.
                    var given: Set<String> = []
                    for (k, v) in fields {
                        let key = k.string ?? ""
                        given.insert(key)
                        switch key {
                        case "address":
                            if let a = ipv4Address(v, file: file, defaultPort: 0, into: &d) { address = a.host }
                        case "mac":
                            if let text = v.string, let parsed = MACAddress(text) {
                                mac = parsed.description
                            } else {
                                d.error(
                                    file, line(v), "'\(v.string ?? "")' is not a MAC address like 52:54:00:00:01:01")
                            }
                        case "haproxy": haproxy = v.string
                        case "keepalived": keepalived = v.string
                        default: d.warn(file, line(k), "unknown balancer key '\(key)' ignored")
                        }
                    }
                    for (what, value) in [
                        ("address", address), ("mac", mac), ("haproxy", haproxy), ("keepalived", keepalived),
                    ]
                    where value == nil && !given.contains(what) {
                        d.error(file, line(nameNode), "balancer '\(name)' has no \(what)")
                    }
                    if let address, let mac, let haproxy, let keepalived {
                        result.balancers.append(
                            BalancerHostDefinition(
                                name: name, address: address, mac: mac.lowercased(), haproxyFile: haproxy,
                                keepalivedFile: keepalived, line: line(nameNode)))
                    }
                }
            case "backends":
                guard let m = value.mapping else {
                    d.error(file, line(value), "'backends' must map server names to {address, jvmRoute}")
                    continue
                }
                for (nameNode, server) in m {
                    let name = nameNode.string ?? ""
                    guard let fields = server.mapping else {
                        d.error(file, line(server), "backend '\(name)' must be a mapping")
                        continue
                    }
                    var address: HostPort?
                    var route: String?
                    var badAddress = false
                    for (k, v) in fields {
                        switch k.string ?? "" {
                        case "address":
                            address = ipv4Address(v, file: file, defaultPort: nil, into: &d)
                            badAddress = address == nil
                        case "jvmRoute": route = v.string
                        default: d.warn(file, line(k), "unknown backend key '\(k.string ?? "")' ignored")
                        }
                    }
                    guard let address, let route, !route.isEmpty else {
                        if !badAddress || (route ?? "").isEmpty {
                            d.error(file, line(nameNode), "backend '\(name)' needs address (HOST:PORT) and jvmRoute")
                        }
                        continue
                    }
                    result.backends.append(
                        BackendServerDefinition(name: name, address: address, jvmRoute: route, line: line(nameNode)))
                }
            case "traffic":
                guard let m = value.mapping else {
                    d.error(file, line(value), "'traffic' must be a mapping {rate, clients, on}")
                    continue
                }
                for (k, v) in m {
                    switch k.string ?? "" {
                    case "rate":
                        if let r = v.float, r >= 0, r <= Self.maximumTrafficRate {
                            result.trafficRate = r
                        } else {
                            d.error(
                                file, line(v),
                                "traffic rate must be a number of requests per second from 0 to \(Int(Self.maximumTrafficRate))"
                            )
                        }
                    case "clients":
                        // Decimal digits only: Yams's `int` traps on a sexagesimal value beyond Int
                        // (`1:2:3:4:5:6:7:8:9:10:11:12`, base 60), found by fuzzing.
                        if let n = v.string.flatMap({ Int($0) }), (1...100_000).contains(n) {
                            result.clients = n
                        } else {
                            d.error(file, line(v), "traffic clients must be a whole number from 1 to 100000")
                        }
                    case "on":
                        if let b = v.bool {
                            result.trafficOn = b
                        } else {
                            d.error(file, line(v), "traffic on must be true or false")
                        }
                    default: d.warn(file, line(k), "unknown traffic key '\(k.string ?? "")' ignored")
                    }
                }
            default:
                d.warn(file, line(keyNode), "unknown key '\(key)' ignored")
            }
        }
        // Entries that had errors of their own are not "missing" as well.
        if result.balancers.isEmpty && declared["balancers", default: 0] == 0 {
            d.error(file, line(root), "the cluster has no balancers")
        }
        if result.backends.isEmpty && declared["backends", default: 0] == 0 {
            d.error(file, line(root), "the cluster has no backends")
        }
        var seen: [String: Int] = [:]
        for host in result.balancers {
            for (what, value) in [("address", host.address), ("MAC", host.mac)] {
                if let other = seen[what + value] {
                    d.error(file, host.line, "balancer '\(host.name)' reuses the \(what) \(value) of line \(other)")
                }
                seen[what + value] = host.line
            }
        }
        return d.hasErrors ? (nil, d) : (result, d)
    }
}

private func line(_ node: Node) -> Int { YAMLDocument.line(node) }

/// `IP[:PORT]` with any IPv4 address: the simulator runs production addresses; the live cluster
/// itself refuses what is not loopback (`LiveCluster`), where it matters.
private func ipv4Address(_ node: Node, file: String, defaultPort: Int?, into d: inout Diagnostics) -> HostPort? {
    guard let text = node.string else {
        d.error(file, line(node), "expected an address")
        return nil
    }
    var host = text
    var port = defaultPort
    if let colon = text.lastIndex(of: ":") {
        host = String(text[..<colon])
        guard let p = Int(text[text.index(after: colon)...]), (1...65535).contains(p) else {
            d.error(file, line(node), "'\(text)' has no valid port (1-65535)")
            return nil
        }
        port = p
    }
    guard let port else {
        d.error(file, line(node), "'\(text)' needs a port (HOST:PORT)")
        return nil
    }
    guard let ip = IPv4Address(host) else {
        d.error(file, line(node), "'\(host)' is not an IPv4 address such as 127.0.1.1")
        return nil
    }
    return HostPort(host: ip.description, port: port)
}
