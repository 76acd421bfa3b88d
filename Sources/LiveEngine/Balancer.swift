import BalancerCore
import HadeckBase
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Tunables of a live balancer.
public struct BalancerOptions: Sendable {
    /// The host that replaces the wildcard `0.0.0.0` of `bind :PORT` (hadeck never listens beyond loopback by default).
    public var wildcardHost = "127.0.0.1"
    /// Replaces the host of every bind when set (e.g. the balancer host's loopback address).
    public var bindHost: String? = nil
    /// Request header bytes accepted before answering 400, like HAProxy's tune.bufsize - tune.maxrewrite.
    public var maxHeaderBytes = 15_360
    /// Idle keep-alive connections kept per server for reuse.
    public var idleConnectionsPerServer = 1024
    /// Reads (and accepts) per event loop tick.
    public var maxMessagesPerRead: UInt = 16
    /// Used when the configuration has no `timeout connect` (HAProxy would wait forever).
    public var defaultConnectTimeout = TimeSpan.seconds(5)
    /// The node name `show info` and the stats page report; default: the configuration's
    /// `node`, else the balancer's name.
    public var node: String? = nil
    /// Which stats sockets (runtime API) the balancer opens; default: the configuration's `stats socket` lines.
    public var statsSockets = StatsSocketPlacement.configured
    /// Longest runtime API command line accepted (HAProxy's tune.bufsize); longer ones close the connection.
    public var maxCLILineBytes = 16_384
    /// Idle time after which a runtime API connection is closed (HAProxy's `stats timeout`), until
    /// the client sets its own with `set timeout cli`.
    public var cliTimeout = TimeSpan.seconds(10)

    public init() {}
}

/// Where a request goes once accepted on a frontend.
struct FrontendRuntime {
    var config: FrontendConfig
    var backendName: String?
    var backend: Backend?
    var backendConfig: BackendConfig?
    var forwardfor: Bool
    var keepAlive: Bool
    var httpRequestTimeout: TimeSpan?
    /// Between two requests of a keep-alive connection (`timeout http-keep-alive`, else http-request).
    var keepAliveTimeout: TimeSpan? = nil
    var clientTimeout: TimeSpan?
    var serverTimeout: TimeSpan?
    var connectTimeout: TimeSpan
    /// Set up by `setUpStats`: the counters its requests feed, and its stats page if enabled.
    var counters = RequestCounters(frontend: TrafficCounters(), backend: nil, servers: [:])
    var statsPage: StatsPageConfig?
}

/// The idle keep-alive connections to one server, reused most recent first.
final class IdlePool {
    var idle: [UpstreamHandler] = []
}

/// What decides the header lines added to a response head.
struct ResponseExtrasKey: Equatable {
    var setCookies: [String]
    var cachePrivate: Bool
    var chunked: Bool
    /// The length of the Connection value written ("close" or "keep-alive"), 0 for none.
    var connection: Int
}

/// A server of one backend, as the data plane needs it.
struct ServerKey: Hashable {
    var backend: String
    var server: String
}

/// Everything of one balancer that lives on its event loop.
final class BalancerState {
    let name: String
    let pid: Int
    let clock: LiveClock
    let loop: EventLoop
    let options: BalancerOptions
    let config: HAProxyConfig
    let backends: [(name: String, backend: Backend)]
    var frontends: [String: FrontendRuntime] = [:]
    var frontendOrder: [String] = []
    var addresses: [ServerKey: NIOCore.SocketAddress] = [:]
    var alive = false
    var listeners: [Channel] = []
    var clients: [ObjectIdentifier: Channel] = [:]
    var upstreams: [ObjectIdentifier: Channel] = [:]
    var pools: [ServerKey: IdlePool] = [:]
    var checkChannels: [ObjectIdentifier: Channel] = [:]
    var checkTimer: Scheduled<Void>?
    var checkTimerDeadline: NIODeadline?
    var checkGeneration = 0
    let onRequest: (@Sendable (AccessLogRecord) -> Void)?
    let onTransition: (@Sendable (CheckTransition) -> Void)?
    let onAdminChange: (@Sendable (AdminChangeRecord) -> Void)?
    let extraMetrics: (@Sendable () -> String)?
    // Statistics and the runtime API (Stats.swift, RuntimeAPI.swift, StatsSocket.swift).
    let node: String
    var proxies: [StatsProxy] = []
    var frontendCounters: [String: TrafficCounters] = [:]
    var backendCounters: [String: TrafficCounters] = [:]
    var serverCounters: [ServerKey: TrafficCounters] = [:]
    var backendHealth: [String: BackendHealth] = [:]
    var startedAt: Instant?
    var startedWall = 0
    var statsListeners: [(path: String, channel: Channel)] = []
    var cliConnections: [ObjectIdentifier: Channel] = [:]

