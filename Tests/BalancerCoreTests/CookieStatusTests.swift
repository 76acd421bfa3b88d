import HadeckBase
import Testing

@testable import BalancerCore

/// The `%tsc` cookie characters of a request routed by `b` with `cookies`, then answered with `setCookies`.
private func flags(_ b: Backend, _ cookies: [String], _ setCookies: [String] = []) -> String {
    let d = b.route(request: RoutedRequest(cookieHeaders: cookies), now: .zero)
    let edits = b.responseHeaders(for: d, serverSetCookies: setCookies)
    return String(decoding: [d.requestCookie.logFlag, edits.cookieStatus.logFlag], as: UTF8.self)
}

@Test func cookieStatusGivesHAProxysLogFlags() throws {
    let insert = pair(cookieConfig { $0.indirect = true })
    #expect(flags(insert, []) == "NI")
    #expect(flags(insert, ["SRV=A"]) == "VN")
    #expect(flags(insert, ["SRV=Q"]) == "II")
    // The server's own SRV in insert mode is overwritten: still reported as inserted.
    #expect(flags(insert, [], ["SRV=zzz"]) == "NI")
    // A returning client whose server sets the cookie again: deleted (indirect, direct access).
    #expect(flags(insert, ["SRV=A"], ["SRV=zzz"]) == "VD")

    let preserve = pair(cookieConfig { $0.preserve = true })
    #expect(flags(preserve, [], ["SRV=app"]) == "NP")
    #expect(flags(pair(cookieConfig("SRVID", .rewrite)), [], ["SRVID=x"]) == "NR")
    #expect(flags(pair(cookieConfig("JSESSIONID", .prefix)), [], ["JSESSIONID=abc"]) == "NR")
    #expect(flags(pair(cookieConfig("JSESSIONID", .prefix)), []) == "NN")
    #expect(flags(pair(cookieConfig { $0.postonly = true }), []) == "NN")

    let plain = backend(.roundrobin, [server("webA"), server("webB")])
    #expect(flags(plain, ["SRV=A"], ["SRV=A"]) == "--")
}

@Test func aCookieNamingAStoppedServerIsDownWhetherRebalancedOrPersisted() throws {
    let b = pair(cookieConfig { $0.indirect = true })
    killA(b)
    let d = b.route(request: RoutedRequest(cookieHeaders: ["SRV=A"]), now: .zero)
    #expect(d.requestCookie == .down(cookie: "SRV=A", server: "webA", serverStatus: "DOWN", persisted: false))
    #expect(flags(b, ["SRV=A"]) == "DI")

    let persist = pair(cookieConfig { $0.indirect = true }, persist: true)
    killA(persist)
    let kept = persist.route(request: RoutedRequest(cookieHeaders: ["SRV=A"]), now: .zero)
    #expect(kept.server == "webA")
    #expect(kept.requestCookie == .down(cookie: "SRV=A", server: "webA", serverStatus: "DOWN", persisted: true))
    #expect(flags(persist, ["SRV=A"]) == "DN")

    // Draining keeps the cookie's server: valid, said in the reason.
    let drain = pair(cookieConfig { $0.indirect = true })
    _ = try drain.setAdminState(server: "webA", .drain, now: .zero)
    let drained = drain.route(request: RoutedRequest(cookieHeaders: ["SRV=A"]), now: .zero)
    guard case .valid(let cookie, let server, let status, false) = drained.requestCookie else {
        Issue.record("not valid: \(drained.requestCookie)")
        return
    }
    #expect([cookie, server] == ["SRV=A", "webA"])
    #expect(drained.reason == "cookie SRV=A names webA which is \(status): kept on webA")
}
