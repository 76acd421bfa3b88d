// One file over ~500 lines on purpose: the machine's state and deadlines are `private(set)`, which
// keeps every transition in this file; split across files they would have to be writable by all of
// LiveEngine. Its record (`Transaction`) and the pure framing rules live beside it.

import BalancerCore
import HadeckBase
import NIOCore

/// The life of one client connection of a balancer as a value, after swift-nio's own state
/// machines: its state (with that state's data), its deadlines, and for each event the action the
/// handler (`ClientSession`) performs. No socket and no clock: time comes in with each event (the
/// event loop's, virtual in tests), and the core's decisions (routing, retries) come in as values.
///
/// One transaction at a time: a request, its server connection and its response. Its record (what
/// the access log says of it) accumulates in `txn` across the states it passes through, as
/// HAProxy's `txn` does, and is read by the handler when the transaction ends.
///
/// Not generic over the server connection's type on purpose: a generic state (even specialized)
/// is copied and destroyed through its type metadata, which costs hundreds of instructions per
/// request on the proxy's hot path.
struct ClientStateMachine {
    typealias Upstream = UpstreamHandler

    enum State {
        /// Waiting for a request: the first of the connection, or the next one of a keep-alive connection.
        case idle(Idle)
        /// A request is being handled.
        case active(Phase)
        /// Closing or closed: nothing more happens.
        case closed
        /// Only while a method rewrites the state (no copy of its payload).
        case modifying
    }

    struct Idle {
        /// Since when the connection waits (the next request's start).
        var since: NIODeadline
        /// Bytes of the next request have arrived.
        var bytesSeen = false
    }

    enum Phase {
        /// The balancer answers itself (stats page, metrics) once the request body has arrived.
        case local
        /// Waiting in a server's or the backend's queue for a `maxconn` slot (until `queueDeadline`).
        case queued(pending: [ByteBuffer])
        /// Waiting for a connection to `txn.server`; `attempt` tells a late connection from the current one.
        case connecting(attempt: Int, pending: [ByteBuffer])
        /// Waiting until `retryAt` before the next connection attempt.
        case retrying(pending: [ByteBuffer])
        /// Connected: the request goes to the server, the response comes back.
        case forwarding(Upstream)
    }

    /// The frontend's name and per-connection timeouts.
    struct Timeouts {
        var frontend: String
        /// `timeout http-request`: the first request of a connection.
        var httpRequest: TimeSpan?
        /// Between requests of a keep-alive connection (`timeout http-keep-alive`, else http-request).
        var keepAlive: TimeSpan?
        var client: TimeSpan?
    }

    let timeouts: Timeouts
    private(set) var state: State
    /// The request in progress, or the last one (its record stays readable until the next begins).
    private(set) var txn: Transaction
    private(set) var requestsServed = 0
    private var attempts = 0

    // Deadlines; the handler keeps one timer armed for the earliest.
    private(set) var clientDeadline: NIODeadline?
    private(set) var serverDeadline: NIODeadline?
    private(set) var connectDeadline: NIODeadline?
    private(set) var retryAt: NIODeadline?
    private(set) var queueDeadline: NIODeadline?

    init(timeouts: Timeouts, now: NIODeadline) {
        self.timeouts = timeouts
        state = .idle(Idle(since: now))
        txn = Transaction(start: now)
        clientDeadline = (timeouts.httpRequest ?? timeouts.client).map { now + $0.timeAmount }
    }

    /// The earliest deadline, if any.
    var nextDeadline: NIODeadline? {
        earliest(
            earliest(earliest(clientDeadline, serverDeadline), earliest(connectDeadline, retryAt)), queueDeadline)
    }

    var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    var isQueued: Bool {
        if case .active(.queued) = state { return true }
        return false
    }

    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// The server connection in use, if any.
    var upstream: Upstream? {
        if case .active(.forwarding(let up)) = state { return up }
        return nil
    }