    init(
        name: String, pid: Int, config: HAProxyConfig, clock: LiveClock, loop: EventLoop, options: BalancerOptions,
        onRequest: (@Sendable (AccessLogRecord) -> Void)?, onTransition: (@Sendable (CheckTransition) -> Void)?,
        onAdminChange: (@Sendable (AdminChangeRecord) -> Void)? = nil, extraMetrics: (@Sendable () -> String)? = nil,
        backends shared: [(name: String, backend: Backend)]? = nil
    ) {
        self.onAdminChange = onAdminChange
        self.extraMetrics = extraMetrics
        self.node = options.node ?? config.global.node ?? name
        self.name = name
        self.pid = pid
        self.config = config
        self.clock = clock
        self.loop = loop
        self.options = options
        self.onRequest = onRequest
        self.onTransition = onTransition
        let now = clock.now()
        backends = shared ?? config.backends.map { ($0.name, Backend(config: $0, start: now)) }
        for fe in config.frontends {
            let be = fe.defaultBackend.flatMap { n in backends.first { $0.name == n } }
            let beConfig = be?.backend.config
            let t = beConfig?.timeouts
            frontends[fe.name] = FrontendRuntime(
                config: fe, backendName: fe.defaultBackend, backend: be?.backend, backendConfig: beConfig,
                forwardfor: fe.forwardfor || (beConfig?.forwardfor ?? false),
                keepAlive: fe.httpKeepAlive && (beConfig?.httpKeepAlive ?? true),
                httpRequestTimeout: fe.timeouts.httpRequest,
                keepAliveTimeout: fe.timeouts.httpKeepAlive ?? fe.timeouts.httpRequest,
                clientTimeout: fe.timeouts.client,
                serverTimeout: t?.server, connectTimeout: t?.connect ?? options.defaultConnectTimeout)
            frontendOrder.append(fe.name)
        }
        setUpStats(now: now)
    }

    /// Resolves every server address once (numeric addresses need no lookup).
    func resolveAddresses() throws {
        for (name, backend) in backends {
            for s in backend.config.servers {
                let key = ServerKey(backend: name, server: s.name)
                if addresses[key] != nil { continue }
                do {
                    addresses[key] = try NIOCore.SocketAddress(ipAddress: s.address.host, port: s.address.port)
                } catch {
                    do {
                        addresses[key] = try NIOCore.SocketAddress.makeAddressResolvingHost(
                            s.address.host, port: s.address.port)
                    } catch {
                        throw LiveEngineError.badAddress(s.address.description)
                    }
                }
            }
        }
    }

    func bindAddress(_ a: BalancerCore.SocketAddress) -> BalancerCore.SocketAddress {
        if let host = options.bindHost { return .init(host: host, port: a.port) }
        if a.host == "0.0.0.0" || a.host == "*" || a.host == "::" {
            return .init(host: options.wildcardHost, port: a.port)
        }
        return a
    }

    // MARK: connections

    func installPipeline(on channel: Channel, frontend: String) throws {
        guard alive, let fe = frontends[frontend] else {
            channel.close(promise: nil)
            return
        }
        // One handler: the session parses and forwards HTTP/1.1 bytes itself (no codec handlers).
        let session = ClientSession(state: self, frontend: fe, channel: channel)
        try channel.pipeline.syncOperations.addHandler(session)
        let id = ObjectIdentifier(channel)
        clients[id] = channel
        let counters = fe.counters.frontend
        counters.currentSessions += 1
        counters.totalSessions += 1
        counters.maxSessions = max(counters.maxSessions, counters.currentSessions)
        channel.closeFuture.assumeIsolated().whenComplete { [weak self] _ in
            self?.clients[id] = nil
            counters.currentSessions -= 1
        }
    }

