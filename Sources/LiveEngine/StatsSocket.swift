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

/// A stats socket file this balancer put in place: its path and which file it is (device and
/// inode), so that stopping removes it only while it is still that file.
///
/// It is opened as HAProxy does, but never over a live socket: bound under a temporary name in a
/// fresh directory only this process can enter (mode 0700), given its mode there, listening, and
/// only then renamed into place. No one can connect to it before it has its mode, and no chmod
/// follows a path someone else controls.
public struct StatsSocketFile {
    let path: String
    let device: UInt64
    let inode: UInt64

    /// Throws when the path must not be used: another process serves it, or it is not a socket
    /// (a regular file, a directory, a symbolic link to something else...). A stale socket (no one
    /// accepts on it) or nothing at all is fine: the new socket replaces it.
    static func checkFree(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw LiveEngineError.statsSocketPathTaken(path: path, what: "cannot be examined (\(errnoText()))")
        }
        switch st.st_mode & S_IFMT {
        case S_IFSOCK:
            if UnixSocketClient.isServed(path) { throw LiveEngineError.statsSocketInUse(path: path) }
        case S_IFLNK:
            if UnixSocketClient.isServed(path) { throw LiveEngineError.statsSocketInUse(path: path) }
            let target = linkTarget(path)
            var to = stat()
            let what =
                stat(path, &to) != 0
                ? "is a symbolic link to \(target), which does not exist" : "is a symbolic link to \(target)"
            throw LiveEngineError.statsSocketPathTaken(path: path, what: what)
        case S_IFREG: throw LiveEngineError.statsSocketPathTaken(path: path, what: "is a regular file")
        case S_IFDIR: throw LiveEngineError.statsSocketPathTaken(path: path, what: "is a directory")
        default: throw LiveEngineError.statsSocketPathTaken(path: path, what: "is a special file")
        }
    }

    /// A listening unix socket with `mode`, bound in a private temporary directory next to `path`.
    struct Pending {
        let fd: Int32
        let directory: String
        var temporaryPath: String { directory + "/s" }

        /// Removes the temporary name and directory (the descriptor belongs to whoever took it).
        func discard() {
            unlink(temporaryPath)
            rmdir(directory)
        }
    }

    static func bindPending(_ path: String, mode: Int, backlog: Int32 = 64) throws -> Pending {
        func fail(_ what: String) -> LiveEngineError { .cannotListen(address: path, reason: what) }
        var template = Array((path + ".XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw fail("cannot create a temporary directory next to it (\(errnoText()))")
        }
        let directory = String(cString: made)
        let pending = Pending(fd: -1, directory: directory)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(pending.temporaryPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            rmdir(directory)
            throw fail("the path is too long for a unix socket once the temporary name is added (at most 98 bytes)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            rmdir(directory)
            throw fail(errnoText())
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        // The mode is set through the private directory's descriptor, not by a path anyone else can change.
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if dir >= 0 { close(dir) } }
        guard bound == 0, dir >= 0, fchmodat(dir, "s", mode_t(mode), 0) == 0, listen(fd, backlog) == 0 else {
            let why = errnoText()
            close(fd)
            Pending(fd: -1, directory: directory).discard()
            throw fail(why)
        }
        return Pending(fd: fd, directory: directory)
    }

    /// Moves a listening socket into place: checks once more that no process serves `path`, renames
    /// over a stale socket, removes the temporary directory.
    static func install(_ pending: Pending, at path: String) throws -> StatsSocketFile {
        defer { rmdir(pending.directory) }
        do {
            try checkFree(path)
        } catch {
            unlink(pending.temporaryPath)
            throw error
        }
        guard rename(pending.temporaryPath, path) == 0 else {
            let why = errnoText()
            unlink(pending.temporaryPath)
            throw LiveEngineError.cannotListen(address: path, reason: why)
        }
        var st = stat()
        lstat(path, &st)
        return StatsSocketFile(path: path, device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// Unlinks the file if it is still the one this balancer created (not one another process put there since).
    func removeIfStillOurs() {
        var st = stat()
        guard lstat(path, &st) == 0, UInt64(st.st_dev) == device, UInt64(st.st_ino) == inode else { return }
        unlink(path)
    }

    private static func linkTarget(_ path: String) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n >= 0 else { return "?" }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

extension BalancerState {
    /// Opens one stats socket on the balancer's loop (see `StatsSocketFile`): 0600 by default,
    /// or the configured mode.
    func bindStatsSocket(_ socket: StatsSocketConfig) -> EventLoopFuture<Void> {
        guard alive else { return loop.makeSucceededFuture(()) }
        let path = socket.path
        let pending: StatsSocketFile.Pending
        do {
            pending = try StatsSocketFile.bindPending(path, mode: socket.mode)
        } catch {
            return loop.makeFailedFuture(error)
        }
        let bound = NIOLoopBound(self, eventLoop: loop)
        let level = socket.level
        let maxLine = options.maxCLILineBytes
        let timeout = options.cliTimeout
        return ServerBootstrap(group: loop)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let state = bound.value
                    guard state.alive else {
                        channel.close(promise: nil)
                        return
                    }
                    let handler = StatsCLIHandler(state: state, level: level, maxLine: maxLine, timeout: timeout)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    state.channels.add(channel, as: .cli)
                }
            }
            .withBoundSocket(pending.fd)
            .flatMapErrorThrowing { error in
                pending.discard()
                throw LiveEngineError.cannotListen(address: path, reason: describe(error))
            }
            .flatMapThrowing { channel in
                let state = bound.value
                guard state.alive else {
                    pending.discard()
                    channel.close(promise: nil)
                    return
                }
                do {
                    state.channels.addStatsListener(channel, file: try StatsSocketFile.install(pending, at: path))
                } catch {
                    channel.close(promise: nil)
                    throw error
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

    init(state: BalancerState, level: StatsSocketConfig.Level, maxLine: Int, timeout: TimeSpan) {
        self.state = state
        self.session = CLISession(level: level, timeout: timeout)
        self.maxLine = maxLine
    }

    func handlerAdded(context: ChannelHandlerContext) {
        armIdle(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        idleTimer?.cancel()
        idleTimer = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        state.logger.debug("runtime API connection failed", metadata: ["error": "\(error)"])
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
                let reply = RuntimeAPI.run(text, session: &session, on: state)
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

extension StatsSocketFile {
    /// Why a balancer could not put its stats socket at `path` now (another process serves it, or
    /// something else is there), or nil when it could (nothing there, or a socket nobody serves).
    public static func problem(at path: String) -> String? {
        do { try checkFree(path) } catch { return "\(error)" }
        return nil
    }
}