    /// Whether reading more from the client is fine now: not while request bytes pile up behind a
    /// server that is not writable or not connected yet, nor beyond the request in progress.
    func readAllowed(nothingBuffered: Bool, writable: (Upstream) -> Bool) -> Bool {
        switch state {
        case .idle, .closed, .modifying: return true
        // Keep read interest on while nothing piles up: toggling it costs an epoll_ctl each time.
        case .active(.local): return txn.request.isComplete ? nothingBuffered : true
        case .active(.connecting(_, let pending)), .active(.retrying(let pending)), .active(.queued(let pending)):
            return txn.request.isComplete ? nothingBuffered : pending.count < 16
        case .active(.forwarding(let up)): return txn.request.isComplete ? nothingBuffered : writable(up)
        }
    }

    // MARK: the request

    /// What received bytes are for.
    enum Input {
        /// A request head (the connection was waiting for one).
        case head
        /// The body of the request in progress.
        case body
        /// The next request's: they wait until the current one is done.
        case later
        /// Nothing: the connection is closing.
        case drop
    }

    /// Bytes arrived. While waiting for a request, the request starts with the first of them, and
    /// `timeout http-request` (else `timeout client`) applies to its head from then on.
    mutating func bytesArrived(now: NIODeadline) -> Input {
        switch state {
        case .idle(var idle):
            if !idle.bytesSeen {
                idle.bytesSeen = true
                idle.since = now
                state = .idle(idle)
                if let t = timeouts.httpRequest ?? timeouts.client { clientDeadline = now + t.timeAmount }
            }
            return .head
        case .active: return txn.request.isComplete ? .later : .body
        case .closed, .modifying: return .drop
        }
    }

    /// A request head that cannot be parsed, or is too large: HAProxy's 400 (413 or 422 for some
    /// bodies), and the connection closes.
    mutating func requestRejected(
        reason: String, error: HAProxyErrorResponse = .badRequest, termination: String = "PR", now: NIODeadline
    ) -> Ending? {
        guard case .idle(let idle) = state else { return nil }
        begin(line: "<BADREQ>", since: idle.since)
        txn.reason = reason
        return sendError(error, termination: termination)
    }

    /// What a parsed request head leads to.
    enum HeadAction {
        /// Answer it (or the error) and close: `Ending`.
        case end(Ending)
        /// The balancer answers it itself, now (the request has no body) or once its body has arrived.
        case answerLocally
        case awaitLocalBody
        /// Take a connection from the pool or open one (`attempt` to quote when it completes).
        case connect(ServerKey, allowPool: Bool, attempt: Int)
        /// Every slot is taken: the request waits in a queue (as `ticket`) until `dequeued` or the
        /// queue timeout.
        case queued(ticket: Int)
    }

    /// What the core made of a request: its decision and whether it holds a slot, waits or is
    /// refused, the head for the server, the client's session. A tuple, not a struct: its parts
    /// move into the transaction without a copy.
    typealias Routed = (
        decision: RoutingDecision, admission: Admission, ticket: Int, forwardHead: ByteBuffer, session: String?
    )

