import BalancerCore
import HadeckBase
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

@testable import LiveEngine

#if canImport(Glibc)
    import Glibc
#endif

/// A balancer on an `EmbeddedEventLoop`: client and server connections are `EmbeddedChannel`s, no
/// socket is opened, and time moves only when a test advances it. What a server does with a
/// connection attempt is the test's choice (`connect`).
final class EmbeddedProxy {
    /// What a connection attempt to a server does.
    enum ConnectOutcome {
        /// Connected at once.
        case accept
        /// Refused (ECONNREFUSED).
        case refuse
        /// Never completes (a server that does not answer SYNs).
        case hang
    }

    let loop = EmbeddedEventLoop()
    let state: BalancerState
    /// What each attempt to a server does (default: accept).
    var connect: (ServerKey) -> ConnectOutcome = { _ in .accept }
    /// Every connection attempt, in order, by server name.
    private(set) var attempts: [String] = []
    /// The server connections made, in order.
    private(set) var serverChannels: [(server: String, channel: EmbeddedChannel)] = []
    private var hanging: [EventLoopPromise<UpstreamHandler>] = []
    private let collected = Collector<AccessLogRecord>()

    init(_ text: String) throws {
        let loop = self.loop
        let records = collected
        state = BalancerState(
            name: "lbv", pid: 4321, config: parseConfig(text), clock: LiveClock(origin: loop.now), loop: loop,
            options: BalancerOptions(), callbacks: BalancerCallbacks(onRequest: { records.append($0) }))
        try state.begin()
        state.servers.connector = { [unowned self] key, address, _ in
            self.attempts.append(key.server)
            switch self.connect(key) {
            case .accept:
                let channel = EmbeddedChannel(loop: loop)
                let handler = UpstreamHandler(key: key, state: self.state)
                do {
                    try channel.pipeline.syncOperations.addHandler(handler)
                    try channel.connect(to: address).wait()
                } catch {
                    return loop.makeFailedFuture(error)
                }
                self.serverChannels.append((key.server, channel))
                return loop.assumeIsolated().makeSucceededFuture(handler)
            case .refuse:
                return loop.makeFailedFuture(IOError(errnoCode: ECONNREFUSED, reason: "connect"))
            case .hang:
                let promise = loop.makePromise(of: UpstreamHandler.self)
                self.hanging.append(promise)
                return promise.futureResult
            }
        }
    }

    deinit {
        for p in hanging { p.fail(ChannelError.ioOnClosedChannel) }
        _ = state.shutdown()
        try? loop.syncShutdownGracefully()
    }

    var records: [AccessLogRecord] { collected.all }

    /// A client connection accepted on `frontend` (the first one by default).
    func client(port: Int = 40_000, frontend: String? = nil) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: loop)
        channel.remoteAddress = try SocketAddress(ipAddress: "127.80.1.5", port: port)
        try channel.connect(to: SocketAddress(ipAddress: "127.80.1.1", port: 18080)).wait()
        try state.installPipeline(on: channel, frontend: frontend ?? state.frontends.order[0])
        return channel
    }

    /// The server connection made `index`-th (0: the first).
    func server(_ index: Int) -> EmbeddedChannel? {
        index < serverChannels.count ? serverChannels[index].channel : nil
    }

    /// Advances virtual time by `ms` milliseconds, running what falls due.
    func advance(ms: Int64) { loop.advanceTime(by: .milliseconds(ms)) }
}

extension EmbeddedChannel {
    /// Sends bytes as if the peer wrote them.
    func receive(_ text: String) throws {
        try writeInbound(ByteBuffer(string: text))
    }

    /// Everything written to the peer so far (and flushed), as text.
    func sent() throws -> String {
        var out = ""
        while let buffer = try readOutbound(as: ByteBuffer.self) { out += String(buffer: buffer) }
        return out
    }
}

/// A plain listen section for virtual-time tests, with `extra` lines in its defaults.
func virtualConfig(_ extra: String, servers: String = "server webA 127.80.1.2:18081\n    server webB 127.80.1.3:18081")
    -> String
{
    """
    defaults
        mode http
    \(extra)
    listen web
        bind 127.80.1.1:18080
        balance roundrobin
        \(servers)
    """
}

/// A 200 response with a body of `body`.
func ok(_ body: String = "ok") -> String { "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)" }
