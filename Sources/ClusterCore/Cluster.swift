import BalancerCore
import ClusterConfig
import ClusterModel
import HadeckBase
import HadeckConfig
import VRRPCore
import WebCore

/// The whole cluster in one deterministic model: balancer hosts, their haproxy and keepalived,
/// the client segment's ARP cache, Tomcat-like backends and browser-like clients.
///
/// Time only moves through `run(until:)`. The simulator drives it in virtual time; the
/// dashboard drives it against a real clock. Everything that happens becomes a `ClusterEvent`.
public final class Cluster {
    public let spec: ClusterSpec
    public internal(set) var now = Instant.zero
    public let hosts: [BalancerHost]
    public internal(set) var webServers: [WebServer]
    /// Where each app server is in `webServers`, by address and by name: the set of app servers is
    /// fixed at start (only their state changes), and requests and snapshots look them up each time.
    let webServerIndex: (byAddress: [String: Int], byName: [String: Int])
    public internal(set) var browsers: [Browser] = []
    public internal(set) var arp = ARPCache()
    /// Pairs of hosts whose VRRP traffic is cut.
    public internal(set) var partitions: Set<[String]> = []
    public internal(set) var trafficOn: Bool
    public internal(set) var trafficRate: Double
    /// What happened besides requests (those are in `recentRequests`), oldest first, bounded by `eventLimit`.
    public internal(set) var events: [ClusterEvent] = []
    /// Called for each new event as it happens.
    public var onEvent: ((ClusterEvent) -> Void)?
    /// Keep at most this many events in `events` (`onEvent` still sees all). 0: keep all.
    public var eventLimit = 5_000
    /// Request counters.
    public internal(set) var requestsSent = 0
    public internal(set) var requestsFailed = 0
    /// The latest requests, oldest first (bounded).
    public internal(set) var recentRequests: [RequestRecord] = []
    /// How many requests `recentRequests` keeps.
    public var requestHistoryLimit = 2_000
    /// The latest `say` line.
    public internal(set) var lastCaption: String?
    /// How many times a client that had a session was given a different one.
    public internal(set) var sessionChanges = 0
    /// How long a simulated client waits for an answer before it gives up, as a real client's
    /// timeout does: for one that never comes (the VIP's MAC names a host that is off or no longer
    /// holds the address: its packets are dropped), and for one haproxy holds back (a connect
    /// retry's turn-around), whose late answer then reaches nobody. nil: a client waits for
    /// haproxy's answer however long it takes, and one nobody answers fails at once (the built-in
    /// browsers).
    public var clientTimeout: TimeSpan?

    enum Work {
        case clientRequest(generation: Int)
        case attempt(requestID: Int)
        case respond(requestID: Int)
        case checkDone(host: String, pid: Int, check: PendingCheck, outcome: CheckOutcome)
        case advert(to: String, from: String, destination: String, bytes: [UInt8])
        /// A simulated client gives up on a request nobody answered (`clientTimeout`).
        case clientGaveUp(client: Int, via: String?, reason: String, after: TimeSpan)
        /// A simulated client gives up on a request haproxy accepted but has not answered
        /// (`clientTimeout`), e.g. one waiting for a connect retry.
        case clientAbandoned(requestID: Int, after: TimeSpan)
        /// A request waiting for a `maxconn` slot reaches `timeout queue`.
        case queueTimeout(requestID: Int)
    }

    var scheduler = Scheduler<Work>()
    /// The last `vrrp.discard` event per host and reason, and how many discards it left unreported.
    var discardReports: [String: (at: Instant, suppressed: Int)] = [:]
    var trafficGeneration = 0
    var nextClient = 0
    var pending: [Int: PendingRequest] = [:]
    /// Browsers with a request in flight.
    var busyClients: Set<Int> = []
    var latencyGenerator = SplitMix64(seed: "latency")
    /// Requests answered, per balancer and server name (`meterSlot`), for the rates on screen.
    var requestMeter = RateMeter()
    /// The request meter's key of each balancer and server name, numbered as first asked for.
    var meterSlots: [MeterKey: Int] = [:]
    /// The server rows of the last snapshot, updated in place by the next (SnapshotRows.swift).
    var snapshotRows = SnapshotRows()
    /// The history keeps 1 request in `requestSampling` (1: all).
    public internal(set) var requestSampling = 1
    /// Requests per second above which the history samples.
    public var readableRequestRate = 50.0
    var samplingSecond: Int64 = -1
    var sampledOut = 0
    var nextRequestID = 1

    /// The network the cluster runs on. A live plane owns the cluster, so it is held weakly; the
    /// simulated one belongs to the cluster (`simulatedNetwork`).
    public private(set) weak var dataPlane: ClusterDataPlane!
    private let simulatedNetwork: SimulatedNetwork?

