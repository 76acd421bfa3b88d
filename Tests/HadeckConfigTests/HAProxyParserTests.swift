import BalancerCore
import HadeckBase
import Testing

@testable import HadeckConfig

private func parse(_ text: String) -> (config: HAProxyConfig, diagnostics: Diagnostics) {
    HAProxyConfigParser.parse(text: text, file: "t.cfg")
}

/// A backend with one extra line, parsed, for table-driven checks.
private func backend(_ line: String) -> (BackendConfig?, Diagnostics) {
    let (config, diags) = parse(
        """
        backend b
            mode http
            \(line)
            server s 127.0.2.1:80
        """)
    return (config.backend(named: "b"), diags)
}

private func server(_ params: String) -> (ServerConfig?, Diagnostics) {
    let (config, diags) = parse(
        """
        backend b
            server s 127.0.2.1:8081 \(params)
        """)
    return (config.backend(named: "b")?.servers.first, diags)
}

private func messages(_ d: Diagnostics) -> [String] { d.items.map(\.description) }

@Suite struct HAProxyTimeTests {
    @Test(
        arguments: [
            ("5", TimeSpan.milliseconds(5)), ("5us", .microseconds(5)), ("5ms", .milliseconds(5)),
            ("5s", .seconds(5)), ("2m", .seconds(120)), ("1h", .seconds(3600)), ("1d", .seconds(86_400)),
            ("0", .zero),
        ] as [(String, TimeSpan)])
    func units(text: String, expected: TimeSpan) throws {
        #expect(try HAProxyTime.parse(text).get() == expected)
    }

    @Test func secondsDefaultUnit() throws {
        #expect(try HAProxyTime.parse("5", defaultUnit: .seconds).get() == .seconds(5))
    }

    @Test func badValues() {
        #expect(throws: TimeValueError(message: "invalid time unit 'x' in '2x' (expected us, ms, s, m, h or d)")) {
            try HAProxyTime.parse("2x").get()
        }
        #expect(throws: TimeValueError.self) { try HAProxyTime.parse("s").get() }
        #expect(throws: TimeValueError.self) { try HAProxyTime.parse("-1s").get() }
    }
}

