import HadeckTestSupport
import NIOCore
import NIOEmbedded
import Testing

@testable import LiveEngine

/// Parses `text` as a request (or response) head.
private func parse(_ text: [UInt8], request: Bool = true) -> HeadParseResult {
    var head = ParsedHead()
    return text.withUnsafeBytes { parseHead($0, request: request, into: &head) }
}

private func isInvalid(_ text: [UInt8], request: Bool = true) -> Bool {
    if case .invalid = parse(text, request: request) { return true }
    return false
}

/// `n` distinct header lines.
private func fields(_ n: Int) -> String { (0..<n).map { "X-\($0): a\r\n" }.joined() }

/// What HAProxy 2.6.12 refuses (each case measured on the real binary with the same bytes: see
/// `HAProxyDifferentialTests` for the side-by-side run), and the near misses it accepts.
@Suite("What HAProxy 2.6 refuses, hadeck refuses: requests 400/413/422, responses 502, at once", .onItsOwnThread)
struct RefusalTests {
    static let refusedRequests: [(String, [UInt8])] = [
        ("two different Host headers", Array("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".utf8)),
        ("absolute URI whose host differs from Host", Array("GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n".utf8)),
        ("absolute URI with another port", Array("GET http://a:81/ HTTP/1.1\r\nHost: a\r\n\r\n".utf8)),
        ("target without a leading /", Array("GET foo HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
        ("target with a #fragment", Array("GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
        (
            "target with bytes >= 0x80",
            Array("GET /a".utf8) + [0xC3, 0xA9] + Array(" HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        ),
        ("control bytes for / and . in the version", Array("GET / HTTP\u{0F}1\u{0E}1\r\nHost: x\r\n\r\n".utf8)),
        ("control byte for a digit in the version", Array("GET / HTTP/1.\u{11}\r\nHost: x\r\n\r\n".utf8)),
        (
            "WebSocket upgrade without Sec-WebSocket-Key",
            Array("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n".utf8)
        ),
        ("101 header fields", Array("GET / HTTP/1.1\r\nHost: x\r\n\(fields(100))\r\n".utf8)),
    ]

    @Test(arguments: refusedRequests)
    func requestsHAProxyAnswers400AreInvalid(name: String, bytes: [UInt8]) {
        #expect(isInvalid(bytes), "\(name)")
    }

    @Test func theNearMissesAreAccepted() {
        for text in [
            "GET / HTTP/1.1\r\nHost: a\r\nhost: A\r\n\r\n",  // the same Host twice
            "GET http://a:80/x HTTP/1.1\r\nHost: A\r\n\r\n",  // the scheme's default port
            "GET https://u@a/x HTTP/1.1\r\nHost: a:443\r\n\r\n",  // user info is not compared
            "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
            "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
            "GET /a?b=%C3%A9 HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n\(fields(99))\r\n",  // 100 fields
        ] {
            #expect(parse(Array(text.utf8)) == .complete, "\(text.debugDescription)")
        }
    }

    @Test func bodiesHAProxyRefusesWithOtherStatuses() {
        #expect(
            parse(Array("GET / HTTP/1.0\r\nContent-Length: 2\r\n\r\n".utf8))
                == .refused(status: 413, "HTTP/1.0 GET, HEAD or DELETE request with a body"))
        #expect(
            parse(Array("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".utf8))
                == .refused(status: 422, "unsupported Transfer-Encoding"))
        #expect(isInvalid(Array("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n".utf8)))
        #expect(parse(Array("POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\n".utf8)) == .complete)
    }

    /// Bytes that cannot start an HTTP request line are refused before any line feed arrives.
    @Test func aTLSClientHelloIsRefusedWithoutWaitingForALineFeed() {
        let hello: [UInt8] =
            [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03] + Array(repeating: 0, count: 40)
        #expect(isInvalid(hello))
        #expect(isInvalid(Array("GET / XTTP".utf8)))
        #expect(isInvalid(Array("GET /a\u{7F}".utf8)))
        // A prefix of a valid line still waits.
        #expect(parse(Array("GET /index.html HTT".utf8)) == .incomplete)
    }

    @Test func responsesWithTooManyFieldsAreInvalid() {
        #expect(isInvalid(Array("HTTP/1.1 200 OK\r\n\(fields(101))Content-Length: 0\r\n\r\n".utf8), request: false))
        #expect(
            parse(Array("HTTP/1.1 200 OK\r\n\(fields(99))Content-Length: 0\r\n\r\n".utf8), request: false) == .complete)
    }

    @Test func chunkedFramingHAProxyRefusesIsInvalid() {
        for bad in [
            "3x\r\nabc\r\n0\r\n\r\n",  // junk after the size
            "3\r\nabc\r\n0\r\nbad\r\n\r\n",  // a trailer line without a colon
            "3;" + String(repeating: "a", count: 20_000) + "\r\nabc\r\n0\r\n\r\n",  // a 20 kB extension
            "3\r\nabc\r\n0\r\n" + (0..<3000).map { "T\($0): v\r\n" }.joined() + "\r\n",  // thousands of trailers
            "100000000000000\r\n",  // 15 hex digits: refused on the digits, before the line ends
            "10000000000000\r\n",  // 2^52
            "-3\r\n", "0x3\r\n", "3\r\nabcX\r\n",
        ] {
            var scanner = ChunkedScanner()
            let step = Array(bad.utf8).withUnsafeBytes { scanner.scan($0) { _, _ in } }
            #expect(step == .invalid, "\(bad.prefix(40).debugDescription)")
        }
        var scanner = ChunkedScanner()
        let ok = Array("0000000000000003 ;a=b\r\nabc\r\nfffffffffffff\r\n".utf8).withUnsafeBytes {
            scanner.scan($0) { _, _ in }
        }
        #expect(ok == .more)
    }

    // MARK: through the session: nothing refused reaches a server

    static let refusedChunked = [
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\nabc\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a\u{1}b\r\nabc\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000000000000\r\nabc",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a\nabc\r\n0\r\n\r\n",
    ]

    @Test func refusedRequestsGet400AtOnceAndNeverReachAServer() throws {
        let p = try EmbeddedProxy(virtualConfig("    timeout client 5s"))
        var port = 41_000
        for (name, bytes) in Self.refusedRequests {
            port += 1
            let c = try p.client(port: port)
            try c.writeInbound(ByteBuffer(bytes: bytes))
            #expect(try c.sent() == HAProxyErrorResponse.badRequest.wireText, "\(name)")
            #expect(!c.isActive, "\(name)")
        }
        for text in Self.refusedChunked {
            port += 1
            let c = try p.client(port: port)
            try c.receive(text)
            #expect(try c.sent() == HAProxyErrorResponse.badRequest.wireText, "\(text.debugDescription)")
        }
        // A TLS ClientHello with no line feed in it: 400 at once, not a 408 after timeout http-request.
        let tls = try p.client(port: port + 1)
        try tls.writeInbound(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]))
        #expect(try tls.sent() == HAProxyErrorResponse.badRequest.wireText)
        let statuses = [413, 422]
        for (i, text) in [
            "GET / HTTP/1.0\r\nContent-Length: 2\r\n\r\nab",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        ].enumerated() {
            let c = try p.client(port: port + 2 + i)
            try c.receive(text)
            #expect(try c.sent() == HAProxyErrorResponse(status: statuses[i])!.wireText)
        }
        #expect(p.attempts.isEmpty)
        #expect(p.records.allSatisfy { $0.requestLine == "<BADREQ>" && $0.termination == "PR" })
    }

    /// A chunked request whose framing is valid so far waits for its first chunk's data before it
    /// goes out; then it is forwarded as it came.
    @Test func aChunkedRequestGoesOutOnceItsFirstSizeLineIsKnownGood() throws {
        let p = try EmbeddedProxy(virtualConfig("    timeout client 5s"))
        let c = try p.client()
        try c.receive("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3")
        #expect(p.attempts.isEmpty)
        try c.receive("\r\nab")
        let server = try #require(p.server(0))
        #expect(try server.sent().hasSuffix("\r\n\r\n3\r\nab"))
        try c.receive("c\r\n0\r\n\r\n")
        try server.receive(ok())
        #expect(try c.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    // MARK: responses

    private func respond(_ response: String, to request: String = get("/")) throws -> (String, EmbeddedChannel) {
        let p = try EmbeddedProxy(virtualConfig("    timeout client 5s\n    timeout server 5s"))
        let c = try p.client()
        try c.receive(request)
        let server = try #require(p.server(0))
        _ = try server.sent()
        try server.receive(response)
        return (try c.sent(), c)
    }

    @Test func responsesHAProxyAnswers502Get502() throws {
        for bad in [
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",  // unasked
            "HTTP/1.1 200 OK\r\n\(fields(500))Content-Length: 2\r\n\r\nok",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000000000000\r\nok",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok",
        ] {
            let (sent, _) = try respond(bad)
            #expect(sent == HAProxyErrorResponse.badGateway.wireText, "\(bad.prefix(60).debugDescription)")
        }
        // A WebSocket handshake answered without Sec-WebSocket-Accept.
        let ws =
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        let (sent, _) = try respond(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", to: ws)
        #expect(sent == HAProxyErrorResponse.badGateway.wireText)
    }

    /// HAProxy 2.6.12 drops the length of a response that has both (measured), so no cache in front
    /// can read the body two ways; the connection closes after it.
    @Test func aResponseWithLengthAndChunksLosesItsLength() throws {
        let (sent, c) = try respond(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        #expect(sent.hasPrefix("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"))
        #expect(!sent.lowercased().contains("content-length"))
        #expect(sent.hasSuffix("\r\n\r\n2\r\nok\r\n0\r\n\r\n"))
        _ = c
    }

    @Test func anAskedWebSocketSwitchBecomesATunnel() throws {
        let p = try EmbeddedProxy(virtualConfig("    timeout client 5s\n    timeout server 5s"))
        let c = try p.client()
        try c.receive(
            "GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        let server = try #require(p.server(0))
        let head = try server.sent()
        #expect(head.contains("\r\nUpgrade: websocket\r\n") && head.hasSuffix("Connection: upgrade\r\n\r\n"))
        try server.receive(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
        #expect(try c.sent().hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        try c.receive("\u{81}\u{2}hi")
        #expect(try server.sent() == "\u{81}\u{2}hi")
        try server.receive("\u{81}\u{3}yes")
        #expect(try c.sent() == "\u{81}\u{3}yes")
    }

    // MARK: half-close

    /// `printf 'GET / ...' | socat - TCP:...,shut-down`: the request is answered, then the connection closes.
    @Test func aClientThatHalfClosesAfterItsRequestGetsTheResponse() throws {
        let p = try EmbeddedProxy(virtualConfig("    timeout client 5s\n    timeout server 5s"))
        let c = try p.client()
        try c.receive(get("/login"))
        c.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(c.isActive)
        try p.server(0)?.receive(ok("hello"))
        #expect(try c.sent().hasSuffix("\r\n\r\nhello"))
        #expect(!c.isActive)
        #expect(p.records.map(\.status) == [200])

        // Half of a head, then the half-close: 400, as HAProxy.
        let half = try p.client(port: 40_100)
        try half.receive("GET /login HTTP/1.1\r\nHo")
        half.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try half.sent() == HAProxyErrorResponse.badRequest.wireText)
        #expect(!half.isActive)

        // The body not all sent: the request is aborted, no answer.
        let body = try p.client(port: 40_101)
        try body.receive("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        body.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(!body.isActive)
    }
}
