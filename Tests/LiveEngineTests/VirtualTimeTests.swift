import BalancerCore
import HadeckBase
import NIOCore
import NIOEmbedded
import Testing

@testable import LiveEngine

/// Timeouts, retries and redispatch of the live balancer's connections, on embedded channels in
/// virtual time: each deadline is checked to the millisecond, without sleeping.
@Suite("Live balancer in virtual time: timeouts, retries and redispatch to the millisecond")
struct VirtualTimeTests {
    @Test func aRequestThatNeverEndsGets408AfterTimeoutHttpRequestAndOthersAreServed() throws {
        let p = try EmbeddedProxy(virtualConfig("    timeout http-request 300ms\n    timeout client 5s"))
        let slow = try p.client(port: 40_001)
        try slow.receive("GET /login HTTP/1.1\r\nHost: x\r\n")
        p.advance(ms: 100)
        // Others are served meanwhile.
        let other = try p.client(port: 40_002)
        try other.receive(get("/login"))
        try p.server(0)?.receive(ok())
        #expect(try other.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
        p.advance(ms: 199)
        #expect(try slow.sent() == "")
        #expect(slow.isActive)
        p.advance(ms: 1)
        #expect(try slow.sent() == HAProxyErrorResponse.requestTimeout.wireText)
        #expect(!slow.isActive)
        let timedOut = try #require(p.records.first { $0.status == 408 })
        #expect(timedOut.termination == "cR")
        #expect(timedOut.requestLine == "<BADREQ>")
        #expect(timedOut.reason == "no complete request within timeout http-request: 408")
        // An idle keep-alive connection is closed silently after timeout http-request (served at 100 ms).
        p.advance(ms: 99)
        #expect(other.isActive)
        p.advance(ms: 1)
        #expect(try other.sent() == "")
        #expect(!other.isActive)
        #expect(p.records.map(\.status).sorted() == [200, 408])
    }

    /// Was a real-time test that slept 700 ms; the same assertions, in virtual time.
    @Test func keepAliveConnectionsWaitForTimeoutHttpKeepAliveBetweenRequests() throws {
        let p = try EmbeddedProxy(
            virtualConfig(
                "    timeout http-request 300ms\n    timeout http-keep-alive 1500ms\n    timeout client 5s",
                servers: "server webA 127.80.1.2:18081"))
        let c = try p.client()
        try c.receive(get("/login"))
        try p.server(0)?.receive(ok())
        #expect(try c.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
        // Longer than http-request, shorter than http-keep-alive: the connection is still there.
        p.advance(ms: 700)
        #expect(c.isActive)
        try c.receive(get("/login"))
        try p.server(0)?.receive(ok())
        #expect(try c.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
        // Idle past http-keep-alive: closed without a word, as HAProxy does, not before.
        p.advance(ms: 1499)
        #expect(c.isActive)
        p.advance(ms: 1)
        #expect(try c.sent() == "")
        #expect(!c.isActive)
        #expect(p.records.map(\.status) == [200, 200])
        // One server connection carried both requests.
        #expect(p.attempts == ["webA"])
    }

