import BalancerCore
import ClusterCore
import ClusterModel
import Foundation
import HadeckBase
import HadeckTestSupport
import LiveCluster
import LiveEngine
import PlainSockets
import Testing
import WebCore

@Suite("Live cluster: sessions through the VIP with curl", .tags(.live), .onItsOwnThread)
struct StickySessionTests {
    @Test(.enabled(if: curlPath != nil, "needs curl"))
    func curlKeepsItsSessionAndTheBackendNeverSeesSRV() async throws {
        try await withArticle { live, net in
            let jar = newJar()
            defer { try? FileManager.default.removeItem(atPath: jar) }
            let url = "http://\(net.vip):8080/login"

            let first = try curl(url, jar: jar)
            #expect(first.status == 0)
            let cookies = first.header("set-cookie")
            let srv = cookies.first { $0.hasPrefix("SRV=") }
            let session = cookies.first { $0.hasPrefix("JSESSIONID=") }
            #expect(srv == "SRV=A; path=/" || srv == "SRV=B; path=/", "\(cookies)")
            let id = try #require(session?.dropFirst("JSESSIONID=".count).split(separator: ";").first.map(String.init))
            // The cookie names the server that made the session: A is webA (jvm3), B is webB (jvm2).
            #expect(id.hasSuffix(srv == "SRV=A; path=/" ? ".jvm3" : ".jvm2"), "\(id) with \(srv ?? "-")")
            #expect(first.body.contains(id))

            let second = try curl(url, jar: jar)
            #expect(second.header("set-cookie").isEmpty, "the session is kept: \(second.header("set-cookie"))")
            #expect(second.body.contains(id))
            // indirect: the balancer strips its cookie; the app echoes what it received.
            let seen = second.header("x-seen-cookie").joined()
            #expect(seen.contains("JSESSIONID=\(id)"))
            #expect(!seen.contains("SRV="), "the backend saw \(seen)")

            // Killing the backend that holds the session moves the client to the other one, with a new session.
            let holder = id.hasSuffix(".jvm3") ? "webA" : "webB"
            try await live.apply(.kill(.backend(holder)), by: "the test")
            let third = try curl(url, jar: jar)
            let newSession = third.header("set-cookie").first { $0.hasPrefix("JSESSIONID=") }
            let newID = try #require(newSession?.dropFirst("JSESSIONID=".count).split(separator: ";").first)
            #expect(newID != id)
            #expect(newID.hasSuffix(holder == "webA" ? ".jvm2" : ".jvm3"))
            #expect(third.header("set-cookie").contains(holder == "webA" ? "SRV=B; path=/" : "SRV=A; path=/"))
            #expect(third.header("x-served-by") == [holder == "webA" ? "webB" : "webA"])
        }
    }
}

/// The ways lb1 fails in the article.
enum LB1Failure: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case killHAProxy, killKeepalived, stopKeepalived, powerOff

    var command: ClusterCommand {
        switch self {
        case .killHAProxy: .kill(.process(host: "lb1", .haproxy))
        case .killKeepalived: .kill(.process(host: "lb1", .keepalived))
        case .stopKeepalived: .stop(.process(host: "lb1", .keepalived))
        case .powerOff: .powerOff(host: "lb1")
        }
    }

    var testDescription: String { command.text }
}

@Suite("Live cluster: lb1 fails, the VIP moves to lb2's MAC, sessions survive", .tags(.live), .onItsOwnThread)
struct FailoverTests {
    @Test(arguments: LB1Failure.allCases)
    func vipMovesToLB2AndSessionsSurvive(_ failure: LB1Failure) async throws {
        try await withArticle(trafficOn: true, rate: 10, clients: 4) { live, net in
            let everyoneHasASession = try await eventually {
                try await live.withCore { c in c.browsers.allSatisfy { $0.session != nil } }
            }
            #expect(everyoneHasASession)
            let jar = newJar()
            defer { try? FileManager.default.removeItem(atPath: jar) }
            let url = net.loginURL
            var curlSession: String?
            if curlPath != nil {
                curlSession = try curl(url, jar: jar).body.split(separator: "\n").first { $0.contains("Session ID") }
                    .map(String.init)
            }
            let before = try await live.withCore { c in c.browsers.map { $0.session ?? "" } }

            try await live.apply(failure.command, by: "the test")
            let moved = try await eventually(within: .seconds(15)) {
                try await live.withCore { c in c.vipOwner?.name == "lb2" && c.masters.map(\.name).contains("lb2") }
            }
            #expect(moved, "the VIP did not move to lb2")
            let mac = try await live.withCore { c in c.arp.mac(for: c.spec.vip.host)?.description }
            #expect(mac == "52:54:00:00:01:02")
            // Every browser is answered through lb2 again.
            let servedByLB2 = try await eventually(within: .seconds(8)) {
                try await live.withCore { c in
                    let names = Set(
                        c.recentRequests.suffix(40).filter { $0.via == "lb2" && $0.status == 200 }.map(\.client))
                    return names.count == c.browsers.count
                }
            }
            #expect(servedByLB2)
            let (after, changes) = try await live.withCore { c in
                (c.browsers.map { $0.session ?? "" }, c.sessionChanges)
            }
            #expect(after == before)
            #expect(changes == 0)
            if let curlSession {
                let again = try curl(url, jar: jar)
                #expect(again.status == 0)
                #expect(
                    again.body.split(separator: "\n").first { $0.contains("Session ID") }.map(String.init)
                        == curlSession)
                #expect(again.header("set-cookie").isEmpty)
            }
        }
    }
}

