import BalancerCore
import Foundation
import HadeckBase
import HadeckTestSupport
import LiveEngine
import NIOCore
import NIOPosix
import Testing

@Suite("Live balancer: cookie persistence and failover over loopback", .serialized, .onItsOwnThread)
struct PersistenceTests {
    @Test func newClientGetsSessionAndServerCookieThenSticks() async throws {
        let cluster = try await TestCluster.start(net: 1, config: articleConfig(net: 1))
        defer { Task { await cluster.stop() } }
        let client = try await cluster.client()
        try await client.send(get("/login"))
        let first = try #require(await client.readResponse())
        #expect(first.status == 200)
        let session = try #require(first.sessionSet)
        let srv = try #require(first.setCookies.first { $0.hasPrefix("SRV=") })
        #expect(srv == "SRV=A; path=/" || srv == "SRV=B; path=/")
        #expect(session.hasSuffix(srv == "SRV=A; path=/" ? ".jvm3" : ".jvm2"))
        #expect(first.values("cache-control") == ["private"])
        #expect(first.value("x-seen-cookie") == nil)
        let letter = srv.hasPrefix("SRV=A") ? "A" : "B"

        // Same client, with its cookies, on the same and on a new connection: same session, no new SRV.
        for reuse in [true, false] {
            let c = reuse ? client : try await cluster.client()
            try await c.send(get("/login", cookies: "JSESSIONID=\(session); SRV=\(letter)"))
            let again = try #require(await c.readResponse())
            #expect(again.status == 200)
            #expect(again.setCookies.isEmpty)
            #expect(again.bodyText.contains(session))
            #expect(again.value("x-seen-cookie") == "JSESSIONID=\(session)")
            #expect(!(again.value("x-seen-cookie") ?? "").contains("SRV"))
            #expect(again.values("cache-control").isEmpty)
            if !reuse { await c.close() }
        }
        await client.close()
        let records = cluster.records.all
        #expect(records.count == 3)
        #expect(records.first?.reason.contains("no cookie: roundrobin") == true)
        #expect(records.last?.reason == "cookie SRV=\(letter) -> web\(letter)")
        #expect(records.allSatisfy { $0.session == session })
    }

    @Test func killingTheSessionServerMovesTheClientAndChecksMarkItDown() async throws {
        let cluster = try await TestCluster.start(net: 2, config: articleConfig(net: 2))
        defer { Task { await cluster.stop() } }
        let client = try await cluster.client()
        try await client.send(get("/login"))
        let first = try #require(await client.readResponse())
        let session = try #require(first.sessionSet)
        let letter = first.setCookies.contains("SRV=A; path=/") ? "A" : "B"
        let (dead, other) = letter == "A" ? (cluster.webA, "B") : (cluster.webB, "A")
        await dead.kill()

        try await client.send(get("/login", cookies: "JSESSIONID=\(session); SRV=\(letter)"))
        let moved = try #require(await client.readResponse())
        #expect(moved.status == 200)
        let newSession = try #require(moved.sessionSet)
        #expect(newSession != session)
        #expect(newSession.hasSuffix(other == "A" ? ".jvm3" : ".jvm2"))
        #expect(moved.setCookies.contains("SRV=\(other); path=/"))
        #expect(moved.value("x-served-by") == "web\(other)")
        let record = try #require(cluster.records.all.last)
        #expect(record.server == "web\(other)")
        #expect(record.status == 200)

        #expect(await cluster.waitFor(server: "web\(letter)", status: "DOWN"))
        let down = cluster.transitions.all.filter {
            $0.transition.server == "web\(letter)" && $0.transition.to == "DOWN"
        }
        #expect(down.count == 1)
        #expect(down.first?.transition.why.contains("failed its 3rd check in a row") == true)
        #expect(down.first?.transition.checkStatus == "L4CON")

        // It comes back: checks see it again and mark it UP.
        try await dead.start()
        #expect(await cluster.waitFor(server: "web\(letter)", status: "UP"))
        await client.close()
    }
}

/// Timeouts, retries and failing servers are tested in virtual time (VirtualTimeTests); these
/// stay on real sockets, end to end.
@Suite("Live balancer: malformed requests and failures get HAProxy's answers", .serialized, .onItsOwnThread)
struct ErrorResponseTests {
    static let net = 3

    @Test func eachBadRequestGetsItsStatusAndOthersAreServed() async throws {
        // No `timeout http-request` here: the bystander idles between its requests for as long as the
        // cases take on a loaded machine (the timeout has its own test below).
        let cluster = try await TestCluster.start(net: Self.net, config: articleConfig(net: Self.net))
        defer { Task { await cluster.stop() } }
        // A keep-alive client that stays open through all of it.
        let bystander = try await cluster.client()
        try await bystander.send(get("/login"))
        #expect(await bystander.readResponse()?.status == 200)

        let bad400 = HAProxyErrorResponse.badRequest.wireText
        let cases: [(String, [UInt8])] = [
            ("garbage", Array("GARBAGE\r\n\r\n".utf8)),
            (
                "TE.TE",
                Array(
                    "POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n"
                        .utf8)
            ),
            (
                "oversized",
                Array("GET /login HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n".utf8)
            ),
        ]
        for (name, bytes) in cases {
            let c = try await cluster.client()
            try await c.send(bytes)
            let text = String(decoding: await c.readToClose(), as: UTF8.self)
            #expect(text == bad400, "\(name)")
        }

        // The bystander's keep-alive connection is still served.
        try await bystander.send(get("/login"))
        #expect(await bystander.readResponse()?.status == 200)
        #expect(cluster.records.all.map(\.status).filter { $0 == 400 }.count == 3)
        await bystander.close()
    }

