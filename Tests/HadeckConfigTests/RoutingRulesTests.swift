import BalancerCore
import HadeckBase
import Testing

@testable import HadeckConfig

/// A frontend of a haproxy.cfg, parsed (with no error), as a router.
private func router(_ text: String, frontend: String = "www") throws -> RequestRouter {
    let (config, d) = HAProxyConfigParser.parse(text: text, file: "t.cfg")
    #expect(d.errors.isEmpty, "\(d.errors)")
    let fe = try #require(config.frontend(named: frontend))
    return RequestRouter(frontend: fe, backends: config.backends)
}

private func get(
    _ target: String, method: String = "GET", headers: [(name: String, value: String)] = [],
    source: String = "127.0.0.5"
) -> RequestFacts {
    RequestFacts(method: method, target: target, headers: headers, source: source)
}

private let backends = """
    backend app
        server a 127.0.2.1:80
    backend api
        server b 127.0.2.2:80
    backend static
        server c 127.0.2.3:80
    backend admin
        server d 127.0.2.4:80
    """

private func frontend(_ rules: String) -> String {
    "defaults\n    mode http\nfrontend www\n    bind :8080\n"
        + rules.split(separator: "\n").map { "    " + $0 }
        .joined(separator: "\n") + "\n    default_backend app\n" + backends
}

/// Item 6 of issue 14: the routing rules people write, evaluated as HAProxy 2.6 does.
@Suite struct RoutingRulesTests {
    @Test func pathBegChoosesTheBackendWithItsReason() throws {
        let r = try router(frontend("acl is_api path_beg /api\nuse_backend api if is_api"))
        let api = r.route(get("/api/v1/users?x=1"))
        #expect(api.backend == "api")
        #expect(api.reason == "acl is_api (path_beg /api) -> backend api")
        let other = r.route(get("/index.html"))
        #expect(other.backend == "app")
        #expect(other.reason == "no use_backend rule matched -> default_backend app")
        // The path of an absolute URI starts after its authority.
        #expect(r.route(get("http://example.com/api/x")).backend == "api")
    }

