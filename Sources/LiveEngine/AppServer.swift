import HadeckBase
import NIOCore
import NIOHTTP1
import NIOPosix
import WebCore

/// A Tomcat-like application server on a real socket (HTTP/1.1, keep-alive), with the session
/// logic of ClusterCore's `WebServer`.
///
/// - `GET /login`: a small HTML page with the session id and the server's name; a new (or
///   unknown) session gets `Set-Cookie: JSESSIONID=<id>.<jvmRoute>; Path=/; HttpOnly`.
/// - `/health`: 200 for health checks.
/// - `/echo`: streams the request body back as a chunked response (for tests and demos).
/// - anything else: 404.
///
/// Every response echoes the request's Cookie header in `X-Seen-Cookie` (so a test can prove the
/// balancer's cookie never reaches the application) and names the server in `X-Served-By`.
public final class AppServer: Sendable {
    /// A failure to inject, for demonstrations and tests.
    public enum Fault: Hashable, Sendable {
        /// Behave.
        case none
        /// Answer every request with bytes that are not HTTP.
        case garbage
        /// Wait this long before answering.
        case delay(TimeSpan)
    }

    /// The server's name, e.g. `webA`.
    public let name: String
    /// The address it listens on (loopback).
    public let host: String
    public let port: Int
    /// Tomcat's jvmRoute, the session id suffix (e.g. `jvm3`).
    public let jvmRoute: String
    /// The loop its listener and connections run on.
    public let eventLoop: EventLoop
    let state: NIOLoopBoundBox<AppServerState>

    /// A stopped server; call `start()`.
    public init(name: String, host: String, port: Int, jvmRoute: String, eventLoop: EventLoop) {
        self.name = name
        self.host = host
        self.port = port
        self.jvmRoute = jvmRoute
        self.eventLoop = eventLoop
        state = NIOLoopBoundBox.makeBoxSendingValue(
            AppServerState(web: WebServer(name: name, address: "\(host):\(port)", jvmRoute: jvmRoute)),
            as: AppServerState.self, eventLoop: eventLoop)
    }

    /// Opens the listener (after `kill()`, with an empty session store).
    /// Throws `LiveEngineError.cannotListen` when the address is taken.
    public func start() async throws {
        try await startFuture().get()
    }

    /// `start()` as a future, callable from any thread (the embedded cluster calls it on the loop).
    public func startFuture() -> EventLoopFuture<Void> {
        let state = self.state
        let loop = eventLoop
        let address = "\(host):\(port)"
        let (host, port) = (self.host, self.port)
        return loop.submit { () -> Int? in
            let s = state.value
            if s.listener != nil || s.starting { return nil }
            s.starting = true
            s.web.start()
            return s.generation
        }.flatMap { generation -> EventLoopFuture<Void> in
            guard let generation else { return loop.makeSucceededVoidFuture() }
            return ServerBootstrap(group: loop)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.maxMessagesPerRead, value: 16)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let s = state.value
                        guard s.listener != nil else {
                            channel.close(promise: nil)
                            return
                        }
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                            withPipeliningAssistance: true, withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(AppHandler(state: s))
                        let id = ObjectIdentifier(channel)
                        s.connections[id] = channel
                        s.accepted += 1
                        channel.closeFuture.assumeIsolated().whenComplete { _ in s.connections[id] = nil }
                    }
                }
                .bind(host: host, port: port)
                .flatMapErrorThrowing { error in
                    state.value.starting = false
                    throw LiveEngineError.cannotListen(address: address, reason: describe(error))
                }
                .map { channel in
                    let s = state.value
                    s.starting = false
                    // Killed while binding: stay dead.
                    if s.generation == generation { s.listener = channel } else { channel.close(promise: nil) }
                }
        }
    }

    /// `kill -9`: closes the listener and every connection (refused afterwards); sessions are lost.
    public func kill() async {
        try? await killFuture().get()
    }

    /// `kill()` as a future, callable from any thread.
    public func killFuture() -> EventLoopFuture<Void> {
        let state = self.state
        let loop = eventLoop
        return loop.flatSubmit { () -> EventLoopFuture<Void> in
            let s = state.value
            s.web.kill()
            s.generation += 1
            s.starting = false
            let channels = (s.listener.map { [$0] } ?? []) + Array(s.connections.values)
            s.listener = nil
            s.connections = [:]
            return EventLoopFuture.andAllComplete(channels.map { $0.close().recover { _ in } }, on: loop)
        }
    }

    /// Whether the listener is open.
    public var isRunning: Bool {
        get async { await onLoop { $0.listener != nil } }
    }

    /// The session ids this server holds.
    public var sessions: Set<String> {
        get async { await onLoop { $0.web.sessions } }
    }

    /// Requests answered by `/login` since creation.
    public var requestsServed: Int {
        get async { await onLoop { $0.web.requestsServed } }
    }

    /// Connections accepted since creation (health checks included).
    public var connectionsAccepted: Int {
        get async { await onLoop { $0.accepted } }
    }

    /// Injects (or clears, with `.none`) a fault.
    public func setFault(_ fault: Fault) async {
        await onLoop { $0.fault = fault }
    }

    private func onLoop<T: Sendable>(_ body: @escaping @Sendable (AppServerState) -> T) async -> T {
        let state = self.state
        return try! await eventLoop.submit { body(state.value) }.get()
    }
}