@Suite("Live cluster: bad input and shutdown", .tags(.live), .onItsOwnThread)
struct LiveClusterRobustnessTests {
    @Test func malformedRequestsThroughTheVIPGetHAProxysAnswersAndServiceGoesOn() async throws {
        try await withArticle { live, net in
            let vip = "\(net.vip)"
            let garbage = rawExchange(host: vip, port: 8080, "GARBAGE\r\n\r\n")
            #expect(garbage.hasPrefix("HTTP/1.1 400 Bad request"), "\(garbage.prefix(80))")
            let smuggled = rawExchange(
                host: vip, port: 8080,
                "POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n"
            )
            #expect(smuggled.hasPrefix("HTTP/1.1 400 Bad request"), "\(smuggled.prefix(80))")
            let huge = rawExchange(
                host: vip, port: 8080,
                "GET /login HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n")
            #expect(huge.hasPrefix("HTTP/1.1 400 Bad request"), "\(huge.prefix(80))")
            let fine = rawExchange(host: vip, port: 8080, "GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(fine.hasPrefix("HTTP/1.1 200"), "\(fine.prefix(80))")
            let errors = try await live.withCore { c in c.recentRequests.filter { $0.status == 400 }.count }
            #expect(errors == 3)
        }
    }

    @Test func aVIPPortInUseIsAClearErrorAndNothingStaysBound() async throws {
        let slot = allocateSlot()
        let p = "127.66.\(slot)"
        let blocker = try LiveCluster(spec: articleSpec(slot: slot))
        try await blocker.start()
        let second = try LiveCluster(spec: articleSpec(slot: slot))
        await #expect {
            try await second.start()
        } throws: { error in
            let text = "\(error)"
            return text.contains("\(p).99:8080") && text.contains("in use")
        }
        await second.shutdown()
        // Another VIP, but the hosts' VRRP sockets are taken: also refused, never shared.
        var options = LiveClusterOptions()
        options.vip = .init(host: "\(p).98", port: 8080)
        let third = try LiveCluster(spec: articleSpec(slot: slot), options: options)
        await #expect {
            try await third.start()
        } throws: { error in
            "\(error)".contains("VRRP socket") && "\(error)".contains("in use")
        }
        await third.shutdown()
        #expect(!isListening(host: "\(p).98", port: 8080))
        // The first cluster is untouched by the failed second one.
        #expect(isListening(host: "\(p).99", port: 8080))
        #expect(isListening(host: "\(p).1", port: 8080))
        await blocker.shutdown()
        for (host, port) in [
            ("\(p).99", 8080), ("\(p).1", 8080), ("\(p).2", 8080),
            ("\(p).11", 8081), ("\(p).12", 8888),
        ] {
            #expect(!isListening(host: host, port: port), "\(host):\(port) still listens after shutdown")
        }
        // And the addresses are free for the next run.
        let again = try LiveCluster(spec: articleSpec(slot: slot))
        try await again.start()
        await again.shutdown()
    }

    @Test func aConnectionToADeadHaproxyIsResetAndShowsWithItsReason() async throws {
        try await withArticle { live, net in
            try await live.apply(.kill(.process(host: "lb1", .haproxy)), by: "the test")
            // The ARP entry still names lb1 (lb2 takes over seconds later): the connection is reset.
            let answer = LoopbackTCP.exchange(
                host: "\(net.vip)", port: 8080, Array("GET /login HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(answer == nil || answer == [])
            let last = try await live.withCore { c in c.recentRequests.last }
            #expect(last?.status == 0)
            #expect(last?.via == "lb1")
            #expect(last?.reason == "connection refused: lb1's haproxy is not running")
            #expect(last?.client.hasPrefix("127.0.0.1:") == true)
        }
    }

    @Test func addressesOutsideLoopbackAreRefused() throws {
        var options = LiveClusterOptions()
        options.vip = .init(host: "192.168.1.10", port: 8080)
        #expect(throws: LiveClusterError.notLoopback(what: "the VIP", address: "192.168.1.10")) {
            try LiveCluster(spec: articleSpec(slot: allocateSlot()), options: options)
        }
    }
}

