import BalancerCore
import HadeckBase
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which stats sockets (HAProxy's runtime API on a unix socket) a balancer opens.
public enum StatsSocketPlacement: Hashable, Sendable {
    /// The configuration's `stats socket` lines; none when it has none.
    case configured
    /// The configuration's lines, or one at `Balancer.defaultStatsSocketPath(for:)` (level admin) when it has none.
    case configuredOrDefault
    /// Exactly these, instead of the configuration's (e.g. one path per embedded balancer host).
    case custom([StatsSocketConfig])
    /// No stats socket.
    case none
}

extension Balancer {
    /// Where a balancer without a `stats socket` line puts its socket with `.configuredOrDefault`:
    /// `$XDG_RUNTIME_DIR/hadeck/NAME.sock`, else `/tmp/hadeck-UID/NAME.sock` (the directory is created, mode 0700).
    public static func defaultStatsSocketPath(for name: String) -> String {
        var base: String
        if let runtime = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), !runtime.isEmpty,
            access(runtime, W_OK) == 0
        {
            base = runtime + "/hadeck"
        } else {
            base = "/tmp/hadeck-\(getuid())"
        }
        mkdir(base, 0o700)
        let safe = String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        base += "/\(safe.isEmpty ? "hadeck" : safe).sock"
        return base
    }

    /// The stats sockets this balancer opens on `start()`, after `options.statsSockets`.
    public var statsSocketConfigs: [StatsSocketConfig] {
        switch options.statsSockets {
        case .configured: return config.global.statsSockets
        case .configuredOrDefault:
            if !config.global.statsSockets.isEmpty { return config.global.statsSockets }
            var socket = StatsSocketConfig(path: Self.defaultStatsSocketPath(for: name))
            socket.level = .admin
            return [socket]
        case .custom(let sockets): return sockets
        case .none: return []
        }
    }
}

extension BalancerState {
    /// Opens one stats socket on the balancer's loop: a stale socket file is removed first, the file
    /// gets the configured mode (0600 by default).
    func bindStatsSocket(_ socket: StatsSocketConfig) -> EventLoopFuture<Void> {
        guard alive else { return loop.makeSucceededFuture(()) }
        let bound = NIOLoopBound(self, eventLoop: loop)
        let level = socket.level
        let path = socket.path
        let maxLine = options.maxCLILineBytes
        let timeout = options.cliTimeout
        return ServerBootstrap(group: loop)
            .serverChannelOption(.backlog, value: 64)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let state = bound.value
                    guard state.alive else {
                        channel.close(promise: nil)
                        return
                    }
                    let handler = StatsCLIHandler(state: state, level: level, maxLine: maxLine, timeout: timeout)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    let id = ObjectIdentifier(channel)
                    state.cliConnections[id] = channel
                    channel.closeFuture.assumeIsolated().whenComplete { _ in bound.value.cliConnections[id] = nil }
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
            .flatMapErrorThrowing { error in
                throw LiveEngineError.cannotListen(address: path, reason: describe(error))
            }
            .map { channel in
                let state = bound.value
                chmod(path, mode_t(socket.mode))
                if state.alive {
                    state.statsListeners.append((path, channel))
                } else {
                    channel.close(promise: nil)
                    unlink(path)
                }
            }
    }
}

/// One runtime API connection: reads command lines, answers each like HAProxy 2.6's CLI, in
/// non-interactive mode (one line, then close) or in `prompt` mode (`> ` after each reply).
final class StatsCLIHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    unowned let state: BalancerState
    private var session: CLISession
    private let maxLine: Int
    private var line: [UInt8] = []
    private var closing = false
    private var idleTimer: Scheduled<Void>?
    private weak var channel: Channel?

    init(state: BalancerState, level: StatsSocketConfig.Level, maxLine: Int, timeout: TimeSpan) {
        self.state = state
        self.session = CLISession(level: level, timeout: timeout)
        self.maxLine = maxLine
    }

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
        armIdle(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        idleTimer?.cancel()
        idleTimer = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        closing = true
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let buffer = unwrapInboundIn(data)
        var output = ""
        for byte in buffer.readableBytesView {
            if byte == 10 {
                let text = line
                line.removeAll(keepingCapacity: true)
                let reply = state.runCommandLine(text, session: &session)
                output += reply.text
                if reply.close || !session.interactive {
                    closing = true
                    break
                }
            } else {
                line.append(byte)
                // Like HAProxy when a command does not fit its buffer: the connection is closed, no reply.
                if line.count > maxLine {
                    closing = true
                    output = ""
                    break
                }
            }
        }
        if !output.isEmpty {
            var out = context.channel.allocator.buffer(capacity: output.utf8.count)
            out.writeString(output)
            if closing {
                context.writeAndFlush(wrapOutboundOut(out)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
                return
            }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        } else if closing {
            context.close(promise: nil)
            return
        }
        armIdle(context: context)
    }

    private func armIdle(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        let channel = context.channel
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: session.timeout.timeAmount) {
            channel.close(promise: nil)
        }
    }
}
