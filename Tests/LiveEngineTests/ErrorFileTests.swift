import BalancerCore
import HadeckTestSupport
import NIOCore
import NIOEmbedded
import Testing

@testable import LiveEngine

/// `errorfile` pages on the live balancer, as HAProxy 2.6.12 sends them (measured on the real
/// binary: the file's status line as written, lowercase header names, hop-by-hop headers dropped,
/// the backend's page before the frontend's, and HAProxy's own page for what its HTTP/1 layer refuses).
@Suite("Live balancer: errorfile", .onItsOwnThread)
struct ErrorFileTests {
    static func files(_ dir: TemporaryDirectory) throws -> (forbidden: String, unavailable: String, bad: String) {
        (
            try dir.write("403.http", "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nno way\n"),
            try dir.write(
                "503.http",
                "HTTP/1.0 503 Service Unavailable\r\nCache-Control: no-cache\r\nConnection: close\r\n"
                    + "Content-Type: text/html\r\nX-Custom: yes\r\n\r\n<h1>Sorry</h1>\n"),
            try dir.write("400.http", "HTTP/1.0 400 Bad request\r\nContent-Type: text/plain\r\n\r\nbad!\n")
        )
    }

    static func config(_ f: (forbidden: String, unavailable: String, bad: String)) -> String {
        """
        defaults
            mode http
            timeout connect 1s
        frontend www
            bind 127.80.1.1:18080
            errorfile 403 \(f.forbidden)
            errorfile 400 \(f.bad)
            http-request deny if { path /deny }
            use_backend other if { path /other }
            default_backend app
        backend app
            errorfile 503 \(f.unavailable)
            server a1 127.80.1.2:18081 disabled
        backend other
            server o1 127.80.1.3:18081 disabled
        """
    }

    @Test func pagesReplaceHAProxysOwnWhereHAProxyUsesThem() throws {
        let dir = try TemporaryDirectory("errorfile")
        let p = try EmbeddedProxy(Self.config(try Self.files(dir)))
        // The frontend's 403 for a deny: no Content-Length in the file, so the connection closes.
        let c = try p.client(port: 40_001)
        try c.receive(get("/deny"))
        #expect(
            try c.sent() == "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nno way\n")
        #expect(!c.isActive)
        // The backend's 503, its HTTP/1.0 status line as written, without its Connection header.
        let d = try p.client(port: 40_002)
        try d.receive(get("/"))
        #expect(
            try d.sent()
                == "HTTP/1.0 503 Service Unavailable\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n"
                + "x-custom: yes\r\n\r\n<h1>Sorry</h1>\n")
        // A backend without its own 503 page, and a frontend without one: HAProxy's page.
        let e = try p.client(port: 40_003)
        try e.receive(get("/other"))
        #expect(try e.sent() == HAProxyErrorResponse.serviceUnavailable.wireText)
        // What the HTTP/1 layer refuses keeps HAProxy's own 400, as in HAProxy 2.6.
        let f = try p.client(port: 40_004)
        try f.receive("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        #expect(try f.sent() == HAProxyErrorResponse.badRequest.wireText)
        #expect(p.records.map(\.status) == [403, 503, 503, 400])
        withExtendedLifetime(dir) {}
    }

    @Test func aMissingOrMalformedFileStopsTheStartAsInHAProxy() throws {
        let dir = try TemporaryDirectory("errorfile-bad")
        let missing = dir.file("nope.http")
        #expect(throws: LiveEngineError.badErrorFile(path: missing, reason: "error opening file")) {
            _ = try EmbeddedProxy(virtualConfig("    errorfile 503 \(missing)"))
        }
        let junk = try dir.write("junk.http", "not http\n")
        #expect(throws: LiveEngineError.badErrorFile(path: junk, reason: "not a valid HTTP response")) {
            _ = try EmbeddedProxy(virtualConfig("    errorfile 503 \(junk)"))
        }
    }

    @Test func pageParsing() throws {
        let page = try #require(ErrorFilePage(Array("HTTP/1.1 502 Oops\nContent-Length: 2\nKeep-Alive: x\n\nhi".utf8)))
        #expect(page.status == 502 && page.hasLength && !page.closes)
        #expect(page.headers == ["content-length: 2"])
        #expect(ErrorFilePage(Array("HTTP/1.1 999 No\r\n\r\n".utf8)) == nil)
    }
}
