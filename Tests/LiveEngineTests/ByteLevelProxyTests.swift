import BalancerCore
import HadeckBase
import HadeckTestSupport
import LiveEngine
import NIOCore
import NIOPosix
import Testing

/// A backend that records each request head it receives and answers with a canned response,
/// closing the connection afterwards when told: what the proxy sends and how it re-frames.
final class RawBackend: @unchecked Sendable {
    private let lock = NIOLockish()
    private var _response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    private var _closeAfter = false
    let heads = Collector<String>()

    func answer(_ response: String, thenClose: Bool) {
        lock.withLock {
            _response = response
            _closeAfter = thenClose
        }
    }
    var response: (String, Bool) { lock.withLock { (_response, _closeAfter) } }

    func start(host: String, port: Int) async throws -> Channel {
        try await ServerBootstrap(group: testGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RawBackendHandler(backend: self))
                }
            }
            .bind(host: host, port: port).get()
    }
}

final class RawBackendHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let backend: RawBackend
    private var received: [UInt8] = []

    init(backend: RawBackend) { self.backend = backend }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytesView
        while let end = headEnd() {
            backend.heads.append(String(decoding: received[..<end], as: UTF8.self))
            received.removeFirst(end)
            let (text, close) = backend.response
            let buffer = context.channel.allocator.buffer(string: text)
            if close {
                context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
                return
            }
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
    }

    private func headEnd() -> Int? {
        guard received.count >= 4 else { return nil }
        for i in 0...(received.count - 4)
        where received[i] == 13 && received[i + 1] == 10 && received[i + 2] == 13 && received[i + 3] == 10 {
            return i + 4
        }
        return nil
    }
}

@Suite("Live balancer: byte-level forwarding, rewrites and re-framing", .serialized, .onItsOwnThread)
struct ByteLevelProxyTests {
    static func start(net: Int) async throws -> (Balancer, RawBackend, Channel, Collector<AccessLogRecord>) {
        let text = """
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            listen web
                bind 127.77.\(net).1:18080
                option forwardfor
                cookie SRV insert indirect nocache
                server webA 127.77.\(net).2:18081 cookie A
            """
        let backend = RawBackend()
        let listener = try await backend.start(host: "127.77.\(net).2", port: 18081)
        let records = Collector<AccessLogRecord>()
        let balancer = Balancer(
            name: "lb", config: parseConfig(text), eventLoop: testGroup.next(), onRequest: { records.append($0) })
        try await balancer.start()
        return (balancer, backend, listener, records)
    }

    @Test func forwardforIndirectCookieAndHopHeaders() async throws {
        let net = 11
        let (balancer, backend, listener, records) = try await Self.start(net: net)
        let c = try await RawClient.connect(host: "127.77.\(net).1", port: 18080)
        try await c.send(
            "GET /x HTTP/1.1\r\nHost: t\r\nCookie: SRV=A; JSESSIONID=abc\r\nConnection: keep-alive\r\n"
                + "Keep-Alive: timeout=5\r\nX-Other: 1\r\n\r\n")
        let r = try #require(await c.readResponse())
        #expect(r.status == 200 && r.bodyText == "ok")
        #expect(r.setCookies.isEmpty)  // the client already has SRV=A
        let head = try #require(backend.heads.all.last)
        let client = try #require(records.all.last?.client)
        let ip = String(client.prefix { $0 != ":" })
        #expect(head.hasPrefix("GET /x HTTP/1.1\r\nHost: t\r\n"))
        #expect(head.contains("X-Other: 1\r\n"))
        #expect(head.contains("\r\nCookie: JSESSIONID=abc\r\n"))
        #expect(!head.contains("SRV"))
        #expect(!head.lowercased().contains("connection") && !head.lowercased().contains("keep-alive"))
        #expect(head.hasSuffix("X-Forwarded-For: \(ip)\r\n\r\n"))

        // A new client gets the cookie inserted into the server's head.
        try await c.send("GET /y HTTP/1.1\r\nHost: t\r\n\r\n")
        let r2 = try #require(await c.readResponse())
        #expect(r2.setCookies == ["SRV=A; path=/"])
        #expect(r2.values("cache-control") == ["private"])
        #expect(r2.rawText.hasPrefix("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: SRV=A; path=/\r\n"))
        await c.close()
        await balancer.stop()
        try await listener.close()
    }