    @Test func matchersPeopleUse() throws {
        let r = try router(
            frontend(
                """
                acl host_admin hdr(host) -i admin.example.com
                acl host_beg hdr_beg(host) -i static.
                acl static path_end .css .js
                acl images path_reg ^/img/[0-9]+\\.png$
                acl exact path /health
                acl post method POST
                acl internal src 10.0.0.0/8 192.168.1.1
                acl beta req.cook(beta) yes
                acl has_session req.cook(SESSION) -m found
                acl hdr_admin hdr(X-Role) admin
                use_backend admin if host_admin || hdr_admin
                use_backend static if host_beg or static or images
                use_backend api if post internal
                use_backend api if beta has_session
                use_backend admin if exact
                """))
        #expect(r.route(get("/", headers: [("Host", "ADMIN.example.com")])).backend == "admin")
        #expect(r.route(get("/", headers: [("X-Role", "user, admin")])).backend == "admin")  // hdr() splits at commas
        #expect(r.route(get("/", headers: [("host", "static.example.com")])).backend == "static")
        #expect(r.route(get("/a/b.css")).backend == "static")
        #expect(r.route(get("/img/42.png")).backend == "static")
        #expect(r.route(get("/img/x.png")).backend == "app")
        #expect(r.route(get("/x", method: "POST", source: "10.1.2.3")).backend == "api")
        #expect(
            r.route(get("/x", method: "POST", source: "10.1.2.3")).reason
                == "acl post (method POST), acl internal (src 10.0.0.0/8 192.168.1.1) -> backend api")
        #expect(r.route(get("/x", method: "POST", source: "192.168.1.2")).backend == "app")
        #expect(r.route(get("/x", method: "GET", source: "10.1.2.3")).backend == "app")
        #expect(
            r.route(get("/", headers: [("Cookie", "a=1; beta=yes"), ("Cookie", "SESSION=abc")])).backend == "api")
        #expect(r.route(get("/", headers: [("Cookie", "beta=yes")])).backend == "app")
        #expect(r.route(get("/health")).backend == "admin")
        #expect(r.route(get("/health/x")).backend == "app")
    }

    @Test func negationUnlessAnonymousAndPredefined() throws {
        let r = try router(
            frontend(
                """
                acl is_api path_beg /api
                acl is_local src 127.0.0.0/8
                use_backend api if is_api !is_local
                use_backend static if { path_beg /s/ } METH_GET
                use_backend admin unless is_local
                """))
        #expect(r.route(get("/api", source: "10.0.0.1")).backend == "api")
        #expect(
            r.route(get("/api", source: "10.0.0.1")).reason
                == "acl is_api (path_beg /api), !acl is_local (src 127.0.0.0/8) -> backend api")
        #expect(r.route(get("/s/a.png")).reason == "{ path_beg /s/ }, acl METH_GET (method GET HEAD) -> backend static")
        #expect(r.route(get("/s/a.png", method: "POST")).backend == "app")
        #expect(
            r.route(get("/x", source: "192.168.0.9")).reason == "unless acl is_local (src 127.0.0.0/8) -> backend admin"
        )
        #expect(r.route(get("/x")).backend == "app")
    }

    @Test func nbsrvAndAlwaysTrue() throws {
        let r = try router(
            frontend(
                """
                acl api_down nbsrv(api) lt 1
                acl yes always_true
                use_backend static if api_down
                use_backend api if yes
                """))
        #expect(r.route(get("/"), usableServers: { $0 == "api" ? 0 : 2 }).backend == "static")
        #expect(r.route(get("/"), usableServers: { _ in 2 }).backend == "api")
        #expect(r.route(get("/"), usableServers: { _ in 2 }).reason == "acl yes (always_true) -> backend api")
    }

    @Test func dynamicBackendNames() throws {
        let r = try router(frontend("use_backend %[req.hdr(host),lower,field(1,.)]"))
        #expect(r.route(get("/", headers: [("Host", "API.example.com")])).backend == "api")
        // A name that is no backend falls back to the default backend, as in HAProxy.
        let miss = r.route(get("/", headers: [("Host", "nope.example.com")]))
        #expect(miss.backend == "app")
        #expect(miss.reason.hasSuffix("gave 'nope', which names no backend (line 5) -> default_backend app"))
    }

    @Test func httpRequestActions() throws {
        let r = try router(
            frontend(
                """
                acl bad_bot hdr_sub(user-agent) -i curl
                acl old path_beg /old
                http-request set-header X-Forwarded-Host %[req.hdr(host)]
                http-request add-header X-Via hadeck
                http-request del-header X-Secret
                http-request deny deny_status 429 if bad_bot
                http-request redirect prefix /new code 301 drop-query if old
                http-request return status 200 content-type text/plain string ok if { path /ping }
                http-request allow if { path /allowed }
                http-request deny if { path_beg /allowed }
                redirect scheme https code 302 if { hdr(X-Proto) http }
                redirect location /moved set-cookie seen=1 if { path /gone }
                """))
        let denied = r.route(get("/", headers: [("User-Agent", "curl/8.0")]))
        #expect(denied.outcome == .deny(status: 429))
        #expect(denied.reason == "http-request deny (line 10) if acl bad_bot (hdr_sub(user-agent) -i curl) -> 429")
        let plain = r.route(get("/x", headers: [("Host", "example.com")]))
        #expect(plain.backend == "app")
        #expect(
            plain.requestHeaderEdits == [
                HeaderEdit(kind: .set, name: "X-Forwarded-Host", value: "example.com", line: 7),
                HeaderEdit(kind: .add, name: "X-Via", value: "hadeck", line: 8),
                HeaderEdit(kind: .delete, name: "X-Secret", value: "", line: 9),
            ])
        #expect(
            r.route(get("/old/page?a=1")).outcome == .redirect(status: 301, location: "/new/old/page", setCookie: nil))
        #expect(r.route(get("/ping")).outcome == .return(status: 200, contentType: "text/plain", body: "ok"))
        // `allow` stops the http-request rules; the redirect rules still run after them.
        #expect(r.route(get("/allowed")).backend == "app")
        #expect(r.route(get("/allowed-not")).outcome == .deny(status: 403))
        #expect(
            r.route(get("/a?b=c", headers: [("Host", "example.com"), ("X-Proto", "http")])).outcome
                == .redirect(status: 302, location: "https://example.com/a?b=c", setCookie: nil))
        #expect(
            r.route(get("/gone")).outcome == .redirect(status: 302, location: "/moved", setCookie: "seen=1; path=/;"))
    }

    @Test func backendRulesRunAfterTheSwitch() throws {
        let text = """
            defaults
                mode http
            frontend www
                bind :8080
                use_backend api if { path_beg /api }
                default_backend app
            backend api
                http-request deny if { src 10.0.0.0/8 }
                http-response set-header X-Backend api
                server b 127.0.2.2:80
            backend app
                http-response del-header Server
                server a 127.0.2.1:80
            """
        let r = try router(text)
        let denied = r.route(get("/api", source: "10.9.9.9"))
        #expect(denied.outcome == .deny(status: 403))
        #expect(
            denied.reason.hasPrefix("acl-less") == false && denied.reason.contains("backend api: http-request deny"))
        #expect(r.route(get("/api")).backend == "api")
        let edits = r.responseEdits(request: get("/api"), backend: "api", status: 200, headers: [])
        #expect(edits.edits == [HeaderEdit(kind: .set, name: "X-Backend", value: "api", line: 9)])
        #expect(
            r.responseEdits(request: get("/"), backend: "app", status: 200, headers: []).edits.map(\.kind) == [.delete])
    }

    @Test func noBackendAtAll() throws {
        let r = try router(
            "frontend www\n    mode http\n    bind :80\n    use_backend api if { path_beg /api }\nbackend api\n    server b 127.0.2.2:80\n"
        )
        #expect(r.route(get("/x")).outcome == .noBackend)
        #expect(r.route(get("/api")).backend == "api")
    }

    @Test func ruleErrorsAsHAProxy() {
        func errors(_ rules: String) -> [String] {
            HAProxyConfigParser.parse(text: frontend(rules), file: "t.cfg").diagnostics.errors.map(\.message)
        }
        #expect(
            errors("acl a foo_bar /x") == [
                "error detected while parsing ACL 'a' : unknown fetch method 'foo_bar' in ACL expression 'foo_bar'."
            ])
        #expect(
            errors("acl a path_beg -x /x") == [
                "error detected while parsing ACL 'a' : '-x' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'."
            ])
        #expect(
            errors("acl a src 999.1.1.1") == [
                "error detected while parsing ACL 'a' : '999.1.1.1' is not a valid IPv4 or IPv6 address."
            ])
        #expect(errors("acl a nbsrv(api) foo") == ["error detected while parsing ACL 'a' : 'foo' is not a number."])
        #expect(
            errors("acl a path -m nope /x") == [
                "error detected while parsing ACL 'a' : unknown matching method 'nope' when parsing ACL expression."
            ])
        #expect(errors("acl 9-bad! path /x") == ["character '!' is not permitted in acl name '9-bad!'."])
        #expect(
            errors("use_backend api if nosuch") == [
                "error detected while parsing switching rule : no such ACL : 'nosuch'."
            ])
        #expect(errors("use_backend missing") == ["frontend 'www': unable to find required use_backend: 'missing'."])
        #expect(
            errors("http-request frob") == [
                "'http-request' expects an action such as 'allow', 'deny', 'tarpit', 'redirect', 'return', 'set-header', 'add-header' or 'del-header', but got 'frob'."
            ])
        #expect(
            errors("http-request add-header X") == [
                "error detected in frontend 'www' while parsing 'http-request add-header' rule : expects exactly 2 arguments."
            ])
        #expect(
            errors("redirect location /x code 305") == [
                "error detected while parsing redirect rule : 'code': unsupported HTTP code '305' (must be one of 301, 302, 303, 307 or 308)."
            ])
    }

    @Test func unsupportedFetchesWarnAndNeverMatch() throws {
        let (config, d) = HAProxyConfigParser.parse(
            text: frontend("acl tls ssl_fc\nuse_backend api if tls\nhttp-request set-var(txn.x) path"), file: "t.cfg")
        #expect(d.errors.isEmpty)
        #expect(
            d.warnings.map(\.message).contains(
                "'ssl_fc' is not evaluated by hadeck: ACL criterion 'ssl_fc' never matches"))
        #expect(
            d.warnings.map(\.message).contains(
                "'http-request set-var(txn.x)' is not simulated by hadeck; the rule is skipped"))
        let r = RequestRouter(frontend: config.frontends[0], backends: config.backends)
        #expect(r.route(get("/")).backend == "app")
    }
}