    /// Builds the cluster and starts every process at time zero (`now`), on `dataPlane` if given,
    /// else on the simulated network.
    public init(spec: ClusterSpec, dataPlane: ClusterDataPlane? = nil, now: Instant = .zero) {
        self.spec = spec
        if let dataPlane {
            simulatedNetwork = nil
            self.dataPlane = dataPlane
        } else {
            let network = SimulatedNetwork()
            simulatedNetwork = network
            self.dataPlane = network
        }
        self.now = now
        hosts = spec.hosts.enumerated().map { i, h in BalancerHost(definition: h, pidBase: 9644 + i * 1000) }
        let apps = spec.backends.map {
            WebServer(name: $0.name, address: $0.address.description, jvmRoute: $0.jvmRoute)
        }
        webServers = apps
        // The first of several with one address or name wins, as a search from the start would find.
        webServerIndex = (
            Dictionary(apps.indices.map { (apps[$0].address, $0) }, uniquingKeysWith: { a, _ in a }),
            Dictionary(apps.indices.map { (apps[$0].name, $0) }, uniquingKeysWith: { a, _ in a })
        )
        trafficOn = spec.trafficOn
        trafficRate = spec.trafficRate
        setClientCount(spec.clients)
        for host in hosts {
            startHAProxy(host, why: "\(host.name) booted")
            startKeepalived(host, why: "\(host.name) booted")
        }
        simulatedNetwork?.cluster = self
        scheduleTraffic()
    }

    // MARK: - Running

    /// The earliest moment anything will happen.
    public var nextEventTime: Instant? {
        var t = scheduler.nextTime
        for host in hosts where host.poweredOn {
            if let d = host.keepalived?.nextDeadline { t = min(t ?? d, d) }
            if dataPlane.simulatesHealthChecks, let d = host.haproxy?.nextCheckDue { t = min(t ?? d, d) }
        }
        return t
    }

    /// Runs everything due up to and including `time`, then sets the clock to `time`.
    public func run(until time: Instant) {
        while let next = nextEventTime, next <= time {
            now = max(now, next)
            if let (_, work) = scheduler.popDue(atOrBefore: now) {
                perform(work)
                continue
            }
            for host in hosts where host.poweredOn {
                if let ka = host.keepalived, let d = ka.nextDeadline, d <= now {
                    let haproxyAlive = host.haproxy != nil
                    handle(ka.advance(to: now, haproxyAlive: haproxyAlive), on: host)
                }
                if dataPlane.simulatesHealthChecks, let hp = host.haproxy, let d = hp.nextCheckDue, d <= now {
                    for check in hp.startDueChecks(now: now) {
                        let (delay, outcome) = checkOutcome(check)
                        scheduler.schedule(
                            .checkDone(host: host.name, pid: hp.pid, check: check, outcome: outcome), at: now + delay)
                    }
                }
            }
        }
        now = max(now, time)
    }

    private func perform(_ work: Work) {
        switch work {
        case .clientRequest(let generation):
            guard generation == trafficGeneration, trafficOn, trafficRate > 0, !browsers.isEmpty else { return }
            // The browsers wait for the VIP's first announcement: before any master, nobody could answer.
            if vipAnnounced {
                let index = nextClient % browsers.count
                nextClient += 1
                sendRequest(from: index)
            }
            scheduler.schedule(.clientRequest(generation: generation), at: now + trafficInterval)
        case .attempt(let id):
            attempt(requestID: id)
        case .respond(let id):
            respond(requestID: id)
        case .checkDone(let hostName, let pid, let check, let outcome):
            // A check whose haproxy died meanwhile reports to nobody.
            guard let host = host(named: hostName), host.poweredOn, let hp = host.haproxy, hp.pid == pid else { return }
            for t in hp.completeCheck(check, outcome: outcome, now: now) {
                emitBackendState(t, host: host)
            }
        case .advert(let to, let from, let destination, let bytes):
            guard let source = host(named: from) else { return }
            receiveAdvert(bytes, to: to, fromAddress: source.address, destination: destination)
        case .clientGaveUp(let client, let via, let reason, let after):
            browserFailed(
                client, via: via, reason: reason + " (no answer within \(formatSeconds(after.micros)) s)",
                latency: after)
        case .clientAbandoned(let id, let after):
            abandon(requestID: id, after: after)
        case .queueTimeout(let id):
            queueTimedOut(requestID: id)
        }
    }

    /// A packet from `fromAddress` reaches host `to`'s keepalived, which checks it like any other
    /// (a stranger's packet is discarded with its reason). Lost when `to` is down, or when the
    /// sender is a host partitioned from `to`.
    public func receiveAdvert(_ bytes: [UInt8], to: String, fromAddress: String, destination: String) {
        guard let target = host(named: to), target.poweredOn, let ka = target.keepalived else { return }
        if let source = hosts.first(where: { $0.address == fromAddress }), isPartitioned(to, source.name) { return }
        handle(ka.receive(bytes, from: fromAddress, destination: destination, now: now), on: target)
    }

