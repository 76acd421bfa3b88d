import BalancerCore
import ClusterConfig
import ClusterModel
import HadeckBase
import HadeckConfig
import VRRPCore
import WebCore

/// The network a cluster runs on: what carries adverts, requests and health checks.
///
/// Two implementations: `SimulatedNetwork` (virtual time, in the core's own scheduler) and the live
/// cluster's sockets (LiveCluster). Either way processes, VRRP, ARP, commands and events stay in the
/// core, and the plane feeds back what happened (`receiveAdvert`, `browserReceived`, `browserFailed`,
/// `recordLiveRequest`, check results...). Contract tests run the same checks against both.
public protocol ClusterDataPlane: AnyObject {
    /// A VRRP advert leaves `from` for `to` (its unicast peer, or every host for the multicast group).
    func sendAdvert(_ bytes: [UInt8], from: BalancerHost, to: BalancerHost, destination: String)
    /// Browser `index` sends `GET /login` to the VIP; the answer comes back as `browserReceived` or
    /// `browserFailed` (or, simulated, as the request's own record).
    func sendRequest(browser index: Int, name: String, address: String, cookieHeader: String?)
    /// True when the core runs the health checks itself in virtual time; a live plane runs real
    /// checks with the very backend objects and the core only reports their changes.
    var simulatesHealthChecks: Bool { get }
}

/// The simulated network: adverts arrive at the instant they are sent, requests and checks are
/// played by the core in virtual time (no latency, a backend answers a check in 1 ms).
final class SimulatedNetwork: ClusterDataPlane {
    weak var cluster: Cluster?

    var simulatesHealthChecks: Bool { true }

    func sendAdvert(_ bytes: [UInt8], from: BalancerHost, to: BalancerHost, destination: String) {
        guard let cluster else { return }
        cluster.scheduler.schedule(
            .advert(to: to.name, from: from.name, destination: destination, bytes: bytes), at: cluster.now)
    }

    func sendRequest(browser index: Int, name: String, address: String, cookieHeader: String?) {
        cluster?.simulateRequest(from: index)
    }
}

/// Where a connection to the VIP ends up right now, by the clients' ARP cache.
public enum VIPRoute {
    /// The host's haproxy accepts it on `frontend`.
    case balancer(BalancerHost, frontend: String)
    /// Nobody answers: no ARP entry, or the host the entry names is powered off.
    case unanswered(host: BalancerHost?, reason: String)
    /// The host answers with a reset: its haproxy is not running or does not listen on the port.
    case refused(host: BalancerHost, reason: String)
}