@Suite struct HAProxyLexerTests {
    static let cases: [(String, [String])] = [
        (#"a b  c"#, ["a", "b", "c"]),
        (#"a "b c" d"#, ["a", "b c", "d"]),
        (#"a 'b\ c'"#, ["a", #"b\ c"#]),
        (#"a b\ c"#, ["a", "b c"]),
        (#"a "x\"y""#, ["a", "x\"y"]),
        (#"a # comment"#, ["a"]),
        (##"a \# b"##, ["a", "#", "b"]),
        (#"pre"quoted"post"#, ["prequotedpost"]),
        (#"a \x41"#, ["a", "A"]),
    ]

    @Test(arguments: cases)
    func splits(line: String, words: [String]) throws {
        #expect(try HAProxyLexer.split(Substring(line)).get() == words)
    }

    @Test func unmatchedQuote() {
        let (_, d) = parse("global\n    node \"lb1\n")
        // HAProxy's words: "unmatched quote at position 10" (it counts bytes from 1, blanks included).
        #expect(messages(d) == ["t.cfg:2: error: unmatched quote at position 10"])
    }
}

@Suite struct HAProxyDirectiveTests {
    @Test func global() throws {
        let (c, d) = parse(
            """
            global
                nbthread 2
                maxconn 5000
                node "lb-1"
                stats socket /tmp/a.sock mode 660 level admin
                stats socket /tmp/b.sock
            """)
        #expect(d.items.isEmpty)
        #expect(c.global.nbthread == 2)
        #expect(c.global.maxconn == 5000)
        #expect(c.global.node == "lb-1")
        #expect(c.global.statsSockets.count == 2)
        #expect(c.global.statsSockets[0].path == "/tmp/a.sock")
        #expect(c.global.statsSockets[0].mode == 0o660)
        #expect(c.global.statsSockets[0].level == .admin)
        #expect(c.global.statsSockets[1].mode == 0o600)
        #expect(c.global.statsSockets[1].level == .operator)
    }

    /// HAProxy 2.6.12 refuses a node name with a blank (this test accepted "lb 1" before).
    @Test func nodeNameAsHAProxy() {
        #expect(
            messages(parse("global\n    node \"lb 1\"\n").1) == [
                "t.cfg:2: error: 'node' requires valid node name - non-empty string with digits(0-9), letters(A-Z, a-z), dot(.), hyphen(-) or underscode(_)."
            ])
    }

    @Test func statsSocketBadLevel() {
        let (_, d) = parse("global\n    stats socket /tmp/a level root\n")
        #expect(
            messages(d) == ["t.cfg:2: error: 'stats socket': 'level' only supports 'user', 'operator', and 'admin'"])
    }

    @Test(
        arguments: [
            ("balance roundrobin", \BackendConfig.balance, BalanceAlgorithm.roundrobin),
            ("balance static-rr", \BackendConfig.balance, .staticRR),
            ("balance leastconn", \BackendConfig.balance, .leastconn),
            ("balance source", \BackendConfig.balance, .source),
            ("balance first", \BackendConfig.balance, .first),
        ] as [(String, KeyPath<BackendConfig, BalanceAlgorithm> & Sendable, BalanceAlgorithm)])
    func balance(line: String, path: KeyPath<BackendConfig, BalanceAlgorithm> & Sendable, value: BalanceAlgorithm) {
        let (b, d) = backend(line)
        #expect(d.items.isEmpty)
        #expect(b?[keyPath: path] == value)
    }

    @Test(
        arguments: [
            ("option redispatch", \BackendConfig.redispatch, true),
            ("option persist", \BackendConfig.persist, true),
            ("option allbackups", \BackendConfig.allbackups, true),
            ("option forwardfor", \BackendConfig.forwardfor, true),
            ("option http-keep-alive", \BackendConfig.httpKeepAlive, true),
            ("no option http-keep-alive", \BackendConfig.httpKeepAlive, false),
        ] as [(String, KeyPath<BackendConfig, Bool> & Sendable, Bool)])
    func options(line: String, path: KeyPath<BackendConfig, Bool> & Sendable, value: Bool) {
        let (b, d) = backend(line)
        #expect(d.items.isEmpty)
        #expect(b?[keyPath: path] == value)
    }

    @Test(
        arguments: [
            ("timeout connect 5s", \Timeouts.connect, TimeSpan.seconds(5)),
            ("timeout client 30000", \Timeouts.client, .seconds(30)),
            ("timeout server 1m", \Timeouts.server, .seconds(60)),
            ("timeout check 500ms", \Timeouts.check, .milliseconds(500)),
            ("timeout http-request 10s", \Timeouts.httpRequest, .seconds(10)),
            ("timeout http-keep-alive 2s", \Timeouts.httpKeepAlive, .seconds(2)),
            ("timeout queue 250us", \Timeouts.queue, .microseconds(250)),
        ] as [(String, KeyPath<Timeouts, TimeSpan?> & Sendable, TimeSpan)])
    func timeouts(line: String, path: KeyPath<Timeouts, TimeSpan?> & Sendable, value: TimeSpan) {
        let (b, d) = backend(line)
        #expect(d.items.isEmpty)
        #expect(b?.timeouts[keyPath: path] == value)
    }

    @Test func retries() {
        #expect(backend("retries 5").0?.retries == 5)
        #expect(backend("").0?.retries == 3)
        #expect(
            messages(backend("retries many").1) == ["t.cfg:3: error: 'retries' expects an integer >= 0 (got 'many')"])
    }

    @Test func unsupportedBalance() {
        let (b, d) = backend("balance uri")
        #expect(b?.balance == .roundrobin)
        #expect(messages(d) == ["t.cfg:3: warning: 'balance uri' is not simulated by hadeck; using 'roundrobin'"])
        #expect(
            messages(backend("balance hdr(host)").1) == [
                "t.cfg:3: warning: 'balance hdr(host)' is not simulated by hadeck; using 'roundrobin'"
            ])
    }

    @Test func httpchk() {
        #expect(backend("").0?.httpCheck == nil)
        let plain = backend("option httpchk").0?.httpCheck
        #expect(plain?.method == "OPTIONS")
        #expect(plain?.uri == "/")
        #expect(plain?.version == "HTTP/1.0")
        let one = backend("option httpchk /health").0?.httpCheck
        #expect(one?.method == "OPTIONS")
        #expect(one?.uri == "/health")
        let two = backend("option httpchk GET /login").0?.httpCheck
        #expect(two?.method == "GET")
        #expect(two?.uri == "/login")
        #expect(two?.version == "HTTP/1.0")
        let three = backend("option httpchk HEAD / HTTP/1.1").0?.httpCheck
        #expect(three?.method == "HEAD")
        #expect(three?.version == "HTTP/1.1")
    }

    @Test func httpCheckRules() {
        let (c, d) = parse(
            """
            backend b
                option httpchk GET /health
                http-check expect status 200
                http-check disable-on-404
            """)
        #expect(d.items.isEmpty)
        #expect(c.backends[0].httpCheck?.expectStatus == 200)
        #expect(c.backends[0].httpCheck?.disableOn404 == true)
        #expect(
            messages(backend("http-check expect status abc").1) == [
                "t.cfg:3: error: 'http-check expect status' expects an HTTP status code between 100 and 599"
            ])
    }

    @Test func cookie() throws {
        let (b, d) = backend(
            "cookie SRV insert indirect nocache preserve httponly secure postonly domain .a.com domain .b.com maxidle 30m maxlife 2h"
        )
        #expect(d.items.isEmpty)
        let cookie = try #require(b?.cookie)
        #expect(cookie.name == "SRV")
        #expect(cookie.mode == .insert)
        #expect(
            cookie.indirect && cookie.nocache && cookie.preserve && cookie.httponly && cookie.secure && cookie.postonly)
        #expect(cookie.domains == [".a.com", ".b.com"])
        #expect(cookie.maxidle == .seconds(1800))
        #expect(cookie.maxlife == .seconds(7200))
        #expect(backend("cookie JSESSIONID prefix").0?.cookie?.mode == .prefix)
        #expect(backend("cookie SRV rewrite").0?.cookie?.mode == .rewrite)
        #expect(backend("cookie SRV insert maxidle 30").0?.cookie?.maxidle == .seconds(30))
    }

    @Test func cookieErrors() {
        #expect(
            messages(backend("cookie SRV insert prefix").1) == [
                "t.cfg:3: error: 'cookie': 'insert' and 'prefix' modes are mutually exclusive"
            ])
        #expect(messages(backend("cookie").1) == ["t.cfg:3: error: 'cookie' expects <cookie_name> as argument"])
        #expect(
            messages(backend("cookie SRV insert maxidle 1x").1) == [
                "t.cfg:3: error: 'cookie': 'maxidle': invalid time unit 'x' in '1x' (expected us, ms, s, m, h or d)"
            ])
    }

    @Test func stats() {
        let (c, d) = parse(
            """
            listen web
                mode http
                bind 127.0.0.1:8080
                stats enable
                stats uri /haproxy-stats
                stats refresh 5
                stats realm "HAProxy Statistics"
                stats admin if TRUE
            """)
        #expect(d.items.isEmpty)
        let stats = c.backends[0].stats
        #expect(stats.enabled)
        #expect(stats.uri == "/haproxy-stats")
        #expect(stats.refresh == .seconds(5))
        #expect(stats.realm == "HAProxy Statistics")
        #expect(stats.admin)
        #expect(c.frontends[0].stats == stats)
        #expect(
            messages(backend("stats admin").1) == [
                "t.cfg:3: error: 'stats admin' requires either 'if' or 'unless' followed by a condition"
            ])
    }

