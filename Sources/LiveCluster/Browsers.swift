import BalancerCore
import ClusterCore
import HadeckBase
import LiveEngine
import NIOCore
import NIOHTTP1
import NIOPosix

/// The built-in browsers on the wire: each request is a real HTTP/1.1 `GET /login` to the VIP from
/// the browser's own loopback address (so `balance source` sees distinct clients), carrying its
/// cookie jar. One connection per request, so every request follows the ARP entry of its moment.
extension LiveClusterState {
    func startBrowserRequest(index: Int, name: String, address: String, cookieHeader: String?) {
        let bound = self.bound!
        let vip = spec.vip
        let request = BrowserRequest(
            index: index, name: name, host: vip.description, path: options.browserPath, cookieHeader: cookieHeader,
            state: bound)
        let timeout = options.browserTimeout
        let boundRequest = NIOLoopBound(request, eventLoop: loop)
        guard let local = try? SocketAddress(ipAddress: address, port: 0) else {
            return request.fail("cannot use the client address \(address)")
        }
        ClientBootstrap(group: loop)
            .connectTimeout(timeout.amount)
            .bind(to: local)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(BrowserHandler(request: boundRequest.value))
                }
            }
            .connect(host: vip.host, port: vip.port)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    let s = bound.value
                    guard !s.stopped, !request.finished else { return channel.close(promise: nil) }
                    let id = ObjectIdentifier(channel)
                    s.browserChannels[id] = channel
                    channel.closeFuture.whenComplete { _ in bound.value.browserChannels[id] = nil }
                    request.channel = channel
                    request.timer = s.loop.assumeIsolated().scheduleTask(in: timeout.amount) {
                        request.fail("no answer within \(timeout.micros / 1000) ms")
                    }
                case .failure(let error):
                    request.fail(describeNetworkError(error))
                }
            }
    }
}

/// One browser request in flight; reports exactly once.
final class BrowserRequest {
    let index: Int
    let name: String
    let host: String
    let path: String
    let cookieHeader: String?
    let state: NIOLoopBound<LiveClusterState>
    var channel: Channel?
    var timer: Scheduled<Void>?
    var finished = false
    var status = 0
    /// When the request left, on the cluster's clock.
    let started: Instant
    var setCookies: [String] = []

    init(
        index: Int, name: String, host: String, path: String, cookieHeader: String?,
        state: NIOLoopBound<LiveClusterState>
    ) {
        self.index = index
        self.name = name
        self.host = host
        self.path = path
        self.cookieHeader = cookieHeader
        self.state = state
        started = state.value.clock.now()
    }

    func succeed() {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        channel?.close(promise: nil)
        let cookies = setCookies
        state.value.withCore { $0.browserReceived(index, setCookies: cookies) }
    }

    func fail(_ error: String) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        channel?.close(promise: nil)
        let s = state.value
        s.withCore { c in
            let (via, reason) = s.vipFailureReason(error)
            c.browserFailed(index, via: via, reason: reason, latency: c.now - started)
        }
    }
}

/// Sends the request and reads the answer's status and cookies.
final class BrowserHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let request: BrowserRequest

    init(request: BrowserRequest) { self.request = request }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: request.host)
        headers.add(name: "User-Agent", value: "hadeck-browser/\(request.name)")
        headers.add(name: "Connection", value: "close")
        if let cookie = request.cookieHeader { headers.add(name: "Cookie", value: cookie) }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: request.path, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request.status = Int(head.status.code)
            request.setCookies = head.headers["set-cookie"]
        case .body:
            break
        case .end:
            // Error statuses too: the balancer answered and recorded why.
            request.succeed()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        request.fail("connection closed before the answer")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        request.fail(describeNetworkError(error))
        context.close(promise: nil)
    }
}

/// A socket error in words (`Connection reset by peer`).
func describeNetworkError(_ error: Error) -> String {
    if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
    if let e = error as? NIOConnectionError, let first = e.connectionErrors.first {
        return describeNetworkError(first.error)
    }
    if let e = error as? ChannelError, case .connectTimeout = e { return "connection timed out" }
    return "\(error)"
}

extension TimeSpan {
    var amount: TimeAmount { .microseconds(micros) }
}
