import HadeckBase
import Testing

@testable import BalancerCore

/// A backend whose servers s1, s2... have these `maxconn` (and `maxqueue`), cookie SRV=s1...
private func queueBackend(
    maxconn: [Int], maxqueue: [Int] = [], queueTimeout: TimeSpan? = .seconds(5), redispatch: Bool = false
) -> Backend {
    backend(
        .roundrobin,
        maxconn.enumerated().map { i, m in
            var s = server("s\(i + 1)", cookie: "s\(i + 1)", maxconn: m)
            s.maxqueue = i < maxqueue.count ? maxqueue[i] : 0
            return s
        },
        cookie: CookieConfig(name: "SRV", mode: .insert)
    ) { c in
        c.timeouts.queue = queueTimeout
        c.timeouts.connect = .seconds(2)
        c.redispatch = redispatch
    }
}

/// Routes a request (with cookie SRV=`cookie` when given) and admits it as request `id`.
private func arrive(
    _ b: Backend, _ id: Int, cookie: String? = nil, at ms: Int64
) -> (decision: RoutingDecision, admission: Admission) {
    var d = b.route(request: RoutedRequest(cookieHeaders: cookie.map { ["SRV=\($0)"] } ?? []), now: at(ms))
    let admission = b.admit(&d, request: id, now: at(ms))
    return (d, admission)
}

/// Item 7 of issue 14: `maxconn` per server, the queues and `timeout queue`, as HAProxy 2.6.
@Suite struct ServerQueueTests {
    @Test func maxconnThenTheBackendQueue() {
        let b = queueBackend(maxconn: [1, 1])
        var r1 = arrive(b, 1, at: 0)
        #expect(r1.admission == .dispatch && r1.decision.server == "s1" && r1.decision.slot == "s1")
        var r2 = arrive(b, 2, at: 0)
        #expect(r2.admission == .dispatch && r2.decision.server == "s2")
        #expect(b.served("s1") == 1 && b.served("s2") == 1)
        // Both full: the balancer finds no server with a free slot, the request waits in the backend's queue.
        let r3 = arrive(b, 3, at: 10)
        #expect(r3.admission == .queued(server: nil, position: 1, deadline: at(5_010)))
        #expect(r3.decision.server == nil)
        #expect(r3.decision.reason == "no cookie: every usable server is at maxconn: waits in backend web's queue")
        #expect(b.queued(for: nil) == 1 && b.maxBackendQueued == 1)
        // s2's slot frees: the oldest waiting request takes it, with a new cookie for s2.
        let next = b.finish(&r2.decision, now: at(300))
        #expect(next.map(\.request) == [3])
        #expect(next[0].decision.server == "s2" && next[0].decision.slot == "s2" && next[0].decision.willInsertCookie)
        #expect(next[0].waited == .milliseconds(290))
        #expect(next[0].decision.reason.hasSuffix("; after 0.29s a slot freed on s2 -> s2, new cookie SRV=s2"))
        #expect(b.served("s2") == 1 && b.queued(for: nil) == 0)
        // A slot is released once: finishing the same decision again changes nothing.
        #expect(b.finish(&r2.decision, now: at(301)).isEmpty && b.served("s2") == 1)
        _ = b.finish(&r1.decision, now: at(400))
        #expect(b.served("s1") == 0)
        #expect(b.snapshot(now: at(400)).map(\.served) == [0, 1])
    }

