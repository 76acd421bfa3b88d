import HadeckBase
import Testing

@testable import BalancerCore

func cookieConfig(
    _ name: String = "SRV", _ mode: CookieConfig.Mode = .insert, _ edit: (inout CookieConfig) -> Void = { _ in }
) -> CookieConfig {
    var c = CookieConfig(name: name, mode: mode)
    edit(&c)
    return c
}

func pair(_ cookie: CookieConfig, persist: Bool = false, redispatch: Bool = false) -> Backend {
    backend(
        .roundrobin, [server("webA", cookie: "A", check: true), server("webB", cookie: "B", check: true)],
        cookie: cookie
    ) {
        $0.persist = persist
        $0.redispatch = redispatch
        $0.timeouts.connect = .milliseconds(500)
    }
}

struct CookieCase: Sendable, CustomStringConvertible {
    var name: String
    var cookie: CookieConfig
    var method = "GET"
    var requestCookies: [String]
    var serverSetCookies: [String]
    var server: String
    var forwarded: [String]
    var responseLines: [String]
    var description: String { name }
}

let cookieCases: [CookieCase] = [
    CookieCase(
        name: "insert indirect nocache, new client",
        cookie: cookieConfig {
            $0.indirect = true
            $0.nocache = true
        },
        requestCookies: [], serverSetCookies: ["JSESSIONID=abc.jvm3; Path=/"], server: "webA", forwarded: [],
        responseLines: [
            "Set-Cookie: JSESSIONID=abc.jvm3; Path=/", "Set-Cookie: SRV=A; path=/", "Cache-control: private",
        ]),
    CookieCase(
        name: "insert indirect, returning client",
        cookie: cookieConfig {
            $0.indirect = true
            $0.nocache = true
        },
        requestCookies: ["SRV=B; JSESSIONID=xyz.jvm2"], serverSetCookies: [], server: "webB",
        forwarded: ["JSESSIONID=xyz.jvm2"], responseLines: []),
    CookieCase(
        name: "insert without indirect keeps the cookie", cookie: cookieConfig(),
        requestCookies: ["a=1; SRV=B; b=2"], serverSetCookies: [], server: "webB",
        forwarded: ["a=1; SRV=B; b=2"], responseLines: []),
    CookieCase(
        name: "insert httponly secure domains",
        cookie: cookieConfig {
            $0.httponly = true
            $0.secure = true
            $0.domains = [".example.com", ".example.org"]
        },
        requestCookies: [], serverSetCookies: [], server: "webA", forwarded: [],
        responseLines: ["Set-Cookie: SRV=A; path=/; domain=.example.com; domain=.example.org; HttpOnly; Secure"]),
    CookieCase(
        name: "insert replaces the server's own SRV", cookie: cookieConfig(),
        requestCookies: [], serverSetCookies: ["SRV=zzz", "x=1"], server: "webA", forwarded: [],
        responseLines: ["Set-Cookie: x=1", "Set-Cookie: SRV=A; path=/"]),
    CookieCase(
        name: "insert preserve leaves the server's cookie",
        cookie: cookieConfig {
            $0.preserve = true
            $0.nocache = true
        },
        requestCookies: [], serverSetCookies: ["SRV=app; Max-Age=0"], server: "webA", forwarded: [],
        responseLines: ["Set-Cookie: SRV=app; Max-Age=0"]),
    CookieCase(
        name: "postonly GET gets no cookie", cookie: cookieConfig { $0.postonly = true },
        requestCookies: [], serverSetCookies: [], server: "webA", forwarded: [], responseLines: []),
    CookieCase(
        name: "postonly POST gets the cookie", cookie: cookieConfig { $0.postonly = true }, method: "POST",
        requestCookies: [], serverSetCookies: [], server: "webA", forwarded: [],
        responseLines: ["Set-Cookie: SRV=A; path=/"]),
    CookieCase(
        name: "prefix, new client", cookie: cookieConfig("JSESSIONID", .prefix),
        requestCookies: [], serverSetCookies: ["JSESSIONID=abc.jvm3; Path=/; HttpOnly"], server: "webA", forwarded: [],
        responseLines: ["Set-Cookie: JSESSIONID=A~abc.jvm3; Path=/; HttpOnly"]),
    CookieCase(
        name: "prefix, returning client", cookie: cookieConfig("JSESSIONID", .prefix),
        requestCookies: ["theme=dark; JSESSIONID=B~xyz.jvm2"], serverSetCookies: [], server: "webB",
        forwarded: ["theme=dark; JSESSIONID=xyz.jvm2"], responseLines: []),
    CookieCase(
        name: "rewrite", cookie: cookieConfig("SRVID", .rewrite),
        requestCookies: [], serverSetCookies: ["SRVID=anything; path=/"], server: "webA", forwarded: [],
        responseLines: ["Set-Cookie: SRVID=A; path=/"]),
    CookieCase(
        name: "rewrite returning client", cookie: cookieConfig("SRVID", .rewrite),
        requestCookies: ["SRVID=B"], serverSetCookies: ["SRVID=new"], server: "webB", forwarded: ["SRVID=B"],
        responseLines: ["Set-Cookie: SRVID=B"]),
]

