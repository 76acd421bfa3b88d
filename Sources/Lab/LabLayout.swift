/// One host of the lab: a network namespace with one interface (`eth0`) on the lab's bridge.
public struct LabHost: Hashable, Sendable {
    public enum Role: Hashable, Sendable {
        /// The switch: a bridge (`br0`) in a namespace of its own, one port per host.
        case bridge
        /// haproxy + keepalived, with keepalived's initial `state` and `priority`.
        case balancer(state: String, priority: Int)
        /// hadeck's Tomcat-like app server on `port`, issuing sessions `<id>.<jvmRoute>`.
        case app(port: Int, jvmRoute: String)
        /// Where `hadeck lab exec client curl ...` runs; its neighbour table is the VIP -> MAC view.
        case client
    }

    public var name: String
    public var role: Role
    /// Its address on the lab's /24 (none for the bridge).
    public var address: String?
    public var mac: String?

    public var isBalancer: Bool {
        if case .balancer = role { return true }
        return false
    }

    public var isApp: Bool {
        if case .app = role { return true }
        return false
    }
}

/// Where everything of one lab lives: its namespaces (`ID-HOST`), its state directory
/// (`/run/hadeck-lab/ID/`) and the files in it. The addresses exist only inside the lab's namespaces,
/// so two labs with different ids never meet, although both use 10.77.0.0/24.
public struct LabLayout: Hashable, Sendable {
    /// The id of a person's lab: namespaces `hdk-lb1`, `hdk-client`, ...
    public static let defaultID = "hdk"
    /// Ids of labs made by the test suite start with this (then the test process's pid), so a test's
    /// lab never meets a developer's own.
    public static let testPrefix = "hdkt-"
    /// The id of a person's mixed lab (`hadeck lab up --mixed`): its own namespaces, `hdkm-lb1`, ...
    public static let mixedID = "hdkm"
    /// The host a mixed lab runs as `hadeck node` instead of Debian's haproxy and keepalived.
    public static let nodeHost = "lb2"
    /// Where every lab keeps its state directory.
    public static let root = "/run/hadeck-lab"

    public static let network = "10.77.0.0/24"
    public static let prefixLength = 24
    public static let vip = "10.77.0.10"
    public static let vipPort = 80
    /// The VRRP instance both keepalived run.
    public static let instance = "VI_1"
    public static let routerID = 51
    /// keepalived's `auth_pass` (8 bytes, as in the reference captures).
    public static let password = "hadeck51"

    /// The article's cluster: lb1 MASTER 150, lb2 BACKUP 100, webA (jvm3) :8081, webB (jvm2) :8888.
    public static let hosts: [LabHost] = [
        LabHost(name: "bridge", role: .bridge),
        LabHost(
            name: "lb1", role: .balancer(state: "MASTER", priority: 150), address: "10.77.0.11",
            mac: "02:77:00:00:00:11"),
        LabHost(
            name: "lb2", role: .balancer(state: "BACKUP", priority: 100), address: "10.77.0.12",
            mac: "02:77:00:00:00:12"),
        LabHost(
            name: "webA", role: .app(port: 8081, jvmRoute: "jvm3"), address: "10.77.0.21", mac: "02:77:00:00:00:21"),
        LabHost(
            name: "webB", role: .app(port: 8888, jvmRoute: "jvm2"), address: "10.77.0.22", mac: "02:77:00:00:00:22"),
        LabHost(name: "client", role: .client, address: "10.77.0.50", mac: "02:77:00:00:00:50"),
    ]

    public static var balancers: [LabHost] { hosts.filter(\.isBalancer) }
    public static var apps: [LabHost] { hosts.filter(\.isApp) }
    /// Every host with an interface on the bridge.
    public static var attached: [LabHost] { hosts.filter { $0.role != .bridge } }

    public static func host(_ name: String) -> LabHost? { hosts.first { $0.name == name } }

    public let id: String