/// Item 7 and 8: servers and limits, logging.
@Suite struct ServersLimitsLoggingTests {
    @Test func defaultServerIsInherited() throws {
        let (c, d) = HAProxyConfigParser.parse(
            text: """
                defaults
                    default-server inter 3s fall 5 maxconn 10
                backend b
                    default-server check rise 4
                    server a 127.0.0.1:80
                    server b 127.0.0.1:81 rise 1 maxconn 2 maxqueue 5 check port 9000 addr 127.0.0.9
                    default-server no-check
                    server c 127.0.0.1:82
                """, file: "t.cfg")
        #expect(d.items.isEmpty, "\(d.items)")
        let s = try #require(c.backend(named: "b")).servers
        #expect(s.map(\.inter) == [.seconds(3), .seconds(3), .seconds(3)])
        #expect(s.map(\.fall) == [5, 5, 5])
        #expect(s.map(\.rise) == [4, 1, 4])
        #expect(s.map(\.check) == [true, true, false])
        #expect(s.map(\.maxconn) == [10, 2, 10])
        #expect(s[1].maxqueue == 5)
        #expect(s[1].checkTarget == HostPort(host: "127.0.0.9", port: 9000))
        #expect(s[0].checkTarget == HostPort(host: "127.0.0.1", port: 80))
    }