    /// The header lines the proxy adds to a response head, and its blank line. The last set is
    /// kept: it is the same for every response a server's cookie insertion produces.
    private var extrasKey: ResponseExtrasKey?
    private var extrasBytes = ByteBuffer()

    func responseExtras(
        setCookies: [String]?, cachePrivate: Bool, chunked: Bool, connection: StaticString?,
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let key = ResponseExtrasKey(
            setCookies: setCookies ?? [], cachePrivate: cachePrivate, chunked: chunked,
            connection: connection?.utf8CodeUnitCount ?? 0)
        if key == extrasKey { return extrasBytes }
        var out = allocator.buffer(capacity: 128)
        for c in key.setCookies {
            out.writeStaticString("Set-Cookie: ")
            out.writeString(c)
            out.writeStaticString("\r\n")
        }
        if cachePrivate { out.writeStaticString("Cache-control: private\r\n") }
        if chunked { out.writeStaticString("Transfer-Encoding: chunked\r\n") }
        if let connection {
            out.writeStaticString("Connection: ")
            out.writeStaticString(connection)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        extrasKey = key
        extrasBytes = out
        return out
    }

    /// The pool of a server's idle connections (created on first use).
    func pool(_ key: ServerKey) -> IdlePool {
        if let pool = pools[key] { return pool }
        let pool = IdlePool()
        pools[key] = pool
        return pool
    }

    func takeIdle(from pool: IdlePool) -> UpstreamHandler? {
        while let last = pool.idle.popLast() {
            if last.isUsable { return last }
        }
        return nil
    }

    func putIdle(_ upstream: UpstreamHandler) {
        guard alive, upstream.isUsable else {
            upstream.close()
            return
        }
        // Through the connection's own pool: no dictionary lookup (hashing two strings) per request.
        let pool = upstream.pool
        if pool.idle.count >= options.idleConnectionsPerServer {
            upstream.close()
            return
        }
        pool.idle.append(upstream)
    }

    func removeIdle(_ upstream: UpstreamHandler) {
        let pool = upstream.pool
        guard let i = pool.idle.firstIndex(where: { $0 === upstream }) else { return }
        pool.idle.remove(at: i)
    }

    /// Closes every listener and connection.
    func shutdown() -> EventLoopFuture<Void> {
        alive = false
        checkGeneration += 1
        checkTimer?.cancel()
        checkTimer = nil
        checkTimerDeadline = nil
        let channels =
            listeners + Array(clients.values) + Array(upstreams.values) + Array(checkChannels.values)
            + statsListeners.map(\.channel) + Array(cliConnections.values)
        listeners = []
        // The socket files go with the process, as when HAProxy stops cleanly.
        for (path, _) in statsListeners { unlink(path) }
        statsListeners = []
        for pool in pools.values { pool.idle.removeAll() }
        pools = [:]
        let futures = channels.map { ch -> EventLoopFuture<Void> in
            ch.close().recover { _ in }
        }
        return EventLoopFuture.andAllComplete(futures, on: loop)
    }

    func report(_ record: AccessLogRecord) { onRequest?(record) }
}

/// A live HAProxy-like balancer: HTTP/1.1 reverse proxy with the balancer core's routing, cookie
/// persistence, retries and health checks, confined to one event loop.
///
/// Every frontend, client connection, server connection and check of a balancer runs on
/// `eventLoop`; its `Backend`s are only touched there.
public final class Balancer: Sendable {
    /// A name for records and logs (e.g. `lb1`).
    public let name: String
    /// The pid this balancer reports (the article's stats page shows it).
    public let pid: Int
    /// The configuration it runs.
    public let config: HAProxyConfig
    /// The loop all of its work runs on.
    public let eventLoop: EventLoop
    /// The clock mapping monotonic time to the core's `Instant`.
    public let clock: LiveClock
    /// Its tunables.
    public let options: BalancerOptions
    let state: NIOLoopBoundBox<BalancerState>