    /// A layout for lab `id`; nil with the reason when the id is not acceptable.
    public static func validated(id: String) -> Result<LabLayout, LabError> {
        let allowed = "abcdefghijklmnopqrstuvwxyz0123456789-"
        guard id.hasPrefix("hdk"), id.count <= 24, id.allSatisfy({ allowed.contains($0) }), !id.hasSuffix("-") else {
            return .failure(
                .badID(
                    "lab id '\(id)' must start with 'hdk' and use only a-z, 0-9 and '-' (at most 24 characters)"
                ))
        }
        return .success(LabLayout(id: id))
    }

    init(id: String) { self.id = id }

    public var stateDirectory: String { Self.root + "/" + id }
    public var stateFile: String { stateDirectory + "/lab.json" }
    public var lockFile: String { stateDirectory + "/lock" }
    public var attachFile: String { stateDirectory + "/attach.yaml" }
    public var partitionRules: String { stateDirectory + "/partition.nft" }

    /// The network namespace of `host`.
    public func namespace(_ host: String) -> String { "\(id)-\(host)" }
    /// Every namespace this lab makes, the bridge's first.
    public var namespaces: [String] { Self.hosts.map { namespace($0.name) } }

    public func directory(_ host: String) -> String { stateDirectory + "/" + host }

    // Balancer files.
    public func haproxyConfig(_ host: String) -> String { directory(host) + "/haproxy.cfg" }
    public func haproxyPidFile(_ host: String) -> String { directory(host) + "/haproxy.pid" }
    /// The runtime API (unix stream socket, level admin).
    public func statsSocket(_ host: String) -> String { directory(host) + "/haproxy.sock" }
    /// The unix datagram socket haproxy sends its log to: whoever reads the log binds it.
    public func logSocket(_ host: String) -> String { directory(host) + "/haproxy-log.sock" }
    public func keepalivedConfig(_ host: String) -> String { directory(host) + "/keepalived.conf" }
    public func keepalivedPidFile(_ host: String) -> String { directory(host) + "/keepalived.pid" }
    public func vrrpPidFile(_ host: String) -> String { directory(host) + "/keepalived-vrrp.pid" }
    public func notifyFIFO(_ host: String) -> String { directory(host) + "/keepalived.fifo" }
    /// keepalived's TMPDIR: its own, so the two keepalived's dumps never overwrite each other.
    public func keepalivedTmp(_ host: String) -> String { directory(host) + "/tmp" }
    public func dataDump(_ host: String) -> String { keepalivedTmp(host) + "/keepalived.data" }
    public func keepalivedLog(_ host: String) -> String { directory(host) + "/keepalived.log" }
    public func checkScript(_ host: String) -> String { directory(host) + "/chk_haproxy" }

    /// `hadeck node`'s pid file and log, on a mixed lab's node host.
    public func nodePidFile(_ host: String) -> String { directory(host) + "/node.pid" }
    public func nodeLog(_ host: String) -> String { directory(host) + "/node.log" }
    /// keepalived's stats file (SIGUSR2), in its TMPDIR.
    public func statsDump(_ host: String) -> String { keepalivedTmp(host) + "/keepalived.stats" }

    // App files.
    public func appPidFile(_ host: String) -> String { directory(host) + "/app.pid" }
    public func appLog(_ host: String) -> String { directory(host) + "/app.log" }
}

/// Why a lab operation could not be done, in one line for the person at the terminal.
public enum LabError: Error, Hashable, Sendable, CustomStringConvertible {
    case badID(String)
    /// A missing capability: not root, no namespaces, a missing program (with the apt line).
    case missing(String)
    case unknownHost(String)
    case failed(String)

    public var description: String {
        switch self {
        case .badID(let s), .missing(let s), .failed(let s): s
        case .unknownHost(let name):
            "no lab host '\(name)' (hosts: \(LabLayout.hosts.map(\.name).joined(separator: ", ")))"
        }
    }
}
