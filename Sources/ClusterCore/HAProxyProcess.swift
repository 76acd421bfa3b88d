import BalancerCore
import ClusterModel
import HadeckBase

/// A health check in flight: which backend of which haproxy runs it.
struct PendingCheck {
    var backend: String
    var job: CheckJob

    var server: String { job.server }
    var address: String { job.address.description }
    var isHTTP: Bool {
        if case .http = job.kind { return true }
        return false
    }
}

/// A server change as the cluster reports it (status, admin state).
struct BackendTransition {
    var backend: String
    var server: String
    var from: ServerStatus
    var to: ServerStatus
    var check: String
    var why: String
}

/// A weight change as the cluster reports it.
struct WeightTransition {
    var backend: String
    var server: String
    var from: Int
    var to: Int
    var why: String
}

/// What happens after a failed connection attempt.
enum RetryNext {
    /// `dequeued`: requests a redispatch's freed slot let out of a queue.
    case retry(RoutingDecision, after: TimeSpan, dequeued: [Dequeued])
    case giveUp(status: Int, reason: String)
}

/// One running haproxy: its backends (the balancer core) and the frontends that lead to them.
public final class HAProxyProcess {
    public let pid: Int
    public let config: HAProxyConfig
    public let startedAt: Instant
    /// Backends in configuration order.
    public let backends: [(name: String, backend: Backend)]

    /// Each frontend's rules (`acl`, `use_backend`, `http-request`...), compiled once.
    private let routers: [String: RequestRouter]
    /// Each backend's server addresses as text, by server index: every request asks for its
    /// server's (`address(ofServer:backend:)`).
    private let serverAddresses: [[String]]

    init(config: HAProxyConfig, pid: Int, now: Instant) {
        self.pid = pid
        self.config = config
        self.startedAt = now
        backends = config.backends.map { ($0.name, Backend(config: $0, start: now)) }
        serverAddresses = config.backends.map { $0.servers.map(\.address.description) }
        routers = Dictionary(
            config.frontends.map { ($0.name, RequestRouter(frontend: $0, backends: config.backends)) },
            uniquingKeysWith: { a, _ in a })
    }

    func backend(_ name: String) -> Backend? { backends.first { $0.name == name }?.backend }

    var nextCheckDue: Instant? {
        // Asked at every step of the simulation: no temporary array.
        var earliest: Instant?
        for b in backends {
            earliest.formMin(b.backend.nextCheckDue)
        }
        return earliest
    }

    func startDueChecks(now: Instant) -> [PendingCheck] {
        backends.flatMap { b in b.backend.startDueChecks(now: now).map { PendingCheck(backend: b.name, job: $0) } }
    }

    func completeCheck(_ check: PendingCheck, outcome: CheckOutcome, now: Instant) -> [BackendTransition] {
        guard let b = backend(check.backend) else { return [] }
        return b.completeCheck(server: check.server, outcome: outcome, duration: now - check.job.startedAt, now: now)
            .map { transition(check.backend, $0) }
    }

    private func transition(_ backend: String, _ t: ServerTransition) -> BackendTransition {
        BackendTransition(
            backend: backend, server: t.server, from: t.fromStatus, to: t.toStatus, check: t.checkStatus ?? "",
            why: t.why)
    }

    /// The frontend that listens on `port`.
    func frontendName(forPort port: Int) -> String? {
        config.frontends.first { $0.binds.contains { $0.port == port } }?.name
    }

    /// What the frontend listening on `port` decides for `request`: its `http-request` rules, then
    /// `use_backend`, then `default_backend` (nil: no frontend listens there). A reason naming a
    /// backend this haproxy lacks comes back as `noBackend`.
    func decide(port: Int, request: RequestFacts, now: Instant) -> RequestDecision? {
        guard let frontend = config.frontends.first(where: { $0.binds.contains { $0.port == port } }),
            let router = routers[frontend.name]
        else { return nil }
        var decision = router.route(request) { [backends] name in
            backends.first { $0.name == name }?.backend.usableServerCount(now: now) ?? 0
        }
        if let name = decision.backend, backend(name) == nil {
            decision.outcome = .noBackend
            decision.reason += ": no backend \(name) in this haproxy"
        }
        return decision
    }

    /// Whether the frontend on `port` routes by more than a `default_backend` (then the routing
    /// reason names the rule that matched).
    func hasRules(port: Int) -> Bool {
        guard let frontend = config.frontends.first(where: { $0.binds.contains { $0.port == port } }) else {
            return false
        }
        let r = frontend.rules
        return !r.switching.isEmpty || !r.httpRequest.isEmpty
    }