    /// A complete request head: its line, how it is framed, whether the client keeps the connection,
    /// the backend the frontend chose and whether the balancer answers it itself (`local`: the stats
    /// page; `ruleAnswer`: the frontend's rules answer it, `deny`, `redirect`, `return`).
    /// `ruleReason`: which routing rule decided, when the frontend has rules. `routing` asks the core
    /// where it goes (called once, only for a request that goes to a backend).
    mutating func requestHead(
        line: String, method: String, head h: ParsedHead, route: BackendRoute?, keepAlive: Bool, local: Bool,
        ruleAnswer: Bool = false, ruleReason: String? = nil, now: NIODeadline, routing: (BackendRoute) -> Routed
    ) -> HeadAction {
        guard case .idle(let idle) = state else {
            return .end(Ending(upstream: nil, record: nil, error: nil, close: false))
        }
        begin(line: line, since: idle.since)
        txn.method = method
        txn.head = now
        txn.route = route
        txn.clientHTTP11 = h.minor >= 1
        // Content-Length with Transfer-Encoding: the chunks count, and the connection closes after
        // the response (HAProxy's H1_MF_CONN_CLO), so nothing that follows is read as a request.
        txn.clientKeepAlive = h.wantsKeepAlive && keepAlive && !h.lengthAndChunked
        txn.closeAfterResponse = !txn.clientKeepAlive
        txn.upgrade = UpgradeRequest(h)
        clientDeadline = timeouts.client.map { now + $0.timeAmount }
        let body = requestBodyFraming(h)
        txn.request = body
        if body.isComplete { clientDeadline = nil }
        if local || ruleAnswer { return body.isComplete ? .answerLocally : .awaitLocalBody }
        guard let route else {
            txn.reason = ruleReason.map { "\($0): 503" } ?? "frontend \(timeouts.frontend) has no backend: 503"
            return .end(sendError(.serviceUnavailable, termination: "SC")!)
        }
        let (decision, admission, ticket, forwardHead, session) = routing(route)
        txn.forwardHead = forwardHead
        txn.requestSession = session
        let server = decision.server
        txn.decision = decision
        switch admission {
        case .dispatch: break
        case .queued:
            state = .active(.queued(pending: []))
            txn.queuedSince = now
            txn.queueTicket = ticket
            queueDeadline = now + route.backend.queueTimeout.timeAmount
            return .queued(ticket: ticket)
        case .rejected(let queueFull):
            // A full queue is HAProxy's SI_ET_QUEUE_ERR (`SQ`); no usable server, `SC`.
            return .end(sendError(.serviceUnavailable, termination: queueFull ? "SQ" : "SC")!)
        }
        guard let server else { return .end(sendError(.serviceUnavailable, termination: "SC")!) }
        switch connect(ServerKey(backend: route.name, server: server), allowPool: true, pending: [], now: now) {
        case .connect(let key, let allowPool, let attempt): return .connect(key, allowPool: allowPool, attempt: attempt)
        case .end(let ending): return .end(ending)
        }
    }

    /// A slot freed for the queued request: `decision` names its server. Nil when the request no
    /// longer waits (the handler then gives the slot back).
    mutating func dequeued(_ decision: RoutingDecision, now: NIODeadline) -> ConnectAction? {
        guard case .active(.queued(let pending)) = state, let route = txn.route, let server = decision.server else {
            return nil
        }
        queueDeadline = nil
        txn.decision = decision
        txn.dequeued = now
        txn.queueTicket = nil
        state = .modifying
        return connect(ServerKey(backend: route.name, server: server), allowPool: true, pending: pending, now: now)
    }

    /// The queue timeout passed: `decision` (the core's, which left the queue) says why; 503 `sQ`.
    mutating func queueExpired(_ decision: RoutingDecision?) -> Ending? {
        guard case .active(.queued) = state else { return nil }
        queueDeadline = nil
        if let decision {
            txn.decision = decision
            txn.reason = decision.reason
        }
        return sendError(.serviceUnavailable, termination: "sQ")
    }

    /// Whether to take a connection from the pool or open one (`attempt` to quote when it completes).
    enum ConnectAction {
        case connect(ServerKey, allowPool: Bool, attempt: Int)
        case end(Ending)
    }

    private mutating func connect(_ key: ServerKey, allowPool: Bool, pending: [ByteBuffer], now: NIODeadline)
        -> ConnectAction
    {
        attempts += 1
        txn.server = key
        txn.connectStart = now
        state = .active(.connecting(attempt: attempts, pending: pending))
        connectDeadline = txn.route.map { now + $0.connectTimeout.timeAmount }
        return .connect(key, allowPool: allowPool, attempt: attempts)
    }

    /// Where request body bytes go.
    enum BodyAction {
        /// To the server now; `ended`: the request is complete (flush, and `timeout server` starts).
        case forward(ByteBuffer, to: Upstream, ended: Bool)
        /// Kept until the server connection is there, or until the balancer answers.
        case held
        /// The local answer can be made now.
        case answerLocally
        /// Nothing to do with them (not in a request, or the request is complete).
        case none
        case end(Ending)
    }

