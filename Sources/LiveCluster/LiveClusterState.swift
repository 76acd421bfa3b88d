import BalancerCore
import ClusterConfig
import ClusterCore
import ClusterModel
import HadeckBase
import LiveEngine
import Logging
import NIOCore
import NIOPosix
import OrderedCollections
import VRRPCore
import WebCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything of a live cluster, confined to its one event loop: the core (`Cluster`) and the
/// sockets that carry out what it decides.
///
/// The core stays the single source of truth. Processes, VRRP, ARP and commands change the core;
/// `reconcile()` then makes the sockets follow (a haproxy with a new pid gets a new `Balancer`,
/// a killed app closes its listener). The sockets report back what really happened: adverts
/// received, requests answered, checks that changed a server.
final class LiveClusterState: ClusterDataPlane {
    let loop: EventLoop
    let clock: LiveClock
    let options: LiveClusterOptions
    let spec: ClusterSpec
    let scenario: Scenario?
    private(set) var cluster: Cluster!
    private(set) var runner: ScenarioRunner?
    /// A loop-bound handle on this state for callbacks coming from sockets.
    var bound: NIOLoopBound<LiveClusterState>!

    /// The live haproxy of each host (absent while it is dead), and the work that starts/stops it.
    var balancers: [String: Balancer] = [:]
    private var hostWork: [String: EventLoopFuture<Void>] = [:]
    var apps: [String: AppServer] = [:]
    private var appWanted: [String: Bool] = [:]
    private var appWork: [String: EventLoopFuture<Void>] = [:]
    var vrrpChannels: [String: Channel] = [:]
    var vipListener: Channel?
    /// VIP connections handed to a host's haproxy, by connection.
    var adopted: [ObjectIdentifier: (host: String, channel: Channel)] = [:]
    /// The clients (`IP:port`) of the VIP connections open now: a request from one of them came
    /// through the VIP, any other straight to a balancer's own address.
    var vipClients: [String: Int] = [:]
    /// VIP connections the network does not deliver now, oldest first.
    var held: OrderedDictionary<ObjectIdentifier, HeldConnection> = [:]
    /// Built-in browsers' connections in flight.
    var browserChannels: [ObjectIdentifier: Channel] = [:]
    /// Errors of listeners that could not open, for `start()` to report.
    var startErrors: [String] = []
    var onEvent: (@Sendable (ClusterEvent) -> Void)?
    private var tick: Scheduled<Void>?
    private var tickDeadline: NIODeadline?
    private(set) var stopped = false
    /// True until `start()` has settled: a listener failing then fails the start.
    private var booting = true

    init(spec: ClusterSpec, scenario: Scenario?, options: LiveClusterOptions, loop: EventLoop, clock: LiveClock) {
        self.spec = spec
        self.scenario = scenario
        self.options = options
        self.loop = loop
        self.clock = clock
    }

    // MARK: - Lifecycle

    /// Opens the segment (VRRP sockets, VIP listener), boots the core and its processes.
    func start() -> EventLoopFuture<Void> {
        let bound = self.bound!
        return openVIPListener().flatMap {
            bound.value.openVRRPSockets()
        }.flatMap {
            let s = bound.value
            for web in s.spec.backends {
                s.apps[web.name] = AppServer(
                    name: web.name, host: web.address.host, port: web.address.port, jvmRoute: web.jvmRoute,
                    eventLoop: s.loop)
            }
            let cluster = Cluster(spec: s.spec, dataPlane: s, now: s.clock.now())
            cluster.eventLimit = 5_000
            s.cluster = cluster
            if let scenario = s.scenario {
                let runner = ScenarioRunner(scenario: scenario, cluster: cluster)
                runner.onCommandError = { step, error in
                    cluster.recordEvent(
                        .error(line: step.line),
                        why: "the scenario's line \(step.line) could not run: \(error.description)")
                }
                s.runner = runner
            }
            // Events of the boot itself (processes starting) happened before anyone listened.
            for event in cluster.events { s.onEvent?(event) }
            cluster.onEvent = { event in bound.value.observe(event) }
            s.reconcile()
            return s.settled()
        }.flatMapThrowing {
            let s = bound.value
            s.booting = false
            if !s.startErrors.isEmpty { throw LiveClusterError.cannotStart(s.startErrors) }
            s.arm()
        }.flatMapError { error in
            bound.value.shutdown().flatMapThrowing { throw error }
        }
    }