    @Test func errorfilesStatsAndQueueTimeout() throws {
        let (c, d) = HAProxyConfigParser.parse(
            text: """
                listen web
                    mode http
                    bind :8080
                    timeout queue 7s
                    errorfile 503 /etc/haproxy/errors/503.http
                    errorfile 418 /x.http
                    stats uri /stats
                    stats auth admin:s3cret
                    stats auth ops:pa:ss
                    stats realm Private\\ area
                    stats hide-version
                    server a 127.0.0.1:80
                """, file: "t.cfg")
        #expect(d.errors.isEmpty)
        #expect(
            d.warnings.map(\.description) == [
                "t.cfg:6: warning: errorfile : status code '418' not handled, error customization will be ignored."
            ])
        let fe = try #require(c.frontend(named: "web"))
        #expect(fe.errorFiles == [503: "/etc/haproxy/errors/503.http"])
        #expect(
            fe.stats.credentials == [
                StatsCredential(user: "admin", password: "s3cret"), StatsCredential(user: "ops", password: "pa:ss"),
            ])
        #expect(fe.stats.hideVersion)
        #expect(fe.stats.realm == "Private area")
        #expect(c.backend(named: "web")?.timeouts.queue == .seconds(7))
    }

    @Test func loggingAsConfigured() throws {
        let (c, d) = HAProxyConfigParser.parse(
            text: """
                global
                    log /dev/log local0
                    log 127.0.0.1:514 local1 notice
                defaults
                    mode http
                    log global
                    option httplog
                frontend a
                    bind :80
                frontend b
                    bind :81
                    no log
                    option tcplog
                frontend c
                    bind :82
                    log stdout format raw daemon info
                    log-format "%ci:%cp [%t] %ft %b/%s %[req.hdr(host)]"
                frontend d
                    bind :83
                    log 127.0.0.1 nofacility
                """, file: "t.cfg")
        #expect(d.errors.map(\.description) == ["t.cfg:20: error: log : unknown log facility 'nofacility'"])
        #expect(
            d.warnings.map(\.description) == [
                "t.cfg:10: warning: log format ignored for frontend 'b' since it has no log address."
            ])
        let a = try #require(c.frontend(named: "a")).logging
        #expect(a.enabled && a.format == .httplog)
        #expect(a.targets.map(\.address) == ["/dev/log", "127.0.0.1:514"])
        #expect(a.targets[1].level == "notice")
        #expect(c.frontend(named: "b")?.logging.enabled == false)
        let logC = try #require(c.frontend(named: "c")).logging
        #expect(logC.targets.map(\.address) == ["/dev/log", "127.0.0.1:514", "stdout"])
        guard case .custom(let format) = logC.format else { return #expect(Bool(false), "custom format expected") }
        #expect(format.parts.count == 13)
        #expect(format.parts.last == .sample(SampleExpression(fetch: .header("host"), text: "req.hdr(host)")))
    }
}