    /// Request body bytes at the front of `buffer` (read from it as far as they belong to the body).
    mutating func requestBody(_ buffer: inout ByteBuffer, now: NIODeadline) -> BodyAction {
        guard case .active(let phase) = state, !txn.request.isComplete else { return .none }
        guard let (count, ended) = txn.request.take(from: buffer) else {
            buffer.clear()
            if txn.responseStarted { return .end(abort(termination: "CD")!) }
            txn.reason = "invalid request (bad chunked body): 400"
            return .end(sendError(.badRequest, termination: "PR")!)
        }
        let part = buffer.readSlice(length: count)!
        txn.requestBodyBytes += count
        if ended {
            clientDeadline = nil
        } else if let t = timeouts.client {
            clientDeadline = now + t.timeAmount
        }
        switch phase {
        case .local:
            // A stats page form: kept (bounded) until its end, then answered.
            if (txn.localBody?.readableBytes ?? 0) < 65_536 { txn.localBody?.writeImmutableBuffer(part) }
            return ended ? .answerLocally : .held
        case .connecting(let attempt, var pending):
            state = .modifying
            pending.append(part)
            state = .active(.connecting(attempt: attempt, pending: pending))
            return .held
        case .retrying(var pending):
            state = .modifying
            pending.append(part)
            state = .active(.retrying(pending: pending))
            return .held
        case .queued(var pending):
            state = .modifying
            pending.append(part)
            state = .active(.queued(pending: pending))
            return .held
        case .forwarding(let up):
            if ended { armServerDeadline(now) }
            return .forward(part, to: up, ended: ended)
        }
    }

    /// Starts a local answer's body buffer (the handler owns the allocator).
    mutating func startLocalBody(_ buffer: ByteBuffer) { txn.localBody = buffer }

    /// The balancer answered the request itself (its status, bytes and reason): the connection
    /// waits for the next request, or closes when this answer is its last (returns true then).
    /// `close`: this answer ends the connection whatever the client asked (HAProxy's own 400).
    mutating func answeredLocally(status: Int, bytes: Int, reason: String, close: Bool = false, now: NIODeadline)
        -> Bool
    {
        guard case .active(.local) = state else { return true }
        if close { txn.closeAfterResponse = true }
        txn.localBody = nil
        txn.request = .complete
        txn.responseStarted = true
        txn.status = status
        txn.reason = reason
        txn.bytesOut = bytes
        if txn.closeAfterResponse {
            state = .closed
            clearDeadlines()
            return true
        }
        requestsServed += 1
        state = .idle(Idle(since: now))
        armIdleDeadline(now, keepAlive: true)
        return false
    }

    /// Whether `up` is the server connection in use.
    func isCurrent(_ up: Upstream) -> Bool {
        if case .active(.forwarding(let current)) = state { return current === up }
        return false
    }

    // MARK: the server connection

    /// A connection for attempt `attempt` is there. Nil when it is late (a retry went on, or the
    /// request ended): the handler keeps it idle. Else the head and any held body go out (`toHEAD`:
    /// the response has no body; `backend` counts the connection).
    mutating func connected(_ up: Upstream, attempt: Int, now: NIODeadline) -> (
        head: ByteBuffer?, pending: [ByteBuffer], toHEAD: Bool, upgrade: UpgradeRequest, backend: Backend?
    )? {
        guard case .active(.connecting(let current, let pending)) = state, current == attempt else { return nil }
        state = .active(.forwarding(up))
        connectDeadline = nil
        txn.connected = now
        armServerDeadline(now)
        return (txn.forwardHead, pending, txn.method == "HEAD", txn.upgrade, txn.route?.backend)
    }

    /// What follows a failed connection attempt.
    enum RetryAction {
        /// Try again (a redispatch may have chosen another server) once `retryAt` passes.
        case wait
        case end(Ending)
    }

    /// Attempt `attempt` failed (refused, reset...) or timed out; `retry` is the core's answer
    /// (`Backend.connectFailed`) for the decision so far. Nil when the attempt is not the current one.
    mutating func connectFailed(
        attempt: Int, timedOut: Bool, now: NIODeadline, retry: (RoutingDecision) -> ConnectRetry
    ) -> RetryAction? {
        guard case .active(.connecting(let current, let pending)) = state, current == attempt else { return nil }
        connectDeadline = nil
        let termination = timedOut ? "sC" : "SC"
        guard let decision = txn.decision, let route = txn.route else {
            return .end(sendError(.serviceUnavailable, termination: termination)!)
        }
        let r = retry(decision)
        txn.decision = r.decision
        let delay: TimeSpan
        switch r.action {
        case .retry(let after):
            delay = after
        case .redispatch(let after):
            delay = after
            txn.redispatched = true
        case .giveUp:
            txn.reason = r.why
            return .end(sendError(.serviceUnavailable, termination: termination)!)
        }
        txn.retries += 1
        guard let server = r.decision.server else {
            return .end(sendError(.serviceUnavailable, termination: termination)!)
        }
        txn.server = ServerKey(backend: route.name, server: server)
        state = .active(.retrying(pending: pending))
        retryAt = now + delay.timeAmount
        return .wait
    }