    @Test(
        arguments: [
            ("check", \ServerConfig.check, true),
            ("backup", \ServerConfig.backup, true),
            ("disabled", \ServerConfig.disabled, true),
        ] as [(String, KeyPath<ServerConfig, Bool> & Sendable, Bool)])
    func serverFlags(params: String, path: KeyPath<ServerConfig, Bool> & Sendable, value: Bool) {
        let (s, d) = server(params)
        #expect(d.items.isEmpty)
        #expect(s?[keyPath: path] == value)
    }

    @Test func serverValues() throws {
        let (s, d) = server(
            "check inter 3s fastinter 500 downinter 10s rise 4 fall 5 weight 256 cookie A slowstart 1m maxconn 50")
        #expect(
            messages(d) == [
                "t.cfg:2: warning: backend 'b': server 's' has a cookie value but the backend has no 'cookie' directive; the value is ignored"
            ])
        let srv = try #require(s)
        #expect(srv.name == "s")
        #expect(srv.address == HostPort(host: "127.0.2.1", port: 8081))
        #expect(srv.inter == .seconds(3))
        #expect(srv.fastinter == .milliseconds(500))
        #expect(srv.downinter == .seconds(10))
        #expect(srv.rise == 4)
        #expect(srv.fall == 5)
        #expect(srv.weight == 256)
        #expect(srv.cookie == "A")
        #expect(srv.slowstart == .seconds(60))
        #expect(srv.maxconn == 50)
        #expect(srv.line == 2)
        let defaults = try #require(server("").0)
        #expect(
            defaults.inter == .milliseconds(2000) && defaults.rise == 2 && defaults.fall == 3 && defaults.weight == 1)
        #expect(!defaults.check)
    }

    @Test(arguments: [
        ("weight 300", "t.cfg:2: error: server 's': 'weight' must be between 0 and 256 (got '300')"),
        ("weight -1", "t.cfg:2: error: server 's': 'weight' must be between 0 and 256 (got '-1')"),
        ("rise 0", "t.cfg:2: error: server 's': 'rise' has to be > 0 (got '0')"),
        ("fall x", "t.cfg:2: error: server 's': 'fall' has to be > 0 (got 'x')"),
        (
            "inter 2x",
            "t.cfg:2: error: server 's': 'inter': invalid time unit 'x' in '2x' (expected us, ms, s, m, h or d)"
        ),
        ("inter 0", "t.cfg:2: error: server 's': 'inter' has to be > 0"),
        ("inter", "t.cfg:2: error: server 's': 'inter' expects a time value"),
        // HAProxy 2.6 rejects an unknown server keyword ("'server b/s' : unknown keyword 'frobnicate'.").
        ("frobnicate", "t.cfg:2: error: server 's': unknown keyword 'frobnicate'."),
        ("check port 0", "t.cfg:2: error: server 's': 'port' expects a valid port number (got '0')"),
        (
            "ssl verify none",
            "t.cfg:2: warning: server 's': keywords 'ssl', 'verify' are not simulated by hadeck; ignored"
        ),
    ])
    func serverProblems(params: String, message: String) {
        #expect(messages(server(params).1) == [message])
    }

    @Test func serverAddresses() {
        let (c, d) = parse(
            """
            backend b
                server a
                server b 127.0.0.1
                server c 127.0.0.1:0
                server d [::1]:8080
                server e localhost:80
            """)
        // HAProxy 2.6 accepts a server without a port (or port 0): it connects to the client's port.
        #expect(
            messages(d) == [
                "t.cfg:2: error: server 'a': missing address ('server' expects <name> and <addr>:<port>)",
                "t.cfg:6: warning: server 'e': 'localhost' is a host name: hadeck resolves it once when it starts, as HAProxy does by default (init-addr last,libc), and never again",
                "t.cfg:3: warning: server 'b' has no port: HAProxy connects to the port the client connected to; no frontend of this file routes to backend 'b', so hadeck uses 80",
                "t.cfg:4: warning: server 'c' has no port: HAProxy connects to the port the client connected to; no frontend of this file routes to backend 'b', so hadeck uses 80",
            ])
        #expect(
            c.backends[0].servers.map(\.address) == [
                HostPort(host: "127.0.0.1", port: 80), HostPort(host: "127.0.0.1", port: 80),
                HostPort(host: "::1", port: 8080), HostPort(host: "localhost", port: 80),
            ])
        #expect(c.backends[0].servers.map(\.addressForm) == [.clientPort, .clientPort, .ip, .hostname("localhost")])
    }

    @Test func binds() {
        let (c, d) = parse(
            """
            frontend f
                bind :8080
                bind 127.0.0.99:80,127.0.1.1:81-82
                bind *:443 ssl crt /x.pem
            """)
        #expect(
            c.frontends[0].binds.map(\.description) == [
                "0.0.0.0:8080", "127.0.0.99:80", "127.0.1.1:81", "127.0.1.1:82", "0.0.0.0:443",
            ])
        // One warning naming the keywords, never a keyword's value ('/x.pem') as if it were a keyword.
        #expect(messages(d) == ["t.cfg:4: warning: 'bind': 'ssl', 'crt' are not simulated by hadeck; ignored"])
        #expect(
            messages(parse("frontend f\n    bind 127.0.0.1:http\n").1).first
                == "t.cfg:2: error: 'bind': invalid port 'http' in address '127.0.0.1:http' (must be between 1 and 65535)"
        )
    }

    @Test func modeDefaultsToTCP() {
        let (c, _) = parse("backend b\n    server s 127.0.0.1:80\n")
        #expect(c.backends[0].mode == .tcp)
        let (c2, d2) = parse("backend b\n    cookie SRV insert\n    server s 127.0.0.1:80\n")
        #expect(c2.backends[0].cookie == nil)
        #expect(
            messages(d2) == [
                "t.cfg:2: warning: backend 'b' is in tcp mode: 'cookie' requires 'mode http' and is ignored"
            ])
    }
}