@Test(arguments: cookieCases)
func cookieModesByteForByte(c: CookieCase) {
    let b = pair(c.cookie)
    let d = b.route(request: RoutedRequest(method: c.method, cookieHeaders: c.requestCookies), now: .zero)
    #expect(d.server == c.server)
    #expect(d.forwardedCookieHeaders == c.forwarded)
    let edits = b.responseHeaders(for: d, serverSetCookies: c.serverSetCookies)
    #expect(edits.headerLines == c.responseLines)
}

@Test func reasonsInPlainWords() throws {
    let b = pair(cookieConfig { $0.indirect = true })
    #expect(b.route(request: RoutedRequest(), now: .zero).reason == "no cookie: roundrobin -> webA, new cookie SRV=A")
    #expect(b.route(request: RoutedRequest(cookieHeaders: ["SRV=A"]), now: .zero).reason == "cookie SRV=A -> webA")
    #expect(
        b.route(request: RoutedRequest(cookieHeaders: ["SRV=Q"]), now: .zero).reason
            == "cookie SRV=Q matches no server: rebalanced by roundrobin -> webB, new cookie SRV=B")
    // Start-up health is rise ("DRAIN 1/3" while draining); one passed check makes it plain DRAIN.
    for job in b.startDueChecks(now: at(1000)) {
        _ = b.completeCheck(server: job.server, outcome: .connected, duration: .zero, now: at(1000))
    }
    _ = try b.setAdminState(server: "webA", .drain, now: .zero)
    let drained = b.route(request: RoutedRequest(cookieHeaders: ["SRV=A"]), now: .zero)
    #expect(drained.reason == "cookie SRV=A names webA which is DRAIN: kept on webA")
    #expect(drained.persistent)
    #expect(b.responseHeaders(for: drained, serverSetCookies: []).headerLines.isEmpty)
}

@Test func drainWeightZeroAndMaint() throws {
    for mode in ["drain", "weight0", "maint"] {
        let b = pair(cookieConfig { $0.indirect = true })
        switch mode {
        case "drain": _ = try b.setAdminState(server: "webA", .drain, now: .zero)
        case "weight0": _ = try b.setWeight(server: "webA", .absolute(0), now: .zero)
        default: _ = try b.setAdminState(server: "webA", .maint, now: .zero)
        }
        // No new clients for webA in any mode.
        #expect(Set(picks(b, 6)) == ["webB"], "\(mode)")
        let sticky = b.route(request: RoutedRequest(cookieHeaders: ["SRV=A"]), now: .zero)
        if mode == "maint" {
            #expect(sticky.server == "webB")
            #expect(
                sticky.reason
                    == "cookie SRV=A names webA which is MAINT: rebalanced by roundrobin -> webB, new cookie SRV=B")
        } else {
            #expect(sticky.server == "webA", "\(mode)")
            #expect(sticky.persistent)
        }
    }
}