    // MARK: the response

    /// The server's response head: how it reaches the client, and what persistence changes in it
    /// (`cookies` applies the backend's cookie rules to the routing decision). Nil when `up` is not
    /// the connection in use. `session`: the JSESSIONID the server set (for the record).
    mutating func responseHead(
        from up: Upstream, status: Int, head r: ParsedHead, framing: BodyFraming, session: String?, now: NIODeadline,
        cookies: (BackendRoute, RoutingDecision) -> ResponseCookieEdits?
    ) -> (plan: ResponsePlan, edits: ResponseCookieEdits?, clientHTTP11: Bool)? {
        guard isCurrent(up) else { return nil }
        armServerDeadline(now)
        txn.response = now
        txn.status = status
        txn.serverKeepAlive = r.wantsKeepAlive && framing != .untilClose && framing != .tunnel && !r.lengthAndChunked
        let plan = ResponsePlan.make(
            clientHTTP11: txn.clientHTTP11, closeAfter: txn.closeAfterResponse, clientKeepAlive: txn.clientKeepAlive,
            serverChunked: r.chunked, serverHasLength: r.contentLength != nil, framing: framing)
        txn.closeAfterResponse = plan.closeAfter
        txn.plan = plan
        txn.responseStarted = true
        if framing == .tunnel && txn.request.isComplete {
            // Switched protocols: whatever the client sends now goes to the server, until one side closes.
            txn.request = .tunnel
            clientDeadline = timeouts.client.map { now + $0.timeAmount }
        }
        if session != nil { txn.responseSession = session }
        var edits: ResponseCookieEdits?
        if let route = txn.route, let decision = txn.decision {
            edits = cookies(route, decision)
            txn.responseCookie = edits?.cookieStatus
        }
        return (plan, edits, txn.clientHTTP11)
    }

    /// Bytes written to the client for this request.
    mutating func sent(_ bytes: Int) { txn.bytesOut &+= bytes }

    /// Response body bytes from `up` went to the client; false when `up` is not the connection in use.
    mutating func bodySent(from up: Upstream, bytes: Int) -> Bool {
        guard isCurrent(up) else { return false }
        txn.bytesOut &+= bytes
        return true
    }

    /// Something was read from the server: `timeout server` starts again (the clock is read only then).
    mutating func serverActive(now: @autoclosure () -> NIODeadline) {
        if serverDeadline != nil { armServerDeadline(now()) }
    }

    /// The response is complete.
    struct ResponseEnd {
        var upstream: Upstream
        /// The backend that counts the connection, and the status for the record.
        var backend: Backend?
        var status: Int
        /// The connection can serve another request (keep it idle).
        var reuse: Bool
        /// A chunked re-framing needs its last chunk.
        var lastChunk: Bool
        /// The client connection ends after the response (else: the next request).
        var close: Bool
    }

    mutating func responseEnded(from up: Upstream, serverClosing: Bool, now: NIODeadline) -> ResponseEnd? {
        guard isCurrent(up) else { return nil }
        serverDeadline = nil
        let requestEnded = txn.request.isComplete
        let plan = txn.plan ?? ResponsePlan(closeAfter: txn.closeAfterResponse)
        if plan.chunkEncode { txn.bytesOut += lastChunk.readableBytes }
        let close = txn.closeAfterResponse || !requestEnded
        state = close ? .closed : .idle(Idle(since: now))
        if close {
            clearDeadlines()
        } else {
            requestsServed += 1
            armIdleDeadline(now, keepAlive: true)
        }
        return ResponseEnd(
            upstream: up, backend: txn.route?.backend, status: txn.status,
            reuse: requestEnded && txn.serverKeepAlive && !serverClosing, lastChunk: plan.chunkEncode, close: close)
    }

    /// What follows the loss of the server connection before the response ended.
    enum UpstreamLoss {
        /// A reused idle connection the server had just closed: try once more on a fresh one.
        case retryFresh(ServerKey, attempt: Int)
        case end(Ending)
    }