@Suite struct HAProxyStructureTests {
    @Test func defaultsInheritance() {
        let (c, d) = parse(
            """
            defaults
                mode http
                timeout connect 5s
                retries 2
                option redispatch

            backend one
                timeout connect 1s
                server s 127.0.0.1:80

            defaults
                timeout client 7s

            backend two
                server s 127.0.0.1:80
            """)
        #expect(d.items.isEmpty)
        let one = c.backend(named: "one")!
        #expect(one.mode == .http)
        #expect(one.timeouts.connect == .seconds(1))
        #expect(one.retries == 2)
        #expect(one.redispatch)
        // A new defaults section starts over.
        let two = c.backend(named: "two")!
        #expect(two.mode == .tcp)
        #expect(two.timeouts.connect == nil)
        #expect(two.timeouts.client == .seconds(7))
        #expect(two.retries == 3)
        #expect(!two.redispatch)
    }

    @Test func namedDefaults() {
        let (c, d) = parse(
            """
            defaults web
                mode http
                timeout server 30s
            defaults tcp from web
                mode tcp
            defaults
                retries 9
            backend a from web
                server s 127.0.0.1:80
            backend b from tcp
                server s 127.0.0.1:80
            backend c
                server s 127.0.0.1:80
            backend d from nothing
            """)
        #expect(c.backend(named: "a")?.mode == .http)
        #expect(c.backend(named: "a")?.retries == 3)
        #expect(c.backend(named: "b")?.mode == .tcp)
        #expect(c.backend(named: "b")?.timeouts.server == .seconds(30))
        #expect(c.backend(named: "c")?.retries == 9)
        #expect(messages(d) == ["t.cfg:14: error: backend section refers to unknown defaults section 'nothing'"])
    }