    /// Where a new connection to the VIP goes now, and why.
    /// Where a new connection to the VIP goes, after the clients re-resolved a stale entry if it was due.
    public func routeNewConnection() -> VIPRoute {
        resolveStaleNeighbour()
        return vipRoute()
    }

    /// The clients' entry for the VIP names a MAC that no longer answers for it (host off, or the
    /// address removed), unconfirmed for the reachable time plus the probes: they broadcast an ARP
    /// request, and a host holding the VIP answers it.
    func resolveStaleNeighbour() {
        let ip = spec.vip.host
        guard arp.isDueForResolution(ip, at: now), let mac = arp.mac(for: ip) else { return }
        if let owner = host(withMAC: mac), owner.holds(ip) { return }
        guard let holder = hosts.first(where: { $0.holds(ip) }),
            let change = arp.resolved(ip: ip, mac: holder.mac, node: holder.name, at: now)
        else { return }
        let previous = change.from.flatMap { self.host(withMAC: $0)?.name } ?? "nobody"
        emit(
            .arpUpdate(ip: ip, mac: holder.mac.description, node: holder.name),
            why:
                "the clients' entry for \(ip) (\(previous)'s MAC) went unanswered for \(formatSeconds((arp.reachableTime + arp.probeTime).micros)) s: "
                + "they asked again and \(holder.name), which holds it, answered")
    }

    /// Traffic through the VIP was answered by the host its entry names: the entry stays reachable.
    func confirmVIPNeighbour(answeredBy host: String) {
        let ip = spec.vip.host
        if let mac = arp.mac(for: ip), self.host(withMAC: mac)?.name == host { arp.confirm(ip, at: now) }
    }

    public func vipRoute() -> VIPRoute {
        let vip = spec.vip
        guard let mac = arp.mac(for: vip.host), let host = host(withMAC: mac) else {
            return .unanswered(
                host: nil, reason: "no ARP entry for \(vip.host) yet: no balancer has announced the VIP")
        }
        guard host.poweredOn else {
            return .unanswered(
                host: host,
                reason: "\(host.name) is powered off but the ARP cache still maps the VIP to its MAC: request lost")
        }
        guard host.holds(vip.host) else {
            return .unanswered(
                host: host,
                reason:
                    "\(host.name) no longer holds \(vip.host) but the ARP cache still maps it to its MAC: packets dropped"
            )
        }
        guard let hp = host.haproxy else {
            return .refused(host: host, reason: "connection refused: \(host.name)'s haproxy is not running")
        }
        guard let frontend = hp.frontendName(forPort: vip.port) else {
            return .refused(
                host: host, reason: "connection refused: \(host.name)'s haproxy listens on no port \(vip.port)")
        }
        return .balancer(host, frontend: frontend)
    }

    // MARK: - Lookups

    /// A balancer and a server name: what the request meter counts by.
    struct MeterKey: Hashable {
        var via: String
        var server: String
    }

    /// The request meter's key for requests `via` took to `server` (a new one the first time).
    func meterSlot(via: String, server: String) -> Int {
        let key = MeterKey(via: via, server: server)
        if let slot = meterSlots[key] { return slot }
        let slot = meterSlots.count
        meterSlots[key] = slot
        return slot
    }

    public func host(named name: String) -> BalancerHost? { hosts.first { $0.name == name } }

    public func host(withMAC mac: MACAddress) -> BalancerHost? { hosts.first { $0.mac == mac } }

    public func webServer(named name: String) -> WebServer? { webServers.first { $0.name == name } }

    func isPartitioned(_ a: String, _ b: String) -> Bool { partitions.contains([a, b].sorted()) }

    /// The hosts whose keepalived is MASTER right now.
    public var masters: [BalancerHost] { hosts.filter { $0.poweredOn && $0.keepalived?.isMaster == true } }

    /// The host the clients' ARP cache sends VIP traffic to.
    /// Whether a gratuitous ARP has ever named the VIP (the built-in browsers wait for it).
    public var vipAnnounced: Bool { arp.history.contains { $0.ip == spec.vip.host } }

    public var vipOwner: BalancerHost? { arp.mac(for: spec.vip.host).flatMap { host(withMAC: $0) } }

    // MARK: - Events