    /// The server closed the connection (`reused`: it had served requests before this one).
    mutating func upstreamClosed(_ up: Upstream, reused: Bool, now: NIODeadline) -> UpstreamLoss? {
        guard isCurrent(up) else { return nil }
        if txn.responseStarted { return .end(abort(termination: "SD")!) }
        if reused && txn.request.isComplete && txn.requestBodyBytes == 0 && !txn.freshRetryDone, let key = txn.server {
            txn.freshRetryDone = true
            state = .modifying
            switch connect(key, allowPool: false, pending: [], now: now) {
            case .connect(let key, _, let attempt): return .retryFresh(key, attempt: attempt)
            case .end(let ending): return .end(ending)
            }
        }
        txn.reason = "server \(txn.server?.server ?? "?") closed the connection without a response: 502"
        return .end(sendError(.badGateway, termination: "SH")!)
    }

    /// An `http-response deny` refused the server's response head: HAProxy's error for `status`
    /// (502 by default) instead, and the connection closes.
    mutating func responseDenied(from up: Upstream, status: Int) -> Ending? {
        guard isCurrent(up) else { return nil }
        txn.reason = "http-response deny: \(status)"
        return sendError(HAProxyErrorResponse(status: status) ?? .badGateway, termination: "PH")
    }

    /// The server sent something that is not HTTP, or its connection failed.
    mutating func upstreamFailed(_ up: Upstream) -> Ending? {
        guard isCurrent(up) else { return nil }
        if txn.responseStarted { return abort(termination: "SD") }
        txn.reason = "server \(txn.server?.server ?? "?") sent an invalid response: 502"
        return sendError(.badGateway, termination: "PH")
    }

    // MARK: timers

    /// What a passed deadline leads to.
    enum TimerAction {
        case end(Ending)
        /// The retry delay is over: connect again.
        case connect(ServerKey, attempt: Int)
        /// A connection attempt took longer than `timeout connect`.
        case connectTimedOut(attempt: Int)
        /// The request waited `timeout queue` for a slot: the handler takes it out of the queue.
        case queueTimedOut
        /// Nothing due yet: arm the timer again for `nextDeadline`.
        case none
    }

    mutating func timerFired(now: NIODeadline) -> TimerAction {
        if case .closed = state { return .none }
        if let s = serverDeadline, s <= now {
            serverDeadline = nil
            txn.reason = "server \(txn.decision?.server ?? "?") did not answer within timeout server: 504"
            if txn.responseStarted { return .end(abort(termination: "sD")!) }
            return .end(sendError(.gatewayTimeout, termination: "sH")!)
        }
        if let q = queueDeadline, q <= now, case .active(.queued) = state {
            queueDeadline = nil
            return .queueTimedOut
        }
        if let c = connectDeadline, c <= now, case .active(.connecting(let attempt, _)) = state {
            connectDeadline = nil
            return .connectTimedOut(attempt: attempt)
        }
        if let r = retryAt, r <= now, case .active(.retrying(let pending)) = state, let key = txn.server {
            retryAt = nil
            state = .modifying
            if case .connect(let key, _, let attempt) = connect(key, allowPool: true, pending: pending, now: now) {
                return .connect(key, attempt: attempt)
            }
            return .none
        }
        if let c = clientDeadline, c <= now {
            clientDeadline = nil
            if case .idle(let idle) = state {
                if idle.bytesSeen || requestsServed == 0 {
                    begin(line: "<BADREQ>", since: idle.since)
                    txn.reason = "no complete request within timeout http-request: 408"
                    return .end(sendError(.requestTimeout, termination: "cR")!)
                }
                // An idle keep-alive connection is closed silently, as HAProxy does.
                state = .closed
                return .end(Ending(upstream: nil, record: nil, error: nil, close: true))
            }
            if !txn.responseStarted && !txn.request.isComplete {
                txn.reason = "client sent nothing within timeout client: 408"
                return .end(sendError(.requestTimeout, termination: "cD")!)
            }
            return .end(abort(termination: "cD")!)
        }
        return .none
    }

    // MARK: endings

