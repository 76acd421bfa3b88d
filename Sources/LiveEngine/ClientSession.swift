import BalancerCore
import HadeckBase
import NIOCore
import NIOHTTP1

/// Counts request header bytes ahead of the HTTP decoder, so oversized headers get HAProxy's 400,
/// and tells the session that a request has begun (for 408 versus a silent keep-alive close).
final class RequestGuard: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let limit: Int
    weak var session: ClientSession?
    private var awaitingHead = true
    private var headBytes = 0

    init(limit: Int) { self.limit = limit }

    /// Every byte received on the connection (the `bin` counters).
    private(set) var totalBytes = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let n = unwrapInboundIn(data).readableBytes
        totalBytes &+= n
        guard awaitingHead else { return context.fireChannelRead(data) }
        headBytes += n
        session?.requestBytesArrived()
        context.fireChannelRead(data)
        if awaitingHead && headBytes > limit {
            awaitingHead = false
            session?.headersTooLarge()
        }
    }

    func headArrived() { awaitingHead = false }

    /// Bytes read since the request began (may include body bytes read along with the head).
    var bytesSinceRequestStart: Int { headBytes }

    func startNewRequest() {
        awaitingHead = true
        headBytes = 0
    }
}

/// One client connection of a balancer: parses requests, routes them with the core, forwards them
/// to a server connection on the same loop and streams the response back, with back-pressure.
final class ClientSession: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum Phase { case idle, connecting, forwarding, closing }

    let state: BalancerState
    let frontend: FrontendRuntime
    var requestGuard: RequestGuard?
    private var context: ChannelHandlerContext?
    private var clientIP = "0.0.0.0"
    private var clientText = "0.0.0.0:0"

    private var phase = Phase.idle
    private var queued = CircularBuffer<HTTPServerRequestPart>()
    private var readPending = false

    // The transaction in progress.
    private var inTransaction = false
    private var requestLine = ""
    private var requestMethod = "GET"
    private var forwardHead: HTTPRequestHead?
    private var requestEnded = false
    private var requestBodyBytes = 0
    private var pendingBody: [HTTPServerRequestPart] = []
    private var decision: RoutingDecision?
    private var reasonOverride: String?
    private var upstream: UpstreamHandler?
    private var counted: ServerKey?
    private var responseHeadSent = false
    private var responseStatus = 0
    private var serverKeepAlive = true
    private var clientKeepAlive = true
    private var clientIsHTTP11 = true
    private var closeAfterResponse = false
    private var requestSession: String?
    private var responseSession: String?
    private var insertedCookie = false
    private var bytesOut = 0
    private var retries = 0
    private var redispatched = false
    private var freshRetryDone = false
    private var bytesSeen = false
    private var requestsServed = 0
    private var countedIn = 0
    // A request the balancer answers itself (stats page, metrics): its head, and its body so far.
    private var localHead: HTTPRequestHead?
    private var localBody: ByteBuffer?

    // Timing.
    private var tStart = NIODeadline.now()
    private var tHead: NIODeadline?
    private var tConnectStart: NIODeadline?
    private var tConnected: NIODeadline?
    private var tResponse: NIODeadline?

    // Timers: one lazily re-armed task for the client and server deadlines.
    private var clientDeadline: NIODeadline?
    private var serverDeadline: NIODeadline?
    private var timer: Scheduled<Void>?
    private var timerAt: NIODeadline?
    private var retryTask: Scheduled<Void>?

    init(state: BalancerState, frontend: FrontendRuntime, channel: Channel) {
        self.state = state
        self.frontend = frontend
    }

    var clientWritable: Bool { context?.channel.isWritable ?? false }

    private var backend: Backend? { frontend.backend }

    // MARK: lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.channel.remoteAddress {
            clientIP = remote.ipAddress ?? "0.0.0.0"
            clientText = "\(clientIP):\(remote.port ?? 0)"
        }
        tStart = .now()
        armIdleDeadline(first: true)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        teardown(termination: "CD")
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        teardown(termination: "CD")
        context.fireChannelInactive()
    }

    private func teardown(termination: String) {
        guard phase != .closing || inTransaction || upstream != nil || timer != nil else { return }
        phase = .closing
        timer?.cancel()
        timer = nil
        retryTask?.cancel()
        retryTask = nil
        releaseUpstream(reuse: false)
        if inTransaction { finishRecord(status: responseStatus, termination: termination) }
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        handle(unwrapInboundIn(data))
    }

    private func handle(_ part: HTTPServerRequestPart) {
        switch part {
        case .head(let head):
            if phase != .idle || !queued.isEmpty {
                queued.append(part)
                return
            }
            begin(head)
        case .body, .end:
            if !queued.isEmpty || !inTransaction || requestEnded {
                if phase != .closing { queued.append(part) }
                return
            }
            forwardRequestPart(part)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if phase == .forwarding, let upstream { upstream.flush() }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is HTTPParserError {
            if !responseHeadSent && phase != .closing {
                if !inTransaction { startRecord(line: "<BADREQ>") }
                reasonOverride = "invalid request (\(error)): 400"
                sendError(.badRequest, termination: "PR")
            } else {
                abort(termination: "CD")
            }
            return
        }
        abort(termination: "CD")
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream?.resumeReading() }
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
        switch phase {
        case .idle, .closing: return true
        // Keep read interest on while nothing piles up: toggling it costs an epoll_ctl each time.
        case .connecting: return requestEnded ? queued.isEmpty : pendingBody.count < 16
        case .forwarding: return requestEnded ? queued.isEmpty : (upstream?.isWritable ?? false)
        }
    }

    private func resumeClientRead() {
        guard readPending, readAllowed, let context else { return }
        readPending = false
        context.read()
    }

    // MARK: guard callbacks

    func requestBytesArrived() {
        if !bytesSeen {
            bytesSeen = true
            if !inTransaction && phase == .idle {
                tStart = .now()
                if let t = frontend.httpRequestTimeout ?? frontend.clientTimeout {
                    clientDeadline = tStart + t.timeAmount
                    armTimer()
                }
            }
        }
    }

    func headersTooLarge(force: Bool = false) {
        guard force || (phase == .idle && !inTransaction) else { return }
        startRecord(line: "<BADREQ>")
        reasonOverride = "request headers larger than \(state.options.maxHeaderBytes) bytes: 400"
        sendError(.badRequest, termination: "PR")
    }

    // MARK: request

    private func startRecord(line: String) {
        inTransaction = true
        requestLine = line
        tHead = nil
        tConnectStart = nil
        tConnected = nil
        tResponse = nil
    }

    private func begin(_ head: HTTPRequestHead) {
        requestGuard?.headArrived()
        let limit = state.options.maxHeaderBytes
        if let g = requestGuard, g.bytesSinceRequestStart > limit, headSize(head) > limit {
            return headersTooLarge(force: true)
        }
        startRecord(line: "\(head.method.rawValue) \(head.uri) \(head.version)")
        let now = NIODeadline.now()
        tHead = now
        requestMethod = head.method.rawValue
        requestEnded = false
        requestBodyBytes = 0
        pendingBody.removeAll(keepingCapacity: true)
        decision = nil
        reasonOverride = nil
        responseHeadSent = false
        responseStatus = 0
        serverKeepAlive = true
        clientIsHTTP11 = head.version.major == 1 && head.version.minor >= 1
        clientKeepAlive = head.isKeepAlive && frontend.keepAlive
        closeAfterResponse = !clientKeepAlive
        requestSession = nil
        responseSession = nil
        insertedCookie = false
        bytesOut = 0
        retries = 0
        redispatched = false
        freshRetryDone = false
        clientDeadline = frontend.clientTimeout.map { now + $0.timeAmount }

        let headers = head.headers
        // One pass over the headers for everything the proxy needs to know.
        var hasTE = false
        var hasCL = false
        var hasConnection = false
        var cookies: [String] = []
        for (name, value) in headers {
            switch name.utf8.count {
            case 6 where name.equalsASCIIIgnoringCase("cookie"): cookies.append(value)
            case 10 where name.equalsASCIIIgnoringCase("connection"): hasConnection = true
            case 14 where name.equalsASCIIIgnoringCase("content-length"): hasCL = true
            case 17 where name.equalsASCIIIgnoringCase("transfer-encoding"): hasTE = true
            case 16 where name.equalsASCIIIgnoringCase("proxy-connection"): hasConnection = true
            default: break
            }
        }
        if hasTE && hasCL {
            reasonOverride = "request has both Content-Length and Transfer-Encoding: 400"
            return sendError(.badRequest, termination: "PR")
        }
        if let page = frontend.statsPage, head.uri.hasPrefix(page.uri) || head.uri.hasPrefix("/metrics") {
            localHead = head
            localBody = context?.channel.allocator.buffer(capacity: 0)
            phase = .connecting
            return
        }
        guard let backend, let backendName = frontend.backendName else {
            reasonOverride = "frontend \(frontend.config.name) has no backend: 503"
            return sendError(.serviceUnavailable, termination: "SC")
        }
        if state.onRequest != nil { requestSession = jsessionID(inCookieHeaders: cookies) }
        let d = backend.route(
            request: RoutedRequest(method: requestMethod, cookieHeaders: cookies, clientAddress: clientIP),
            now: state.clock.instant(at: now))
        decision = d
        guard let server = d.server else { return sendError(.serviceUnavailable, termination: "SC") }

        var fh = head
        fh.version = .http1_1
        if cookies != d.forwardedCookieHeaders {
            fh.headers.remove(name: "cookie")
            for c in d.forwardedCookieHeaders where !c.isEmpty { fh.headers.add(name: "Cookie", value: c) }
        }
        if hasConnection {
            fh.headers.remove(name: "connection")
            fh.headers.remove(name: "keep-alive")
            fh.headers.remove(name: "proxy-connection")
        }
        if frontend.forwardfor { fh.headers.add(name: "X-Forwarded-For", value: clientIP) }
        forwardHead = fh
        phase = .connecting
        obtainUpstream(ServerKey(backend: backendName, server: server), allowPool: true)
    }

    private func forwardRequestPart(_ part: HTTPServerRequestPart) {
        if localBody != nil { return localRequestPart(part) }
        if case .end = part {
            requestEnded = true
            clientDeadline = nil
        } else if case .body(let buffer) = part {
            requestBodyBytes += buffer.readableBytes
            if let t = frontend.clientTimeout { clientDeadline = .now() + t.timeAmount }
        }
        switch phase {
        case .connecting:
            pendingBody.append(part)
        case .forwarding:
            guard let upstream else { return }
            switch part {
            case .body(let buffer): upstream.send(.body(.byteBuffer(buffer)))
            case .end(let trailers):
                upstream.send(.end(trailers))
                upstream.flush()
                armServerDeadline()
            case .head: break
            }
        case .idle, .closing:
            break
        }
    }

    // MARK: answered by the balancer itself

    /// Collects a stats page request's body (a POST's form; bounded) and answers at its end.
    private func localRequestPart(_ part: HTTPServerRequestPart) {
        switch part {
        case .body(var buffer):
            if (localBody?.readableBytes ?? 0) < 65_536 { localBody?.writeBuffer(&buffer) }
        case .end:
            guard let context, let request = localHead, let page = frontend.statsPage else { return }
            let r = state.localResponse(head: request, body: localBody, page: page, counters: frontend.counters)
            localHead = nil
            localBody = nil
            requestEnded = true
            clientDeadline = nil
            responseHeadSent = true
            responseStatus = Int(r.status.code)
            reasonOverride = r.reason
            var body = context.channel.allocator.buffer(capacity: r.body.utf8.count)
            body.writeString(r.body)
            var headers = r.headers
            headers.add(name: "Content-Length", value: String(body.readableBytes))
            if closeAfterResponse { headers.add(name: "Connection", value: "close") }
            let head = HTTPResponseHead(
                version: clientIsHTTP11 ? .http1_1 : .http1_0, status: r.status, headers: headers)
            bytesOut = body.readableBytes + responseHeadSize(head)
            finishRecord(status: responseStatus, termination: "LR")
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            if requestMethod != "HEAD" { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
            if closeAfterResponse {
                phase = .closing
                writeThenClose(.end(nil))
            } else {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                becomeIdle()
            }
        case .head:
            break
        }
    }

    // MARK: server connection

    private func obtainUpstream(_ key: ServerKey, allowPool: Bool) {
        tConnectStart = .now()
        if allowPool, let idle = state.takeIdle(key) {
            return attach(idle, key: key)
        }
        state.connect(key, timeout: frontend.connectTimeout).assumeIsolated().whenComplete {
            [self] (result: Result<UpstreamHandler, Error>) in
            switch result {
            case .success(let up):
                if phase == .connecting && context != nil {
                    attach(up, key: key)
                } else {
                    state.putIdle(up)
                }
            case .failure:
                if phase == .connecting && context != nil { connectFailed() }
            }
        }
    }

    private func attach(_ up: UpstreamHandler, key: ServerKey) {
        upstream = up
        up.owner = self
        up.uses += 1
        backend?.connectionOpened(server: key.server)
        counted = key
        tConnected = .now()
        phase = .forwarding
        if let head = forwardHead { up.send(.head(head)) }
        for part in pendingBody {
            switch part {
            case .body(let buffer): up.send(.body(.byteBuffer(buffer)))
            case .end(let trailers): up.send(.end(trailers))
            case .head: break
            }
        }
        pendingBody.removeAll(keepingCapacity: true)
        up.flush()
        armServerDeadline()
        up.resumeReading()
        resumeClientRead()
    }

    private func connectFailed() {
        guard let backend, let d = decision, let backendName = frontend.backendName else {
            return sendError(.serviceUnavailable, termination: "SC")
        }
        let r = backend.connectFailed(d, now: state.clock.now())
        decision = r.decision
        let delay: TimeSpan
        switch r.action {
        case .retry(let after):
            delay = after
        case .redispatch(let after):
            delay = after
            redispatched = true
        case .giveUp:
            reasonOverride = r.why
            return sendError(.serviceUnavailable, termination: "SC")
        }
        retries += 1
        guard let server = r.decision.server, let context else { return }
        let key = ServerKey(backend: backendName, server: server)
        retryTask = context.eventLoop.assumeIsolated().scheduleTask(in: delay.timeAmount) { [weak self] in
            guard let self, self.phase == .connecting else { return }
            self.retryTask = nil
            self.obtainUpstream(key, allowPool: true)
        }
    }

    private func releaseUpstream(reuse: Bool) {
        if let key = counted {
            backend?.connectionClosed(server: key.server)
            counted = nil
        }
        guard let up = upstream else { return }
        upstream = nil
        up.owner = nil
        if reuse {
            state.putIdle(up)
            up.resumeReading()
        } else {
            up.close()
        }
    }

    // MARK: response

    func upstreamRead(_ part: HTTPClientResponsePart, from up: UpstreamHandler) {
        guard up === upstream, let context else { return }
        if let t = frontend.serverTimeout { serverDeadline = .now() + t.timeAmount }
        switch part {
        case .head(var head):
            let code = Int(head.status.code)
            if code >= 100 && code < 200 && code != 101 {
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                return
            }
            tResponse = .now()
            responseStatus = code
            serverKeepAlive = head.isKeepAlive
            var setCookies: [String] = []
            var hasCL = false
            var hasTE = false
            var hasConnection = false
            for (name, value) in head.headers {
                switch name.utf8.count {
                case 10 where name.equalsASCIIIgnoringCase("set-cookie"): setCookies.append(value)
                case 10 where name.equalsASCIIIgnoringCase("connection"): hasConnection = true
                case 10 where name.equalsASCIIIgnoringCase("keep-alive"): hasConnection = true
                case 14 where name.equalsASCIIIgnoringCase("content-length"): hasCL = true
                case 17 where name.equalsASCIIIgnoringCase("transfer-encoding"): hasTE = true
                default: break
                }
            }
            if state.onRequest != nil { responseSession = jsessionID(inSetCookies: setCookies) }
            if let backend, let d = decision, backend.config.cookie != nil {
                let edits = backend.responseHeaders(for: d, serverSetCookies: setCookies)
                if edits.setCookies != setCookies {
                    head.headers.remove(name: "set-cookie")
                    for c in edits.setCookies { head.headers.add(name: "Set-Cookie", value: c) }
                }
                if edits.cacheControlPrivate { head.headers.add(name: "Cache-control", value: "private") }
                insertedCookie = edits.setCookies.count > setCookies.count
            }
            if hasConnection {
                head.headers.remove(name: "connection")
                head.headers.remove(name: "keep-alive")
            }
            // The response encoder does not add framing: a body delimited by the server closing
            // becomes chunked for HTTP/1.1 clients, or ends with the connection for HTTP/1.0 ones.
            let bodyless = code == 204 || code == 304 || requestMethod == "HEAD"
            let delimitedByClose = !hasCL && !hasTE && !bodyless
            if hasTE && !clientIsHTTP11 {
                head.headers.remove(name: "transfer-encoding")
                closeAfterResponse = true
            }
            if !clientIsHTTP11 {
                head.version = .http1_0
                if clientKeepAlive && hasCL {
                    head.headers.add(name: "Connection", value: "keep-alive")
                } else {
                    closeAfterResponse = true
                }
            } else {
                head.version = .http1_1
                if delimitedByClose { head.headers.add(name: "Transfer-Encoding", value: "chunked") }
                if closeAfterResponse { head.headers.add(name: "Connection", value: "close") }
            }
            responseHeadSent = true
            bytesOut += 64
            context.write(wrapOutboundOut(.head(head)), promise: nil)
        case .body(let buffer):
            bytesOut += buffer.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            serverDeadline = nil
            let reuse = requestEnded && serverKeepAlive && !up.closing
            releaseUpstream(reuse: reuse)
            finishRecord(status: responseStatus, termination: "--")
            if closeAfterResponse || !requestEnded {
                phase = .closing
                writeThenClose(.end(trailers))
            } else {
                context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
                becomeIdle()
            }
        }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamBecameWritable() {
        resumeClientRead()
    }

    func upstreamClosed(_ up: UpstreamHandler) {
        guard up === upstream else { return }
        upstream = nil
        if !responseHeadSent {
            // A reused idle connection the server had just closed: try once more on a fresh one.
            if up.uses > 1 && requestEnded && requestBodyBytes == 0 && !freshRetryDone, let key = counted {
                freshRetryDone = true
                backend?.connectionClosed(server: key.server)
                counted = nil
                phase = .connecting
                return obtainUpstream(key, allowPool: false)
            }
            reasonOverride = "server \(counted?.server ?? "?") closed the connection without a response: 502"
            sendError(.badGateway, termination: "SH")
        } else {
            abort(termination: "SD")
        }
    }

    func upstreamFailed(_ up: UpstreamHandler, error: Error) {
        guard up === upstream else { return }
        upstream = nil
        if !responseHeadSent {
            reasonOverride = "server \(counted?.server ?? "?") sent an invalid response: 502"
            sendError(.badGateway, termination: "PH")
        } else {
            abort(termination: "SD")
        }
    }

    // MARK: endings

    private func becomeIdle() {
        inTransaction = false
        phase = .idle
        forwardHead = nil
        bytesSeen = false
        requestsServed += 1
        tStart = .now()
        requestGuard?.startNewRequest()
        armIdleDeadline(first: false)
        if !queued.isEmpty {
            let parts = queued
            queued.removeAll()
            for p in parts { handle(p) }
        }
        resumeClientRead()
    }

    private func writeThenClose(_ part: HTTPServerResponsePart) {
        guard let context else { return }
        timer?.cancel()
        timer = nil
        clientDeadline = nil
        serverDeadline = nil
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(part), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Answers with one of HAProxy's own error responses and closes the connection.
    private func sendError(_ error: HAProxyErrorResponse, termination: String) {
        guard let context, phase != .closing || inTransaction else { return }
        releaseUpstream(reuse: false)
        retryTask?.cancel()
        retryTask = nil
        phase = .closing
        if responseHeadSent {
            finishRecord(status: responseStatus, termination: termination)
            context.close(promise: nil)
            return
        }
        responseHeadSent = true
        responseStatus = error.rawValue
        var body = context.channel.allocator.buffer(capacity: 160)
        body.writeString(error.body)
        bytesOut = error.wireText.utf8.count
        finishRecord(status: error.rawValue, termination: termination)
        context.write(wrapOutboundOut(.head(error.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        writeThenClose(.end(nil))
    }

    /// Closes the client connection mid-way (nothing more can be sent cleanly).
    private func abort(termination: String) {
        guard let context else { return }
        retryTask?.cancel()
        retryTask = nil
        releaseUpstream(reuse: false)
        if inTransaction { finishRecord(status: responseStatus, termination: termination) }
        phase = .closing
        context.close(promise: nil)
    }

    private func finishRecord(status: Int, termination: String) {
        guard inTransaction else { return }
        inTransaction = false
        let end = NIODeadline.now()
        let received = (requestGuard?.totalBytes ?? 0) - countedIn
        countedIn += received
        frontend.counters.requestFinished(
            server: decision?.server, status: status, bytesIn: received, bytesOut: bytesOut, retries: retries,
            redispatched: redispatched, termination: termination, now: state.clock.instant(at: end))
        guard let report = state.onRequest else { return }
        func span(_ a: NIODeadline?, _ b: NIODeadline?) -> TimeSpan? {
            guard let a, let b else { return nil }
            return TimeSpan(micros: (b - a).nanoseconds / 1000)
        }
        var serverConnections = 0
        if let d = decision, let s = d.server { serverConnections = backend?.connections(of: s) ?? 0 }
        let reason = reasonOverride ?? decision?.reason ?? "no request"
        report(
            RequestRecord(
                balancer: state.name, pid: state.pid, frontend: frontend.config.name,
                backend: frontend.backendName ?? "", client: clientText, server: decision?.server,
                requestLine: requestLine, status: status, reason: reason,
                session: responseSession ?? requestSession, insertedCookie: insertedCookie,
                start: state.clock.instant(at: tStart), requestTime: span(tStart, tHead),
                connectTime: span(tConnectStart, tConnected), responseTime: span(tConnected, tResponse),
                latency: span(tStart, end) ?? .zero, bytesOut: bytesOut, retries: retries, redispatched: redispatched,
                termination: termination, activeConnections: state.clients.count,
                serverConnections: serverConnections))
    }

    // MARK: timers

    private func armIdleDeadline(first: Bool) {
        serverDeadline = nil
        if let t = frontend.httpRequestTimeout ?? frontend.clientTimeout {
            clientDeadline = .now() + t.timeAmount
            armTimer()
        } else {
            clientDeadline = nil
        }
    }

    private func armServerDeadline() {
        if let t = frontend.serverTimeout {
            serverDeadline = .now() + t.timeAmount
            armTimer()
        }
    }

    private func armTimer() {
        guard let context, phase != .closing else { return }
        let candidates = [clientDeadline, serverDeadline].compactMap { $0 }
        guard let due = candidates.min() else { return }
        if timer != nil, let at = timerAt, at <= due { return }
        timer?.cancel()
        timerAt = due
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: due) { [weak self] in
            self?.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        timerAt = nil
        guard phase != .closing else { return }
        let now = NIODeadline.now()
        if let s = serverDeadline, s <= now {
            serverDeadline = nil
            reasonOverride = "server \(decision?.server ?? "?") did not answer within timeout server: 504"
            if responseHeadSent { return abort(termination: "sD") }
            return sendError(.gatewayTimeout, termination: "sH")
        }
        if let c = clientDeadline, c <= now {
            clientDeadline = nil
            if phase == .idle && !inTransaction {
                if bytesSeen || requestsServed == 0 {
                    startRecord(line: "<BADREQ>")
                    reasonOverride = "no complete request within timeout http-request: 408"
                    return sendError(.requestTimeout, termination: "cR")
                }
                phase = .closing
                context?.close(promise: nil)
                return
            }
            if !responseHeadSent && !requestEnded {
                reasonOverride = "client sent nothing within timeout client: 408"
                return sendError(.requestTimeout, termination: "cD")
            }
            return abort(termination: "cD")
        }
        armTimer()
    }
}

extension String {
    /// ASCII case-insensitive equality with a lowercase literal, without allocating.
    func equalsASCIIIgnoringCase(_ lower: StaticString) -> Bool {
        let other = UnsafeBufferPointer(start: lower.utf8Start, count: lower.utf8CodeUnitCount)
        var i = 0
        for byte in utf8 {
            guard i < other.count else { return false }
            let folded = byte >= 65 && byte <= 90 ? byte | 0x20 : byte
            if folded != other[i] { return false }
            i += 1
        }
        return i == other.count
    }
}

/// The size of a request head on the wire (request line, headers, blank line).
func headSize(_ head: HTTPRequestHead) -> Int {
    var n = head.method.rawValue.utf8.count + head.uri.utf8.count + 13
    for h in head.headers { n += h.name.utf8.count + h.value.utf8.count + 4 }
    return n
}

/// The `JSESSIONID` value among Cookie headers.
func jsessionID(inCookieHeaders headers: [String]) -> String? {
    for header in headers {
        for part in header.split(separator: ";") {
            let item = part.drop { $0 == " " }
            if item.hasPrefix("JSESSIONID=") { return String(item.dropFirst("JSESSIONID=".count)) }
        }
    }
    return nil
}

/// The `JSESSIONID` value set by Set-Cookie headers.
func jsessionID(inSetCookies values: [String]) -> String? {
    for value in values where value.hasPrefix("JSESSIONID=") {
        let rest = value.dropFirst("JSESSIONID=".count)
        return String(rest.prefix { $0 != ";" })
    }
    return nil
}
