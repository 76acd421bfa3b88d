import BalancerCore
import HadeckBase
import Logging
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Who a balancer tells about what happens, all called on its event loop.
struct BalancerCallbacks {
    var onRequest: (@Sendable (AccessLogRecord) -> Void)?
    var onTransition: (@Sendable (CheckTransition) -> Void)?
    var onAdminChange: (@Sendable (AdminChangeRecord) -> Void)?
    var extraMetrics: (@Sendable () -> [MetricFamily])?
}

/// Everything of one balancer that lives on its event loop, made of cohesive parts: the
/// frontends, the connections to servers, the open channels, the health checks and the
/// statistics. This type only ties them together: start, stop, admin actions and snapshots.
final class BalancerState {
    let name: String
    let pid: Int
    let node: String
    let clock: LiveClock
    let loop: EventLoop
    let options: BalancerOptions
    let config: HAProxyConfig
    let logger: Logger
    let callbacks: BalancerCallbacks
    /// The core's backends, in configuration order (shared with the embedded cluster when given).
    let backends: [(name: String, backend: Backend)]
    let statistics: BalancerStatistics
    let frontends: FrontendTable
    let servers: ServerConnections
    let channels = ChannelRegistry()
    private(set) lazy var checks = HealthCheckScheduler(state: self)
    /// Started and not stopped: a killed balancer refuses connections.
    var alive = false
    /// The open files limit, read at start (`show info`'s Ulimit-n).
    var openFilesLimit = 0
    /// The header lines added to responses, kept from one response to the next.
    var responseExtras = ResponseExtrasCache()
    /// The listeners' accept pauses (out of descriptors): a closed connection resumes them.
    var acceptPauses: [AcceptPause] = []

    init(
        name: String, pid: Int, config: HAProxyConfig, clock: LiveClock, loop: EventLoop, options: BalancerOptions,
        callbacks: BalancerCallbacks, backends shared: [(name: String, backend: Backend)]? = nil
    ) {
        self.name = name
        self.pid = pid
        self.node = options.node ?? config.global.node ?? name
        self.config = config
        self.clock = clock
        self.loop = loop
        self.options = options
        self.logger = options.logger
        self.callbacks = callbacks
        let now = clock.instant(at: loop.now)
        backends = shared ?? config.backends.map { ($0.name, Backend(config: $0, start: now)) }
        statistics = BalancerStatistics(config: config, backends: backends, now: now)
        frontends = FrontendTable(
            config: config, backends: backends, statistics: statistics,
            defaultConnectTimeout: options.defaultConnectTimeout)
        servers = ServerConnections(idleLimit: options.idleConnectionsPerServer)
    }

    /// The core's time now, from the event loop's clock (virtual in tests).
    var now: Instant { clock.instant(at: loop.now) }

    func backend(named name: String) -> Backend? { backends.first { $0.name == name }?.backend }

    // MARK: requests waiting for a maxconn slot

    /// Client connections whose request waits in a backend's queue, by their ticket (the request
    /// id `Backend.admit` knows them by).
    private var waitingForSlot: [Int: ClientSession] = [:]
    private var lastQueueTicket = 0

    /// A request id for `Backend.admit`, unique in this balancer.
    func nextQueueTicket() -> Int {
        lastQueueTicket &+= 1
        return lastQueueTicket
    }

    func waitForSlot(ticket: Int, _ session: ClientSession) { waitingForSlot[ticket] = session }
    func stopWaiting(ticket: Int) { waitingForSlot[ticket] = nil }

    /// Slots freed for queued requests: each one's connection connects now. A request whose
    /// connection is gone gives its slot back at once (which may let the next one out), and so
    /// does every one while the balancer stops (its connections are closing: none connects).
    func wake(_ dequeued: [Dequeued], backend: Backend) {
        var pending = dequeued
        while !pending.isEmpty {
            var next = pending.removeFirst()
            if alive, let session = waitingForSlot.removeValue(forKey: next.request), session.dequeued(next.decision) {
                continue
            }
            pending += backend.finish(&next.decision, now: clock.instant(at: loop.now))
        }
    }

    /// The `errorfile` pages, read by `begin()`.
    private(set) var errorFiles = ErrorFiles()

    /// Marks the process alive: addresses resolved, error files read, start time taken.
    func begin() throws {
        try servers.resolve(backends)
        errorFiles = try ErrorFiles(config: config)
        alive = true
        statistics.startedAt = now
        statistics.startedWall = Int(time(nil))
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        openFilesLimit = Int(limit.rlim_cur)
    }

    // MARK: connections

    func installPipeline(on channel: Channel, frontend: String) throws {
        guard alive, let fe = frontends[frontend] else {
            channel.close(promise: nil)
            return
        }
        // One handler: the session parses and forwards HTTP/1.1 bytes itself (no codec handlers).
        try channel.pipeline.syncOperations.addHandler(ClientSession(state: self, frontend: fe))
        channels.add(channel, as: .client)
        let counters = fe.counters.frontend
        counters.counts.currentSessions += 1
        counters.counts.totalSessions += 1
        counters.counts.maxSessions = max(counters.counts.maxSessions, counters.counts.currentSessions)
        channel.closeFuture.assumeIsolated().whenComplete { [self] _ in
            counters.counts.currentSessions -= 1
            for pause in acceptPauses where pause.isPaused { pause.resume() }
        }
    }