    /// Every start/stop in flight, finished.
    func settled() -> EventLoopFuture<Void> {
        EventLoopFuture.andAllComplete(Array(hostWork.values) + Array(appWork.values), on: loop)
    }

    /// Closes every listener and connection; nothing stays bound.
    func shutdown() -> EventLoopFuture<Void> {
        stopped = true
        tick?.cancel()
        tick = nil
        let balancerStops = balancers.values.map { $0.stopFuture() }
        let appStops = apps.values.map { $0.killFuture() }
        var channels = Array(vrrpChannels.values) + Array(browserChannels.values)
        channels += adopted.values.map(\.channel) + held.values.map(\.channel)
        for entry in held.values { entry.blackHole?.release() }
        if let vipListener { channels.append(vipListener) }
        balancers = [:]
        vrrpChannels = [:]
        browserChannels = [:]
        adopted = [:]
        held = [:]
        vipListener = nil
        cluster?.onEvent = nil
        let closes = channels.map { $0.close().recover { _ in } }
        let pending = Array(hostWork.values) + Array(appWork.values)
        return EventLoopFuture.andAllComplete(pending + balancerStops + appStops + closes, on: loop)
    }

    // MARK: - Driving the core

    /// Runs the core up to now, lets `body` change it, then makes the sockets follow.
    func withCore(_ body: (Cluster) -> Void) {
        guard !stopped, let cluster else { return }
        advanceToNow()
        body(cluster)
        reconcile()
        arm()
    }

    private func advanceToNow() {
        let now = clock.now()
        if let runner { runner.advance(to: now) } else { cluster.run(until: now) }
    }

