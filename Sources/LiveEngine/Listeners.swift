import Logging
import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stops accepting while the process is out of file descriptors (EMFILE, ENFILE) or buffers
/// (ENOBUFS, ENOMEM), as HAProxy's listeners do: no accept() for `pause` or until one of the
/// balancer's connections closes (`resume()`), while the connections it has are served. Without
/// it the listening socket stays readable and the loop retries a failing accept() at full speed.
final class AcceptPause: ChannelDuplexHandler {
    typealias InboundIn = Channel
    typealias OutboundIn = Channel

    let pause: TimeAmount
    private var context: ChannelHandlerContext?
    private var paused = false
    private var readWanted = false
    private var timer: Scheduled<Void>?

    init(pause: TimeAmount) { self.pause = pause }

    /// Whether accepting is paused now.
    var isPaused: Bool { paused }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
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
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: pause) { [weak self] in self?.resume() }
        }
        context.fireErrorCaught(error)
    }

    /// Accepts again now (a descriptor was freed, or the pause is over).
    func resume() {
        guard paused else { return }
        paused = false
        timer?.cancel()
        timer = nil
        if readWanted, let context {
            readWanted = false
            context.read()
        }
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
