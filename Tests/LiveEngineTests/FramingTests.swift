import NIOCore
import Testing

@testable import LiveEngine

/// A parsed head and its bytes.
private func head(_ text: String, request: Bool) -> (ParsedHead, ByteBuffer) {
    var parsed = ParsedHead()
    let buffer = ByteBuffer(string: text)
    let result = buffer.withUnsafeReadableBytes { parseHead($0, request: request, into: &parsed) }
    #expect(result == .complete, "\(text.debugDescription)")
    return (parsed, buffer)
}

private let allocator = ByteBufferAllocator()

@Suite("Framing and head rewriting: pure functions of the parsed heads")
struct FramingTests {
    @Test func responseBodyFramingFollowsStatusMethodAndHeaders() {
        #expect(responseBodyFraming(status: 200, toHEAD: true, chunked: true, contentLength: nil) == .none)
        for status in [101, 204, 304] {
            #expect(responseBodyFraming(status: status, toHEAD: false, chunked: false, contentLength: 5) == .none)
        }
        #expect(responseBodyFraming(status: 200, toHEAD: false, chunked: true, contentLength: nil) == .chunked)
        #expect(responseBodyFraming(status: 200, toHEAD: false, chunked: false, contentLength: 5) == .length)
        #expect(responseBodyFraming(status: 200, toHEAD: false, chunked: false, contentLength: 0) == .none)
        #expect(responseBodyFraming(status: 200, toHEAD: false, chunked: false, contentLength: nil) == .untilClose)
    }

    struct PlanCase: Sendable, CustomStringConvertible {
        var name: String
        var http11: Bool
        var closeAfter: Bool
        var keepAlive: Bool
        var chunked: Bool
        var length: Bool
        var framing: BodyFraming
        var expected: ResponsePlan
        var description: String { name }
    }

    static let planCases: [PlanCase] = [
        PlanCase(
            name: "1.1 keep-alive, length", http11: true, closeAfter: false, keepAlive: true, chunked: false,
            length: true, framing: .length, expected: ResponsePlan(closeAfter: false)),
        PlanCase(
            name: "1.1 client closes", http11: true, closeAfter: true, keepAlive: false, chunked: false, length: true,
            framing: .length, expected: ResponsePlan(connection: .close, closeAfter: true)),
        PlanCase(
            name: "1.1, body until close: chunked", http11: true, closeAfter: false, keepAlive: true, chunked: false,
            length: false, framing: .untilClose, expected: ResponsePlan(chunkEncode: true, closeAfter: false)),
        PlanCase(
            name: "1.0 keep-alive, length", http11: false, closeAfter: false, keepAlive: true, chunked: false,
            length: true, framing: .length, expected: ResponsePlan(connection: .keepAlive, closeAfter: false)),
        PlanCase(
            name: "1.0 keep-alive, chunked: de-chunked and closed", http11: false, closeAfter: false, keepAlive: true,
            chunked: true, length: false, framing: .chunked, expected: ResponsePlan(dechunk: true, closeAfter: true)),
        PlanCase(
            name: "1.0 without keep-alive", http11: false, closeAfter: true, keepAlive: false, chunked: false,
            length: true, framing: .length, expected: ResponsePlan(closeAfter: true)),
        PlanCase(
            name: "1.0 keep-alive, no length (204)", http11: false, closeAfter: false, keepAlive: true,
            chunked: false, length: false, framing: .none, expected: ResponsePlan(closeAfter: true)),
    ]

    @Test(arguments: planCases)
    func responsePlanKeepsClosesChunksOrDechunks(c: PlanCase) {
        let plan = ResponsePlan.make(
            clientHTTP11: c.http11, closeAfter: c.closeAfter, clientKeepAlive: c.keepAlive, serverChunked: c.chunked,
            serverHasLength: c.length, framing: c.framing)
        #expect(plan == c.expected)
    }

