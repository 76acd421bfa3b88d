import BalancerCore
import HadeckBase
import HadeckTestSupport
import NIOCore
import NIOEmbedded
import Testing

@testable import LiveEngine

/// The frontend's routing rules on the live balancer (embedded channels, virtual time): the backend
/// `use_backend` chooses, the answers `deny`, `redirect` and `return` make without a server, the
/// header edits on the request and the response, and the reason in the access log. The bytes of
/// each answer are HAProxy 2.6.12's (captured from the real binary, see RoutingDifferentialTests).
@Suite("Live balancer: acl, use_backend, http-request and http-response rules", .onItsOwnThread)
struct RoutingRulesTests {
    static let config = """
        defaults
            mode http
            timeout connect 1s
            timeout client 5s
            timeout server 5s
        frontend www
            bind 127.80.1.1:18080
            acl is_api path_beg /api
            acl host_admin hdr(host) -i admin.example.com
            acl old path_beg /old
            http-request deny if { path_beg /private }
            http-request deny deny_status 400 if { path /bad }
            http-request redirect prefix /new code 301 if old
            redirect location /there if { path /loc }
            http-request return status 201 content-type text/plain hdr X-Who www string hello if { path /ret }
            http-request set-header X-Added yes
            http-request del-header X-Secret
            http-response set-header X-Served-By hadeck
            http-response del-header Server
            use_backend admin if host_admin
            use_backend api if is_api !{ method POST }
            default_backend app
        backend app
            server a1 127.80.1.2:18081
        backend api
            server p1 127.80.1.3:18081
        backend admin
            http-request return status 200 content-type text/plain string admin
        """

    @Test func useBackendSendsTheRequestToTheChosenBackendAndTheLogSaysWhichRuleMatched() throws {
        let p = try EmbeddedProxy(Self.config)
        let c = try p.client()
        try c.receive(get("/api/users"))
        let server = try #require(p.server(0))
        #expect(p.attempts == ["p1"])
        try server.receive(ok("api"))
        #expect(try c.sent().hasSuffix("api"))
        // POST to /api is not for the api backend (`!{ method POST }`).
        try c.receive("POST /api/users HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n")
        #expect(p.attempts == ["p1", "a1"])
        try #require(p.server(1)).receive(ok("app"))
        #expect(try c.sent().hasSuffix("app"))
        #expect(p.records.map(\.backend) == ["api", "app"])
        #expect(p.records[0].reason.hasPrefix("acl is_api (path_beg /api), !{ method POST } -> backend api; "))
        #expect(p.records[1].reason.hasPrefix("no use_backend rule matched -> default_backend app; "))
    }