@Test func noUsableServer() throws {
    let b = pair(cookieConfig())
    _ = try b.setAdminState(server: "webA", .maint, now: .zero)
    _ = try b.setAdminState(server: "webB", .maint, now: .zero)
    let d = b.route(request: RoutedRequest(), now: .zero)
    #expect(d.server == nil)
    #expect(d.statusCode == 503)
    #expect(d.reason == "no cookie: no usable server: 503")
    let plain = backend(.roundrobin, [server("webA")])
    _ = try plain.setAdminState(server: "webA", .maint, now: .zero)
    #expect(plain.route(request: RoutedRequest(), now: .zero).reason == "no usable server: 503")
}

/// Takes webA DOWN through its health checks (first check fails: start-up health is rise).
func killA(_ b: Backend) {
    _ = b.startDueChecks(now: .zero)
    _ = b.completeCheck(server: "webA", outcome: .refused, duration: .zero, now: .zero)
}

@Test func downServerWithoutPersistIsRebalanced() {
    let b = pair(
        cookieConfig {
            $0.indirect = true
            $0.nocache = true
        })
    killA(b)
    let d = b.route(request: RoutedRequest(cookieHeaders: ["SRV=A; JSESSIONID=abc.jvm3"]), now: .zero)
    #expect(d.server == "webB")
    #expect(d.reason == "cookie SRV=A names webA which is DOWN: rebalanced by roundrobin -> webB, new cookie SRV=B")
    #expect(d.forwardedCookieHeaders == ["JSESSIONID=abc.jvm3"])
    #expect(
        b.responseHeaders(for: d, serverSetCookies: []).headerLines == [
            "Set-Cookie: SRV=B; path=/", "Cache-control: private",
        ])
}

@Test func persistAloneRetriesTheDeadServerThenGivesUp() {
    let b = pair(cookieConfig { $0.indirect = true }, persist: true)
    killA(b)
    var d = b.route(request: RoutedRequest(cookieHeaders: ["SRV=A"]), now: .zero)
    #expect(d.server == "webA")
    #expect(d.reason == "cookie SRV=A names webA which is DOWN: option persist sends it there anyway")
    var actions: [ConnectRetry.Action] = []
    for _ in 0..<4 {
        let r = b.connectFailed(d, now: .zero)
        actions.append(r.action)
        d = r.decision
    }
    let wait = TimeSpan.milliseconds(500)  // min(timeout connect, 1 s)
    #expect(actions == [.retry(after: wait), .retry(after: wait), .retry(after: wait), .giveUp])
    #expect(d.server == nil)
    #expect(d.statusCode == 503)
    #expect(d.reason == "connection to webA failed 4 times (retries 3): 503")
}

@Test func persistAndRedispatchMovesTheRequest() {
    let b = pair(cookieConfig { $0.indirect = true }, persist: true, redispatch: true)
    killA(b)
    let d = b.route(request: RoutedRequest(cookieHeaders: ["SRV=A"]), now: .zero)
    #expect(d.server == "webA")
    let r = b.connectFailed(d, now: .zero)
    // HAProxy's source redispatches at once because webA is not running (cur_state < RUNNING).
    #expect(r.action == .redispatch(after: .milliseconds(500)))
    #expect(r.decision.server == "webB")
    #expect(
        r.why
            == "connection to webA failed and webA is DOWN: option redispatch moves it by roundrobin -> webB, new cookie SRV=B"
    )
    #expect(b.responseHeaders(for: r.decision, serverSetCookies: []).headerLines == ["Set-Cookie: SRV=B; path=/"])
}

@Test func redispatchOnLastRetryForARunningServer() {
    // The cookie's server is UP but refuses: retried twice, the last retry goes elsewhere.
    let b = pair(cookieConfig(), redispatch: true)
    var d = b.route(request: RoutedRequest(cookieHeaders: ["SRV=A"]), now: .zero)
    var actions: [ConnectRetry.Action] = []
    var servers: [String?] = []
    for _ in 0..<4 {
        let r = b.connectFailed(d, now: .zero)
        actions.append(r.action)
        d = r.decision
        servers.append(d.server)
    }
    let wait = TimeSpan.milliseconds(500)
    #expect(actions == [.retry(after: wait), .retry(after: wait), .redispatch(after: .zero), .giveUp])
    #expect(servers == ["webA", "webA", "webB", nil])
}

