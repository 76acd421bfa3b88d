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

/// One health check in flight: a TCP connect, or a connect plus one HTTP request/response.
final class CheckRun {
    let job: CheckJob
    let backendName: String
    let state: BalancerState
    let generation: Int
    var channel: Channel?
    var connected = false
    var finished = false
    var timers: [Scheduled<Void>] = []

    init(job: CheckJob, backendName: String, state: BalancerState) {
        self.job = job
        self.backendName = backendName
        self.state = state
        self.generation = state.checks.generation
    }

    /// The request line and headers an HTTP check sends, as HAProxy does for `option httpchk`.
    var requestBytes: String? {
        guard case .http(let method, let uri, let version) = job.kind else { return nil }
        var text = "\(method) \(uri) \(version)\r\n"
        if version == "HTTP/1.1" { text += "Host: \(job.address.host)\r\nConnection: close\r\n" }
        return text + "\r\n"
    }

    func finish(_ outcome: CheckOutcome) {
        guard !finished else { return }
        finished = true
        for t in timers { t.cancel() }
        timers = []
        channel?.close(promise: nil)
        guard state.alive, state.checks.generation == generation, let backend = state.backend(named: backendName)
        else { return }
        let now = state.now
        let transitions = backend.completeCheck(
            server: job.server, outcome: outcome, duration: now - job.startedAt, now: now)
        if !transitions.isEmpty { state.statistics.refreshHealth(backendName, backend: backend, now: now) }
        for t in transitions {
            state.callbacks.onTransition?(CheckTransition(balancer: state.name, backend: backendName, transition: t))
        }
        state.checks.schedule()
    }

    func timeout(after span: TimeSpan, _ outcome: @escaping (CheckRun) -> CheckOutcome) {
        let task = state.loop.assumeIsolated().scheduleTask(in: span.timeAmount) { [weak self] in
            guard let self, !self.finished else { return }
            self.finish(outcome(self))
        }
        timers.append(task)
    }
}

/// Reads an HTTP check's response: the status line decides.
final class CheckResponseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let run: NIOLoopBound<CheckRun>
    private var received: [UInt8] = []

    init(run: NIOLoopBound<CheckRun>) { self.run = run }

    func channelActive(context: ChannelHandlerContext) {
        if let text = run.value.requestBytes {
            var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
            buffer.writeString(text)
            context.writeAndFlush(NIOAny(buffer), promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if received.count < 512, let bytes = buffer.readBytes(length: min(buffer.readableBytes, 512)) {
            received += bytes
        }
        if let outcome = Self.parse(received, final: false) { run.value.finish(outcome) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        run.value.finish(Self.parse(received, final: true) ?? .badResponse)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let run = self.run.value
        run.state.logger.debug(
            "health check connection failed",
            metadata: ["server": "\(run.backendName)/\(run.job.server)", "error": "\(error)"])
        run.finish(received.isEmpty ? .connected : .badResponse)
        context.close(promise: nil)
    }

    /// `.httpStatus(N)` from `HTTP/x.y NNN`, `.badResponse` for anything else; nil while incomplete.
    static func parse(_ bytes: [UInt8], final: Bool) -> CheckOutcome? {
        if bytes.isEmpty { return final ? .connected : nil }
        let prefix = Array("HTTP/".utf8)
        let n = min(bytes.count, prefix.count)
        if Array(bytes[0..<n]) != Array(prefix[0..<n]) { return .badResponse }
        // "HTTP/1.1 200" needs 12 bytes.
        guard bytes.count >= 12 else { return final ? .badResponse : nil }
        let line = bytes.prefix { $0 != 13 && $0 != 10 }
        let words = line.split(separator: 32)
        guard words.count >= 2, words[1].count == 3, let code = Int(String(decoding: words[1], as: UTF8.self))
        else { return .badResponse }
        return .httpStatus(code)
    }
}

/// When each backend's next check is due, and the checks in flight: one timer for all of them.
final class HealthCheckScheduler {
    unowned let state: BalancerState
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    /// Bumped on stop, so that checks of a previous run report nothing.
    private(set) var generation = 0

    init(state: BalancerState) { self.state = state }

    /// Arms the timer for the earliest due check of any backend.
    func schedule() {
        guard state.alive, let due = state.backends.compactMap({ $0.backend.nextCheckDue }).min() else { return }
        let deadline = state.clock.deadline(of: due)
        if timer != nil, let at = timerDeadline, at <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        let generation = self.generation
        timer = state.loop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            guard let self, self.generation == generation else { return }
            self.timer = nil
            self.timerDeadline = nil
            self.runDue()
        }
    }

    func stop() {
        generation += 1
        timer?.cancel()
        timer = nil
        timerDeadline = nil
    }

    private func runDue() {
        guard state.alive else { return }
        let now = state.now
        for (name, backend) in state.backends {
            for job in backend.startDueChecks(now: now) { run(job, backend: name) }
        }
        schedule()
    }

    private func run(_ job: CheckJob, backend: String) {
        let state = self.state
        let run = CheckRun(job: job, backendName: backend, state: state)
        guard let address = state.servers.checkAddress(ServerKey(backend: backend, server: job.server)) else {
            return run.finish(.socketError)
        }
        if let whole = job.wholeCheckTimeout {
            run.timeout(after: whole) { $0.connected ? .readTimeout : .connectTimeout }
        }
        let bound = NIOLoopBound(run, eventLoop: state.loop)
        let isHTTP = run.requestBytes != nil
        ClientBootstrap(group: state.loop)
            .connectTimeout(job.connectTimeout.timeAmount)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if isHTTP { try channel.pipeline.syncOperations.addHandler(CheckResponseHandler(run: bound)) }
                }
            }
            .connect(to: address)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    guard !run.finished, state.alive else {
                        channel.close(promise: nil)
                        return
                    }
                    run.connected = true
                    run.channel = channel
                    state.channels.add(channel, as: .check)
                    if !isHTTP { return run.finish(.connected) }
                    if let read = job.readTimeout { run.timeout(after: read) { _ in .readTimeout } }
                case .failure(let error):
                    state.logger.debug(
                        "health check connect failed",
                        metadata: ["server": "\(run.backendName)/\(run.job.server)", "error": "\(error)"])
                    run.finish(checkOutcome(ofConnectError: error))
                }
            }
    }
}

/// What a failed connect means for a check.
func checkOutcome(ofConnectError error: Error) -> CheckOutcome {
    if let e = error as? ChannelError, case .connectTimeout = e { return .connectTimeout }
    if let io = error as? IOError {
        switch io.errnoCode {
        case ECONNREFUSED, ECONNRESET: return .refused
        case ETIMEDOUT: return .connectTimeout
        default: return .socketError
        }
    }
    if let e = error as? NIOConnectionError, let first = e.connectionErrors.first {
        return checkOutcome(ofConnectError: first.error)
    }
    return .socketError
}