    /// How a connection ends: the server connection to close, the transaction to report, the error
    /// response to write first, whether to close the client connection.
    struct Ending {
        var upstream: Upstream?
        var record: (status: Int, termination: String)?
        var error: HAProxyErrorResponse?
        var close: Bool
    }

    /// Answers with one of HAProxy's own error responses (unless the response had begun) and closes.
    mutating func sendError(_ error: HAProxyErrorResponse, termination: String) -> Ending? {
        guard case .active(let phase) = state else { return nil }
        state = .closed
        clearDeadlines()
        var upstream: Upstream?
        if case .forwarding(let up) = phase { upstream = up }
        if txn.responseStarted {
            return Ending(upstream: upstream, record: (txn.status, termination), error: nil, close: true)
        }
        txn.responseStarted = true
        txn.status = error.rawValue
        txn.bytesOut = error.wireLength
        return Ending(upstream: upstream, record: (error.rawValue, termination), error: error, close: true)
    }

    /// Closes the client connection mid-way (nothing more can be sent cleanly).
    mutating func abort(termination: String) -> Ending? {
        switch state {
        case .active(let phase):
            state = .closed
            clearDeadlines()
            var upstream: Upstream?
            if case .forwarding(let up) = phase { upstream = up }
            return Ending(upstream: upstream, record: (txn.status, termination), error: nil, close: true)
        case .idle:
            state = .closed
            clearDeadlines()
            return Ending(upstream: nil, record: nil, error: nil, close: true)
        case .closed, .modifying:
            return nil
        }
    }

    /// The client shut down its side of the connection (a half-close) while the connection waits
    /// for a request (`partialHead`: some bytes of one arrived) or handles one. As HAProxy: a request
    /// that is complete is still answered (nil: carry on, then close); an incomplete body aborts; no
    /// request at all, or half of one, gets 400 unless the connection already served requests.
    mutating func clientInputClosed(partialHead: Bool, now: NIODeadline) -> Ending? {
        switch state {
        case .idle(let idle):
            if partialHead || requestsServed == 0 {
                begin(line: "<BADREQ>", since: idle.since)
                txn.reason = "client closed its side before a complete request: 400"
                return sendError(.badRequest, termination: "CR")
            }
            state = .closed
            clearDeadlines()
            return Ending(upstream: nil, record: nil, error: nil, close: true)
        case .active:
            if case .tunnel = txn.request { return abort(termination: "CD") }
            if !txn.request.isComplete {
                txn.reason = "client closed its side before the end of its request body"
                return abort(termination: "CD")
            }
            return nil
        case .closed, .modifying:
            return nil
        }
    }

    /// The client connection went away (or the handler is removed): report what was in progress.
    mutating func closed() -> Ending? {
        // A client that leaves while its request waits in a queue: HAProxy's SI_ET_QUEUE_ABRT, `CQ`.
        guard let ending = abort(termination: isQueued ? "CQ" : "CD") else { return nil }
        return Ending(upstream: ending.upstream, record: ending.record, error: nil, close: false)
    }

    /// Reads the transaction in place (mutating only so that the caller's access does not copy the machine).
    mutating func withTransaction(_ body: (inout Transaction) -> Void) { body(&txn) }

    // MARK: helpers

    private mutating func begin(line: String, since: NIODeadline) {
        txn.reset(start: since)
        txn.requestLine = line
        state = .active(.local)
    }

    /// Waiting for a request: the first one of a connection has `timeout http-request`, the next
    /// ones of a keep-alive connection `timeout http-keep-alive` (both fall back as in HAProxy).
    private mutating func armIdleDeadline(_ now: NIODeadline, keepAlive: Bool) {
        serverDeadline = nil
        connectDeadline = nil
        retryAt = nil
        queueDeadline = nil
        let wait = keepAlive ? timeouts.keepAlive : timeouts.httpRequest
        clientDeadline = (wait ?? timeouts.client).map { now + $0.timeAmount }
    }

    private mutating func armServerDeadline(_ now: NIODeadline) {
        if let t = txn.route?.serverTimeout { serverDeadline = now + t.timeAmount }
    }

    private mutating func clearDeadlines() {
        clientDeadline = nil
        serverDeadline = nil
        connectDeadline = nil
        retryAt = nil
        queueDeadline = nil
    }
}