    /// Wakes at the core's next deadline. Everything that changes the core comes through
    /// `withCore`, which arms again, so the deadline is never stale; the one-second cap is a safety
    /// net only. (It was 100 ms: ten wake-ups a second of an idle cluster, most of its idle CPU.)
    func arm() {
        guard !stopped, let cluster else { return }
        var next = cluster.nextEventTime
        if let step = runner?.nextStepTime { next = min(next ?? step, step) }
        let cap = NIODeadline.now() + .seconds(1)
        let deadline = next.map { min(clock.deadline(of: $0), cap) } ?? cap
        if tick != nil, let at = tickDeadline, at <= deadline { return }
        tick?.cancel()
        tickDeadline = deadline
        tick = loop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            guard let self else { return }
            self.tick = nil
            self.tickDeadline = nil
            self.withCore { _ in }
        }
    }

    private func observe(_ event: ClusterEvent) {
        onEvent?(event)
        switch event.kind {
        case .arpUpdate: vipMoved()
        case .vipAddress(let node, let ip, let added) where ip == spec.vip.host:
            if !added { blackHoleConnections(of: node) }
            rerouteHeld()
        default: break
        }
    }

    // MARK: - Reconciling sockets with the core

    /// Makes listeners and processes match the core: each running haproxy has a live balancer with its
    /// pid (sharing the core's backends), each running app listens, dead ones are closed.
    func reconcile() {
        guard !stopped, let cluster else { return }
        let bound = self.bound!
        for host in cluster.hosts {
            let wanted = host.poweredOn ? host.haproxy : nil
            let current = balancers[host.name]
            if current?.pid == wanted?.pid { continue }
            var work = hostWork[host.name] ?? loop.makeSucceededVoidFuture()
            if let current {
                balancers[host.name] = nil
                work = work.flatMap { current.stopFuture() }
            }
            if let wanted {
                let balancer = makeBalancer(host: host, process: wanted)
                balancers[host.name] = balancer
                let hostName = host.name
                work = work.flatMap { balancer.startFuture() }.flatMapError { error in
                    bound.value.balancerFailed(hostName, pid: balancer.pid, error: error)
                    return bound.value.loop.makeSucceededVoidFuture()
                }
            }
            hostWork[host.name] = work
        }
        for web in cluster.webServers where appWanted[web.name] != web.running {
            guard let app = apps[web.name] else { continue }
            appWanted[web.name] = web.running
            var work = appWork[web.name] ?? loop.makeSucceededVoidFuture()
            if web.running {
                let name = web.name
                work = work.flatMap { app.startFuture() }.flatMapError { error in
                    bound.value.appFailed(name, error: error)
                    return bound.value.loop.makeSucceededVoidFuture()
                }
            } else {
                work = work.flatMap { app.killFuture() }
            }
            appWork[web.name] = work
        }
    }

    private func makeBalancer(host: BalancerHost, process: HAProxyProcess) -> Balancer {
        let bound = self.bound!
        var options = BalancerOptions()
        options.bindHost = host.address
        options.logger = self.options.logger
        let hostName = host.name
        return Balancer(
            name: host.name, config: host.haproxyConfig, pid: process.pid, eventLoop: loop, clock: clock,
            options: options,
            onRequest: { record in bound.value.balancerAnswered(record) },
            onTransition: { change in bound.value.serverChanged(change) },
            onAdminChange: { change in bound.value.adminChanged(change) },
            extraMetrics: { bound.value.metrics(host: hostName) },
            sharing: process.backends)
    }

    private func balancerFailed(_ host: String, pid: Int, error: Error) {
        let text = "\(error)"
        options.logger.error("\(host)'s haproxy (pid \(pid)) cannot start: \(text)")
        if booting { startErrors.append("\(host)'s haproxy: \(text)") }
        withCore { c in
            // The process could not bind: it exits, as haproxy does.
            guard c.host(named: host)?.haproxy?.pid == pid else { return }
            try? c.apply(
                .kill(.process(host: host, .haproxy)), by: "hadeck (\(host)'s haproxy could not start: \(text))")
        }
    }

    private func appFailed(_ name: String, error: Error) {
        options.logger.error("\(name) cannot start: \(error)")
        if booting { startErrors.append("\(name): \(error)") }
        withCore { c in
            guard c.webServer(named: name)?.running == true else { return }
            try? c.apply(.kill(.backend(name)), by: "hadeck (\(name) could not start: \(error))")
        }
    }

    // MARK: - What the sockets report

    private func balancerAnswered(_ r: AccessLogRecord) {
        withCore { c in
            let ip = r.client.split(separator: ":").first.map(String.init) ?? r.client
            c.recordLiveRequest(
                client: c.browserName(address: ip) ?? r.client, via: r.balancer, server: r.server, status: r.status,
                session: r.session, reason: r.reason, latency: r.latency, requestLine: r.requestLine,
                entry: vipClients[r.client] != nil ? .vip : .direct)
        }
    }

    private func serverChanged(_ change: CheckTransition) {
        // A runtime API change arrives through `adminChanged`, with who did it.
        guard !change.byAdmin else { return }
        withCore { c in
            let t = change.transition
            c.recordServerChange(
                balancer: change.balancer, backend: change.backend, server: t.server, from: t.fromStatus,
                to: t.toStatus,
                check: t.checkStatus ?? "", why: t.why)
        }
    }

    /// The stats socket or page changed a server: the same event as the dashboard's key, with its why.
    private func adminChanged(_ r: AdminChangeRecord) {
        withCore { c in
            switch r.change {
            case .adminState:
                c.recordServerChange(
                    balancer: r.balancer, backend: r.backend, server: r.server, from: r.transition.fromStatus,
                    to: r.transition.toStatus, check: "", why: r.why)
            case .weight(let from, let to):
                c.recordEvent(
                    .backendWeight(balancer: r.balancer, backend: r.backend, server: r.server, from: from, to: to),
                    why: r.why)
            }
        }
    }

    // MARK: - ClusterDataPlane

    func sendAdvert(_ bytes: [UInt8], from: BalancerHost, to: BalancerHost, destination: String) {
        guard let channel = vrrpChannels[from.name],
            let address = try? SocketAddress(ipAddress: to.address, port: options.vrrpPort)
        else { return }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
    }

    func sendRequest(browser index: Int, name: String, address: String, cookieHeader: String?) {
        startBrowserRequest(index: index, name: name, address: address, cookieHeader: cookieHeader)
    }

    /// Real health checks run in the live balancers, with the core's own backend objects.
    var simulatesHealthChecks: Bool { false }

    /// Why a connection to the VIP fails now, and through which host.
    func vipFailureReason(_ error: String) -> (via: String?, reason: String) {
        switch cluster.vipRoute() {
        case .refused(let host, let reason): return (host.name, reason)
        case .unanswered(let host, let reason): return (host?.name, reason)
        case .balancer(let host, _): return (host.name, "\(error) while talking to \(host.name)'s haproxy")
        }
    }

    /// Closes a connection with a reset (what a host without a listening socket answers).
    func reset(_ channel: Channel, releasing hole: BlackHoleHandler? = nil) {
        hole?.release()
        guard let provider = channel as? SocketOptionProvider else { return channel.close(promise: nil) }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
    }
}
