import BalancerCore
import HadeckBase
import HadeckConfig
import LiveEngine
import NIOCore
import NIOPosix
import Testing

/// One event loop group for every live test.
let testGroup = MultiThreadedEventLoopGroup(numberOfThreads: 2)

/// Parses a haproxy.cfg text, failing the test on errors.
func parseConfig(_ text: String) -> HAProxyConfig {
    let (config, diagnostics) = HAProxyConfigParser.parse(text: text, file: "test.cfg")
    #expect(!diagnostics.hasErrors, "\(diagnostics.errors)")
    return config
}

/// The article's backend section on loopback addresses of `net` (127.77.net.1 balancer,
/// .2 webA, .3 webB), with short check intervals. The extras are whole indented lines.
func articleConfig(
    net: Int, extraGlobal: String = "", extraDefaults: String = "", extraListen: String = "",
    serverOptions: String = "check inter 100 rise 2 fall 3"
) -> String {
    """
    global
        nbthread 1
    \(extraGlobal)
    defaults
        mode http
        retries 3
        option redispatch
        timeout connect 200ms
        timeout client 5s
        timeout server 5s
    \(extraDefaults)
    listen web
        bind 127.77.\(net).1:18080
        balance roundrobin
        cookie SRV insert indirect nocache
        option httpchk GET /login
    \(extraListen)
        server webA 127.77.\(net).2:18081 cookie A \(serverOptions)
        server webB 127.77.\(net).3:18888 cookie B \(serverOptions)
    """
}

/// webA (jvm3) and webB (jvm2) listening on `127.77.net.2:18081` and `127.77.net.3:18888`.
func startArticleApps(net: Int) async throws -> (AppServer, AppServer) {
    let webA = AppServer(
        name: "webA", host: "127.77.\(net).2", port: 18081, jvmRoute: "jvm3", eventLoop: testGroup.next())
    let webB = AppServer(
        name: "webB", host: "127.77.\(net).3", port: 18888, jvmRoute: "jvm2", eventLoop: testGroup.next())
    try await webA.start()
    try await webB.start()
    return (webA, webB)
}

/// A little cluster: two app servers and one balancer.
struct TestCluster {
    let balancer: Balancer
    let webA: AppServer
    let webB: AppServer
    let records: Collector<AccessLogRecord>
    let transitions: Collector<CheckTransition>
    let host: String

    static func start(net: Int, config text: String) async throws -> TestCluster {
        let loop = testGroup.next()
        let (webA, webB) = try await startArticleApps(net: net)
        let records = Collector<AccessLogRecord>()
        let transitions = Collector<CheckTransition>()
        let balancer = Balancer(
            name: "lb\(net)", config: parseConfig(text), pid: 9000 + net, eventLoop: loop,
            onRequest: { records.append($0) }, onTransition: { transitions.append($0) })
        try await balancer.start()
        return TestCluster(
            balancer: balancer, webA: webA, webB: webB, records: records, transitions: transitions,
            host: "127.77.\(net).1")
    }

    func stop() async {
        await balancer.stop()
        await webA.kill()
        await webB.kill()
    }

    func client() async throws -> RawClient { try await RawClient.connect(host: host, port: 18080) }

    /// Waits until `server` has `status` on the balancer (or the time runs out).
    func waitFor(server: String, status: String, within seconds: Double = 5) async -> Bool {
        let end = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < end {
            let snap = await balancer.snapshot()
            if snap.flatMap(\.servers).contains(where: { $0.name == server && $0.status == status }) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}

/// A thread-safe list filled from event loop callbacks.
final class Collector<T: Sendable>: @unchecked Sendable {
    private let lock = NIOLockish()
    private var items: [T] = []

    func append(_ item: T) { lock.withLock { items.append(item) } }
    var all: [T] { lock.withLock { items } }
}

/// A minimal mutex for the collector (tests only).
final class NIOLockish: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

/// A parsed HTTP response as a raw client saw it.
struct TestResponse {
    var status: Int
    var reason: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    var raw: [UInt8]

    func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }
    func value(_ name: String) -> String? { values(name).first }
    var bodyText: String { String(decoding: body, as: UTF8.self) }
    var rawText: String { String(decoding: raw, as: UTF8.self) }
    var setCookies: [String] { values("set-cookie") }
    /// The JSESSIONID the response set, if any.
    var sessionSet: String? {
        setCookies.first { $0.hasPrefix("JSESSIONID=") }.map { String($0.dropFirst(11).prefix { $0 != ";" }) }
    }
}

/// Bytes from a channel into an async stream.
final class StreamHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let continuation: AsyncStream<ByteBuffer>.Continuation
    init(_ c: AsyncStream<ByteBuffer>.Continuation) { continuation = c }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { continuation.yield(unwrapInboundIn(data)) }
    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

/// A raw TCP client (NIO ClientBootstrap) speaking HTTP/1.1 by hand.
final class RawClient {
    let channel: Channel
    private var iterator: AsyncStream<ByteBuffer>.AsyncIterator
    private var pending: [UInt8] = []
    private(set) var closed = false

