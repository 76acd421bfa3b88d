import BalancerCore
import HadeckBase
import HostNetwork
import LiveEngine
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import VRRPCore

/// One balancer host of a cluster on the interfaces of the network namespace it runs in: hadeck's
/// haproxy (LiveEngine's `Balancer`, from the host's haproxy.cfg) and hadeck's keepalived (a
/// `NodeKeepalived` for one `vrrp_instance` of its keepalived.conf), standing in for a host that
/// runs the real programs. The balancer runs on one event loop, VRRP on another, so a busy proxy
/// never delays an advert.
public final class ClusterNode: Sendable {
    public let balancer: Balancer
    public let keepalived: NodeKeepalived
    private let haproxyUp = NIOLockedValueBox(false)

    /// Why a node cannot start, in one line.
    public struct SetupError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// The node for `instance` (by name; default: the first `vrrp_instance`) of `keepalived`.
    ///
    /// - Parameters:
    ///   - loops: two loops, the balancer's and VRRP's (they may be the same).
    ///   - dumpDirectory: where SIGUSR1 / SIGUSR2 write keepalived's dump and stats (its TMPDIR).
    ///   - log: keepalived's lines, without a timestamp.
    public init(
        haproxy: HAProxyConfig, keepalived: KeepalivedConfig, instance name: String? = nil,
        loops: (balancer: EventLoop, vrrp: EventLoop), dumpDirectory: String, clock: LiveClock = LiveClock(),
        onRequest: (@Sendable (AccessLogRecord) -> Void)? = nil,
        onTransition: (@Sendable (CheckTransition) -> Void)? = nil,
        onAdminChange: (@Sendable (AdminChangeRecord) -> Void)? = nil,
        log: @escaping @Sendable (String) -> Void
    ) throws(SetupError) {
        let instance = try Self.instance(named: name, in: keepalived)
        guard let interfaceName = instance.interface else {
            throw SetupError(
                "vrrp_instance \(instance.name) has no 'interface': hadeck node needs the one to speak VRRP on")
        }
        let interface: NetworkInterface
        do { interface = try NetworkInterface.named(interfaceName) } catch {
            throw SetupError(
                "vrrp_instance \(instance.name): \(error) (run hadeck node inside the host's network namespace)")
        }
        var options = BalancerOptions()
        // Inside the host's own namespace `bind :80` means every address, the VIP among them, as for haproxy.
        options.wildcardHost = "0.0.0.0"
        balancer = Balancer(
            name: haproxy.global.node ?? keepalived.globals.routerID ?? "hadeck", config: haproxy,
            eventLoop: loops.balancer, clock: clock, options: options, onRequest: onRequest,
            onTransition: onTransition, onAdminChange: onAdminChange)
        let up = haproxyUp
        do {
            self.keepalived = try NodeKeepalived(
                settings: .init(
                    instance: instance, globals: keepalived.globals, scripts: keepalived.scripts,
                    dumpDirectory: dumpDirectory),
                interface: interface, loop: loops.vrrp, clock: clock, haproxyAlive: { up.withLockedValue { $0 } },
                log: log)
        } catch {
            throw SetupError("vrrp_instance \(instance.name): \(error)")
        }
    }

    static func instance(named name: String?, in config: KeepalivedConfig) throws(SetupError) -> VRRPInstanceConfig {
        if let name {
            guard let found = config.instances.first(where: { $0.name == name }) else {
                let known = config.instances.map(\.name).joined(separator: ", ")
                throw SetupError("no vrrp_instance '\(name)' (there are: \(known.isEmpty ? "none" : known))")
            }
            return found
        }
        guard let first = config.instances.first else { throw SetupError("no vrrp_instance in keepalived.conf") }
        return first
    }

    /// The balancer first (a host's haproxy runs before its keepalived tracks it), then VRRP.
    public func start() -> EventLoopFuture<Void> {
        let up = haproxyUp
        return balancer.startFuture().map { up.withLockedValue { $0 = true } }.flatMap { self.keepalived.start() }
    }

    /// A graceful stop of the host: keepalived first (its priority-0 advert, the VIP removed), then haproxy.
    public func stop() -> EventLoopFuture<Void> {
        let up = haproxyUp
        return keepalived.stop().flatMap {
            up.withLockedValue { $0 = false }
            return self.balancer.stopFuture()
        }
    }
}
