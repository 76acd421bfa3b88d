import BalancerCore
import HadeckBase
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
        self.generation = state.checkGeneration
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
        if let channel {
            state.checkChannels[ObjectIdentifier(channel)] = nil
            channel.close(promise: nil)
        }
        guard state.alive, state.checkGeneration == generation,
            let backend = state.backends.first(where: { $0.name == backendName })?.backend
        else { return }
        let now = state.clock.now()
        let transitions = backend.completeCheck(
            server: job.server, outcome: outcome, duration: now - job.startedAt, now: now)
        if !transitions.isEmpty { state.refreshBackendHealth(backendName, now: now) }
        if let notify = state.onTransition {
            for t in transitions {
                notify(CheckTransition(balancer: state.name, backend: backendName, transition: t))
            }
        }
        state.scheduleChecks()
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
        run.value.finish(received.isEmpty ? .connected : .badResponse)
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

extension BalancerState {
    /// Arms the check timer for the earliest due check of any backend.
    func scheduleChecks() {
        guard alive, let due = backends.compactMap({ $0.backend.nextCheckDue }).min() else { return }
        let deadline = clock.deadline(of: due)
        if checkTimer != nil, let at = checkTimerDeadline, at <= deadline { return }
        checkTimer?.cancel()
        checkTimerDeadline = deadline
        let generation = checkGeneration
        checkTimer = loop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            guard let self, self.checkGeneration == generation else { return }
            self.checkTimer = nil
            self.checkTimerDeadline = nil
            self.runDueChecks()
        }
    }

    func runDueChecks() {
        guard alive else { return }
        let now = clock.now()
        for (name, backend) in backends {
            for job in backend.startDueChecks(now: now) { runCheck(job, backend: name) }
        }
        scheduleChecks()
    }

    func runCheck(_ job: CheckJob, backend: String) {
        let run = CheckRun(job: job, backendName: backend, state: self)
        guard let address = addresses[ServerKey(backend: backend, server: job.server)] else {
            return run.finish(.socketError)
        }
        if let whole = job.wholeCheckTimeout {
            run.timeout(after: whole) { $0.connected ? .readTimeout : .connectTimeout }
        }
        let bound = NIOLoopBound(run, eventLoop: loop)
        let isHTTP = run.requestBytes != nil
        ClientBootstrap(group: loop)
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
                    guard !run.finished, self.alive else {
                        channel.close(promise: nil)
                        return
                    }
                    run.connected = true
                    run.channel = channel
                    self.checkChannels[ObjectIdentifier(channel)] = channel
                    if !isHTTP { return run.finish(.connected) }
                    if let read = job.readTimeout { run.timeout(after: read) { _ in .readTimeout } }
                case .failure(let error):
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