@Suite("Live cluster: partition", .tags(.live), .onItsOwnThread)
struct LivePartitionTests {
    @Test func cuttingVRRPBetweenTheHostsMakesTwoMastersAndTheLastGARPWins() async throws {
        try await withArticle { live, net in
            try await live.apply(.partition("lb1", "lb2"), by: "the test")
            let splitBrain = try await eventually(within: .seconds(8)) {
                try await live.withCore { c in c.masters.count == 2 }
            }
            #expect(splitBrain)
            // lb2 announced last: the clients' ARP entry, and so the traffic, goes to lb2 (its
            // gratuitous ARP follows its change of state; a loaded machine may show the state first).
            let announced = try await eventually(within: .seconds(2)) {
                try await live.withCore { c in c.vipOwner?.name == "lb2" }
            }
            #expect(announced, "the clients' ARP entry never moved to lb2")
            let answered = rawExchange(
                host: "\(net.vip)", port: 8080, "GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(answered.hasPrefix("HTTP/1.1 200"))
            #expect(try await live.withCore { c in c.recentRequests.last?.via } == "lb2")
            try await live.apply(.heal(nil, nil), by: "the test")
            // Healed: lb2 hears lb1's priority 150 and steps down, removing the VIP. Who hears whom first
            // is a race of the two advert clocks: if lb1 first hears lb2's lower priority it re-sends its
            // gratuitous ARP and the entry comes back to lb1; if lb2 steps down first, lb1 never learns
            // of the split and the clients' entry stays on lb2's MAC, which no longer answers for the VIP.
            let healed = try await eventually(within: .seconds(10)) {
                try await live.withCore { c in
                    c.masters.map(\.name) == ["lb1"] && c.host(named: "lb2")?.vrrpState == .backup
                }
            }
            let seen = try await live.withCore { c in
                "masters \(c.masters.map(\.name)), VIP on \(c.vipOwner?.name ?? "-"); "
                    + c.events.suffix(8).map { "\(formatSeconds($0.time.micros)) \($0.type) \($0.why)" }.joined(
                        separator: " | ")
            }
            #expect(healed, "\(seen)")
            // Traffic flows through lb1 when the entry came back; otherwise it is dropped at lb2 (the
            // clients ask again only once the entry has gone unanswered for 38 s).
            let owner = try await live.withCore { c in c.vipOwner?.name }
            let after = String(
                decoding: LoopbackTCP.exchange(
                    host: "\(net.vip)", port: 8080,
                    Array("GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8),
                    timeoutMicros: 500_000) ?? [], as: UTF8.self)
            if owner == "lb1" {
                #expect(after.hasPrefix("HTTP/1.1 200"))
                #expect(try await live.withCore { c in c.recentRequests.last?.via } == "lb1")
            } else {
                #expect(owner == "lb2")
                #expect(after.isEmpty, "lb2 no longer holds the VIP: \(after)")
                let lastReason = try await live.withCore { c in c.recentRequests.last?.reason }
                #expect(lastReason?.contains("lb2 no longer holds \(net.vip)") == true, "\(lastReason ?? "-")")
            }
        }
    }
}

@Suite("Live cluster: a clean start", .tags(.live), .onItsOwnThread)
struct CleanStartTests {
    /// The browsers wait for the VIP's first announcement (no "no ARP entry" failures), and the
    /// connections made meanwhile are answered by the first master rather than reset.
    @Test func noBrowserRequestFailsInTheFirstTenSeconds() async throws {
        let live = try LiveCluster(spec: articleSpec(slot: allocateSlot(), trafficOn: true, rate: 8, clients: 4))
        let events = EventLog()
        live.onEvent { events.append($0) }
        try await live.start()
        let reached = await eventually(within: .seconds(14)) { live.clock.now() >= Instant(micros: 10_000_000) }
        #expect(reached)
        let (sent, failed, reasons) = try await live.withCore { c in
            (c.requestsSent, c.requestsFailed, c.recentRequests.filter { $0.status != 200 }.map(\.reason))
        }
        #expect(sent >= 40, "only \(sent) requests in 10 s at 8/s")
        #expect(failed == 0, "failed: \(reasons)")
        let all = events.all
        let firstARP = try #require(all.first { $0.type == .arpUpdate }).time
        let firstRequest = try #require(all.first { $0.type == .request }).time
        #expect(firstRequest >= firstARP, "a request at \(firstRequest) before the VIP's announcement at \(firstARP)")
        await live.shutdown()
    }
}
