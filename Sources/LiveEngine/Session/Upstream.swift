import HadeckBase
import Logging
import NIOCore
import NIOPosix

/// The balancer's end of one connection to a server. Owned by one client session while a request
/// uses it; idle in its balancer's pool between requests. Parses responses at the byte level and
/// hands the session the head and the body bytes as they came.
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let key: ServerKey
    /// Where this connection waits while idle.
    let pool: IdlePool
    /// Strong: an `unowned` reference costs a checked retain/release on every access of the hot
    /// path. No leak: the state drops its channels and pools on shutdown, which ends the cycle.
    let state: BalancerState
    private(set) var context: ChannelHandlerContext?
    /// The client session using this connection; nil while idle.
    var owner: ClientSession?
    /// Requests this connection has carried (more than one: it was reused).
    var uses = 0
    /// Its server's index in the request's backend (the decision's `serverPosition`), set when a
    /// request is attached: counting its connections then needs no lookup by name.
    var serverPosition: Int?
    var closing = false
    private var readPending = false

    // The response being read.
    private var parsed = ParsedHead()
    private var pending: ByteBuffer?
    private var inBody = false
    private var toHEAD = false
    private var upgrade = UpgradeRequest.none
    private var framing = BodyFraming.none
    private var bodyLeft = 0
    private var chunks = ChunkedScanner()
    private var dechunk = false

    init(key: ServerKey, state: BalancerState) {
        self.key = key
        self.state = state
        self.pool = state.servers.pool(key)
    }

    var isUsable: Bool { !closing && (context?.channel.isActive ?? false) }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        state.channels.add(context.channel, as: .server)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        state.channels.remove(context.channel, as: .server)
        self.context = nil
    }

    // MARK: used by the session

    /// A new request is about to be sent: a response to HEAD has no body whatever its headers say,
    /// and a `101 Switching Protocols` is only valid for a request that asked to switch.
    func expectResponse(toHEAD: Bool, upgrade: UpgradeRequest) {
        self.toHEAD = toHEAD
        self.upgrade = upgrade
        inBody = false
        pending = nil
    }

    func send(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    func flush() { context?.flush() }

    func close() {
        guard !closing else { return }
        closing = true
        owner = nil
        context?.close(promise: nil)
    }

    /// Lets a withheld read through (the client became writable again, or the connection went idle).
    func resumeReading() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    // MARK: channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if var head = pending {
            pending = nil
            head.writeBuffer(&buffer)
            buffer = head
        }
        while buffer.readableBytes > 0 {
            // An idle connection must stay silent: anything else is a broken server.
            guard let owner, !closing else { return close() }
            if !inBody {
                let result = buffer.withUnsafeReadableBytes { parseHead($0, request: false, into: &parsed) }
                switch result {
                case .incomplete:
                    if buffer.readableBytes > state.options.maxHeaderBytes { return fail(owner) }
                    pending = buffer
                    return
                case .invalid, .refused:
                    return fail(owner)
                case .complete:
                    let head = buffer.readSlice(length: parsed.length)!
                    let status = parsed.status
                    if status >= 100 && status < 200 && status != 101 {
                        owner.upstreamInformational(head, from: self)
                        continue
                    }
                    if status == 101 {
                        // HAProxy answers 502 to a switch nobody asked for, and to a WebSocket
                        // handshake answered without Sec-WebSocket-Accept.
                        guard upgrade != .none, upgrade == .other || parsed.webSocketAccept else { return fail(owner) }
                        framing = .tunnel
                    } else if toHEAD || status == 204 || status == 304 || (status >= 100 && status < 200) {
                        framing = .none
                    } else if parsed.chunked {
                        framing = .chunked
                        chunks = ChunkedScanner()
                        // Framing already here that is broken: 502 before anything reaches the
                        // client, as HAProxy does with what it read at once.
                        var probe = chunks
                        let step = buffer.withUnsafeReadableBytes { probe.scan($0) { _, _ in } }
                        if step == .invalid { return fail(owner) }
                    } else if let length = parsed.contentLength {
                        framing = length > 0 ? .length : .none
                        bodyLeft = length
                    } else {
                        framing = .untilClose
                    }
                    inBody = true
                    // A small body read with its head goes out in the same buffer (one write, not two).
                    let wholeBody =
                        framing == .length && bodyLeft <= buffer.readableBytes && bodyLeft <= Self.bodyWithHeadLimit
                        ? buffer.getSlice(at: buffer.readerIndex, length: bodyLeft) : nil
                    let sent = owner.upstreamHead(parsed, head, framing: framing, from: self, body: wholeBody)
                    dechunk = sent.dechunk
                    if sent.tookBody {
                        buffer.moveReaderIndex(forwardBy: bodyLeft)
                        bodyLeft = 0
                        finishResponse()
                    } else if framing == .none {
                        finishResponse()
                    }
                }
            } else {
                switch framing {
                case .none:
                    return close()
                case .length:
                    let n = min(bodyLeft, buffer.readableBytes)
                    bodyLeft -= n
                    owner.upstreamBody(buffer.readSlice(length: n)!, from: self)
                    if bodyLeft == 0 { finishResponse() }
                case .untilClose, .tunnel:
                    owner.upstreamBody(buffer.readSlice(length: buffer.readableBytes)!, from: self)
                case .chunked:
                    var scanner = chunks
                    let step: ChunkedScanner.Step
                    if dechunk {
                        let whole = buffer
                        step = buffer.withUnsafeReadableBytes { p in
                            scanner.scan(p) { from, to in
                                owner.upstreamBody(
                                    whole.getSlice(at: whole.readerIndex + from, length: to - from)!, from: self)
                            }
                        }
                    } else {
                        step = buffer.withUnsafeReadableBytes { scanner.scan($0) { _, _ in } }
                    }
                    chunks = scanner
                    switch step {
                    case .more:
                        let all = buffer.readSlice(length: buffer.readableBytes)!
                        if !dechunk { owner.upstreamBody(all, from: self) }
                    case .done(let end):
                        let last = buffer.readSlice(length: end)!
                        if !dechunk { owner.upstreamBody(last, from: self) }
                        finishResponse()
                    case .invalid:
                        return fail(owner)
                    }
                }
            }
        }
    }

    /// The largest body `channelRead` offers to send with its head.
    static let bodyWithHeadLimit = 16 * 1024

    private func finishResponse() {
        inBody = false
        owner?.upstreamEnd(from: self)
    }

    /// A response the proxy cannot parse: the session answers 502 (or cuts the client off).
    private func fail(_ owner: ClientSession) {
        self.owner = nil
        pending = nil
        closing = true
        owner.upstreamFailed(self, error: LiveEngineError.notRunning("server \(key.server): invalid response"))
        context?.close(promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        owner?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        state.servers.removeIdle(self)
        if let owner {
            if inBody && (framing == .untilClose || framing == .tunnel) {
                // The server's close ends a body it did not delimit.
                finishResponse()
            } else {
                self.owner = nil
                owner.upstreamClosed(self)
            }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        state.logger.debug(
            "server connection failed", metadata: ["server": "\(key.backend)/\(key.server)", "error": "\(error)"])
        if let owner {
            self.owner = nil
            closing = true
            owner.upstreamFailed(self, error: error)
        }
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { owner?.upstreamBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let owner, !owner.clientWritable {
            readPending = true
            return
        }
        context.read()
    }
}