    @Test func listenIsFrontendAndBackend() {
        let (c, d) = parse(
            """
            listen web
                mode http
                bind :8080
                server s 127.0.0.1:80
            """)
        #expect(d.items.isEmpty)
        #expect(c.frontends.map(\.name) == ["web"])
        #expect(c.backends.map(\.name) == ["web"])
        #expect(c.frontends[0].defaultBackend == "web")
        #expect(c.frontends[0].line == 1)
    }

    @Test func frontendBackendPair() {
        let (c, d) = parse(
            """
            frontend web
                mode http
                bind :8080
                default_backend web
            backend web
                mode http
                server s 127.0.0.1:80
            """)
        #expect(d.items.isEmpty)
        #expect(c.frontend(named: "web")?.defaultBackend == "web")
        #expect(c.backend(named: "web")?.servers.count == 1)
    }

    @Test func structuralErrors() {
        let (_, d) = parse(
            """
            maxconn 100
            frontend www
                bind :80
                default_backend nowhere
                use_backend x if y
            frontend www
                bind :81
            backend app
                server a 127.0.0.1:80
                server a 127.0.0.1:81
                frobnicate
                server b 127.0.0.1:82 cookie X
            frontend nobind
            """)
        #expect(
            messages(d) == [
                "t.cfg:1: error: unknown keyword 'maxconn' out of section (expected 'global', 'defaults', 'frontend', 'backend' or 'listen')",
                "t.cfg:5: error: error detected while parsing switching rule : no such ACL : 'y'.",
                "t.cfg:10: error: backend 'app' has two servers named 'a' (first one at line 9)",
                "t.cfg:11: error: unknown keyword 'frobnicate' in 'backend' section",
                "t.cfg:6: error: frontend 'www' has the same name as frontend 'www' declared at t.cfg:2",
                "t.cfg:4: error: frontend 'www': unable to find required default_backend: 'nowhere'",
                "t.cfg:12: warning: backend 'app': server 'b' has a cookie value but the backend has no 'cookie' directive; the value is ignored",
                "t.cfg:13: warning: frontend 'nobind' has no 'bind' directive. Please declare it as a backend if this was intended. (hadeck sends it no traffic)",
            ])
    }

    @Test func duplicateCookieValues() {
        let (_, d) = parse(
            """
            backend app
                mode http
                cookie SRV insert
                server a 127.0.0.1:80 cookie A
                server b 127.0.0.1:81 cookie A
            """)
        #expect(
            messages(d) == [
                "t.cfg:5: error: backend 'app': server 'b' has the same cookie value 'A' as server 'a' (line 4)"
            ])
    }

    @Test func unsupportedDirectivesWarn() {
        let (c, d) = parse(
            """
            global
                daemon
            frontend f
                mode http
                bind :80
                acl static path_beg /s
                http-request deny if static
                maxconn 100
                option httplog
                default_backend b
            backend b
                mode http
                server s 127.0.0.1:80
            peers mypeers
                peer a 127.0.0.1:1024
            """)
        #expect(!d.hasErrors)
        #expect(
            messages(d) == [
                "t.cfg:2: warning: 'daemon' is not simulated by hadeck; ignored",
                "t.cfg:8: warning: 'maxconn' is not simulated by hadeck; directive ignored",
                "t.cfg:14: warning: section 'peers' is not simulated by hadeck; its content is ignored",
                "t.cfg:3: warning: log format ignored for frontend 'f' since it has no log address.",
            ])
        #expect(c.frontends.count == 1)
        // acl, http-request and option httplog are modelled now.
        #expect(c.frontends[0].rules.acls.map(\.name) == ["static"])
        #expect(c.frontends[0].rules.httpRequest.first?.action == .deny(status: 403))
        #expect(c.frontends[0].logging.format == .httplog)
    }

    @Test func capabilityWarnings() {
        let (_, d) = parse(
            """
            frontend f
                bind :80
                balance leastconn
                server s 127.0.0.1:80
            backend b
                bind :81
                default_backend x
            """)
        #expect(
            messages(d) == [
                "t.cfg:3: warning: 'balance' ignored because frontend 'f' has no backend capability",
                "t.cfg:4: warning: 'server' ignored because frontend 'f' has no backend capability",
                "t.cfg:6: warning: 'bind' ignored because backend 'b' has no frontend capability",
                "t.cfg:7: warning: 'default_backend' ignored because backend 'b' has no frontend capability",
            ])
    }
}
