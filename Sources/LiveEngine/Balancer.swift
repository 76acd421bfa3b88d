import BalancerCore
import HadeckBase
import Logging
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
    /// Where the balancer says what goes wrong at run time (connections that fail, sockets it
    /// cannot open, a snapshot that could not be taken). Silent by default; `hadeck proxy` prints
    /// HAProxy-style `[WARNING]`/`[ALERT]` lines. Per-request lines go to `onRequest`, not here.
    public var logger = Logger(label: "hadeck.balancer", factory: { _ in SwiftLogNoOpLogHandler() })

    public init() {}
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
    ///   - extraMetrics: more metric families for `/metrics` (after HAProxy's), called on `eventLoop` per scrape.
    ///   - backends: route and check with these `Backend`s, owned by someone else on the same loop
    ///     (the embedded cluster's core, so the dashboard shows exactly what routes traffic). When
    ///     given, the balancer must be built on `eventLoop`.
    public init(
        name: String, config: HAProxyConfig, pid: Int = Int(getpid()), eventLoop: EventLoop,
        clock: LiveClock = LiveClock(), options: BalancerOptions = BalancerOptions(),
        onRequest: (@Sendable (AccessLogRecord) -> Void)? = nil,
        onTransition: (@Sendable (CheckTransition) -> Void)? = nil,
        onAdminChange: (@Sendable (AdminChangeRecord) -> Void)? = nil,
        extraMetrics: (@Sendable () -> [MetricFamily])? = nil,
        sharing backends: [(name: String, backend: Backend)]? = nil
    ) {
        self.name = name
        self.pid = pid
        self.config = config
        self.eventLoop = eventLoop
        self.clock = clock
        self.options = options
        let callbacks = BalancerCallbacks(
            onRequest: onRequest, onTransition: onTransition, onAdminChange: onAdminChange, extraMetrics: extraMetrics)
        if let backends {
            eventLoop.preconditionInEventLoop()
            state = NIOLoopBoundBox(
                BalancerState(
                    name: name, pid: pid, config: config, clock: clock, loop: eventLoop, options: options,
                    callbacks: callbacks, backends: backends),
                eventLoop: eventLoop)
        } else {
            state = NIOLoopBoundBox.makeBoxSendingValue(
                BalancerState(
                    name: name, pid: pid, config: config, clock: clock, loop: eventLoop, options: options,
                    callbacks: callbacks),
                as: BalancerState.self, eventLoop: eventLoop)
        }
    }

    /// The addresses the frontends listen on, after the wildcard/bind-host override, with their frontend.
    public var listenAddresses: [(frontend: String, address: HostPort)] {
        config.frontends.flatMap { fe in
            fe.binds.map { b -> (String, HostPort) in
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
        return loop.submit { () throws -> Bool in
            let s = state.value
            guard !s.alive else { return false }
            // A stats socket that another process serves, or a path that is no socket: refuse
            // before anything is bound.
            for socket in statsSockets { try StatsSocketFile.checkFree(socket.path) }
            try s.begin()
            return true
        }.flatMap { (starting: Bool) -> EventLoopFuture<Void> in
            guard starting else { return loop.makeSucceededVoidFuture() }
            var chain = loop.makeSucceededFuture(())
            for (frontend, address) in addresses {
                chain = chain.flatMap { () -> EventLoopFuture<Void> in
                    ServerBootstrap(group: loop)
                        .serverChannelOption(.backlog, value: 1024)
                        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                        .serverChannelOption(.maxMessagesPerRead, value: options.maxMessagesPerRead)
                        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                        .childChannelOption(.maxMessagesPerRead, value: options.maxMessagesPerRead)
                        // A client that shuts down its side after its request still gets the answer.
                        .childChannelOption(.allowRemoteHalfClosure, value: true)
                        .serverChannelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                let pause = AcceptPause(pause: .milliseconds(100))
                                state.value.acceptPauses.append(pause)
                                try channel.pipeline.syncOperations.addHandlers(
                                    pause,
                                    ListenerErrorLogger(logger: options.logger, listener: "\(frontend) on \(address)"))
                            }
                        }
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
                            if s.alive { s.channels.addListener(channel) } else { channel.close(promise: nil) }
                        }
                }
            }
            for socket in statsSockets {
                chain = chain.flatMap { state.value.bindStatsSocket(socket) }
            }
            return chain.flatMapError { error in
                state.value.shutdown().flatMapThrowing { throw error }
            }.map {
                state.value.checks.schedule()
            }
        }
    }

    /// Closes every listener and every connection; nothing stays bound. The process is dead
    /// (a killed balancer): new connections are refused until `start()`.
    public func stop() async {
        do {
            try await stopFuture().get()
        } catch {
            options.logger.error("stopping balancer \(name): \(error)")
        }
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
        guard let name = frontend ?? s.frontends.order.first else {
            channel.close(promise: nil)
            return
        }
        do {
            try channel.syncOptions?.setOption(.maxMessagesPerRead, value: options.maxMessagesPerRead)
            try channel.syncOptions?.setOption(.socketOption(.tcp_nodelay), value: 1)
            try channel.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
        } catch {
            options.logger.debug("cannot set the options of an adopted connection: \(error)")
        }
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
        return try await eventLoop.submit { try body(state.value.backends, state.value.now) }.get()
    }

    /// Every server's state now, per backend; empty (and logged) when the balancer's loop is gone.
    public func snapshot() async -> [(backend: String, servers: [ServerSnapshot])] {
        do {
            return try await withBackends { backends, now in
                backends.map { (backend: $0.name, servers: $0.backend.snapshot(now: now)) }
            }
        } catch {
            options.logger.error("cannot read the servers of balancer \(name): \(error)")
            return []
        }
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
            return (try? await eventLoop.submit { state.value.channels.clients.count }.get()) ?? 0
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