    @Test func noUsableServerIs503AtOnce() async throws {
        let net = 5
        let text = """
            defaults
                mode http
                timeout connect 1s
            listen web
                bind 127.77.\(net).1:18080
                server webA 127.77.\(net).2:18081 disabled
            """
        let balancer = Balancer(name: "lb", config: parseConfig(text), eventLoop: testGroup.next())
        try await balancer.start()
        let c = try await RawClient.connect(host: "127.77.\(net).1", port: 18080)
        try await c.send(get("/"))
        #expect(
            String(decoding: await c.readToClose(), as: UTF8.self) == HAProxyErrorResponse.serviceUnavailable.wireText)
        await balancer.stop()
    }
}

@Suite("Live balancer: streaming, keep-alive and sockets", .serialized, .onItsOwnThread)
struct StreamingTests {
    @Test func chunkedAndContentLengthBodiesStreamThroughAndConnectionsAreReused() async throws {
        let net = 6
        let cluster = try await TestCluster.start(net: net, config: articleConfig(net: net, serverOptions: ""))
        defer { Task { await cluster.stop() } }
        let client = try await cluster.client()
        var body = [UInt8](repeating: 0, count: 1 << 20)
        for i in body.indices { body[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 9) }

        // Chunked request body, 16 KB chunks; the echo comes back chunked.
        var request = Array(
            "POST /echo HTTP/1.1\r\nHost: x\r\nCookie: SRV=A\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        var offset = 0
        while offset < body.count {
            let n = min(16_384, body.count - offset)
            request += Array((String(n, radix: 16) + "\r\n").utf8) + body[offset..<offset + n] + [13, 10]
            offset += n
        }
        request += Array("0\r\n\r\n".utf8)
        try await client.send(request)
        let echoed = try #require(await client.readResponse())
        #expect(echoed.status == 200)
        #expect(echoed.value("transfer-encoding") == "chunked")
        #expect(echoed.body.count == body.count)
        #expect(echoed.body == body)

        // Content-Length request body on the same client connection.
        try await client.send(
            Array("POST /echo HTTP/1.1\r\nHost: x\r\nCookie: SRV=A\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
                + body)
        let echoed2 = try #require(await client.readResponse())
        #expect(echoed2.body == body)

        for _ in 0..<5 {
            try await client.send(get("/login", cookies: "SRV=A"))
            #expect(await client.readResponse()?.status == 200)
        }
        // 7 requests over one client connection went over one server connection.
        #expect(await cluster.webA.connectionsAccepted == 1)
        #expect(await cluster.balancer.clientConnectionCount == 1)
        await client.close()
    }

    @Test func stopLeavesNothingBoundAndBusyPortIsAClearError() async throws {
        let net = 7
        let text = articleConfig(net: net, serverOptions: "")
        let balancer = Balancer(name: "lb", config: parseConfig(text), eventLoop: testGroup.next())
        try await balancer.start()
        #expect(await balancer.isAlive)
        let open = try await RawClient.connect(host: "127.77.\(net).1", port: 18080)

        let twin = Balancer(name: "twin", config: parseConfig(text), eventLoop: testGroup.next())
        await #expect(
            throws: LiveEngineError.cannotListen(address: "127.77.\(net).1:18080", reason: "Address already in use")
        ) {
            try await twin.start()
        }
        #expect(
            "\(LiveEngineError.cannotListen(address: "127.0.0.99:8080", reason: "Address already in use"))"
                == "cannot listen on 127.0.0.99:8080: Address already in use")

        await balancer.stop()
        #expect(await !balancer.isAlive)
        #expect(await open.readToClose().isEmpty)
        // A killed balancer refuses connections.
        await #expect(throws: (any Error).self) {
            _ = try await RawClient.connect(host: "127.77.\(net).1", port: 18080)
        }
        // Re-binding the same address succeeds, with a plain socket and with the balancer itself.
        let rebind = try await ServerBootstrap(group: testGroup)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.77.\(net).1", port: 18080).get()
        try await rebind.close()
        try await balancer.start()
        #expect(await balancer.isAlive)
        await balancer.stop()
    }

    @Test func adoptedChannelsAreServedLikeAcceptedOnes() async throws {
        let net = 8
        let cluster = try await TestCluster.start(net: net, config: articleConfig(net: net, serverOptions: ""))
        defer { Task { await cluster.stop() } }
        let balancer = cluster.balancer
        // A "VIP" listener on the balancer's loop that hands every connection to the balancer.
        let vip = try await ServerBootstrap(group: balancer.eventLoop)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try balancer.adopt(channel: channel) }
            }
            .bind(host: "127.77.\(net).99", port: 18080).get()
        let c = try await RawClient.connect(host: "127.77.\(net).99", port: 18080)
        try await c.send(get("/login"))
        let r = try #require(await c.readResponse())
        #expect(r.status == 200)
        #expect(r.setCookies.contains { $0.hasPrefix("SRV=") })
        await c.close()
        try await vip.close()
    }
}
