import BalancerCore
import HadeckBase
import NIOCore
import NIOEmbedded
import Testing

@testable import LiveEngine

/// `show stat`'s qcur,qmax of one row (`web,SERVER` or `web,BACKEND`).
private func queueColumns(_ p: EmbeddedProxy, _ row: String) -> (qcur: String, qmax: String)? {
    let csv = ShowStat.csv(p.state.statsSnapshot())
    guard let line = csv.split(separator: "\n").first(where: { $0.hasPrefix("web,\(row),") }) else { return nil }
    let f = line.split(separator: ",", omittingEmptySubsequences: false)
    return (String(f[2]), String(f[3]))
}

/// A client connection from `port` that has sent `request`.
private func sending(_ p: EmbeddedProxy, _ request: String, port: Int) throws -> EmbeddedChannel {
    let c = try p.client(port: port)
    try c.receive(request)
    return c
}

/// A server's `maxconn` with the queue and `timeout queue` in the live balancer (issue 14, item 7),
/// on embedded channels in virtual time.
@Suite("Live balancer: maxconn slots, the queues and timeout queue, in virtual time")
struct ServerQueueLiveTests {
    static let oneSlot = virtualConfig(
        "    timeout queue 500ms\n    timeout server 5s\n    timeout client 5s",
        servers: "server webA 127.80.1.2:18081 maxconn 1")

    @Test func aRequestWaitsForTheSlotThenTakesIt() throws {
        let p = try EmbeddedProxy(Self.oneSlot)
        let first = try sending(p, get("/a"), port: 40_001)
        let second = try sending(p, get("/b"), port: 40_002)
        // The slot is taken: the second request waits in the backend's queue, no second connection.
        #expect(p.attempts == ["webA"])
        #expect(p.state.backend(named: "web")?.queued(for: nil) == 1)
        #expect(queueColumns(p, "BACKEND")?.qcur == "1")
        p.advance(ms: 120)
        try p.server(0)?.receive(ok())
        #expect(try first.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
        // The freed slot goes to the waiting request, which reuses the idle server connection.
        #expect(p.attempts == ["webA"])
        #expect(try p.server(0)?.sent().contains("GET /b HTTP/1.1") == true)
        try p.server(0)?.receive(ok())
        #expect(try second.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
        let waited = try #require(p.records.first { $0.requestLine == "GET /b HTTP/1.1" })
        #expect(waited.queueTime == .milliseconds(120))
        #expect(waited.reason.hasSuffix("after 0.12s a slot freed on webA -> webA"))
        #expect(waited.termination == "--")
        #expect(p.records.first { $0.requestLine == "GET /a HTTP/1.1" }?.queueTime == .zero)
        #expect(queueColumns(p, "BACKEND").map { [$0.qcur, $0.qmax] } == ["0", "1"])
        #expect(p.state.backend(named: "web")?.served("webA") == 0)
    }

    @Test func aRequestThatWaitsTimeoutQueueGets503sQ() throws {
        let p = try EmbeddedProxy(Self.oneSlot)
        let holder = try sending(p, get("/slow"), port: 40_001)
        let waiting = try sending(p, get("/b"), port: 40_002)
        p.advance(ms: 499)
        #expect(try waiting.sent() == "")
        p.advance(ms: 1)
        #expect(try waiting.sent() == HAProxyErrorResponse.serviceUnavailable.wireText)
        #expect(!waiting.isActive)
        let r = try #require(p.records.first)
        #expect(r.status == 503 && r.termination == "sQ" && r.server == nil)
        #expect(r.queueTime == .milliseconds(500) && r.connectTime == nil)
        #expect(r.reason.hasSuffix("; timeout queue (500ms) expired after 0.5s: 503"))
        let line = HTTPLogLine.text(r, wallAtStart: 0)
        #expect(line.contains(" web/<NOSRV> 0/500/-1/-1/500 503 "))
        #expect(p.state.backend(named: "web")?.waitingRequests.isEmpty == true)
        // The holder is still served.
        try p.server(0)?.receive(ok())
        #expect(try holder.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    @Test func aClientThatLeavesTheQueueIsForgottenAndTheNextOneGetsTheSlot() throws {
        let p = try EmbeddedProxy(Self.oneSlot)
        let holder = try sending(p, get("/a"), port: 40_001)
        let leaving = try sending(p, get("/gone"), port: 40_002)
        let staying = try sending(p, get("/c"), port: 40_003)
        p.advance(ms: 10)
        _ = try leaving.finish()
        let left = try #require(p.records.first { $0.requestLine == "GET /gone HTTP/1.1" })
        #expect(left.termination == "CQ")
        #expect(p.state.backend(named: "web")?.queued(for: nil) == 1)
        try p.server(0)?.receive(ok())
        #expect(try holder.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(try p.server(0)?.sent().contains("GET /c HTTP/1.1") == true)
        try p.server(0)?.receive(ok())
        #expect(try staying.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    /// A cookie client waits for its own server while a new client is balanced to the free one.
    @Test func aPersistentRequestWaitsInItsServersQueue() throws {
        let p = try EmbeddedProxy(
            virtualConfig(
                "    timeout queue 2s\n    timeout server 5s",
                servers: "cookie SRV insert indirect nocache\n    server webA 127.80.1.2:18081 maxconn 1 cookie A\n"
                    + "    server webB 127.80.1.3:18081 cookie B"))
        let holder = try sending(p, "GET /a HTTP/1.1\r\nHost: x\r\nCookie: SRV=A\r\n\r\n", port: 40_001)
        let sticky = try sending(p, "GET /b HTTP/1.1\r\nHost: x\r\nCookie: SRV=A\r\n\r\n", port: 40_002)
        let fresh = try sending(p, get("/c"), port: 40_003)
        #expect(p.attempts == ["webA", "webB"])
        #expect(queueColumns(p, "webA")?.qcur == "1")
        #expect(queueColumns(p, "BACKEND")?.qcur == "0")
        try p.server(1)?.receive(ok())
        #expect(try fresh.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
        try p.server(0)?.receive(ok())
        #expect(try holder.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(try p.server(0)?.sent().contains("GET /b HTTP/1.1") == true)
        try p.server(0)?.receive(ok())
        #expect(try sticky.sent().hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(p.records.first { $0.requestLine == "GET /b HTTP/1.1" }?.server == "webA")
    }

    /// `maxqueue` full: 503 at once, `SQ`.
    @Test func aFullServerQueueRefusesWith503SQ() throws {
        let p = try EmbeddedProxy(
            virtualConfig(
                "    timeout queue 2s\n    timeout server 5s",
                servers:
                    "cookie SRV insert indirect nocache\n    server webA 127.80.1.2:18081 maxconn 1 maxqueue 1 cookie A"
            ))
        for port in 40_001...40_002 {
            try p.client(port: port).receive("GET / HTTP/1.1\r\nHost: x\r\nCookie: SRV=A\r\n\r\n")
        }
        let refused = try sending(p, "GET /x HTTP/1.1\r\nHost: x\r\nCookie: SRV=A\r\n\r\n", port: 40_003)
        #expect(try refused.sent() == HAProxyErrorResponse.serviceUnavailable.wireText)
        let r = try #require(p.records.first)
        #expect(r.termination == "SQ" && r.status == 503)
        #expect(r.reason.hasSuffix("webA is at maxconn 1 and its queue holds maxqueue 1: 503"))
    }
}