    /// Builds a balancer from a parsed haproxy.cfg. Nothing is bound until `start()`.
    ///
    /// - Parameters:
    ///   - onRequest: called on `eventLoop` once per request (or failed request).
    ///   - onTransition: called on `eventLoop` when a check changes a server's status.
    ///   - onAdminChange: called on `eventLoop` after the stats socket or page changed a server.
    ///   - extraMetrics: more Prometheus text for `/metrics`, called on `eventLoop` per scrape.
    ///   - backends: route and check with these `Backend`s, owned by someone else on the same loop
    ///     (the embedded cluster's core, so the dashboard shows exactly what routes traffic). When
    ///     given, the balancer must be built on `eventLoop`.
    public init(
        name: String, config: HAProxyConfig, pid: Int = Int(getpid()), eventLoop: EventLoop,
        clock: LiveClock = LiveClock(), options: BalancerOptions = BalancerOptions(),
        onRequest: (@Sendable (AccessLogRecord) -> Void)? = nil,
        onTransition: (@Sendable (CheckTransition) -> Void)? = nil,
        onAdminChange: (@Sendable (AdminChangeRecord) -> Void)? = nil,
        extraMetrics: (@Sendable () -> String)? = nil,
        sharing backends: [(name: String, backend: Backend)]? = nil
    ) {
        self.name = name
        self.pid = pid
        self.config = config
        self.eventLoop = eventLoop
        self.clock = clock
        self.options = options
        if let backends {
            eventLoop.preconditionInEventLoop()
            state = NIOLoopBoundBox(
                BalancerState(
                    name: name, pid: pid, config: config, clock: clock, loop: eventLoop, options: options,
                    onRequest: onRequest, onTransition: onTransition, onAdminChange: onAdminChange,
                    extraMetrics: extraMetrics, backends: backends),
                eventLoop: eventLoop)
        } else {
            state = NIOLoopBoundBox.makeBoxSendingValue(
                BalancerState(
                    name: name, pid: pid, config: config, clock: clock, loop: eventLoop, options: options,
                    onRequest: onRequest, onTransition: onTransition, onAdminChange: onAdminChange,
                    extraMetrics: extraMetrics),
                as: BalancerState.self, eventLoop: eventLoop)
        }
    }

    /// The addresses the frontends listen on, after the wildcard/bind-host override, with their frontend.
    public var listenAddresses: [(frontend: String, address: BalancerCore.SocketAddress)] {
        config.frontends.flatMap { fe in
            fe.binds.map { b -> (String, BalancerCore.SocketAddress) in
                var a = b
                if let host = options.bindHost {
                    a.host = host
                } else if a.host == "0.0.0.0" || a.host == "*" || a.host == "::" {
                    a.host = options.wildcardHost
                }
                return (fe.name, a)
            }
        }
    }

    /// Binds every frontend and starts the health checks: the process is alive.
    /// Throws `LiveEngineError.cannotListen` (nothing stays bound) when an address is taken.
    public func start() async throws {
        try await startFuture().get()
    }