    @Test func bodyDelimitedByCloseIsChunkedForHTTP11AndChunkedIsDechunkedForHTTP10() async throws {
        let net = 12
        let (balancer, backend, listener, _) = try await Self.start(net: net)
        backend.answer("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello, world", thenClose: true)
        let c = try await RawClient.connect(host: "127.77.\(net).1", port: 18080)
        for _ in 0..<2 {
            try await c.send("GET / HTTP/1.1\r\nHost: t\r\nCookie: SRV=A\r\n\r\n")
            let r = try #require(await c.readResponse())
            #expect(r.value("transfer-encoding") == "chunked")
            #expect(r.value("connection") == nil)
            #expect(r.bodyText == "hello, world")
        }
        await c.close()

        backend.answer(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;x=y\r\n, world\r\n0\r\n\r\n",
            thenClose: false)
        let old = try await RawClient.connect(host: "127.77.\(net).1", port: 18080)
        try await old.send("GET / HTTP/1.0\r\nCookie: SRV=A\r\n\r\n")
        let text = String(decoding: await old.readToClose(), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.0 200 OK\r\n"))
        #expect(!text.lowercased().contains("transfer-encoding"))
        #expect(text.hasSuffix("\r\n\r\nhello, world"))
        // The server saw HTTP/1.1.
        #expect(backend.heads.all.last?.hasPrefix("GET / HTTP/1.1\r\n") == true)
        await balancer.stop()
        try await listener.close()
    }

    @Test func malformedServerResponseIs502() async throws {
        let net = 13
        let (balancer, backend, listener, records) = try await Self.start(net: net)
        for bad in [
            "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "SSH-2.0-not-http\r\n\r\n",
        ] {
            backend.answer(bad, thenClose: false)
            let c = try await RawClient.connect(host: "127.77.\(net).1", port: 18080)
            try await c.send("GET / HTTP/1.1\r\nHost: t\r\nCookie: SRV=A\r\n\r\n")
            #expect(
                String(decoding: await c.readToClose(), as: UTF8.self) == HAProxyErrorResponse.badGateway.wireText)
        }
        #expect(records.all.map(\.status) == [502, 502, 502])
        await balancer.stop()
        try await listener.close()
    }
}

@Suite("Live balancer: what the byte-level request parser accepts and rejects", .serialized, .onItsOwnThread)
struct RequestParsingLiveTests {
    @Test func pipelinedBareLFAndMalformedRequests() async throws {
        let net = 10
        let cluster = try await TestCluster.start(net: net, config: articleConfig(net: net, serverOptions: ""))
        defer { Task { await cluster.stop() } }

        // Two pipelined requests in one write (the second with bare LF line endings): two answers, in order.
        let c = try await cluster.client()
        try await c.send(
            "GET /login HTTP/1.1\r\nHost: x\r\nCookie: SRV=A\r\n\r\nGET /login HTTP/1.1\nHost: x\nCookie: SRV=B\n\n")
        let first = try #require(await c.readResponse())
        let second = try #require(await c.readResponse())
        #expect(first.value("x-served-by") == "webA")
        #expect(second.value("x-served-by") == "webB")

        // A chunked POST and a request in the same write as its last chunk.
        try await c.send(
            "POST /echo HTTP/1.1\r\nHost: x\r\nCookie: SRV=A\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "3;ext\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\nGET /login HTTP/1.1\r\nHost: x\r\n\r\n")
        let echo = try #require(await c.readResponse())
        #expect(echo.bodyText == "abcde")
        #expect(await c.readResponse()?.status == 200)

        let bad400 = HAProxyErrorResponse.badRequest.wireText
        let cases = [
            "GET /login HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n",
            "GET /login HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
            "GET /login HTTP/1.1\r\nHost: x\r\nX-A: \u{7}\r\n\r\n",
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        ]
        for text in cases {
            let bad = try await cluster.client()
            try await bad.send(text)
            #expect(String(decoding: await bad.readToClose(), as: UTF8.self) == bad400, "\(text.debugDescription)")
        }
        // A bad request after a good one on the same connection: the good one is answered first.
        let mixed = try await cluster.client()
        try await mixed.send("GET /login HTTP/1.1\r\nHost: x\r\n\r\nGET /login HTTP/1.1\r\nBad\r\n\r\n")
        #expect(await mixed.readResponse()?.status == 200)
        #expect(String(decoding: await mixed.readToClose(), as: UTF8.self) == bad400)

        // The first connection is still served.
        try await c.send(get("/login", cookies: "SRV=B"))
        #expect(await c.readResponse()?.status == 200)
        await c.close()
        let badRecords = cluster.records.all.filter { $0.status == 400 }
        #expect(badRecords.count == cases.count + 1)
        #expect(badRecords.allSatisfy { $0.termination == "PR" })
    }
}