    func emit(_ kind: EventKind, why: String, timer: VRRPTimer? = nil, scripts: [TrackedScriptStatus] = []) {
        let event = ClusterEvent(time: now, kind, why: why, timer: timer, scripts: scripts)
        if case .request = kind {
        } else {
            events.append(event)
            if eventLimit > 0, events.count > eventLimit + eventLimit / 4 {
                events.removeFirst(events.count - eventLimit)
            }
        }
        onEvent?(event)
    }

    func emitBackendState(_ t: BackendTransition, host: BalancerHost) {
        emit(
            .backendState(
                balancer: host.name, backend: t.backend, server: t.server, from: t.from, to: t.to, check: t.check),
            why: t.why)
    }

    // MARK: - VRRP and ARP

    func handle(_ outputs: [KeepalivedOutput], on host: BalancerHost) {
        for output in outputs {
            switch output {
            case .advert(let bytes, let destination):
                // Unicast to a peer, or the multicast group reaching every other host on the segment.
                let targets = hosts.filter {
                    $0 !== host && ($0.address == destination || destination == VRRPCodec.multicastGroup)
                }
                for target in targets {
                    dataPlane.sendAdvert(bytes, from: host, to: target, destination: destination)
                }
            case .addresses(let ips, let added, let why):
                for ip in ips {
                    let changed =
                        added ? host.configuredVIPs.insert(ip).inserted : host.configuredVIPs.remove(ip) != nil
                    if changed {
                        emit(
                            .vipAddress(node: host.name, ip: ip, added: added),
                            why: "\(host.name)'s keepalived \(added ? "added" : "removed") \(ip): \(why)")
                    }
                }
            case .discarded(let from, let reason):
                // Counted always (the instance's stats); reported at most once per reason per second,
                // with how many more came meanwhile, as keepalived rate-limits its log.
                let key = host.name + "\u{0}" + reason
                if let last = discardReports[key], now - last.at < .seconds(1) {
                    discardReports[key]?.suppressed += 1
                    continue
                }
                let more = discardReports[key]?.suppressed ?? 0
                discardReports[key] = (now, 0)
                emit(
                    .vrrpDiscard(node: host.name, from: from, reason: reason),
                    why: "\(host.name)'s keepalived threw away a packet from \(from): \(reason)"
                        + (more > 0 ? " (and \(more) more for the same reason in the second before)" : ""))
            case .gratuitousARP(let vip):
                guard host.poweredOn,
                    let change = arp.receiveGratuitousARP(ip: vip, mac: host.mac, node: host.name, at: now)
                else { continue }
                let previous = change.from.flatMap { self.host(withMAC: $0)?.name }
                emit(
                    .arpUpdate(ip: vip, mac: host.mac.description, node: host.name),
                    why: previous.map {
                        "gratuitous ARP from \(host.name): \(vip) moved from \($0)'s MAC to \(host.name)'s"
                    }
                        ?? "gratuitous ARP from \(host.name): clients now send \(vip) to \(host.name)")
            case .stateChanged(let from, let to, let priority, let effective, let why, let timer):
                emit(
                    .vrrpState(
                        node: host.name, from: HostVRRPState(from), to: HostVRRPState(to), priority: priority,
                        effectivePriority: effective), why: why, timer: timer)
            case .priorityChanged(let from, let to, let why, let scripts):
                emit(
                    .vrrpPriority(node: host.name, from: from, to: to), why: why,
                    scripts: scripts.filter { $0.lastFlip?.at == now })
            }
        }
    }

    // MARK: - Processes

    func startHAProxy(_ host: BalancerHost, why: String) {
        let pid = host.nextHAProxyPID
        host.nextHAProxyPID += 17
        host.haproxy = HAProxyProcess(config: host.haproxyConfig, pid: pid, now: now)
        emitProcess(host, .haproxy, .start, pid: pid, why: why)
    }

    func startKeepalived(_ host: BalancerHost, why: String) {
        let pid = host.nextKeepalivedPID
        host.nextKeepalivedPID += 3
        let ka = KeepalivedProcess(
            config: host.keepalivedConfig, primaryIP: host.address, pid: pid, linkUp: host.linkUp)
        host.keepalived = ka
        host.keepalivedEnded = nil
        // keepalived removes its virtual addresses at start-up (what a killed one left behind).
        for ip in host.keepalivedConfig.instances.flatMap(\.virtualIPAddresses)
        where host.configuredVIPs.remove(ip) != nil {
            emit(
                .vipAddress(node: host.name, ip: ip, added: false),
                why: "\(host.name)'s keepalived removed \(ip), left by its previous run, as it started")
        }
        emitProcess(host, .keepalived, .start, pid: pid, why: why)
        handle(ka.start(now: now), on: host)
    }

    func emitProcess(_ host: BalancerHost, _ process: HostProcess, _ action: ProcessAction, pid: Int, why: String) {
        emit(.process(node: host.name, process: process, action: action, pid: pid), why: why)
    }
}
