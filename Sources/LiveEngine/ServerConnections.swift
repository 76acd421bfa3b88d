import BalancerCore
import HadeckBase
import NIOCore
import NIOPosix

/// A server of one backend, as the data plane needs it.
struct ServerKey: Hashable {
    var backend: String
    var server: String
}

/// The idle keep-alive connections to one server, reused most recent first.
final class IdlePool {
    var idle: [UpstreamHandler] = []
}

/// Connections to the servers: their resolved addresses, how a new connection is opened, and the
/// idle keep-alive connections waiting for reuse.
final class ServerConnections {
    /// Opens a connection to a server within a time limit. Sockets by default
    /// (`ServerConnections.socketConnector`); tests open embedded channels instead.
    typealias Connector = (_ key: ServerKey, _ address: NIOCore.SocketAddress, _ timeout: TimeSpan) -> EventLoopFuture<
        UpstreamHandler
    >

    private(set) var addresses: [ServerKey: NIOCore.SocketAddress] = [:]
    /// Where health checks connect when it is not the server's address (`port N`, `addr A`).
    private(set) var checkAddresses: [ServerKey: NIOCore.SocketAddress] = [:]
    private var pools: [ServerKey: IdlePool] = [:]
    let idleLimit: Int
    var connector: Connector?

    init(idleLimit: Int) { self.idleLimit = idleLimit }

    /// Resolves every server address once (numeric addresses need no lookup).
    func resolve(_ backends: [(name: String, backend: Backend)]) throws {
        for (name, backend) in backends {
            for s in backend.config.servers {
                let key = ServerKey(backend: name, server: s.name)
                if addresses[key] != nil { continue }
                addresses[key] = try Self.address(s.address)
                if s.checkPort != nil || s.checkAddress != nil { checkAddresses[key] = try Self.address(s.checkTarget) }
            }
        }
    }

    /// The address health checks of a server connect to.
    func checkAddress(_ key: ServerKey) -> NIOCore.SocketAddress? { checkAddresses[key] ?? addresses[key] }

    private static func address(_ a: HostPort) throws -> NIOCore.SocketAddress {
        do {
            return try NIOCore.SocketAddress(ipAddress: a.host, port: a.port)
        } catch {
            do {
                return try NIOCore.SocketAddress.makeAddressResolvingHost(a.host, port: a.port)
            } catch {
                throw LiveEngineError.badAddress(a.description)
            }
        }
    }

    /// The pool of a server's idle connections (created on first use).
    func pool(_ key: ServerKey) -> IdlePool {
        if let pool = pools[key] { return pool }
        let pool = IdlePool()
        pools[key] = pool
        return pool
    }

    /// The most recently used idle connection that still works, if any.
    func takeIdle(from pool: IdlePool) -> UpstreamHandler? {
        while let last = pool.idle.popLast() {
            if last.isUsable { return last }
        }
        return nil
    }

    /// Keeps a connection for reuse (closed instead when the pool is full or it cannot be reused).
    func putIdle(_ upstream: UpstreamHandler) {
        // Through the connection's own pool: no dictionary lookup (hashing two strings) per request.
        let pool = upstream.pool
        guard upstream.isUsable, pool.idle.count < idleLimit else {
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

    /// Forgets every idle connection (they are closed with the balancer's channels).
    func drop() {
        for pool in pools.values { pool.idle.removeAll() }
        pools = [:]
    }
}

extension BalancerState {
    /// Opens a new connection to a server on this loop.
    func connect(_ key: ServerKey, timeout: TimeSpan) -> EventLoopFuture<UpstreamHandler> {
        guard let address = servers.addresses[key] else {
            return loop.makeFailedFuture(LiveEngineError.badAddress("\(key.backend)/\(key.server)"))
        }
        if let connector = servers.connector { return connector(key, address, timeout) }
        let bound = NIOLoopBound(self, eventLoop: loop)
        let maxReads = options.maxMessagesPerRead
        return ClientBootstrap(group: loop)
            .connectTimeout(timeout.timeAmount)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.maxMessagesPerRead, value: maxReads)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Raw bytes both ways: the handler parses responses itself.
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(key: key, state: bound.value))
                }
            }
            .connect(to: address)
            .flatMapThrowing { channel in
                try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            }
    }
}
