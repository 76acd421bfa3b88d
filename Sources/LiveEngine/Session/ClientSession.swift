// A little over ~500 lines on purpose: the handler's I/O state (buffers, flush flags, the timer) is
// private to it, and it performs every action of `ClientStateMachine`; the decisions themselves are
// in the machine and in Framing.swift.

import BalancerCore
import HadeckBase
import Logging
import NIOCore

/// One client connection of a balancer: the I/O around `ClientStateMachine`. It reads request
/// bytes, hands the machine each event with the event loop's time, and performs what the machine
/// says: route with the core, connect, forward, answer, time out, close.
///
/// HTTP/1.1 is handled at the byte level (`HTTP1.swift`): the request head is parsed in the received
/// buffer, forwarded as-is when nothing must change (a slice, no copy) or rewritten only where
/// needed (`Framing.swift`); bodies pass through unchanged with their framing tracked.
final class ClientSession: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Strong: an `unowned` reference costs a checked retain/release on every access of the hot
    /// path. No leak: the state drops its channels and pools on shutdown, which ends the cycle.
    let state: BalancerState
    let frontend: FrontendRuntime
    private let loop: EventLoop
    private var machine: ClientStateMachine
    private var context: ChannelHandlerContext?
    private var clientIP = "0.0.0.0"
    private var clientText = "0.0.0.0:0"

    /// Received bytes not consumed yet: a partial head, or what follows the current request.
    private var inbound: ByteBuffer?
    private var parsed = ParsedHead()
    private var readPending = false
    /// The client shut down its sending side: no more requests come.
    private var inputClosed = false
    /// Writes not flushed yet, to the server and to the client: a flush with nothing pending
    /// still walks the pipeline, so read-complete events flush only when needed.
    private var upstreamUnflushed = false
    private var clientUnflushed = false
    /// The response body is re-framed as chunks (a copy of the machine's plan, read per body part).
    private var chunkEncode = false
    /// Bytes received on the connection, and those already counted in a finished request (`bin`).
    private var bytesReceived = 0
    private var countedIn = 0
    /// A request the balancer answers itself: its target.
    private var localTarget: String?
    /// The `Authorization` value of a request the balancer answers itself (`stats auth`).
    private var localAuthorization: String?
    /// The answer the frontend's rules make for the request in progress, with the routing reason
    /// and the termination state for the log.
    private var ruleAnswer: (answer: RuleAnswer, reason: String, termination: String)?
    /// The request's facts, kept for `http-response` rules (only when the frontend has some).
    private var requestFacts: RequestFacts?
    /// The client's address and port as the rules read them (`src`, `src_port`).
    private var clientAddress: IPAddress?
    private var clientPort = 0

    /// One lazily re-armed timer for the machine's earliest deadline.
    private var timer: Scheduled<Void>?
    private var timerAt: NIODeadline?

    init(state: BalancerState, frontend: FrontendRuntime) {
        self.state = state
        self.frontend = frontend
        self.loop = state.loop
        machine = ClientStateMachine(
            timeouts: .init(
                frontend: frontend.name, httpRequest: frontend.httpRequestTimeout,
                keepAlive: frontend.keepAliveTimeout, client: frontend.clientTimeout),
            now: state.loop.now)
    }

    var clientWritable: Bool { context?.channel.isWritable ?? false }

    // MARK: channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.channel.remoteAddress {
            clientIP = remote.ipAddress ?? "0.0.0.0"
            clientText = "\(clientIP):\(remote.port ?? 0)"
            if frontend.router != nil {
                clientAddress = IPAddress(clientIP)
                clientPort = remote.port ?? 0
            }
        }
        armTimer()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        teardown()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        teardown()
        context.fireChannelInactive()
    }

    private func teardown() {
        if let ending = machine.closed() { perform(ending) }
        cancelTimer()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        bytesReceived &+= buffer.readableBytes
        if inbound != nil {
            inbound!.writeBuffer(&buffer)
        } else {
            inbound = buffer
        }
        process()
        armTimer()
    }

    /// The client half-closed the connection (`allowRemoteHalfClosure`): what it sent is still answered.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            inputClosed = true
            clientInputEnded()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func clientInputEnded() {
        let partial = (inbound?.readableBytes ?? 0) > 0
        if let ending = machine.clientInputClosed(partialHead: partial, now: loop.now) { perform(ending) }
        armTimer()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if upstreamUnflushed, let upstream = machine.upstream {
            upstreamUnflushed = false
            upstream.flush()
        }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        state.logger.debug("client connection failed", metadata: ["client": "\(clientText)", "error": "\(error)"])
        if let ending = machine.abort(termination: "CD") { perform(ending) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { machine.upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if readAllowed {
            context.read()
        } else {
            readPending = true
        }
    }

    private var readAllowed: Bool {
        machine.readAllowed(nothingBuffered: (inbound?.readableBytes ?? 0) == 0) { $0.isWritable }
    }

    private func resumeClientRead() {
        guard readPending, readAllowed, let context else { return }
        readPending = false
        context.read()
    }

    // MARK: the request

    /// Consumes what `inbound` holds as far as the transaction allows: a head when idle, body bytes
    /// while the request lasts. Bytes of a next (pipelined) request wait until idle.
    private func process() {
        while var buffer = inbound, buffer.readableBytes > 0 {
            inbound = nil
            let now = loop.now
            switch machine.bytesArrived(now: now) {
            case .head:
                let result = buffer.withUnsafeReadableBytes { parseHead($0, request: true, into: &parsed) }
                switch result {
                case .incomplete:
                    inbound = buffer
                    if buffer.readableBytes > state.options.maxHeaderBytes { headersTooLarge(now) }
                    return
                case .invalid(let why):
                    if let ending = machine.requestRejected(reason: "invalid request (\(why)): 400", now: now) {
                        perform(ending)
                    }
                    return
                case .refused(let status, let why):
                    let error = HAProxyErrorResponse(status: status) ?? .badRequest
                    if let ending = machine.requestRejected(
                        reason: "invalid request (\(why)): \(status)", error: error, now: now)
                    {
                        perform(ending)
                    }
                    return
                case .complete:
                    if parsed.length > state.options.maxHeaderBytes { return headersTooLarge(now) }
                    if parsed.chunked && buffer.readableBytes > parsed.length {
                        switch checkChunkedStart(buffer, headLength: parsed.length) {
                        case .valid: break
                        case .undecided:
                            inbound = buffer
                            return
                        case .invalid:
                            let reason = "invalid request (bad chunked body): 400"
                            if let ending = machine.requestRejected(reason: reason, now: now) { perform(ending) }
                            return
                        }
                    }
                    let head = buffer.readSlice(length: parsed.length)!
                    if buffer.readableBytes > 0 { inbound = buffer }
                    begin(head, now: now)
                }
            case .body:
                switch machine.requestBody(&buffer, now: now) {
                case .forward(let part, let upstream, let ended):
                    upstream.send(part)
                    if ended { upstream.flush() } else { upstreamUnflushed = true }
                case .held: break
                case .answerLocally: answerLocally()
                case .end(let ending): perform(ending)
                case .none:
                    // Not in a request: these bytes are the next one's.
                    inbound = buffer
                    return
                }
                if buffer.readableBytes > 0 && !machine.isClosed { inbound = buffer }
            case .later:
                inbound = buffer
                return
            case .drop:
                return
            }
        }
    }

    /// What the chunked framing right after a request head says, before the head goes anywhere: a
    /// request refused for its framing never reaches a server, as in HAProxy, which checks what it
    /// read at once (up to its 16 KB buffer) before forwarding. Until the first chunk's data (or
    /// 16 KB) arrives, the request waits.
    private func checkChunkedStart(_ buffer: ByteBuffer, headLength: Int) -> ChunkedStart {
        var scanner = ChunkedScanner()
        let body = buffer.getSlice(at: buffer.readerIndex + headLength, length: buffer.readableBytes - headLength)!
        switch body.withUnsafeReadableBytes({ scanner.scan($0) { _, _ in } }) {
        case .invalid: return .invalid
        case .done: return .valid
        case .more: return scanner.inData || body.readableBytes >= 16_384 ? .valid : .undecided
        }
    }

    private enum ChunkedStart { case valid, undecided, invalid }

    private func headersTooLarge(_ now: NIODeadline) {
        let reason = "request headers larger than \(state.options.maxHeaderBytes) bytes: 400"
        if let ending = machine.requestRejected(reason: reason, now: now) { perform(ending) }
    }

    private func begin(_ head: ByteBuffer, now: NIODeadline) {
        let h = parsed
        var cookies: [String] = []
        var target: String?
        var line = ""
        var method = ""
        var authorization: String?
        let localURI = frontend.localURI
        // The request line is only read by the access log: a String of it per request (an allocation
        // past 15 bytes) is made only when something logs.
        let logged = state.callbacks.onRequest != nil
        head.withUnsafeReadableBytes { p in
            if logged { line = string(p, h.lineStart, h.lineEnd) }
            method = string(p, h.lineStart, h.methodEnd)
            if localURI != nil {
                target = string(p, h.methodEnd + 1, h.targetEnd)
                if let a = h.headers.first(where: { $0.kind == .authorization }) {
                    authorization = string(p, a.valueStart, a.valueEnd)
                }
            }
            if h.cookieCount > 0 {
                for header in h.headers where header.kind == .cookie {
                    cookies.append(string(p, header.valueStart, header.valueEnd))
                }
            }
        }
        // Without rules the route is default_backend and nothing of the request is looked at.
        var route = frontend.defaultRoute
        var ruleReason: String?
        var edits: [HeaderEdit] = []
        if let router = frontend.router {
            ruleAnswer = nil
            requestFacts = nil
            let facts = head.withUnsafeReadableBytes {
                LiveEngine.requestFacts($0, h, source: clientAddress, sourcePort: clientPort)
            }
            let state = self.state
            let instant = state.clock.instant(at: now)
            let decision = router.route(facts) { state.backend(named: $0)?.usableServerCount(now: instant) ?? 0 }
            ruleReason = decision.reason
            edits = decision.requestHeaderEdits
            switch decision.outcome {
            case .backend(let name):
                route = frontend.routes[name]
                if route == nil { ruleReason = decision.reason + ": no backend \(name)" }
            case .noBackend:
                route = nil
            case .deny, .tarpit, .redirect, .return:
                route = nil
                var answer = RuleAnswer(decision.outcome, answerHeaders: decision.answerHeaders)
                if decision.outcome.isDenial, let status = answer?.status,
                    let page = state.errorFiles.page(status, backend: nil, frontend: frontend.name)
                {
                    answer = RuleAnswer(page: page)
                }
                ruleAnswer = answer.map { ($0, decision.reason, decision.outcome.isDenial ? "PR" : "LR") }
            }
            if frontend.hasResponseRules { requestFacts = facts }
        }
        var local = false
        if ruleAnswer == nil, let localURI, let target {
            local = target.hasPrefix(localURI) || target.hasPrefix("/metrics")
        }
        let clientIP = self.clientIP
        let state = self.state
        let context = self.context
        let action = machine.requestHead(
            line: line, method: method, head: h, route: route, keepAlive: route?.keepAlive ?? frontend.keepAlive,
            local: local, ruleAnswer: ruleAnswer != nil, ruleReason: ruleReason, now: now
        ) { route in
            let instant = state.clock.instant(at: now)
            var d = route.backend.route(
                request: RoutedRequest(method: method, cookieHeaders: cookies, clientAddress: clientIP), now: instant)
            if let ruleReason { d.reason = ruleReason + "; " + d.reason }
            let ticket = state.nextQueueTicket()
            let admission = route.backend.admit(&d, request: ticket, now: instant)
            let cookiesChanged = cookies != d.forwardedCookieHeaders
            let forwardHead =
                requestHeadIsForwardable(
                    h, cookiesChanged: cookiesChanged, forwardfor: route.forwardfor, edited: !edits.isEmpty)
                ? head  // nothing to change: the head goes out as it came
                : rewriteRequestHead(
                    head, h, cookies: cookiesChanged ? d.forwardedCookieHeaders : nil,
                    forwardedFor: route.forwardfor ? clientIP : nil, edits: edits,
                    allocator: context?.channel.allocator ?? ByteBufferAllocator())
            let session = state.callbacks.onRequest != nil ? jsessionID(inCookieHeaders: cookies) : nil
            return (d, admission, ticket, forwardHead, session)
        }
        switch action {
        case .end(let ending):
            perform(ending)
        case .answerLocally:
            localTarget = target
            localAuthorization = authorization
            answerLocally()
        case .awaitLocalBody:
            localTarget = target
            localAuthorization = authorization
            if ruleAnswer == nil {
                machine.startLocalBody(context?.channel.allocator.buffer(capacity: 0) ?? ByteBuffer())
            }
        case .connect(let key, let allowPool, let attempt):
            obtainUpstream(key, allowPool: allowPool, attempt: attempt, now: now)
        case .queued(let ticket):
            state.waitForSlot(ticket: ticket, self)
        }
    }

    // MARK: the queue

    /// A `maxconn` slot freed for this connection's queued request (`BalancerState.wake`): it
    /// connects now. False when it no longer waits (the caller gives the slot back).
    func dequeued(_ decision: RoutingDecision) -> Bool {
        let now = loop.now
        guard let action = machine.dequeued(decision, now: now) else { return false }
        switch action {
        case .connect(let key, let allowPool, let attempt):
            obtainUpstream(key, allowPool: allowPool, attempt: attempt, now: now)
        case .end(let ending):
            perform(ending)
        }
        armTimer()
        return true
    }

    /// `timeout queue` passed: the request leaves its queue and gets HAProxy's 503 (`sQ`).
    private func queueTimedOut(now: NIODeadline) {
        let decision = leaveQueue(timedOut: true, now: now)
        if let ending = machine.queueExpired(decision) { perform(ending) }
    }

    /// The request waits no more (it timed out, or its transaction ended otherwise): out of the
    /// backend's queue and of the balancer's waiting list. Its decision as the queue left it.
    private func leaveQueue(timedOut: Bool, now: NIODeadline) -> RoutingDecision? {
        guard let backend = machine.txn.route?.backend, let ticket = machine.txn.queueTicket else { return nil }
        state.stopWaiting(ticket: ticket)
        machine.withTransaction { $0.queueTicket = nil }
        return backend.leaveQueue(request: ticket, timedOut: timedOut, now: state.clock.instant(at: now))
    }

    // MARK: answered by the balancer itself

    /// Answers a request the rules answer (`deny`, `redirect`, `return`), or a stats page or
    /// metrics request, once its body (if any) has arrived.
    private func answerLocally() {
        if let (answer, reason, termination) = ruleAnswer, let context {
            ruleAnswer = nil
            localTarget = nil
            localAuthorization = nil
            let close = machine.txn.closeAfterResponse || answer.closes
            let wire = answer.wire(
                close: close, http10KeepAlive: !machine.txn.clientHTTP11, head: machine.txn.method == "HEAD",
                allocator: context.channel.allocator)
            let now = loop.now
            let closing = machine.answeredLocally(
                status: answer.status, bytes: wire.readableBytes, reason: reason, close: answer.closes, now: now)
            finishRecord(status: answer.status, termination: termination, at: now)
            if closing {
                writeThenClose(wire)
            } else {
                context.writeAndFlush(wrapOutboundOut(wire), promise: nil)
                nextRequest()
            }
            return
        }
        guard let context, let uri = localTarget, let page = frontend.statsPage else { return }
        localTarget = nil
        frontend.counters.frontend.counts.intercepted += 1
        let extra = state.callbacks.extraMetrics
        let method = machine.txn.method
        let r = StatsPageHTTP.respond(
            uri: uri, method: method, authorization: localAuthorization, body: machine.txn.localBody, page: page,
            host: state, extraMetrics: { extra?() ?? [] })
        localAuthorization = nil
        let wire = r.wire(
            http11: machine.txn.clientHTTP11, close: machine.txn.closeAfterResponse, head: method == "HEAD",
            allocator: context.channel.allocator)
        let now = loop.now
        let close = machine.answeredLocally(status: r.statusCode, bytes: wire.readableBytes, reason: r.reason, now: now)
        finishRecord(status: r.statusCode, termination: "LR", at: now)
        if close {
            writeThenClose(wire)
        } else {
            context.writeAndFlush(wrapOutboundOut(wire), promise: nil)
            nextRequest()
        }
    }

    // MARK: the server connection

    private func obtainUpstream(_ key: ServerKey, allowPool: Bool, attempt: Int, now: NIODeadline) {
        if allowPool, let idle = state.servers.takeIdle(from: idlePool(key)) {
            _ = attach(idle, attempt: attempt, now: now)
            return
        }
        // The machine's own `timeout connect` decides; the socket's is a backstop a second later.
        let timeout = (machine.txn.route?.connectTimeout ?? state.options.defaultConnectTimeout) + .seconds(1)
        state.connect(key, timeout: timeout).assumeIsolated().whenComplete { [self] result in
            switch result {
            case .success(let up):
                if !attach(up, attempt: attempt, now: loop.now) { state.putIdle(up) }
            case .failure(let error):
                state.logger.debug(
                    "connection to a server failed",
                    metadata: ["server": "\(key.backend)/\(key.server)", "error": "\(describe(error))"])
                connectFailed(attempt: attempt, timedOut: false)
            }
            armTimer()
        }
    }

    /// The pools this connection's requests went to, found by server name without hashing a
    /// `ServerKey` per request.
    private var knownPools: [(key: ServerKey, pool: IdlePool)] = []

    private func idlePool(_ key: ServerKey) -> IdlePool {
        for known in knownPools where known.key.server == key.server && known.key.backend == key.backend {
            return known.pool
        }
        let pool = state.servers.pool(key)
        knownPools.append((key, pool))
        return pool
    }

    /// Sends the request on a connection; false when the machine no longer wants it (a late one).
    private func attach(_ up: UpstreamHandler, attempt: Int, now: NIODeadline) -> Bool {
        guard let sent = machine.connected(up, attempt: attempt, now: now) else { return false }
        up.owner = self
        up.uses += 1
        up.serverPosition = machine.txn.decision?.serverPosition
        up.expectResponse(toHEAD: sent.toHEAD, upgrade: sent.upgrade)
        sent.backend?.connectionOpened(server: up.key.server, position: up.serverPosition)
        if let head = sent.head { up.send(head) }
        for part in sent.pending { up.send(part) }
        up.flush()
        upstreamUnflushed = false
        up.resumeReading()
        resumeClientRead()
        return true
    }

    private func connectFailed(attempt: Int, timedOut: Bool) {
        let now = loop.now
        guard let backend = machine.txn.route?.backend else { return }
        let instant = state.clock.instant(at: now)
        var freed: [Dequeued] = []
        let action = machine.connectFailed(attempt: attempt, timedOut: timedOut, now: now) {
            let retry = backend.connectFailed($0, now: instant, timedOut: timedOut)
            freed = retry.dequeued
            return retry
        }
        if case .end(let ending) = action { perform(ending) }
        state.wake(freed, backend: backend)
    }

    /// Lets go of a server connection: kept idle for the next request, or closed. `backend` (the
    /// request's, by default) counts it.
    private func release(_ up: UpstreamHandler, reuse: Bool, backend: Backend?? = nil) {
        (backend ?? machine.txn.route?.backend)?.connectionClosed(server: up.key.server, position: up.serverPosition)
        up.owner = nil
        if reuse {
            state.putIdle(up)
            up.resumeReading()
        } else {
            up.close()
        }
    }

    // MARK: the response (called by the server connection)

    /// An interim (1xx) response: forwarded as it came.
    func upstreamInformational(_ head: ByteBuffer, from up: UpstreamHandler) {
        guard machine.isCurrent(up), let context else { return }
        clientUnflushed = true
        context.write(wrapOutboundOut(head), promise: nil)
    }

    /// A response head from the server: rewritten as the plan says and written to the client.
    /// `body`, when the whole body came with the head, may go out in the head's buffer: then
    /// `tookBody` is true and the caller forgets those bytes. `dechunk`: the body must reach the client
    /// de-chunked (an HTTP/1.0 client cannot take chunked framing).
    func upstreamHead(
        _ r: ParsedHead, _ head: ByteBuffer, framing: BodyFraming, from up: UpstreamHandler, body: ByteBuffer? = nil
    ) -> (dechunk: Bool, tookBody: Bool) {
        guard let context else { return (false, false) }
        var setCookies: [String] = []
        if r.setCookieCount > 0 {
            head.withUnsafeReadableBytes { p in
                for line in r.headers where line.kind == .setCookie {
                    setCookies.append(string(p, line.valueStart, line.valueEnd))
                }
            }
        }
        let session =
            state.callbacks.onRequest != nil && !setCookies.isEmpty ? jsessionID(inSetCookies: setCookies) : nil
        var responseEdits: [HeaderEdit] = []
        if frontend.hasResponseRules, let router = frontend.router, let facts = requestFacts, machine.isCurrent(up),
            let backend = machine.txn.route?.name
        {
            let headers = head.withUnsafeReadableBytes { responseHeaderList($0, r) }
            let state = self.state
            let instant = state.clock.instant(at: loop.now)
            let result = router.responseEdits(request: facts, backend: backend, status: r.status, headers: headers) {
                state.backend(named: $0)?.usableServerCount(now: instant) ?? 0
            }
            if let status = result.denyStatus {
                if let ending = machine.responseDenied(from: up, status: status) { perform(ending) }
                return (false, false)
            }
            responseEdits = result.edits
        }
        guard
            let (plan, edits, clientHTTP11) = machine.responseHead(
                from: up, status: r.status, head: r, framing: framing, session: session, now: loop.now,
                cookies: { route, decision in
                    route.config.cookie == nil
                        ? nil : route.backend.responseHeaders(for: decision, serverSetCookies: setCookies)
                })
        else { return (false, false) }
        let replace = edits.flatMap { $0.setCookies != setCookies ? $0.setCookies : nil }
        let extras = ResponseExtras(
            setCookies: replace ?? [], cachePrivate: edits?.cacheControlPrivate ?? false, chunked: plan.chunkEncode,
            connection: plan.connection)
        let allocator = context.channel.allocator
        let state = self.state
        // Room for the body in a rewritten head's new buffer, where it can follow the head.
        let joinable = body.map { $0.readableBytes > 0 && !plan.chunkEncode && !plan.dechunk } ?? false
        let rewritten = rewriteResponseHead(
            head, r, plan: plan, clientHTTP11: clientHTTP11, replaceSetCookies: replace != nil, extras: extras,
            edits: responseEdits, extraBytes: { state.responseExtras.bytes(for: $0, allocator: allocator) },
            spare: joinable ? body?.readableBytes ?? 0 : 0, allocator: allocator)
        chunkEncode = plan.chunkEncode
        clientUnflushed = true
        guard var out = rewritten else {
            machine.sent(head.readableBytes)
            context.write(wrapOutboundOut(head), promise: nil)
            return (plan.dechunk, false)
        }
        machine.sent(out.readableBytes)
        var tookBody = false
        if joinable, var body, machine.bodySent(from: up, bytes: body.readableBytes) {
            out.writeBuffer(&body)
            tookBody = true
        }
        context.write(wrapOutboundOut(out), promise: nil)
        return (plan.dechunk, tookBody)
    }

    /// Response body bytes (as the server framed them, or chunk data when de-chunking).
    func upstreamBody(_ buffer: ByteBuffer, from up: UpstreamHandler) {
        guard buffer.readableBytes > 0, let context, machine.bodySent(from: up, bytes: buffer.readableBytes) else {
            return
        }
        clientUnflushed = true
        if chunkEncode {
            context.write(
                wrapOutboundOut(chunkSizeLine(buffer.readableBytes, allocator: context.channel.allocator)),
                promise: nil)
            context.write(wrapOutboundOut(buffer), promise: nil)
            context.write(wrapOutboundOut(chunkEnd), promise: nil)
        } else {
            context.write(wrapOutboundOut(buffer), promise: nil)
        }
    }

    /// The response is complete.
    func upstreamEnd(from up: UpstreamHandler) {
        let now = loop.now
        guard let context, let end = machine.responseEnded(from: up, serverClosing: up.closing, now: now) else {
            return
        }
        release(end.upstream, reuse: end.reuse, backend: end.backend)
        finishRecord(status: end.status, termination: "--", at: now)
        clientUnflushed = false
        chunkEncode = false
        if end.close {
            writeThenClose(end.lastChunk ? lastChunk : nil)
        } else {
            if end.lastChunk { context.write(wrapOutboundOut(lastChunk), promise: nil) }
            context.flush()
            nextRequest()
        }
        armTimer()
    }

    /// Once per read of the server's socket: flush what it produced and push the server deadline.
    func upstreamReadComplete() {
        guard clientUnflushed, let context else { return }
        clientUnflushed = false
        machine.serverActive(now: loop.now)
        context.flush()
    }

    func upstreamBecameWritable() {
        resumeClientRead()
    }

    func upstreamClosed(_ up: UpstreamHandler) {
        switch machine.upstreamClosed(up, reused: up.uses > 1, now: loop.now) {
        case .retryFresh(let key, let attempt):
            machine.txn.route?.backend.connectionClosed(server: up.key.server, position: up.serverPosition)
            obtainUpstream(key, allowPool: false, attempt: attempt, now: loop.now)
        case .end(let ending):
            perform(ending)
        case nil:
            return
        }
        armTimer()
    }

    func upstreamFailed(_ up: UpstreamHandler, error: Error) {
        state.logger.debug(
            "invalid response from a server",
            metadata: ["server": "\(up.key.backend)/\(up.key.server)", "error": "\(error)"])
        if let ending = machine.upstreamFailed(up) { perform(ending) }
    }

    // MARK: endings

    /// The connection waits for its next request: a pipelined one may be there already.
    private func nextRequest() {
        if let buffered = inbound, buffered.readableBytes > 0 { process() }
        if inputClosed && machine.isIdle { return clientInputEnded() }
        resumeClientRead()
    }

    private func perform(_ ending: ClientStateMachine.Ending) {
        if let up = ending.upstream { release(up, reuse: false) }
        // A request's processing answers with the proxy's `errorfile` page when it has one; what
        // the HTTP/1 layer refuses (`<BADREQ>`: unreadable, incomplete in time) keeps HAProxy's own.
        var page: ByteBuffer?
        if let error = ending.error, !state.errorFiles.isEmpty, machine.txn.requestLine != "<BADREQ>",
            let file = state.errorFiles.page(error.rawValue, backend: machine.txn.route?.name, frontend: frontend.name)
        {
            let wire = file.wire(close: true, allocator: context?.channel.allocator ?? ByteBufferAllocator())
            machine.withTransaction { $0.bytesOut = wire.readableBytes }
            page = wire
        }
        if let record = ending.record { finishRecord(status: record.status, termination: record.termination) }
        inbound = nil
        if let page {
            writeThenClose(page)
        } else if let error = ending.error {
            var wire = context?.channel.allocator.buffer(capacity: 256) ?? ByteBuffer()
            wire.writeString(error.wireText)
            writeThenClose(wire)
        } else if ending.close {
            cancelTimer()
            context?.close(promise: nil)
        }
    }

    private func writeThenClose(_ last: ByteBuffer?) {
        guard let context else { return }
        cancelTimer()
        inbound = nil
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(last ?? context.channel.allocator.buffer(capacity: 0)), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Counts the request and reports it (`onRequest`): its record is the machine's transaction.
    private func finishRecord(status: Int, termination: String, at now: NIODeadline? = nil) {
        let end = now ?? loop.now
        let received = bytesReceived - countedIn
        countedIn = bytesReceived
        let state = self.state
        let frontend = self.frontend
        let clientText = self.clientText
        var record: AccessLogRecord?
        var freed: [Dequeued] = []
        // The transaction is over: its place in a queue, or its maxconn slot, goes.
        _ = leaveQueue(timedOut: false, now: end)
        machine.withTransaction { t in
            if t.decision?.slot != nil, let backend = t.route?.backend {
                freed = backend.finish(&t.decision!, now: state.clock.instant(at: end))
            }
            (t.route?.counters ?? frontend.counters).requestFinished(
                server: t.decision?.server, position: t.decision?.serverPosition, status: status,
                bytesIn: received, bytesOut: t.bytesOut,
                retries: t.retries, redispatched: t.redispatched, termination: termination,
                now: state.clock.instant(at: end))
            guard state.callbacks.onRequest != nil else { return }
            func span(_ a: NIODeadline?, _ b: NIODeadline?) -> TimeSpan? {
                guard let a, let b else { return nil }
                return TimeSpan(micros: (b - a).nanoseconds / 1000)
            }
            var serverConnections = 0
            if let s = t.decision?.server { serverConnections = t.route?.backend.connections(of: s) ?? 0 }
            record =
                AccessLogRecord(
                    balancer: state.name, pid: state.pid, frontend: frontend.name,
                    backend: t.route?.name ?? frontend.defaultRoute?.name ?? "", client: clientText,
                    server: t.decision?.server, requestLine: t.requestLine, status: status,
                    reason: t.reason ?? t.decision?.reason ?? "no request",
                    session: t.responseSession ?? t.requestSession, requestCookie: t.decision?.requestCookie,
                    responseCookie: t.decision.map {
                        if let cookie = t.responseCookie { return cookie }
                        if case .notConfigured = $0.requestCookie { return .notConfigured }
                        return ResponseCookieStatus.none
                    },
                    start: state.clock.instant(at: t.start), requestTime: span(t.start, t.head),
                    queueTime: t.queuedSince.map { span($0, t.dequeued ?? end) }
                        ?? (t.connectStart == nil ? nil : .zero),
                    connectTime: span(t.connectStart, t.connected), responseTime: span(t.connected, t.response),
                    latency: span(t.start, end) ?? .zero, bytesOut: t.bytesOut, retries: t.retries,
                    redispatched: t.redispatched, termination: termination,
                    activeConnections: state.channels.clients.count, serverConnections: serverConnections)
        }
        // Reported once the machine is no longer accessed: the callback may close the connection,
        // whose teardown reads the machine (an overlapping access is a fatal exclusivity conflict).
        if let record, let report = state.callbacks.onRequest { report(record) }
        if !freed.isEmpty, let backend = machine.txn.route?.backend { state.wake(freed, backend: backend) }
    }

    // MARK: the timer

    /// Keeps a timer armed for the machine's earliest deadline. Lazy: a timer due earlier than the
    /// deadline stays (it re-arms when it fires), so moving a deadline later costs nothing.
    private func armTimer() {
        // Closed: no deadline left.
        guard let due = machine.nextDeadline else { return }
        if timer != nil, let at = timerAt, at <= due { return }
        timer?.cancel()
        timerAt = due
        timer = loop.assumeIsolated().scheduleTask(deadline: due) { [weak self] in self?.timerFired() }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        timerAt = nil
    }

    private func timerFired() {
        timer = nil
        timerAt = nil
        let now = loop.now
        switch machine.timerFired(now: now) {
        case .end(let ending): perform(ending)
        case .connect(let key, let attempt): obtainUpstream(key, allowPool: true, attempt: attempt, now: now)
        case .connectTimedOut(let attempt): connectFailed(attempt: attempt, timedOut: true)
        case .queueTimedOut: queueTimedOut(now: now)
        case .none: break
        }
        armTimer()
    }
}