    /// `start()` as a future.
    public func startFuture() -> EventLoopFuture<Void> {
        let state = self.state
        let loop = eventLoop
        let addresses = listenAddresses
        let statsSockets = statsSocketConfigs
        let options = self.options
        return loop.submit { () throws -> Void in
            let s = state.value
            guard !s.alive else { return }
            try s.resolveAddresses()
            s.alive = true
            s.startedAt = s.clock.now()
            s.startedWall = Int(time(nil))
        }.flatMap { () -> EventLoopFuture<Void> in
            var chain = loop.makeSucceededFuture(())
            for (frontend, address) in addresses {
                chain = chain.flatMap { () -> EventLoopFuture<Void> in
                    ServerBootstrap(group: loop)
                        .serverChannelOption(.backlog, value: 1024)
                        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                        .serverChannelOption(.maxMessagesPerRead, value: options.maxMessagesPerRead)
                        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                        .childChannelOption(.maxMessagesPerRead, value: options.maxMessagesPerRead)
                        .childChannelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try state.value.installPipeline(on: channel, frontend: frontend)
                            }
                        }
                        .bind(host: address.host, port: address.port)
                        .flatMapErrorThrowing { error in
                            throw LiveEngineError.cannotListen(
                                address: address.description, reason: describe(error))
                        }
                        .map { channel in
                            let s = state.value
                            if s.alive { s.listeners.append(channel) } else { channel.close(promise: nil) }
                        }
                }
            }
            for socket in statsSockets {
                chain = chain.flatMap { state.value.bindStatsSocket(socket) }
            }
            return chain.flatMapError { error in
                state.value.shutdown().flatMapThrowing { throw error }
            }.map {
                state.value.scheduleChecks()
            }
        }
    }

    /// Closes every listener and every connection; nothing stays bound. The process is dead
    /// (a killed balancer): new connections are refused until `start()`.
    public func stop() async {
        try? await stopFuture().get()
    }

    /// `stop()` as a future.
    public func stopFuture() -> EventLoopFuture<Void> {
        let state = self.state
        return eventLoop.flatSubmit { state.value.shutdown() }
    }

    /// `kill -9` of the balancer process: same as `stop()`.
    public func kill() async { await stop() }

    /// Whether the process is alive (started and not stopped).
    public var isAlive: Bool {
        get async {
            let state = self.state
            return (try? await eventLoop.submit { state.value.alive }.get()) ?? false
        }
    }

    /// Installs the balancer's per-connection pipeline on a channel that was accepted elsewhere
    /// (the VIP listener), as if `frontend` (default: the first one) had accepted it. Must be called
    /// on `eventLoop`, and the channel must belong to it (accept VIP connections on this loop).
    /// A dead balancer closes the channel (the connection is refused).
    public func adopt(channel: Channel, frontend: String? = nil) throws {
        guard channel.eventLoop === eventLoop else { throw LiveEngineError.wrongEventLoop }
        eventLoop.preconditionInEventLoop()
        let s = state.value
        guard let name = frontend ?? s.frontendOrder.first else {
            channel.close(promise: nil)
            return
        }
        try? channel.syncOptions?.setOption(.maxMessagesPerRead, value: options.maxMessagesPerRead)
        try? channel.syncOptions?.setOption(.socketOption(.tcp_nodelay), value: 1)
        try s.installPipeline(on: channel, frontend: name)
    }

    /// `adopt(channel:)` from any thread.
    public func adoptFuture(channel: Channel, frontend: String? = nil) -> EventLoopFuture<Void> {
        guard channel.eventLoop === eventLoop else { return eventLoop.makeFailedFuture(LiveEngineError.wrongEventLoop) }
        return eventLoop.submit { try self.adopt(channel: channel, frontend: frontend) }
    }

    /// Runs `body` on the balancer's loop with its backends (in configuration order) and the current
    /// time: snapshots, admin state and weight changes go through here.
    public func withBackends<T: Sendable>(
        _ body: @escaping @Sendable (_ backends: [(name: String, backend: Backend)], _ now: Instant) throws -> T
    ) async throws -> T {
        let state = self.state
        let clock = self.clock
        return try await eventLoop.submit { try body(state.value.backends, clock.now()) }.get()
    }

    /// Every server's state now, per backend.
    public func snapshot() async -> [(backend: String, servers: [ServerSnapshot])] {
        (try? await withBackends { backends, now in
            backends.map { (backend: $0.name, servers: $0.backend.snapshot(now: now)) }
        }) ?? []
    }

    /// The frontends that answer the stats page (and `/metrics`) themselves, with the page's URI.
    public var statsPages: [(frontend: String, uri: String)] {
        config.frontends.compactMap { fe in
            if fe.stats.enabled { return (fe.name, fe.stats.uri) }
            if let be = fe.defaultBackend.flatMap(config.backend(named:)), be.stats.enabled {
                return (fe.name, be.stats.uri)
            }
            return nil
        }
    }

    /// Open client connections (including adopted ones).
    public var clientConnectionCount: Int {
        get async {
            let state = self.state
            return (try? await eventLoop.submit { state.value.clients.count }.get()) ?? 0
        }
    }
}

/// The text of a socket error, e.g. `Address already in use`.
func describe(_ error: Error) -> String {
    if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
    if let e = error as? NIOConnectionError, let first = e.connectionErrors.first {
        return describe(first.error)
    }
    return "\(error)"
}
