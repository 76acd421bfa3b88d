import BalancerCore
import HadeckBase
import Logging
import NIOCore
import NIOHTTP1

/// One client connection of a balancer: parses requests, routes them with the core, forwards them
/// to a server connection on the same loop and streams the response back, with back-pressure.
///
/// HTTP/1.1 is handled at the byte level (`HTTP1.swift`): the request head is parsed in the
/// received buffer, forwarded as-is when nothing must change (a slice, no copy) or rewritten only
/// where needed; bodies pass through unchanged with their framing tracked.
final class ClientSession: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase { case idle, connecting, forwarding, closing }

    /// Strong: an `unowned` reference costs a checked retain/release on every access of the hot
    /// path. No leak: the state drops its channels and pools on shutdown, which ends the cycle.
    let state: BalancerState
    let frontend: FrontendRuntime
    private var context: ChannelHandlerContext?
    private var clientIP = "0.0.0.0"
    private var clientText = "0.0.0.0:0"

    private var phase = Phase.idle
    /// Received bytes not consumed yet: a partial head, or what follows the current request.
    private var inbound: ByteBuffer?
    private var parsed = ParsedHead()
    private var readPending = false
    /// Writes not flushed yet, to the server and to the client: a flush with nothing pending
    /// still walks the pipeline, so read-complete events flush only when needed.
    private var upstreamUnflushed = false
    private var clientUnflushed = false

    // The transaction in progress.
    private var inTransaction = false
    private var requestLine = ""
    private var requestMethod = "GET"
    private var forwardHead: ByteBuffer?
    private var requestFraming = BodyFraming.none
    private var requestBodyLeft = 0
    private var requestChunks = ChunkedScanner()
    private var requestEnded = false
    private var requestBodyBytes = 0
    private var pendingBody: [ByteBuffer] = []
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
    /// The server's body is delimited by its close: re-framed as chunked for an HTTP/1.1 client.
    private var chunkEncode = false
    private var requestSession: String?
    private var responseSession: String?
    private var responseCookie: ResponseCookieStatus?
    private var bytesOut = 0
    private var retries = 0
    private var redispatched = false
    private var freshRetryDone = false
    private var bytesSeen = false
    private var requestsServed = 0
    /// Bytes received on the connection, and those already counted in a finished request (`bin`).
    private var bytesReceived = 0
    private var countedIn = 0
    // A request the balancer answers itself (stats page, metrics): its target, and its body so far.
    private var localURI: String?
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

    init(state: BalancerState, frontend: FrontendRuntime) {
        self.state = state
        self.frontend = frontend
        self.route = frontend.defaultRoute
    }

    var clientWritable: Bool { context?.channel.isWritable ?? false }

    /// The backend of the request in progress.
    private var route: BackendRoute?
    private var backend: Backend? { route?.backend }
    private var counters: RequestCounters { route?.counters ?? frontend.counters }

    // MARK: lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let remote = context.channel.remoteAddress {
            clientIP = remote.ipAddress ?? "0.0.0.0"
            clientText = "\(clientIP):\(remote.port ?? 0)"
        }
        tStart = .now()
        armIdleDeadline(tStart)
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
        guard phase != .closing else { return }
        var buffer = unwrapInboundIn(data)
        bytesReceived &+= buffer.readableBytes
        if inbound != nil {
            inbound!.writeBuffer(&buffer)
        } else {
            inbound = buffer
        }
        process()
    }

    /// Consumes what `inbound` holds as far as the transaction allows: a head when idle, body
    /// bytes while the request lasts. Bytes of a next (pipelined) request wait until idle.
    private func process() {
        while var buffer = inbound, buffer.readableBytes > 0 {
            inbound = nil
            if phase == .idle && !inTransaction {
                let now = NIODeadline.now()
                requestBytesArrived(now)
                let result = buffer.withUnsafeReadableBytes { parseHead($0, request: true, into: &parsed) }
                switch result {
                case .incomplete:
                    inbound = buffer
                    if buffer.readableBytes > state.options.maxHeaderBytes { headersTooLarge() }
                    return
                case .invalid(let why):
                    startRecord(line: "<BADREQ>")
                    reasonOverride = "invalid request (\(why)): 400"
                    return sendError(.badRequest, termination: "PR")
                case .complete:
                    if parsed.length > state.options.maxHeaderBytes { return headersTooLarge() }
                    let head = buffer.readSlice(length: parsed.length)!
                    if buffer.readableBytes > 0 { inbound = buffer }
                    begin(head, now: now)
                }
            } else if inTransaction && !requestEnded && phase != .closing {
                forwardBody(&buffer)
                if buffer.readableBytes > 0 && phase != .closing { inbound = buffer }
            } else {
                if phase != .closing { inbound = buffer }
                return
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if upstreamUnflushed, phase == .forwarding, let upstream {
            upstreamUnflushed = false
            upstream.flush()
        }
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        state.logger.debug("client connection failed", metadata: ["client": "\(clientText)", "error": "\(error)"])
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
        let nothingQueued = (inbound?.readableBytes ?? 0) == 0
        switch phase {
        case .idle, .closing: return true
        // Keep read interest on while nothing piles up: toggling it costs an epoll_ctl each time.
        case .connecting: return requestEnded ? nothingQueued : pendingBody.count < 16
        case .forwarding: return requestEnded ? nothingQueued : (upstream?.isWritable ?? false)
        }
    }

    private func resumeClientRead() {
        guard readPending, readAllowed, let context else { return }
        readPending = false
        context.read()
    }

    // MARK: request bytes

    private func requestBytesArrived(_ now: NIODeadline) {
        if !bytesSeen {
            bytesSeen = true
            if !inTransaction && phase == .idle {
                tStart = now
                if let t = frontend.httpRequestTimeout ?? frontend.clientTimeout {
                    clientDeadline = tStart + t.timeAmount
                    armTimer()
                }
            }
        }
    }

    private func headersTooLarge() {
        startRecord(line: "<BADREQ>")
        reasonOverride = "request headers larger than \(state.options.maxHeaderBytes) bytes: 400"
        sendError(.badRequest, termination: "PR")
    }

    // MARK: request

    private func startRecord(line: String) {
        inTransaction = true
        requestLine = line
        // A new transaction: an error answer for it must not look like a response already begun.
        responseHeadSent = false
        responseStatus = 0
        decision = nil
        tHead = nil
        tConnectStart = nil
        tConnected = nil
        tResponse = nil
    }

    private func begin(_ head: ByteBuffer, now: NIODeadline) {
        let h = parsed
        var cookies: [String] = []
        var target = ""
        head.withUnsafeReadableBytes { p in
            startRecord(line: string(p, h.lineStart, h.lineEnd))
            requestMethod = string(p, h.lineStart, h.methodEnd)
            if frontend.statsPage != nil { target = string(p, h.methodEnd + 1, h.targetEnd) }
            if h.cookieCount > 0 {
                for line in h.headers where line.kind == .cookie {
                    cookies.append(string(p, line.valueStart, line.valueEnd))
                }
            }
        }
        tHead = now
        requestEnded = false
        requestBodyBytes = 0
        pendingBody.removeAll(keepingCapacity: true)
        reasonOverride = nil
        serverKeepAlive = true
        chunkEncode = false
        clientIsHTTP11 = h.minor >= 1
        route = frontend.route(for: RequestFacts(method: requestMethod, clientIP: clientIP))
        clientKeepAlive = h.wantsKeepAlive && (route?.keepAlive ?? frontend.keepAlive)
        closeAfterResponse = !clientKeepAlive
        requestSession = nil
        responseSession = nil
        responseCookie = nil
        bytesOut = 0
        retries = 0
        redispatched = false
        freshRetryDone = false
        clientDeadline = frontend.clientTimeout.map { now + $0.timeAmount }

        if h.hasTE && h.contentLength != nil {
            reasonOverride = "request has both Content-Length and Transfer-Encoding: 400"
            return sendError(.badRequest, termination: "PR")
        }
        if h.chunked {
            requestFraming = .chunked
            requestChunks = ChunkedScanner()
        } else if let length = h.contentLength, length > 0 {
            requestFraming = .length
            requestBodyLeft = length
        } else {
            requestFraming = .none
            requestEnded = true
            clientDeadline = nil
        }
        if let page = frontend.statsPage, target.hasPrefix(page.uri) || target.hasPrefix("/metrics") {
            localURI = target
            localBody = context?.channel.allocator.buffer(capacity: 0)
            phase = .connecting
            if requestEnded { answerLocally() }
            return
        }
        guard let backend, let backendName = route?.name else {
            reasonOverride = "frontend \(frontend.config.name) has no backend: 503"
            return sendError(.serviceUnavailable, termination: "SC")
        }
        if state.callbacks.onRequest != nil { requestSession = jsessionID(inCookieHeaders: cookies) }
        let d = backend.route(
            request: RoutedRequest(method: requestMethod, cookieHeaders: cookies, clientAddress: clientIP),
            now: state.clock.instant(at: now))
        decision = d
        guard let server = d.server else { return sendError(.serviceUnavailable, termination: "SC") }

        let cookiesChanged = cookies != d.forwardedCookieHeaders
        if !cookiesChanged && !h.hasHopHeaders && !(route?.forwardfor ?? false) && h.minor == 1 && !h.bareLF
            && !h.repeatedContentLength
        {
            // Nothing to change: the head goes out as it came.
            forwardHead = head
        } else {
            forwardHead = rewriteRequestHead(head, h, cookies: cookiesChanged ? d.forwardedCookieHeaders : nil)
        }
        phase = .connecting
        obtainUpstream(ServerKey(backend: backendName, server: server), allowPool: true, now: now)
    }

    /// The request head for the server: HTTP/1.1, CRLF line endings, without hop-by-hop headers,
    /// with the core's Cookie headers when given and X-Forwarded-For with `option forwardfor`.
    private func rewriteRequestHead(_ head: ByteBuffer, _ h: ParsedHead, cookies: [String]?) -> ByteBuffer {
        var out = context!.channel.allocator.buffer(capacity: head.readableBytes + 64)
        head.withUnsafeReadableBytes { p in
            out.writeBytes(p, h.lineStart, h.targetEnd)
            out.writeStaticString(" HTTP/1.1\r\n")
            var lengthWritten = false
            for line in h.headers {
                switch line.kind {
                case .connection, .keepAlive, .proxyConnection: continue
                case .cookie where cookies != nil: continue
                case .contentLength where lengthWritten: continue
                case .contentLength: lengthWritten = true
                default: break
                }
                out.writeBytes(p, line.start, line.valueEnd)
                out.writeStaticString("\r\n")
            }
        }
        for c in cookies ?? [] where !c.isEmpty {
            out.writeStaticString("Cookie: ")
            out.writeString(c)
            out.writeStaticString("\r\n")
        }
        if route?.forwardfor == true {
            out.writeStaticString("X-Forwarded-For: ")
            out.writeString(clientIP)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        return out
    }

    /// Forwards the body bytes at the front of `buffer` (as they came, framing included).
    private func forwardBody(_ buffer: inout ByteBuffer) {
        let part: ByteBuffer
        var ended = false
        switch requestFraming {
        case .length, .untilClose:
            let n = min(requestBodyLeft, buffer.readableBytes)
            part = buffer.readSlice(length: n)!
            requestBodyLeft -= n
            ended = requestBodyLeft == 0
        case .chunked:
            var scanner = requestChunks
            let step = buffer.withUnsafeReadableBytes { scanner.scan($0) { _, _ in } }
            requestChunks = scanner
            switch step {
            case .more:
                part = buffer.readSlice(length: buffer.readableBytes)!
            case .done(let end):
                part = buffer.readSlice(length: end)!
                ended = true
            case .invalid:
                buffer.clear()
                if !responseHeadSent {
                    reasonOverride = "invalid request (bad chunked body): 400"
                    sendError(.badRequest, termination: "PR")
                } else {
                    abort(termination: "CD")
                }
                return
            }
        case .none:
            return
        }
        requestBodyBytes += part.readableBytes
        if ended {
            requestEnded = true
            clientDeadline = nil
        } else if let t = frontend.clientTimeout {
            clientDeadline = .now() + t.timeAmount
        }
        if localURI != nil {
            // A stats page form: kept (bounded) until its end, then answered.
            if (localBody?.readableBytes ?? 0) < 65_536 { localBody?.writeImmutableBuffer(part) }
            if ended { answerLocally() }
            return
        }
        switch phase {
        case .connecting:
            pendingBody.append(part)
        case .forwarding:
            guard let upstream else { return }
            upstream.send(part)
            if ended {
                upstream.flush()
                armServerDeadline(.now())
            } else {
                upstreamUnflushed = true
            }
        case .idle, .closing:
            break
        }
    }

    // MARK: answered by the balancer itself

    /// Answers a stats page or metrics request once its body (if any) has arrived.
    private func answerLocally() {
        guard let context, let uri = localURI, let page = frontend.statsPage else { return }
        counters.frontend.counts.intercepted += 1
        let extra = state.callbacks.extraMetrics
        let r = StatsPageHTTP.respond(
            uri: uri, method: requestMethod, body: localBody, page: page, host: state, extraMetrics: { extra?() ?? [] })
        localURI = nil
        localBody = nil
        requestEnded = true
        clientDeadline = nil
        responseHeadSent = true
        responseStatus = Int(r.status.code)
        reasonOverride = r.reason
        let wire = r.wire(
            http11: clientIsHTTP11, close: closeAfterResponse, head: requestMethod == "HEAD",
            allocator: context.channel.allocator)
        bytesOut = wire.readableBytes
        finishRecord(status: responseStatus, termination: "LR")
        if closeAfterResponse {
            phase = .closing
            writeThenClose(wire)
        } else {
            context.writeAndFlush(wrapOutboundOut(wire), promise: nil)
            becomeIdle(at: .now())
        }
    }

    // MARK: server connection

    private func obtainUpstream(_ key: ServerKey, allowPool: Bool, now: NIODeadline = .now()) {
        tConnectStart = now
        if allowPool, let idle = state.servers.takeIdle(from: idlePool(key)) {
            return attach(idle, key: key, at: now)
        }
        state.connect(key, timeout: route?.connectTimeout ?? state.options.defaultConnectTimeout).assumeIsolated()
            .whenComplete {
                [self] (result: Result<UpstreamHandler, Error>) in
                switch result {
                case .success(let up):
                    if phase == .connecting && context != nil {
                        attach(up, key: key, at: .now())
                    } else {
                        state.putIdle(up)
                    }
                case .failure:
                    if phase == .connecting && context != nil { connectFailed() }
                }
            }
    }

    /// The pools this connection's requests went to, found by server name (a frontend has one
    /// backend) without hashing a `ServerKey` per request.
    private var knownPools: [(server: String, pool: IdlePool)] = []

    private func idlePool(_ key: ServerKey) -> IdlePool {
        for known in knownPools where known.server == key.server { return known.pool }
        let pool = state.servers.pool(key)
        knownPools.append((key.server, pool))
        return pool
    }

    private func attach(_ up: UpstreamHandler, key: ServerKey, at now: NIODeadline) {
        upstream = up
        up.owner = self
        up.uses += 1
        up.expectResponse(toHEAD: requestMethod == "HEAD")
        backend?.connectionOpened(server: key.server)
        counted = key
        tConnected = now
        phase = .forwarding
        if let head = forwardHead { up.send(head) }
        for part in pendingBody { up.send(part) }
        pendingBody.removeAll(keepingCapacity: true)
        up.flush()
        upstreamUnflushed = false
        armServerDeadline(now)
        up.resumeReading()
        resumeClientRead()
    }

    private func connectFailed() {
        guard let backend, let d = decision, let backendName = route?.name else {
            return sendError(.serviceUnavailable, termination: "SC")
        }
        let r = backend.connectFailed(d, now: state.now)
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

    /// An interim (1xx) response: forwarded as it came.
    func upstreamInformational(_ head: ByteBuffer, from up: UpstreamHandler) {
        guard up === upstream, let context else { return }
        clientUnflushed = true
        context.write(wrapOutboundOut(head), promise: nil)
    }

    /// The server's response head; returns true when the body must reach the client de-chunked
    /// (an HTTP/1.0 client cannot take chunked framing).
    func upstreamHead(_ r: ParsedHead, _ head: ByteBuffer, framing: BodyFraming, from up: UpstreamHandler) -> Bool {
        guard up === upstream, let context else { return false }
        let now = NIODeadline.now()
        if let t = route?.serverTimeout { serverDeadline = now + t.timeAmount }
        tResponse = now
        responseStatus = r.status
        serverKeepAlive = r.wantsKeepAlive && framing != .untilClose
        var setCookies: [String] = []
        if r.setCookieCount > 0 {
            head.withUnsafeReadableBytes { p in
                for line in r.headers where line.kind == .setCookie {
                    setCookies.append(string(p, line.valueStart, line.valueEnd))
                }
            }
        }
        if state.callbacks.onRequest != nil && !setCookies.isEmpty {
            responseSession = jsessionID(inSetCookies: setCookies)
        }
        var replaceSetCookies: [String]?
        var cachePrivate = false
        if let backend, let d = decision, backend.config.cookie != nil {
            let edits = backend.responseHeaders(for: d, serverSetCookies: setCookies)
            if edits.setCookies != setCookies { replaceSetCookies = edits.setCookies }
            cachePrivate = edits.cacheControlPrivate
            responseCookie = edits.cookieStatus
        }
        // Framing for the client: a body delimited by the server closing becomes chunked for
        // HTTP/1.1 clients, or ends with the connection for HTTP/1.0 ones.
        var dechunk = false
        var connectionValue: ConnectionToken?
        if !clientIsHTTP11 {
            if r.chunked {
                dechunk = true
                closeAfterResponse = true
            }
            if clientKeepAlive && r.contentLength != nil && !r.chunked {
                connectionValue = .keepAlive
            } else {
                closeAfterResponse = true
            }
        } else {
            chunkEncode = framing == .untilClose
            if closeAfterResponse { connectionValue = .close }
        }
        let unchanged =
            replaceSetCookies == nil && !cachePrivate && !r.hasHopHeaders && !dechunk && !chunkEncode
            && connectionValue == nil && r.minor == (clientIsHTTP11 ? 1 : 0) && !r.bareLF
        responseHeadSent = true
        clientUnflushed = true
        if unchanged {
            bytesOut += head.readableBytes
            context.write(wrapOutboundOut(head), promise: nil)
            return false
        }
        let extras = state.responseExtras.bytes(
            for: ResponseExtras(
                setCookies: replaceSetCookies ?? [], cachePrivate: cachePrivate, chunked: chunkEncode,
                connection: connectionValue),
            allocator: context.channel.allocator)
        var out = context.channel.allocator.buffer(capacity: head.readableBytes + extras.readableBytes)
        let removes = (replaceSetCookies != nil && r.setCookieCount > 0) || r.hasHopHeaders || dechunk
        head.withUnsafeReadableBytes { p in
            if !removes && !r.bareLF && r.minor == (clientIsHTTP11 ? 1 : 0) {
                // Only additions: the server's head up to its blank line in one copy.
                out.writeBytes(p, 0, r.length - 2)
                return
            }
            out.writeStaticString(clientIsHTTP11 ? "HTTP/1.1" : "HTTP/1.0")
            out.writeBytes(p, r.lineStart + 8, r.lineEnd)
            out.writeStaticString("\r\n")
            for line in r.headers {
                switch line.kind {
                case .connection, .keepAlive, .proxyConnection: continue
                case .setCookie where replaceSetCookies != nil: continue
                case .transferEncoding where dechunk: continue
                default: break
                }
                out.writeBytes(p, line.start, line.valueEnd)
                out.writeStaticString("\r\n")
            }
        }
        out.writeImmutableBuffer(extras)
        bytesOut += out.readableBytes
        context.write(wrapOutboundOut(out), promise: nil)
        return dechunk
    }

    /// Response body bytes (as the server framed them, or chunk data when de-chunking).
    func upstreamBody(_ buffer: ByteBuffer, from up: UpstreamHandler) {
        guard up === upstream, let context else { return }
        guard buffer.readableBytes > 0 else { return }
        clientUnflushed = true
        bytesOut += buffer.readableBytes
        if chunkEncode {
            var size = context.channel.allocator.buffer(capacity: 18)
            size.writeString(String(buffer.readableBytes, radix: 16))
            size.writeStaticString("\r\n")
            context.write(wrapOutboundOut(size), promise: nil)
            context.write(wrapOutboundOut(buffer), promise: nil)
            context.write(wrapOutboundOut(ByteBuffer(staticString: "\r\n")), promise: nil)
        } else {
            context.write(wrapOutboundOut(buffer), promise: nil)
        }
    }

    /// The response is complete.
    func upstreamEnd(from up: UpstreamHandler) {
        guard up === upstream, let context else { return }
        serverDeadline = nil
        var last: ByteBuffer?
        if chunkEncode {
            last = ByteBuffer(staticString: "0\r\n\r\n")
            bytesOut += 5
        }
        let reuse = requestEnded && serverKeepAlive && !up.closing
        releaseUpstream(reuse: reuse)
        let now = NIODeadline.now()
        finishRecord(status: responseStatus, termination: "--", at: now)
        clientUnflushed = false
        if closeAfterResponse || !requestEnded {
            phase = .closing
            writeThenClose(last)
        } else {
            if let last { context.write(wrapOutboundOut(last), promise: nil) }
            context.flush()
            becomeIdle(at: now)
        }
    }

    /// Once per read of the server's socket: flush what it produced and push the server deadline.
    func upstreamReadComplete() {
        guard clientUnflushed, let context else { return }
        clientUnflushed = false
        if serverDeadline != nil, let t = route?.serverTimeout { serverDeadline = .now() + t.timeAmount }
        context.flush()
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

    private func becomeIdle(at now: NIODeadline) {
        inTransaction = false
        phase = .idle
        forwardHead = nil
        bytesSeen = false
        requestsServed += 1
        tStart = now
        armIdleDeadline(now, keepAlive: true)
        if let buffered = inbound, buffered.readableBytes > 0 { process() }
        resumeClientRead()
    }

    private func writeThenClose(_ last: ByteBuffer?) {
        guard let context else { return }
        timer?.cancel()
        timer = nil
        clientDeadline = nil
        serverDeadline = nil
        inbound = nil
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(last ?? context.channel.allocator.buffer(capacity: 0)), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Answers with one of HAProxy's own error responses and closes the connection.
    private func sendError(_ error: HAProxyErrorResponse, termination: String) {
        guard let context, phase != .closing || inTransaction else { return }
        releaseUpstream(reuse: false)
        retryTask?.cancel()
        retryTask = nil
        phase = .closing
        inbound = nil
        if responseHeadSent {
            finishRecord(status: responseStatus, termination: termination)
            context.close(promise: nil)
            return
        }
        responseHeadSent = true
        responseStatus = error.rawValue
        var wire = context.channel.allocator.buffer(capacity: 256)
        wire.writeString(error.wireText)
        bytesOut = wire.readableBytes
        finishRecord(status: error.rawValue, termination: termination)
        writeThenClose(wire)
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

    private func finishRecord(status: Int, termination: String, at now: NIODeadline? = nil) {
        guard inTransaction else { return }
        inTransaction = false
        let end = now ?? .now()
        let received = bytesReceived - countedIn
        countedIn = bytesReceived
        counters.requestFinished(
            server: decision?.server, status: status, bytesIn: received, bytesOut: bytesOut, retries: retries,
            redispatched: redispatched, termination: termination, now: state.clock.instant(at: end))
        guard let report = state.callbacks.onRequest else { return }
        func span(_ a: NIODeadline?, _ b: NIODeadline?) -> TimeSpan? {
            guard let a, let b else { return nil }
            return TimeSpan(micros: (b - a).nanoseconds / 1000)
        }
        var serverConnections = 0
        if let d = decision, let s = d.server { serverConnections = backend?.connections(of: s) ?? 0 }
        let reason = reasonOverride ?? decision?.reason ?? "no request"
        report(
            AccessLogRecord(
                balancer: state.name, pid: state.pid, frontend: frontend.config.name,
                backend: route?.name ?? "", client: clientText, server: decision?.server,
                requestLine: requestLine, status: status, reason: reason,
                session: responseSession ?? requestSession, requestCookie: decision?.requestCookie,
                responseCookie: decision.map {
                    responseCookie ?? ($0.requestCookie == .notConfigured ? .notConfigured : .none)
                },
                start: state.clock.instant(at: tStart), requestTime: span(tStart, tHead),
                connectTime: span(tConnectStart, tConnected), responseTime: span(tConnected, tResponse),
                latency: span(tStart, end) ?? .zero, bytesOut: bytesOut, retries: retries, redispatched: redispatched,
                termination: termination, activeConnections: state.channels.clients.count,
                serverConnections: serverConnections))
    }

    // MARK: timers

    /// Waiting for a request: the first one of a connection has `timeout http-request`, the next
    /// ones of a keep-alive connection `timeout http-keep-alive` (both fall back as in HAProxy).
    private func armIdleDeadline(_ now: NIODeadline, keepAlive: Bool = false) {
        serverDeadline = nil
        let wait = keepAlive ? frontend.keepAliveTimeout : frontend.httpRequestTimeout
        if let t = wait ?? frontend.clientTimeout {
            clientDeadline = now + t.timeAmount
            armTimer()
        } else {
            clientDeadline = nil
        }
    }

    private func armServerDeadline(_ now: NIODeadline) {
        if let t = route?.serverTimeout {
            serverDeadline = now + t.timeAmount
            armTimer()
        }
    }

    private func armTimer() {
        guard let context, phase != .closing else { return }
        guard let due = earlier(clientDeadline, serverDeadline) else { return }
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

/// The earlier of two optional deadlines (no array per call).
private func earlier(_ a: NIODeadline?, _ b: NIODeadline?) -> NIODeadline? {
    guard let a else { return b }
    guard let b else { return a }
    return a < b ? a : b
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