    func route(backend name: String, cookieHeader: String?, clientAddress: String, now: Instant) -> RoutingDecision {
        let request = RoutedRequest(
            method: "GET", cookieHeaders: cookieHeader.map { [$0] } ?? [], clientAddress: clientAddress)
        guard let b = backend(name) else { preconditionFailure("route() takes a name from backendName(forPort:)") }
        return b.route(request: request, now: now)
    }

    /// The address of the first server of that name in backend `name`.
    func address(ofServer server: String, backend name: String) -> String? {
        guard let b = backends.firstIndex(where: { $0.name == name }),
            let i = backends[b].backend.serverIndex(named: server)
        else { return nil }
        return serverAddresses[b][i]
    }

    /// Takes a maxconn slot for `route` or queues request `id` (`Backend.admit`).
    func admit(backend name: String, _ route: inout RoutingDecision, request id: Int, now: Instant) -> Admission {
        backend(name)?.admit(&route, request: id, now: now) ?? .rejected(queueFull: false)
    }

    /// The request's transaction ended: its slot goes to the next waiting request (`Backend.finish`).
    func finish(backend name: String, _ route: inout RoutingDecision, now: Instant) -> [Dequeued] {
        backend(name)?.finish(&route, now: now) ?? []
    }

    func leaveQueue(backend name: String, request id: Int, timedOut: Bool, now: Instant) -> RoutingDecision? {
        backend(name)?.leaveQueue(request: id, timedOut: timedOut, now: now)
    }

    func connectionOpened(backend name: String, server: String) { backend(name)?.connectionOpened(server: server) }
    func connectionClosed(backend name: String, server: String) { backend(name)?.connectionClosed(server: server) }

    func responseSetCookies(backend name: String, route: RoutingDecision, serverSetCookies: [String]) -> [String] {
        guard let b = backend(name) else { return serverSetCookies }
        return b.responseHeaders(for: route, serverSetCookies: serverSetCookies).setCookies
    }

    func connectFailed(backend name: String, route: RoutingDecision, now: Instant) -> RetryNext {
        guard let b = backend(name) else { return .giveUp(status: 503, reason: "backend \(name) is gone: 503") }
        let r = b.connectFailed(route, now: now)
        switch r.action {
        case .retry(let delay), .redispatch(let delay): return .retry(r.decision, after: delay, dequeued: r.dequeued)
        case .giveUp: return .giveUp(status: 503, reason: r.decision.reason)
        }
    }

    /// Backends that have a server of this name.
    private func backendsWith(_ server: String) -> [(name: String, backend: Backend)] {
        backends.filter { $0.backend.serverNames.contains(server) }
    }

    func setAdminState(server: String, _ state: AdminState, now: Instant, actor: String) throws(CommandError)
        -> [BackendTransition]
    {
        let targets = backendsWith(server)
        guard !targets.isEmpty else { throw CommandError("No such server '\(server)'.") }
        var out: [BackendTransition] = []
        for t in targets {
            do {
                out += try t.backend.setAdminState(server: server, state, now: now).map { tr in
                    var x = transition(t.name, tr)
                    x.why += " (by \(actor))"
                    return x
                }
            } catch { throw CommandError(error.message) }
        }
        return out
    }

    func setWeight(server: String, _ change: ClusterModel.WeightChange, now: Instant, actor: String)
        throws(CommandError) -> [WeightTransition]
    {
        let targets = backendsWith(server)
        guard !targets.isEmpty else { throw CommandError("No such server '\(server)'.") }
        var out: [WeightTransition] = []
        for t in targets {
            do {
                let before = try t.backend.weight(server, now: now)
                switch change {
                case .absolute(let n): _ = try t.backend.setWeight(server: server, .absolute(n), now: now)
                case .percent(let p): _ = try t.backend.setWeight(server: server, .percent(p), now: now)
                case .relative(let d):
                    _ = try t.backend.setWeight(
                        server: server, .absolute(min(256, max(0, before.current + d))), now: now)
                case .reset: _ = try t.backend.resetWeight(server: server, now: now)
                }
                let after = try t.backend.weight(server, now: now)
                if after.current != before.current {
                    out.append(
                        WeightTransition(
                            backend: t.name, server: server, from: before.current, to: after.current,
                            why:
                                "\(actor) set \(server)'s weight from \(before.current) to \(after.current) (initial \(after.initial))"
                        ))
                }
            } catch { throw CommandError(error.message) }
        }
        return out
    }

    /// True when the server is not in the ready admin state or its weight differs from the configured one.
    func isAdminChanged(server: String) -> Bool {
        backendsWith(server).contains { t in
            let admin = try? t.backend.adminState(of: server)
            let w = try? t.backend.weight(server, now: startedAt)
            return admin != .ready || (w.map { $0.current != $0.initial } ?? false)
        }
    }

    func status(server: String) -> ServerStatus? {
        backendsWith(server).first?.backend.status(of: server)
    }
}
