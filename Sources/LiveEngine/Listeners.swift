import Logging
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stops accepting while the process is out of file descriptors (EMFILE, ENFILE) or buffers
/// (ENOBUFS, ENOMEM), as HAProxy's listeners do: no accept() for `pause` or until one of the
/// balancer's connections closes (`resume()`), while the connections it has are served.
///
/// Refusing `read()` is not enough: NIO keeps the listening socket registered for readability
/// until an accept() succeeds, so a failing accept() would be retried at full speed. So the handler
/// holds one spare descriptor and frees it when accepting fails: the next accept() succeeds (that
/// client is served), NIO asks to read again, the handler declines, and NIO stops polling the
/// socket. Resuming takes the spare back first; while it cannot, accepting stays paused.
final class AcceptPause: ChannelDuplexHandler {
    typealias InboundIn = Channel
    typealias OutboundIn = Channel

    let pause: TimeAmount
    private var context: ChannelHandlerContext?
    private var paused = false
    private var readWanted = false
    private var timer: Scheduled<Void>?
    private var spare: Int32 = -1

    init(pause: TimeAmount) { self.pause = pause }

    /// Whether accepting is paused now.
    var isPaused: Bool { paused }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        spare = Self.openSpare()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        Self.closeSpare(spare)
        spare = -1
        self.context = nil
    }

    func read(context: ChannelHandlerContext) {
        if paused {
            readWanted = true
        } else {
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let io = error as? IOError, [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(io.errnoCode), !paused {
            paused = true
            Self.closeSpare(spare)
            spare = -1
            schedule(on: context.eventLoop)
        }
        context.fireErrorCaught(error)
    }

    /// Accepts again (a descriptor was freed, or the pause is over) once the spare is back.
    func resume() {
        guard paused, let context else { return }
        timer?.cancel()
        timer = nil
        if spare < 0 { spare = Self.openSpare() }
        guard spare >= 0 else { return schedule(on: context.eventLoop) }
        paused = false
        if readWanted {
            readWanted = false
            context.read()
        }
    }

    private func schedule(on loop: EventLoop) {
        timer = loop.assumeIsolated().scheduleTask(in: pause) { [weak self] in self?.resume() }
    }

    private static func openSpare() -> Int32 { open("/dev/null", O_RDONLY | O_CLOEXEC) }

    private static func closeSpare(_ fd: Int32) {
        #if canImport(Glibc)
            if fd >= 0 { Glibc.close(fd) }
        #elseif canImport(Darwin)
            if fd >= 0 { Darwin.close(fd) }
        #endif
    }
}

/// Says what goes wrong on a listening socket (accept failing: out of file descriptors...), at most
/// once a second, with how many more there were.
final class ListenerErrorLogger: ChannelInboundHandler {
    typealias InboundIn = Channel

    let logger: Logger
    let listener: String
    private var lastLogged: NIODeadline?
    private var suppressed = 0

    init(logger: Logger, listener: String) {
        self.logger = logger
        self.listener = listener
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let now = context.eventLoop.now
        if let last = lastLogged, now - last < .seconds(1) {
            suppressed += 1
        } else {
            let more = suppressed > 0 ? " (and \(suppressed) more in the last second)" : ""
            logger.error("accepting a connection on frontend \(listener) failed: \(describe(error))\(more)")
            lastLogged = now
            suppressed = 0
        }
        context.fireErrorCaught(error)
    }
}