    @Test func persistentRequestsWaitForTheirServerAndTheOldestGoesFirst() {
        let b = queueBackend(maxconn: [1, 0])
        var first = arrive(b, 1, cookie: "s1", at: 0)
        #expect(first.admission == .dispatch && first.decision.persistent)
        let second = arrive(b, 2, cookie: "s1", at: 1)
        #expect(second.admission == .queued(server: "s1", position: 1, deadline: at(5_001)))
        #expect(second.decision.reason.hasSuffix("; s1 is at maxconn 1: waits in its queue"))
        _ = arrive(b, 3, cookie: "s1", at: 2)
        // A request without a cookie is balanced to s2 (unlimited) and does not wait.
        #expect(arrive(b, 4, at: 3).decision.server == "s2")
        #expect(b.queued(for: "s1") == 2 && b.snapshot(now: at(3)).map(\.maxQueued) == [2, 0])
        var out = b.finish(&first.decision, now: at(50))
        #expect(out.map(\.request) == [2] && out[0].decision.server == "s1" && !out[0].decision.willInsertCookie)
        out = b.finish(&out[0].decision, now: at(60))
        #expect(out.map(\.request) == [3])
        #expect(b.finish(&out[0].decision, now: at(70)).isEmpty)
        #expect(b.served("s1") == 0 && b.waitingRequests.isEmpty)
    }

    @Test func maxqueueRejectsOrRedispatches() {
        let b = queueBackend(maxconn: [1, 0], maxqueue: [1])
        _ = arrive(b, 1, cookie: "s1", at: 0)
        _ = arrive(b, 2, cookie: "s1", at: 0)
        let third = arrive(b, 3, cookie: "s1", at: 0)
        #expect(
            third.admission == .rejected(queueFull: true) && third.decision.server == nil
                && third.decision.statusCode == 503)
        #expect(third.decision.reason.hasSuffix("; s1 is at maxconn 1 and its queue holds maxqueue 1: 503"))
        let r = queueBackend(maxconn: [1, 0], maxqueue: [1], redispatch: true)
        _ = arrive(r, 1, cookie: "s1", at: 0)
        _ = arrive(r, 2, cookie: "s1", at: 0)
        let moved = arrive(r, 3, cookie: "s1", at: 0)
        #expect(moved.admission == .dispatch && moved.decision.server == "s2" && !moved.decision.persistent)
        #expect(moved.decision.reason.contains("maxqueue 1: option redispatch moves it by roundrobin -> s2"))
    }

    @Test func timeoutQueueFallsBackToTimeoutConnect() {
        let b = queueBackend(maxconn: [1], queueTimeout: nil)
        #expect(b.queueTimeout == .seconds(2))
        _ = arrive(b, 1, at: 0)
        #expect(arrive(b, 2, at: 100).admission == .queued(server: nil, position: 1, deadline: at(2_100)))
        #expect(arrive(b, 3, at: 900).admission == .queued(server: nil, position: 2, deadline: at(2_900)))
        let expired = b.leaveQueue(request: 2, timedOut: true, now: at(2_100))
        #expect(expired?.server == nil && expired?.statusCode == 503)
        #expect(expired?.reason.hasSuffix("; timeout queue (2s) expired after 2s: 503") == true)
        // A client that leaves is forgotten; leaving twice finds nothing.
        #expect(b.leaveQueue(request: 3, now: at(2_200)) != nil)
        #expect(b.leaveQueue(request: 3, now: at(2_200)) == nil)
        #expect(b.waitingRequests.isEmpty && b.queued(for: nil) == 0 && b.maxBackendQueued == 2)
    }

    @Test func noServerAtAll() throws {
        let b = queueBackend(maxconn: [1])
        _ = try b.setAdminState(server: "s1", .maint, now: .zero)
        let r = arrive(b, 1, at: 0)
        #expect(r.admission == .rejected(queueFull: false) && r.decision.reason == "no cookie: no usable server: 503")
    }

    /// A slot freed on a drained server serves its own queue (cookie clients) but not the
    /// backend's (new clients), as process_srv_queue() with srv_currently_usable().
    @Test func aDrainedServerServesOnlyItsOwnQueue() throws {
        let b = queueBackend(maxconn: [1, 1])
        var onS1 = arrive(b, 1, at: 0)
        _ = arrive(b, 2, at: 0)
        _ = arrive(b, 3, at: 1)  // backend queue
        _ = arrive(b, 4, cookie: "s1", at: 2)  // s1's queue
        _ = try b.setAdminState(server: "s1", .drain, now: at(5))
        let out = b.finish(&onS1.decision, now: at(10))
        #expect(out.map(\.request) == [4])
        #expect(b.waitingRequests == [3])
    }

    /// A redispatch after a failed connect moves the slot to the new server, and the freed slot
    /// lets the old server's next request out of its queue.
    @Test func aRedispatchMovesTheSlot() {
        let b = queueBackend(maxconn: [1, 1], redispatch: true)
        let onS1 = arrive(b, 1, at: 0)
        _ = arrive(b, 2, cookie: "s1", at: 1)
        let retry = b.connectFailed(onS1.decision, now: at(5))
        #expect(retry.decision.server == "s2" && retry.decision.slot == "s2")
        #expect(b.served("s2") == 1)
        #expect(retry.dequeued.map(\.request) == [2] && retry.dequeued[0].decision.slot == "s1")
    }
}