    /// Keeps a server connection for reuse while the balancer runs.
    func putIdle(_ upstream: UpstreamHandler) {
        if alive { servers.putIdle(upstream) } else { upstream.close() }
    }

    /// Closes every listener and connection; removes the stats socket files this balancer created.
    func shutdown() -> EventLoopFuture<Void> {
        alive = false
        checks.stop()
        let (all, files) = channels.takeAll()
        // The socket files go with the process, as when HAProxy stops cleanly; only ours.
        for file in files { file.removeIfStillOurs() }
        servers.drop()
        acceptPauses = []
        let futures = all.map { ch -> EventLoopFuture<Void> in ch.close().recover { _ in } }
        return EventLoopFuture.andAllComplete(futures, on: loop)
    }
}

extension BalancerState: BalancerAdministration {
    func statsSnapshot() -> StatsSnapshot {
        let now = self.now
        let totals = statistics.frontendTotals
        let process = ProcessStats(
            name: name, pid: pid, node: node, alive: alive, maxconn: config.global.maxconn,
            uptimeSeconds: statistics.uptimeSeconds(now: now), startedWall: statistics.startedWall,
            openFilesLimit: openFilesLimit, currentConnections: channels.clients.count,
            totalConnections: totals.connections, totalRequests: totals.requests, totalBytesOut: totals.bytesOut,
            listeners: channels.listenerCount, cliConnections: channels.cliConnections.count,
            tasks: channels.taskCount)
        return StatsSnapshot(process: process, proxies: statistics.proxies(backends: backends, now: now), now: now)
    }

    /// Performs an admin action on the loop and reports it: `onAdminChange` with who and why,
    /// `onTransition` when the status text changed. Shared by the stats socket and the stats page.
    func apply(_ r: AdminRequest) throws(BalancerError) {
        guard let backend = backend(named: r.backend) else { throw BalancerError("No such backend.") }
        let now = self.now
        let server = r.server
        let adminBefore = try backend.adminState(of: server)
        let weightBefore = try backend.weight(server, now: now).current
        let transitions: [ServerTransition]
        switch r.action {
        case .state(let s): transitions = try backend.setAdminState(server: server, s, now: now)
        case .enable: transitions = try backend.enableServer(server, now: now)
        case .disable: transitions = try backend.disableServer(server, now: now)
        case .weight(let w): transitions = try backend.setWeight(server: server, w, now: now)
        }
        let adminAfter = try backend.adminState(of: server)
        let weightAfter = try backend.weight(server, now: now).current
        statistics.refreshHealth(r.backend, backend: backend, now: now)
        checks.schedule()
        let who = r.source == .statsSocket ? "stats socket (\(r.level.rawValue))" : "stats page"
        for t in transitions {
            let change: AdminChangeRecord.Change
            let what: String
            if adminAfter != adminBefore {
                change = .adminState(from: adminBefore, to: adminAfter)
                what = "set \(server) to \(adminAfter.rawValue.uppercased())"
            } else {
                change = .weight(from: weightBefore, to: weightAfter)
                what = "set \(server) weight \(weightBefore) -> \(weightAfter)"
            }
            callbacks.onAdminChange?(
                AdminChangeRecord(
                    balancer: name, backend: r.backend, server: server, change: change, transition: t,
                    source: r.source, level: r.level, command: r.command, why: "\(who) \(what): \(t.why)", time: now))
            if t.from != t.to {
                var record = CheckTransition(balancer: name, backend: r.backend, transition: t)
                record.byAdmin = true
                callbacks.onTransition?(record)
            }
        }
    }
}

/// The header lines the proxy adds to a response head, and its blank line, for the last few
/// distinct sets: with cookie insertion each server has its own (`Set-Cookie: SRV=A`...), and
/// round robin alternates between them from one response to the next.
struct ResponseExtrasCache {
    private var entries: [(extras: ResponseExtras, bytes: ByteBuffer)] = []
    /// The entry found last: most responses need the same lines as the one before.
    private var last = 0
    private var next = 0
    private let capacity = 8

    mutating func bytes(for extras: ResponseExtras, allocator: ByteBufferAllocator) -> ByteBuffer {
        if last < entries.count, entries[last].extras == extras { return entries[last].bytes }
        for i in entries.indices where entries[i].extras == extras {
            last = i
            return entries[i].bytes
        }
        let bytes = extras.render(allocator: allocator)
        if entries.count < capacity {
            last = entries.count
            entries.append((extras, bytes))
        } else {
            last = next
            entries[next] = (extras, bytes)
            next = (next + 1) % capacity
        }
        return bytes
    }
}