    @Test func requestBodiesAreFollowedAcrossReads() throws {
        let (cl, _) = head("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", request: true)
        var body = try #require(requestBodyFraming(cl))
        #expect(body.take(from: ByteBuffer(string: "abc"))! == (3, false))
        #expect(body.take(from: ByteBuffer(string: "deNEXT"))! == (2, true))
        #expect(body.isComplete)

        let (te, _) = head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", request: true)
        var chunked = try #require(requestBodyFraming(te))
        #expect(chunked.take(from: ByteBuffer(string: "3\r\nab"))! == (5, false))
        #expect(chunked.take(from: ByteBuffer(string: "c\r\n0\r\n\r\nGET"))! == (8, true))
        var broken = try #require(requestBodyFraming(te))
        #expect(broken.take(from: ByteBuffer(string: "zz\r\n")) == nil)

        let (both, _) = head(
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", request: true)
        #expect(requestBodyFraming(both) == nil)
        let (none, _) = head("GET / HTTP/1.1\r\n\r\n", request: true)
        #expect(requestBodyFraming(none)?.isComplete == true)
    }

    @Test func aRequestHeadIsForwardedAsItCameOrRewrittenWhereNeeded() {
        let (plain, _) = head("GET /x HTTP/1.1\r\nHost: t\r\nCookie: a=1\r\n\r\n", request: true)
        #expect(requestHeadIsForwardable(plain, cookiesChanged: false, forwardfor: false))
        #expect(!requestHeadIsForwardable(plain, cookiesChanged: true, forwardfor: false))
        #expect(!requestHeadIsForwardable(plain, cookiesChanged: false, forwardfor: true))

        let text =
            "GET /x HTTP/1.0\nHost: t\nConnection: keep-alive\nCookie: SRV=A; a=1\nContent-Length: 0\nContent-Length: 0\nX-A: 1\n\n"
        let (h, bytes) = head(text, request: true)
        #expect(!requestHeadIsForwardable(h, cookiesChanged: false, forwardfor: false))
        let out = rewriteRequestHead(bytes, h, cookies: ["a=1"], forwardedFor: "127.0.0.5", allocator: allocator)
        #expect(
            String(buffer: out)
                == "GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nX-A: 1\r\nCookie: a=1\r\nX-Forwarded-For: 127.0.0.5\r\n\r\n"
        )
    }

    @Test func aResponseHeadGetsTheProxysLinesAndLosesHopByHopHeaders() throws {
        let extrasBytes: (ResponseExtras) -> ByteBuffer = { $0.render(allocator: allocator) }
        // Nothing to change: nil (the server's bytes go out as they came).
        let (plain, plainBytes) = head("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", request: false)
        let keep = ResponsePlan(closeAfter: false)
        #expect(
            rewriteResponseHead(
                plainBytes, plain, plan: keep, clientHTTP11: true, replaceSetCookies: false,
                extras: ResponseExtras(setCookies: [], cachePrivate: false, chunked: false, connection: nil),
                extraBytes: extrasBytes, allocator: allocator) == nil)

        // Additions only: one copy of the server's head, then the lines.
        let insert = ResponseExtras(setCookies: ["SRV=A; path=/"], cachePrivate: true, chunked: false, connection: nil)
        let added = try #require(
            rewriteResponseHead(
                plainBytes, plain, plan: keep, clientHTTP11: true, replaceSetCookies: false, extras: insert,
                extraBytes: extrasBytes, allocator: allocator))
        #expect(
            String(buffer: added)
                == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: SRV=A; path=/\r\nCache-control: private\r\n\r\n"
        )

        // An HTTP/1.0 client of a chunked response: de-chunked, closed, hop-by-hop headers and
        // the server's cookies gone.
        let (chunked, chunkedBytes) = head(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\nSet-Cookie: SRV=z\r\nX: y\r\n\r\n",
            request: false)
        let plan = ResponsePlan(dechunk: true, closeAfter: true)
        let rewritten = try #require(
            rewriteResponseHead(
                chunkedBytes, chunked, plan: plan, clientHTTP11: false, replaceSetCookies: true,
                extras: ResponseExtras(
                    setCookies: ["SRV=A; path=/"], cachePrivate: false, chunked: false, connection: nil),
                extraBytes: extrasBytes, allocator: allocator))
        #expect(String(buffer: rewritten) == "HTTP/1.0 200 OK\r\nX: y\r\nSet-Cookie: SRV=A; path=/\r\n\r\n")
    }

    @Test func theExtraLinesAreCachedPerDistinctSet() {
        var cache = ResponseExtrasCache()
        let a = ResponseExtras(setCookies: ["SRV=A; path=/"], cachePrivate: true, chunked: false, connection: nil)
        let b = ResponseExtras(setCookies: ["SRV=B; path=/"], cachePrivate: true, chunked: false, connection: .close)
        let first = cache.bytes(for: a, allocator: allocator)
        #expect(String(buffer: cache.bytes(for: b, allocator: allocator)).hasSuffix("Connection: close\r\n\r\n"))
        #expect(cache.bytes(for: a, allocator: allocator) == first)
        #expect(String(buffer: first) == "Set-Cookie: SRV=A; path=/\r\nCache-control: private\r\n\r\n")
        #expect(String(buffer: chunkSizeLine(300, allocator: allocator)) == "12c\r\n")
    }
}