    @Test func denyAnswers403WithHAProxysBodyAndKeepsTheConnection() throws {
        let p = try EmbeddedProxy(Self.config)
        let c = try p.client()
        try c.receive(get("/private/x"))
        let body = "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"
        #expect(
            try c.sent()
                == "HTTP/1.1 403 Forbidden\r\ncontent-length: 93\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n"
                + body)
        #expect(c.isActive)
        #expect(p.attempts.isEmpty)
        let record = try #require(p.records.first)
        #expect(record.status == 403 && record.termination == "PR" && record.server == nil)
        #expect(record.reason == "http-request deny (line 11) if { path_beg /private } -> 403")
        // deny_status 400 is HAProxy's own 400, which ends the connection.
        try c.receive(get("/bad"))
        #expect(try c.sent().hasPrefix("HTTP/1.1 400 Bad request\r\ncontent-length: 90\r\n"))
        #expect(!c.isActive)
    }

    @Test func redirectsAndReturnAreAnsweredAsHAProxyWritesThem() throws {
        let p = try EmbeddedProxy(Self.config)
        let c = try p.client()
        try c.receive(get("/old/page?a=1"))
        #expect(
            try c.sent() == "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: /new/old/page?a=1\r\n\r\n"
        )
        try c.receive(get("/loc"))
        #expect(
            try c.sent()
                == "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /there\r\ncache-control: no-cache\r\n\r\n")
        try c.receive(get("/ret"))
        #expect(
            try c.sent()
                == "HTTP/1.1 201 Created\r\nx-who: www\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nhello")
        // A backend's own rules answer after the switch.
        try c.receive("GET / HTTP/1.1\r\nHost: admin.example.com\r\n\r\n")
        #expect(try c.sent() == "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-type: text/plain\r\n\r\nadmin")
        #expect(c.isActive)
        #expect(p.attempts.isEmpty)
        #expect(p.records.map(\.status) == [301, 302, 201, 200])
        #expect(p.records.map(\.termination) == ["LR", "LR", "LR", "LR"])
        #expect(p.records[3].reason.hasPrefix("acl host_admin (hdr(host) -i admin.example.com) -> backend admin; "))
        // An HTTP/1.0 client gets `connection: close`, and the connection closes.
        let old = try p.client(port: 40_001)
        try old.receive("GET /loc HTTP/1.0\r\n\r\n")
        #expect(try old.sent().hasSuffix("cache-control: no-cache\r\nconnection: close\r\n\r\n"))
        #expect(!old.isActive)
    }

    @Test func aRequestWithABodyIsAnsweredOnceTheBodyHasArrived() throws {
        let p = try EmbeddedProxy(Self.config)
        let c = try p.client()
        try c.receive("POST /private HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        #expect(try c.sent() == "")
        try c.receive("cd")
        #expect(try c.sent().hasPrefix("HTTP/1.1 403 Forbidden\r\n"))
        try c.receive(get("/loc"))
        #expect(try c.sent().hasPrefix("HTTP/1.1 302 Found\r\n"))
    }

    @Test func headerEditsReachTheServerAndTheClient() throws {
        let p = try EmbeddedProxy(Self.config)
        let c = try p.client()
        try c.receive("GET / HTTP/1.1\r\nHost: test\r\nX-Secret: 1\r\nX-Added: no\r\nAccept: */*\r\n\r\n")
        let server = try #require(p.server(0))
        #expect(try server.sent() == "GET / HTTP/1.1\r\nHost: test\r\nAccept: */*\r\nX-Added: yes\r\n\r\n")
        try server.receive("HTTP/1.1 200 OK\r\nServer: app/1\r\nX-Served-By: app\r\nContent-Length: 2\r\n\r\nok")
        #expect(try c.sent() == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Served-By: hadeck\r\n\r\nok")
    }

    @Test func aFrontendWithOnlyDefaultBackendBuildsNoRouter() throws {
        let p = try EmbeddedProxy(virtualConfig(""))
        let fe = try #require(p.state.frontends["web"])
        #expect(fe.router == nil && !fe.hasResponseRules)
        // A backend's own rules make the frontend evaluate them.
        let q = try EmbeddedProxy(
            """
            defaults
                mode http
            frontend f
                bind 127.80.1.1:18080
                default_backend b
            backend b
                http-response set-header X-B 1
                server s 127.80.1.2:18081
            """)
        let f = try #require(q.state.frontends["f"])
        #expect(f.router != nil && f.hasResponseRules)
        let c = try q.client()
        try c.receive(get("/"))
        try #require(q.server(0)).receive(ok())
        #expect(try c.sent() == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-B: 1\r\n\r\nok")
    }

    @Test func noMatchingRuleAndNoDefaultBackendIs503WithTheReason() throws {
        let p = try EmbeddedProxy(
            """
            defaults
                mode http
            frontend f
                bind 127.80.1.1:18080
                use_backend b if { path /b }
            backend b
                server s 127.80.1.2:18081
            """)
        let c = try p.client()
        try c.receive(get("/x"))
        #expect(try c.sent() == HAProxyErrorResponse.serviceUnavailable.wireText)
        #expect(p.records.first?.reason == "no use_backend rule matched and no default_backend: 503")
    }

    @Test func nbsrvSeesTheLiveStateOfTheBackend() throws {
        let p = try EmbeddedProxy(
            """
            defaults
                mode http
            frontend f
                bind 127.80.1.1:18080
                use_backend spare if { nbsrv(main) lt 1 }
                default_backend main
            backend main
                server m 127.80.1.2:18081
            backend spare
                server s 127.80.1.3:18081
            """)
        let c = try p.client()
        try c.receive(get("/"))
        #expect(p.attempts == ["m"])
        try #require(p.server(0)).receive(ok())
        _ = try c.sent()
        _ = try p.state.backend(named: "main")?.setAdminState(server: "m", .maint, now: p.state.now)
        try c.receive(get("/"))
        #expect(p.attempts == ["m", "s"])
    }
}

@Suite("Rule answers and header edits as pure functions")
struct RuleAnswerTests {
    @Test func redirectHeadersFollowTheCode() {
        let permanent = RuleAnswer(.redirect(status: 308, location: "/x", setCookie: "A=1; path=/;"))
        #expect(permanent?.headers.map(\.name) == ["content-length", "location", "set-cookie"])
        let temporary = RuleAnswer(.redirect(status: 307, location: "/x", setCookie: nil))
        #expect(temporary?.headers.map(\.name) == ["content-length", "location", "cache-control"])
        #expect(temporary?.reasonPhrase == "Temporary Redirect")
        #expect(RuleAnswer(.backend("a")) == nil)
    }

    @Test func returnWithoutBodyHasOnlyItsLength() {
        let empty = RuleAnswer(.return(status: 200, contentType: "text/plain", body: ""))
        #expect(empty?.headers.map(\.name) == ["content-length"])
        let noContent = RuleAnswer(.return(status: 204, contentType: nil, body: ""))
        #expect(noContent?.headers.isEmpty == true)
        let wire = RuleAnswer(.return(status: 502, contentType: nil, body: ""))!.wire(
            close: false, http10KeepAlive: true, head: false, allocator: ByteBufferAllocator())
        #expect(
            String(buffer: wire)
                == "HTTP/1.1 502 Bad Gateway or Proxy Error\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n")
    }

    @Test func editsApplyInOrder() {
        let names = ["Host", "X-A", "x-a", "X-B"].map { Array($0.lowercased().utf8) }
        let edits = [
            HeaderEdit(kind: .add, name: "X-A", value: "1", line: 1),
            HeaderEdit(kind: .set, name: "x-a", value: "2", line: 2),
            HeaderEdit(kind: .add, name: "X-C", value: "3", line: 3),
            HeaderEdit(kind: .delete, name: "X-B", value: "", line: 4),
        ]
        let (keep, added) = applyHeaderEdits(edits, count: names.count) { names[$0] == $1 }
        #expect(keep == [true, false, false, false])
        #expect(added.map(\.name) == ["x-a", "X-C"])
        #expect(added.map(\.value) == ["2", "3"])
    }
}