@Test func theTurnAroundFollowsTimeoutConnectUpToOneSecondAndOnlyAfterAConnectionError() {
    // haproxy 2.6 back_handle_st_cer(): delay = 1000 ms, lowered to timeout connect; only when the
    // attempt ended in a connection error (must_tar = SE_FL_ERROR), not when timeout connect expired.
    let b = backend(
        .roundrobin, [server("webA", cookie: "A", check: true), server("webB", cookie: "B", check: true)],
        cookie: cookieConfig()
    ) {
        $0.redispatch = true
        $0.timeouts.connect = .seconds(5)
    }
    var d = b.route(request: RoutedRequest(cookieHeaders: ["SRV=A"]), now: .zero)
    var r = b.connectFailed(d, now: .zero)
    #expect(r.action == .retry(after: .seconds(1)))
    #expect(r.why == "connection to webA failed (attempt 1): retrying webA in 1s, 2 retries left")
    d = r.decision
    r = b.connectFailed(d, now: Instant(micros: 1_000_000), timedOut: true)
    #expect(r.action == .retry(after: .zero))
    #expect(r.why.contains("retrying webA at once (timeout connect: no turn-around), 1 retry left"))
    // The last retry (conn_retries 3 % retries 3 == 0) redispatches; round robin, two active: at once.
    r = b.connectFailed(r.decision, now: Instant(micros: 2_000_000))
    #expect(r.action == .redispatch(after: .zero) && r.decision.server == "webB")
}

/// `Cookie:` and `Set-Cookie:` values and client addresses as they are read (on the bytes).
@Suite struct CookieAndAddressParsingTests {
    @Test func cookieHeadersSplitIntoTrimmedPairs() {
        let pairs = parseCookieHeader(" SRV=A ;\tJSESSIONID = 5F.jvm1 ;; flag ; a=b=c;=v;x=")
        #expect(pairs.map(\.text) == ["SRV=A", "JSESSIONID=5F.jvm1", "flag", "a=b=c", "=v", "x="])
        #expect(pairs.map(\.hasEquals) == [true, true, false, true, true, true])
        #expect(parseCookieHeader("").isEmpty)
        #expect(parseCookieHeader(" ; \t;").isEmpty)
        #expect(parseCookieHeader("k=välue; ü=1").map(\.text) == ["k=välue", "ü=1"])
    }

    @Test func setCookieKeepsOnlyItsFirstPair() {
        #expect(
            parseSetCookie("JSESSIONID=AB.jvm1; Path=/; HttpOnly")
                == CookiePair(name: "JSESSIONID", value: "AB.jvm1", hasEquals: true))
        #expect(parseSetCookie("Path=/") == CookiePair(name: "Path", value: "/", hasEquals: true))
        #expect(parseSetCookie("novalue; Path=/") == nil)
        #expect(parseSetCookie("=x") == nil)
    }

    @Test(arguments: [
        ("127.0.0.1", [127, 0, 0, 1] as [UInt8]?), ("0.0.0.0", [0, 0, 0, 0]),
        ("255.255.255.255", [255, 255, 255, 255]),
        ("010.1.1.1", [10, 1, 1, 1]), ("256.1.1.1", nil), ("1.2.3", nil), ("1.2.3.4.5", nil), ("1..3.4", nil),
        (".1.2.3", nil), ("1.2.3.", nil), ("1.2.3.4 ", nil), ("1.2.3.0004", nil), ("1.2.3.a", nil), ("", nil),
        ("1.2.3.٤", nil),
    ])
    func ipv4AddressesParseAsDottedQuads(_ text: String, _ bytes: [UInt8]?) {
        #expect(IPAddress.parseIPv4(text) == bytes)
    }
}