/// An app server's state, on its loop.
final class AppServerState {
    var web: WebServer
    var listener: Channel?
    var connections: [ObjectIdentifier: Channel] = [:]
    var fault = AppServer.Fault.none
    var accepted = 0
    /// A bind is in flight (so a second start does not bind twice).
    var starting = false
    /// Bumped by every kill, so a bind that completes after one is dropped.
    var generation = 0

    init(web: WebServer) { self.web = web }
}

/// Serves one connection of an app server.
final class AppHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let state: AppServerState
    private var head: HTTPRequestHead?
    private var echoing = false

    init(state: AppServerState) { self.state = state }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            echoing = false
            if case .garbage = state.fault {
                return sendGarbage(context: context)
            }
            if path(of: h) == "/echo" {
                echoing = true
                var rh = HTTPResponseHead(version: .http1_1, status: .ok, headers: baseHeaders(h))
                rh.headers.add(name: "Content-Type", value: "application/octet-stream")
                context.write(wrapOutboundOut(.head(rh)), promise: nil)
            }
        case .body(let buffer):
            if echoing { context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil) }
        case .end:
            guard let h = head else { return }
            head = nil
            if echoing {
                echoing = false
                return finish(context: context, keepAlive: h.isKeepAlive)
            }
            if case .delay(let span) = state.fault {
                context.eventLoop.assumeIsolated().scheduleTask(in: span.timeAmount) { [self] in
                    respond(context: context, to: h)
                }
                return
            }
            respond(context: context, to: h)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    private func path(of head: HTTPRequestHead) -> Substring {
        head.uri.prefix { $0 != "?" }
    }

    private func baseHeaders(_ h: HTTPRequestHead) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.add(name: "Server", value: "Apache-Coyote/1.1 (hadeck)")
        headers.add(name: "X-Served-By", value: state.web.name)
        let cookies = h.headers["cookie"]
        if !cookies.isEmpty { headers.add(name: "X-Seen-Cookie", value: cookies.joined(separator: "; ")) }
        if !h.isKeepAlive { headers.add(name: "Connection", value: "close") }
        return headers
    }

    private func respond(context: ChannelHandlerContext, to h: HTTPRequestHead) {
        guard context.channel.isActive else { return }
        var headers = baseHeaders(h)
        let status: HTTPResponseStatus
        let body: String
        switch path(of: h) {
        case "/login":
            let cookies = h.headers["cookie"]
            let r = state.web.handle(
                path: "/login", cookieHeader: cookies.isEmpty ? nil : cookies.joined(separator: "; "))
            for c in r.setCookies { headers.add(name: "Set-Cookie", value: c) }
            status = .ok
            body = """
                <html><head><title>\(state.web.name)</title></head><body>
                <h1>\(state.web.name)</h1>
                <p>Session ID: \(r.session)</p>
                <p>Served by \(state.web.name) (jvmRoute \(state.web.jvmRoute))\(r.newSession ? ", new session" : "")</p>
                </body></html>

                """
            headers.add(name: "Content-Type", value: "text/html;charset=UTF-8")
        case "/health":
            status = .ok
            body = "OK\n"
            headers.add(name: "Content-Type", value: "text/plain")
        default:
            status = .notFound
            body = "<html><body><h1>404 Not Found</h1></body></html>\n"
            headers.add(name: "Content-Type", value: "text/html")
        }
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        finish(context: context, keepAlive: h.isKeepAlive)
    }

    private func finish(context: ChannelHandlerContext, keepAlive: Bool) {
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
            promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    private func sendGarbage(context: ChannelHandlerContext) {
        guard let encoder = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self) else {
            return context.close(promise: nil)
        }
        var buffer = context.channel.allocator.buffer(capacity: 32)
        buffer.writeString("SSH-2.0-not-http\r\n\r\n")
        let promise = context.eventLoop.makePromise(of: Void.self)
        encoder.writeAndFlush(NIOAny(IOData.byteBuffer(buffer)), promise: promise)
        promise.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