/// Requests sent with curl (from 127.0.0.1) to HAProxy 2.6.12 running this file; the answers
/// HAProxy gave are written beside each (each backend answers its own name with `http-request return`).
@Suite struct RoutingAgreesWithHAProxyTests {
    static let config = #"""
        global
            maxconn 100
        defaults
            mode http
            timeout connect 1s
            timeout client 2s
            timeout server 2s
        frontend www
            bind 127.85.0.1:18080
            acl is_api path_beg /api
            acl host_admin hdr(host) -i admin.example.com
            acl host_beg hdr_beg(host) -i static.
            acl static path_end .css .js
            acl images path_reg ^/img/[0-9]+\.png$
            acl role hdr(X-Role) admin
            acl beta req.cook(beta) yes
            acl internal src 127.85.0.0/16
            acl old path_beg /old
            http-request deny deny_status 429 if { hdr_sub(user-agent) -i curl/0 }
            http-request redirect prefix /new code 301 drop-query if old
            redirect scheme https code 302 if { hdr(X-Proto) http }
            use_backend admin if host_admin || role
            use_backend static if host_beg or static or images
            use_backend api if is_api !internal
            use_backend beta if beta
            use_backend %[req.hdr(X-Pick),lower,field(1,.)] if { req.hdr(X-Pick) -m found }
            default_backend app
        backend app
            http-request return status 200 content-type text/plain string app
        backend api
            http-request return status 200 content-type text/plain string api
        backend static
            http-request return status 200 content-type text/plain string static
        backend admin
            http-request return status 200 content-type text/plain string admin
        backend beta
            http-request return status 200 content-type text/plain string beta
        """#

    @Test func recordedAnswers() throws {
        let r = try router(Self.config)
        func answer(_ target: String, _ headers: [(name: String, value: String)] = []) -> RequestDecision.Outcome {
            r.route(get(target, headers: headers, source: "127.0.0.1")).outcome
        }
        func body(_ text: String) -> RequestDecision.Outcome {
            .return(status: 200, contentType: "text/plain", body: text)
        }
        #expect(answer("/api/x") == body("api"))
        #expect(answer("/", [("Host", "ADMIN.example.com")]) == body("admin"))
        #expect(answer("/", [("X-Role", "user, admin")]) == body("admin"))
        #expect(answer("/", [("Host", "static.example.com")]) == body("static"))
        #expect(answer("/a/b.css") == body("static"))
        #expect(answer("/img/42.png") == body("static"))
        #expect(answer("/img/x.png") == body("app"))
        #expect(answer("/", [("Cookie", "a=1; beta=yes")]) == body("beta"))
        #expect(answer("/old/page?a=1") == .redirect(status: 301, location: "/new/old/page", setCookie: nil))
        #expect(
            answer("/a?b=c", [("X-Proto", "http"), ("Host", "example.com")])
                == .redirect(status: 302, location: "https://example.com/a?b=c", setCookie: nil))
        #expect(answer("/", [("User-Agent", "curl/0.1")]) == .deny(status: 429))
        #expect(answer("/", [("X-Pick", "API.example")]) == body("api"))
        #expect(answer("/", [("X-Pick", "nope.example")]) == body("app"))
        #expect(answer("/", [("X-Role", "administrator")]) == body("app"))
    }
}
