import HadeckBase
import Testing

@testable import BalancerCore

private func queueModel(
    maxconn: [Int], maxqueue: [Int] = [], queueTimeout: TimeSpan? = .seconds(5), redispatch: Bool = false
) -> ServerQueueModel {
    var c = BackendConfig(name: "web")
    c.servers = maxconn.enumerated().map { i, m in
        var s = ServerConfig(name: "s\(i + 1)", address: HostPort(host: "127.85.0.\(i + 1)", port: 80))
        s.maxconn = m
        s.maxqueue = i < maxqueue.count ? maxqueue[i] : 0
        return s
    }
    c.timeouts.queue = queueTimeout
    c.timeouts.connect = .seconds(2)
    c.redispatch = redispatch
    return ServerQueueModel(backend: c)
}

/// Item 7 of issue 14: `maxconn` per server, the queues and `timeout queue`, as HAProxy 2.6.
@Suite struct ServerQueueTests {
    @Test func maxconnThenTheBackendQueue() {
        var q = queueModel(maxconn: [1, 1])
        #expect(
            q.admit(request: 1, persistent: nil, balanced: "s1", anyUsable: true, now: at(0)) == .dispatch(server: "s1")
        )
        #expect(!q.hasFreeSlot("s1"))
        #expect(
            q.admit(request: 2, persistent: nil, balanced: "s2", anyUsable: true, now: at(0)) == .dispatch(server: "s2")
        )
        // Both full: the balancer finds no server with a free slot, the request waits in the backend's queue.
        #expect(
            q.admit(request: 3, persistent: nil, balanced: nil, anyUsable: true, now: at(10))
                == .queued(server: nil, position: 1, deadline: at(5_010)))
        #expect(q.queued(for: nil) == 1)
        let next = q.release(server: "s2", now: at(300))
        #expect(next?.request == 3 && next?.server == "s2")
        #expect(next?.reason == "waited 0.29s in the backend's queue for a free slot")
        #expect(q.served("s2") == 1)
    }

    @Test func persistentRequestsWaitForTheirServerAndTheOldestGoesFirst() {
        var q = queueModel(maxconn: [1, 0])
        _ = q.admit(request: 1, persistent: "s1", balanced: nil, anyUsable: true, now: at(0))
        #expect(
            q.admit(request: 2, persistent: "s1", balanced: "s2", anyUsable: true, now: at(1))
                == .queued(server: "s1", position: 1, deadline: at(5_001)))
        _ = q.admit(request: 3, persistent: "s1", balanced: nil, anyUsable: true, now: at(2))
        #expect(q.release(server: "s1", now: at(50))?.request == 2)
        #expect(q.release(server: "s1", now: at(60))?.request == 3)
        #expect(q.release(server: "s1", now: at(70)) == nil)
        #expect(q.served("s1") == 0)
    }

    @Test func maxqueueRejectsOrRedispatches() {
        var q = queueModel(maxconn: [1, 0], maxqueue: [1])
        _ = q.admit(request: 1, persistent: "s1", balanced: nil, anyUsable: true, now: at(0))
        _ = q.admit(request: 2, persistent: "s1", balanced: nil, anyUsable: true, now: at(0))
        #expect(
            q.admit(request: 3, persistent: "s1", balanced: "s2", anyUsable: true, now: at(0))
                == .rejected(reason: "server s1 is full and its queue holds maxqueue 1 requests"))
        var r = queueModel(maxconn: [1, 0], maxqueue: [1], redispatch: true)
        _ = r.admit(request: 1, persistent: "s1", balanced: nil, anyUsable: true, now: at(0))
        _ = r.admit(request: 2, persistent: "s1", balanced: nil, anyUsable: true, now: at(0))
        #expect(
            r.admit(request: 3, persistent: "s1", balanced: "s2", anyUsable: true, now: at(0))
                == .dispatch(server: "s2"))
    }

    @Test func timeoutQueueFallsBackToTimeoutConnect() {
        var q = queueModel(maxconn: [1], queueTimeout: nil)
        #expect(q.queueTimeout == .seconds(2))
        _ = q.admit(request: 1, persistent: nil, balanced: "s1", anyUsable: true, now: at(0))
        _ = q.admit(request: 2, persistent: nil, balanced: nil, anyUsable: true, now: at(100))
        _ = q.admit(request: 3, persistent: nil, balanced: nil, anyUsable: true, now: at(900))
        #expect(q.nextDeadline == at(2_100))
        #expect(q.expire(now: at(2_099)).isEmpty)
        let expired = q.expire(now: at(2_100))
        #expect(expired.map(\.request) == [2])
        #expect(expired[0].server == nil)
        #expect(expired[0].reason == "timeout queue (2s) expired waiting for a server")
        q.cancel(request: 3)
        #expect(q.waiting.isEmpty)
    }

    @Test func noServerAtAll() {
        var q = queueModel(maxconn: [1])
        #expect(
            q.admit(request: 1, persistent: nil, balanced: nil, anyUsable: false, now: at(0))
                == .rejected(reason: "no server is available"))
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
