import HadeckBase
import NIOCore
import NIOHTTP1
import NIOPosix

/// The balancer's end of one connection to a server. Owned by one client session while a request
/// uses it; idle in its balancer's pool between requests.
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    let key: ServerKey
    let state: BalancerState
    private(set) var context: ChannelHandlerContext?
    /// The client session using this connection; nil while idle.
    var owner: ClientSession?
    /// Requests this connection has carried (more than one: it was reused).
    var uses = 0
    var closing = false
    private var readPending = false

    init(key: ServerKey, state: BalancerState) {
        self.key = key
        self.state = state
    }

    var isUsable: Bool { !closing && (context?.channel.isActive ?? false) }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let id = ObjectIdentifier(context.channel)
        state.upstreams[id] = context.channel
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        state.upstreams[ObjectIdentifier(context.channel)] = nil
        self.context = nil
    }

    // MARK: used by the session

    func send(_ part: HTTPClientRequestPart) {
        context?.write(wrapOutboundOut(part), promise: nil)
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
        let part = unwrapInboundIn(data)
        if let owner {
            owner.upstreamRead(part, from: self)
        } else {
            // An idle connection must stay silent: anything else is a broken server.
            close()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        owner?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        state.removeIdle(self)
        if let owner {
            self.owner = nil
            owner.upstreamClosed(self)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
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

extension BalancerState {
    /// Opens a new connection to a server on this loop.
    func connect(_ key: ServerKey, timeout: TimeSpan) -> EventLoopFuture<UpstreamHandler> {
        guard let address = addresses[key] else {
            return loop.makeFailedFuture(LiveEngineError.badAddress("\(key.backend)/\(key.server)"))
        }
        let bound = NIOLoopBound(self, eventLoop: loop)
        let maxReads = options.maxMessagesPerRead
        return ClientBootstrap(group: loop)
            .connectTimeout(timeout.timeAmount)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.maxMessagesPerRead, value: maxReads)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    // Requests keep the client's own framing (Content-Length, chunked, or no body).
                    var encoder = HTTPRequestEncoder.Configuration()
                    encoder.automaticallySetFramingHeaders = false
                    try ops.addHandler(HTTPRequestEncoder(configuration: encoder))
                    try ops.addHandler(
                        ByteToMessageHandler(
                            HTTPResponseDecoder(
                                leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .forward)
                        ))
                    try ops.addHandler(UpstreamHandler(key: key, state: bound.value))
                }
            }
            .connect(to: address)
            .flatMapThrowing { channel in
                try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            }
    }
}