/// `stats auth`: without credentials HAProxy answers 401 with WWW-Authenticate.
@Suite struct StatsAuthTests {
    @Test func basicAuthentication() {
        var stats = StatsPageConfig()
        #expect(stats.authorize(authorization: nil) == .allowed)
        stats.credentials = [StatsCredential(user: "admin", password: "s3cret")]
        #expect(stats.authorize(authorization: nil) == .challenge(realm: "HAProxy Statistics"))
        #expect(stats.authorize(authorization: "Basic YWRtaW46czNjcmV0") == .allowed)  // admin:s3cret
        #expect(stats.authorize(authorization: "basic YWRtaW46czNjcmV0") == .allowed)
        #expect(stats.authorize(authorization: "Basic YWRtaW46d3Jvbmc=") == .challenge(realm: "HAProxy Statistics"))
        #expect(stats.authorize(authorization: "Bearer x") == .challenge(realm: "HAProxy Statistics"))
        stats.realm = "Ops"
        #expect(stats.authorize(authorization: "Basic !!") == .challenge(realm: "Ops"))
    }
}

@Suite struct MatchingTests {
    @Test(arguments: [
        ("www.example.com", "example.com", MatchMethod.dom, true), ("www.example.com", "ample.com", .dom, false),
        ("/a/b/c", "b", .dir, true), ("/a/bc", "b", .dir, false), ("/API/x", "/api", .beg, false),
        ("x.CSS", ".css", .end, false), ("abc", "", .sub, true),
    ])
    func stringMethods(value: String, pattern: String, method: MatchMethod, expected: Bool) {
        #expect(textMatch(Array(value.utf8), Array(pattern.utf8), method, false) == expected)
    }

    @Test func caseInsensitive() {
        #expect(textMatch(Array("/API/x".utf8), Array("/api".utf8), .beg, true))
    }

    @Test func addresses() throws {
        let net = AddressPattern(address: try #require(IPAddress("10.0.0.0")), prefixLength: 8)
        #expect(net.contains(try #require(IPAddress("10.200.1.1"))))
        #expect(!net.contains(try #require(IPAddress("11.0.0.1"))))
        #expect(net.contains(try #require(IPAddress("::ffff:10.1.2.3"))))
        #expect(IPAddress("::1")?.bytes.count == 16)
        #expect(IPAddress("fe80::1%eth0")?.description == "fe80:0:0:0:0:0:0:1")
        #expect(IPAddress("1.2.3") == nil && IPAddress("1:2:3") == nil && IPAddress("a::b::c") == nil)
    }

    @Test func requestFacts() {
        let r = RequestFacts(method: "GET", target: "http://h.example/p/q?x=1", headers: [("Host", "h.example")])
        #expect(String(decoding: r.head[r.path!], as: UTF8.self) == "/p/q")
        #expect(String(decoding: r.head[r.query!], as: UTF8.self) == "x=1")
        #expect(RequestFacts(method: "OPTIONS", target: "*").path == nil)
    }
}