    @Test func aClientThatStopsSendingItsBodyGets408AfterTimeoutClient() throws {
        let p = try EmbeddedProxy(virtualConfig("    timeout client 500ms\n    timeout server 5s"))
        let c = try p.client()
        try c.receive("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        let server = try #require(p.server(0))
        #expect(try server.sent().hasSuffix("\r\n\r\nabc"))
        p.advance(ms: 300)
        try c.receive("de")  // body bytes push the deadline
        p.advance(ms: 499)
        #expect(c.isActive)
        p.advance(ms: 1)
        #expect(try c.sent() == HAProxyErrorResponse.requestTimeout.wireText)
        #expect(!c.isActive)
        #expect(!server.isActive)
        let r = try #require(p.records.last)
        #expect(r.status == 408 && r.termination == "cD")
        #expect(r.reason == "client sent nothing within timeout client: 408")
    }

    @Test func aServerThatDoesNotAnswerGets504AfterTimeoutServer() throws {
        let p = try EmbeddedProxy(virtualConfig("    timeout server 300ms\n    timeout client 5s"))
        let c = try p.client()
        try c.receive(get("/login"))
        let server = try #require(p.server(0))
        #expect(try server.sent().hasPrefix("GET /login HTTP/1.1\r\n"))
        p.advance(ms: 299)
        #expect(try c.sent() == "")
        p.advance(ms: 1)
        #expect(try c.sent() == HAProxyErrorResponse.gatewayTimeout.wireText)
        #expect(!c.isActive && !server.isActive)
        let r = try #require(p.records.last)
        #expect(r.status == 504 && r.termination == "sH" && r.server == "webA")
        #expect(r.reason == "server webA did not answer within timeout server: 504")
    }

    @Test func timeoutServerRestartsWithEachReadAndCutsAStalledBody() throws {
        let p = try EmbeddedProxy(virtualConfig("    timeout server 300ms\n    timeout client 5s"))
        let c = try p.client()
        try c.receive(get("/big"))
        let server = try #require(p.server(0))
        try server.receive("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
        #expect(try c.sent().hasSuffix("\r\n\r\nab"))
        p.advance(ms: 250)
        try server.receive("cd")
        server.pipeline.fireChannelReadComplete()
        p.advance(ms: 299)
        #expect(c.isActive)
        #expect(try c.sent() == "cd")
        p.advance(ms: 1)
        // The head went out already: the client connection is cut (sD), nothing more is written.
        #expect(try c.sent() == "")
        #expect(!c.isActive)
        #expect(p.records.last?.termination == "sD")
    }

    @Test func timeoutConnectRetriesThenGives503() throws {
        let p = try EmbeddedProxy(
            virtualConfig(
                "    retries 2\n    timeout connect 200ms\n    timeout client 5s\n    timeout server 5s",
                servers: "server webA 127.80.1.2:18081"))
        p.connect = { _ in .hang }
        let c = try p.client()
        try c.receive(get("/login"))
        #expect(p.attempts == ["webA"])
        // Each attempt waits timeout connect (200 ms); the retry follows at once: haproxy 2.6's
        // back_handle_st_cer() waits its turn-around only after a connection error
        // (`must_tar = sc_ep_test(sc, SE_FL_ERROR)`), and an expired connect sets SF_CONN_EXP only.
        p.advance(ms: 199)
        #expect(p.attempts.count == 1)
        p.advance(ms: 1)
        #expect(p.attempts.count == 2)
        p.advance(ms: 199)
        #expect(p.attempts.count == 2)
        p.advance(ms: 1)
        #expect(p.attempts.count == 3)
        p.advance(ms: 199)
        #expect(try c.sent() == "")
        p.advance(ms: 1)
        #expect(try c.sent() == HAProxyErrorResponse.serviceUnavailable.wireText)
        let r = try #require(p.records.last)
        #expect(r.status == 503 && r.retries == 2 && r.termination == "sC")
        #expect(r.reason == "connection to webA failed 3 times (retries 2): 503")
    }

    @Test func refusedConnectionsAreRetriedAfterTheDelayThenGive503() throws {
        let p = try EmbeddedProxy(
            virtualConfig(
                "    retries 3\n    timeout connect 200ms\n    timeout client 5s\n    timeout server 5s",
                servers: "server webA 127.80.1.2:18081"))
        p.connect = { _ in .refuse }
        let c = try p.client()
        try c.receive(get("/login"))
        #expect(p.attempts.count == 1)
        for n in 2...4 {
            p.advance(ms: 199)
            #expect(p.attempts.count == n - 1)
            p.advance(ms: 1)
            #expect(p.attempts.count == n)
        }
        #expect(try c.sent() == HAProxyErrorResponse.serviceUnavailable.wireText)
        let r = try #require(p.records.last)
        #expect(r.status == 503 && r.retries == 3 && r.termination == "SC" && r.server == nil)
    }

    @Test func redispatchMovesARefusedRequestToTheOtherServerAtOnce() throws {
        let p = try EmbeddedProxy(
            virtualConfig(
                "    retries 3\n    option redispatch\n    timeout connect 200ms\n    timeout client 5s\n    timeout server 5s"
            ))
        p.connect = { $0.server == "webA" ? .refuse : .accept }
        let c = try p.client()
        try c.receive(get("/login"))
        // Round robin with another usable server: no delay (HAProxy's stream_choose_redispatch).
        #expect(p.attempts == ["webA"])
        p.advance(ms: 0)
        #expect(p.attempts == ["webA", "webB"])
        try p.server(0)?.receive(ok())
        #expect(try c.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
        let r = try #require(p.records.last)
        #expect(r.status == 200 && r.server == "webB" && r.retries == 1 && r.redispatched)
        #expect(HTTPLogLine.text(r, wallAtStart: 0).contains("/+1 0/0 "))
    }

    @Test func aPersistentRequestIsRetriedOnItsServerThenRedispatchedOnTheLastRetry() throws {
        let p = try EmbeddedProxy(
            virtualConfig(
                "    retries 2\n    option redispatch\n    timeout connect 300ms\n    timeout client 5s\n    timeout server 5s",
                servers:
                    "cookie SRV insert indirect\n    server webA 127.80.1.2:18081 cookie A\n    server webB 127.80.1.3:18081 cookie B"
            ))
        p.connect = { $0.server == "webA" ? .refuse : .accept }
        let c = try p.client()
        try c.receive(get("/login", cookies: "SRV=A"))
        p.advance(ms: 299)
        #expect(p.attempts == ["webA"])
        // The retry 300 ms later fails too; the last retry redispatches, at once (round robin,
        // another server usable).
        p.advance(ms: 1)
        #expect(p.attempts == ["webA", "webA", "webB"])
        try p.server(0)?.receive(ok())
        let response = try c.sent()
        #expect(response.contains("Set-Cookie: SRV=B; path=/\r\n"))
        let r = try #require(p.records.last)
        #expect(r.server == "webB" && r.retries == 2 && r.redispatched)
        #expect(r.requestCookie == .valid(cookie: "SRV=A", server: "webA", serverStatus: "no check", weightZero: false))
        #expect(r.responseCookie == .inserted)
    }

    /// The article's backend (retries 3, option redispatch, timeout connect 5 s) and demonstration 1's
    /// client (SRV=A, webA's app dead, webA still UP): webA again after 1 s and after 2 s (the
    /// turn-around min(timeout connect, 1 s)); the third failure is the last retry
    /// (conn_retries 3 % retries 3 == 0): webB, at once (round robin, two servers active).
    @Test func theArticlesBackendRetriesADeadServerEverySecondAndRedispatchesOnTheLastRetry() throws {
        let p = try EmbeddedProxy(
            virtualConfig(
                "    retries 3\n    option redispatch\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s",
                servers:
                    "cookie SRV insert indirect nocache\n    server webA 127.80.1.2:18081 cookie A\n    server webB 127.80.1.3:18081 cookie B"
            ))
        p.connect = { $0.server == "webA" ? .refuse : .accept }
        let c = try p.client()
        try c.receive(get("/login", cookies: "SRV=A"))
        #expect(p.attempts == ["webA"])
        p.advance(ms: 999)
        #expect(p.attempts == ["webA"])
        p.advance(ms: 1)
        #expect(p.attempts == ["webA", "webA"])
        p.advance(ms: 999)
        #expect(p.attempts == ["webA", "webA"])
        #expect(try c.sent() == "")
        p.advance(ms: 1)
        #expect(p.attempts == ["webA", "webA", "webA", "webB"])
        try p.server(0)?.receive(ok())
        #expect(try c.sent().contains("Set-Cookie: SRV=B; path=/\r\n"))
        let r = try #require(p.records.last)
        #expect(r.server == "webB" && r.retries == 3 && r.redispatched)
        #expect(HTTPLogLine.text(r, wallAtStart: 0).contains("/+3 0/0 "))
    }

    @Test func aReusedConnectionTheServerClosedIsRetriedOnceOnAFreshOne() throws {
        let p = try EmbeddedProxy(
            virtualConfig("    timeout client 5s\n    timeout server 5s", servers: "server webA 127.80.1.2:18081"))
        let c = try p.client()
        try c.receive(get("/a"))
        try p.server(0)?.receive(ok())
        #expect(try c.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
        // The idle connection is reused for the next request, and the server closes it without answering.
        try c.receive(get("/b"))
        #expect(p.attempts == ["webA"])
        let first = try #require(p.server(0))
        _ = try first.sent()
        try first.close().wait()
        #expect(p.attempts == ["webA", "webA"])
        let fresh = try #require(p.server(1))
        #expect(try fresh.sent().hasPrefix("GET /b HTTP/1.1\r\n"))
        try fresh.receive(ok("second"))
        #expect(try c.sent().hasSuffix("second"))
        // A fresh connection closed without a response is a 502.
        try c.receive(get("/c"))
        try fresh.close().wait()
        #expect(p.attempts == ["webA", "webA", "webA"])
        try #require(p.server(2)).close().wait()
        #expect(try c.sent() == HAProxyErrorResponse.badGateway.wireText)
        #expect(p.records.map(\.status) == [200, 200, 502])
        #expect(p.records.last?.termination == "SH")
    }

    /// Was a real-time test (a 1.5 s server delay against a 300 ms timeout, and real refused
    /// connections): the same assertions, in virtual time.
    @Test func backendFailuresGive502And504And503() throws {
        let p = try EmbeddedProxy(
            virtualConfig(
                "    retries 3\n    option redispatch\n    timeout connect 200ms\n    timeout client 5s\n    timeout server 300ms",
                servers:
                    "cookie SRV insert indirect nocache\n    server webA 127.80.1.2:18081 cookie A\n    server webB 127.80.1.3:18888 cookie B"
            ))
        // webA answers with bytes that are not HTTP.
        var c = try p.client(port: 40_001)
        try c.receive(get("/login", cookies: "SRV=A"))
        try #require(p.serverChannels.last).channel.receive("SSH-2.0-not-http\r\n\r\n")
        #expect(try c.sent() == HAProxyErrorResponse.badGateway.wireText)
        // webA takes 1.5 s to answer: timeout server gives 504 at 300 ms.
        c = try p.client(port: 40_002)
        try c.receive(get("/login", cookies: "SRV=A"))
        let slow = try #require(p.serverChannels.last).channel
        p.advance(ms: 300)
        #expect(try c.sent() == HAProxyErrorResponse.gatewayTimeout.wireText)
        #expect(!slow.isActive)
        // webB still serves.
        c = try p.client(port: 40_003)
        try c.receive(get("/login", cookies: "SRV=B"))
        try #require(p.serverChannels.last).channel.receive(ok())
        #expect(try c.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
        // Nothing listens anywhere (webB's idle connection goes too): retries, then 503.
        p.connect = { _ in .refuse }
        try #require(p.serverChannels.last).channel.close().wait()
        c = try p.client(port: 40_004)
        try c.receive(get("/login"))
        p.advance(ms: 1000)
        #expect(try c.sent() == HAProxyErrorResponse.serviceUnavailable.wireText)
        let last = try #require(p.records.last)
        #expect(last.status == 503)
        #expect(last.retries == 3)
        #expect(last.termination == "SC")
        #expect(p.records.map(\.status) == [502, 504, 200, 503])
    }
}