    private init(channel: Channel, stream: AsyncStream<ByteBuffer>) {
        self.channel = channel
        self.iterator = stream.makeAsyncIterator()
    }

    static func connect(host: String, port: Int, giveUpAfter: TimeAmount = .seconds(20)) async throws -> RawClient {
        let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let channel = try await ClientBootstrap(group: testGroup)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(StreamHandler(continuation))
                }
            }
            .connect(host: host, port: port).get()
        // Never hang a test: the connection is closed after a while whatever happens.
        channel.eventLoop.scheduleTask(in: giveUpAfter) { channel.close(promise: nil) }
        return RawClient(channel: channel, stream: stream)
    }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) async throws {
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        try await channel.writeAndFlush(buffer)
    }

    /// Reads more bytes; false once the connection is closed.
    private func fill() async -> Bool {
        guard !closed else { return false }
        guard let buffer = await iterator.next() else {
            closed = true
            return false
        }
        pending += buffer.readableBytesView
        return true
    }

    private func takeLine() async -> [UInt8]? {
        while true {
            if let i = pending.firstIndex(of: 10) {
                var line = Array(pending[..<i])
                pending.removeFirst(i + 1)
                if line.last == 13 { line.removeLast() }
                return line
            }
            if await !fill() { return nil }
        }
    }

    private func take(_ n: Int) async -> [UInt8]? {
        while pending.count < n { if await !fill() { return nil } }
        let out = Array(pending[..<n])
        pending.removeFirst(n)
        return out
    }

    /// Reads one whole response (content-length, chunked, or until close).
    func readResponse(headRequest: Bool = false) async -> TestResponse? {
        guard let statusLine = await takeLine() else { return nil }
        var raw = statusLine + [13, 10]
        let parts = String(decoding: statusLine, as: UTF8.self).split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        var headers: [(String, String)] = []
        while let line = await takeLine() {
            raw += line + [13, 10]
            if line.isEmpty { break }
            let text = String(decoding: line, as: UTF8.self)
            guard let colon = text.firstIndex(of: ":") else { continue }
            headers.append(
                (String(text[..<colon]), String(text[text.index(after: colon)...]).trimmingCharacters(in: " ")))
        }
        var response = TestResponse(
            status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: headers, body: [], raw: raw)
        if headRequest || status == 204 || status == 304 || (100..<200).contains(status) { return response }
        if let cl = response.value("content-length").flatMap({ Int($0) }) {
            response.body = await take(cl) ?? []
        } else if response.value("transfer-encoding")?.lowercased() == "chunked" {
            while let sizeLine = await takeLine() {
                let size = Int(String(decoding: sizeLine, as: UTF8.self).prefix { $0 != ";" }, radix: 16) ?? 0
                if size == 0 {
                    _ = await takeLine()
                    break
                }
                response.body += await take(size) ?? []
                _ = await takeLine()
            }
        } else {
            while await fill() {}
            response.body = pending
            pending = []
        }
        response.raw += response.body
        return response
    }

    /// Everything until the peer closes.
    func readToClose() async -> [UInt8] {
        while await fill() {}
        defer { pending = [] }
        return pending
    }

    func close() async { try? await channel.close() }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}

/// `GET path` with optional cookies, keep-alive.
func get(_ path: String, cookies: String? = nil, host: String = "test") -> String {
    var text = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\n"
    if let cookies { text += "Cookie: \(cookies)\r\n" }
    return text + "\r\n"
}
