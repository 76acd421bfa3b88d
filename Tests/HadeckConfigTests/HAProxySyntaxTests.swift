import BalancerCore
import Foundation
import HadeckBase
import Testing

@testable import HadeckConfig

private func parse(_ text: String, environment: [String: String] = [:], asFile: Bool = false) -> (
    config: HAProxyConfig, diagnostics: Diagnostics
) {
    HAProxyConfigParser.parse(
        text: text, file: "t.cfg",
        options: HAProxyParseOptions(environment: environment, requireFinalNewline: asFile))
}

private func messages(_ d: Diagnostics) -> [String] { d.items.map(\.description) }
private func errors(_ d: Diagnostics) -> [String] { d.errors.map(\.description) }

private func words(_ line: String, _ environment: [String: String] = [:]) -> Result<[String], HAProxyLexer.Problem> {
    HAProxyLexer.split(
        Array(line.utf8)[...],
        context: HAProxyTokenContext(environment: environment, file: "t.cfg", line: 7, section: "web"))
}

/// Item 1 and 2 of issue 14: HAProxy 2.6's reader and tokenizer, checked against `haproxy -c` 2.6.12.
@Suite struct HAProxyTokenizerTests {
    @Test(
        arguments: [
            (#"node "${HOST}""#, ["node", "lb1"]),
            (#"node "${NOPE-fallback}""#, ["node", "fallback"]),
            (#"node "${HOST-fallback}""#, ["node", "lb1"]),
            (#"node "$HOST""#, ["node", "lb1"]),
            (#"node $HOST"#, ["node", "$HOST"]),  // outside double quotes '$' is a character
            (#"node '${HOST}'"#, ["node", "${HOST}"]),
            (#"bind "${ADDRS[*]}" x"#, ["bind", "a:1", "b:2", "x"]),
            (#"x "${.LINE}" "${.FILE}" "${.SECTION}""#, ["x", "7", "t.cfg", "web"]),
            (#"x "cost \$5""#, ["x", "cost $5"]),
            (##"x a\ b\#c"##, ["x", "a b#c"]),
            (#"x \1 \q"#, ["x", #"\1"#, #"\q"#]),
            ("x a\\", ["x", "a\\"]),  // a backslash at the end of a line is a character of that line
            ("x a\rb c", ["x", "a"]),  // a CR ends the line, as in HAProxy
            (#"x "" y"#, ["x"]),  // an empty word ends the arguments, as HAProxy's parsers see it
            ("\tx\t \t y  ", ["x", "y"]),
        ] as [(String, [String])])
    func splitsAsHAProxy(line: String, expected: [String]) throws {
        let environment = ["HOST": "lb1", "ADDRS": "a:1  b:2"]
        #expect(try words(line, environment).get() == expected)
    }

    @Test(arguments: [
        (#"    node "$5""#, "forbidden first char in environment variable name at position 12"),
        (#"   node "${X""#, "unmatched brace in environment variable name at position 11"),
        (#"    node "${X:-a}""#, "unmatched brace in environment variable name at position 12"),
        (#"  node \xZZ"#, "truncated or invalid hexadecimal sequence at position 8"),
        (#"node "${X[1]}""#, "truncated or invalid word expansion sequence at position 10"),
        (#"node "${.NOPE}""#, "forbidden first char in environment variable name at position 9"),
        (#"node 'a"#, "unmatched quote at position 6"),
    ])
    func errorsAsHAProxy(line: String, message: String) {
        #expect(throws: HAProxyLexer.Problem(message: message)) { try words(line).get() }
    }

    @Test func tooManyWords() throws {
        let line = "x" + String(repeating: " a", count: 64)
        #expect(throws: HAProxyLexer.Problem(message: "too many words, truncating after word 64")) {
            try words(line).get()
        }
        #expect(try words("x" + String(repeating: " a", count: 63)).get().count == 64)
    }

    /// A trailing backslash is not a continuation: HAProxy blames that line and the next one.
    @Test func trailingBackslashBlamesItsLine() {
        let (_, d) = parse("global\n    maxconn 100 \\\n      200\n")
        #expect(
            errors(d) == [
                "t.cfg:2: error: 'maxconn' cannot handle unexpected argument '\\'.",
                "t.cfg:3: error: unknown keyword '200' in 'global' section",
            ])
    }

    @Test func environmentFromGlobalSetenv() {
        let (c, d) = parse(
            """
            global
                setenv PORT 8081
                presetenv PORT 9
                presetenv NODE lb7
                node "${NODE}"
            frontend f
                bind 127.0.0.1:"${PORT}"
                bind 127.0.0.1:$PORT2
            """, environment: ["PORT2": "8082"])
        #expect(d.errors.isEmpty)
        #expect(c.global.node == "lb7")
        // Addresses also expand $NAME outside quotes (HAProxy's legacy env_expand()).
        #expect(c.frontends[0].binds.map(\.port) == [8081, 8082])
        let (_, missing) = parse("frontend f\n    bind 0.0.0.0:$PORT\n")
        #expect(errors(missing) == ["t.cfg:2: error: 'bind': missing port specification in '0.0.0.0:$PORT'"])
    }
}

@Suite struct HAProxyFileReadingTests {
    @Test func missingFinalNewlineAsHAProxy() {
        let text = "global\n    maxconn 100\nlisten a\n    bind :80\n    server s 127.0.0.1:80"
        #expect(
            errors(parse(text, asFile: true).diagnostics) == [
                "t.cfg:5: error: Missing LF on last line, file might have been truncated at position 26."
            ])
        #expect(parse(text).diagnostics.errors.isEmpty)  // text built in code is read without that rule
        #expect(parse(text + "\n", asFile: true).diagnostics.errors.isEmpty)
    }

    @Test func crlfLinesAreLFLines() {
        let lf = "global\n    maxconn 100\nlisten a\n    mode http\n    bind :80\n    server s 127.0.0.1:80 check\n"
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        let (a, da) = parse(lf, asFile: true)
        let (b, db) = parse(crlf, asFile: true)
        #expect(da.items.isEmpty && db.items.isEmpty)
        #expect(a == b)
    }

    /// HAProxy 2.6 refuses a file that starts with a byte order mark: one error says why.
    @Test func byteOrderMarkIsRefusedAsHAProxyDoes() {
        let (c, d) = parse("\u{FEFF}global\n    maxconn 100\n")
        #expect(
            errors(d) == [
                "t.cfg:1: error: the file starts with a UTF-8 byte order mark, which HAProxy 2.6 reads as part of the first word ('global') and rejects (unknown keyword out of section); save the file without it"
            ])
        #expect(c.global.maxconn == 100)
        #expect(errors(parse("\u{FEFF}# comment\nglobal\n").diagnostics).count == 1)
    }

    @Test func latin1BytesAreRead() {
        let bytes = Array("# caf\u{E9}\nglobal\n    node lb1\n".unicodeScalars.map { UInt8($0.value) })
        let text = ConfigFiles.decode(bytes)
        #expect(text.hasPrefix("# caf\u{E9}"))
        let (c, d) = parse(text)
        #expect(d.items.isEmpty && c.global.node == "lb1")
    }

    @Test func strayNulStopsTheFile() {
        let (_, d) = parse("global\n    node lb1\u{0}junk\n    frobnicate\n")
        #expect(errors(d) == ["t.cfg:2: error: Stray NUL character at position 13."])
    }

    @Test func scopes() {
        #expect(parse("[ok]\nglobal\n").diagnostics.items.isEmpty)
        #expect(errors(parse("[]\n").diagnostics) == ["t.cfg:1: error: empty scope name is forbidden."])
        #expect(
            errors(parse("[a b]\n").diagnostics) == ["t.cfg:1: error: character ' ' is not permitted in a scope name."])
    }

    @Test func fiftyErrorsStopTheFile() {
        let (_, d) = parse(String(repeating: "nope\n", count: 80))
        #expect(d.errors.count == 51)
        #expect(d.errors.last?.description == "t.cfg:51: error: too many fatal errors (50), stopping now.")
    }
}

@Suite struct HAProxyConditionTests {
    @Test(arguments: [
        ("version_atleast(2.5)", true), ("version_atleast(2.6.12)", true), ("version_atleast(2.6.13)", false),
        ("version_before(3)", true), ("version_atleast(2.6-dev1)", true), ("defined(HOME)", true),
        ("defined(NOPE)", false), ("defined", false), ("streq(a,a)", true), ("streq( a ,a)", false),
        ("strneq(a,b) && 0x10", true), ("!!0", false), ("1 && (0 || 1)", true), ("feature(OPENSSL)", true),
        ("feature(QUIC)", false), ("openssl_version_atleast(3.0.0)", true), ("ssllib_name_startswith(Open)", true),
        ("0 || !defined(NOPE) && 1", true), ("", false),
    ])
    func predicates(expression: String, value: Bool) throws {
        #expect(try HAProxyCondition.evaluate(expression, environment: ["HOME": "/root"]).get() == value)
    }

    @Test(arguments: [
        ("foo(1)", "unparsable conditional expression 'foo(1)'", 1),
        ("1 2", "unexpected character '2' at the end of conditional expression '1 2'", 3),
        (
            "streq(a)",
            "missing arguments (got 1/2), type 'string' expected in argument 1 of predicate 'streq' used in conditional expression",
            8
        ),
        ("streq(a,a", "expected ')' in argument 2 of predicate 'streq' used in conditional expression", 10),
    ])
    func unparsable(expression: String, message: String, position: Int) {
        #expect(throws: HAProxyCondition.Failure(message: message, position: position)) {
            try HAProxyCondition.evaluate(expression, environment: [:]).get()
        }
    }

    @Test func blocks() {
        let (c, d) = parse(
            """
            global
            .if version_atleast(2.5)
                .notice "newer than 2.5"
                node a
            .elif defined(FOO)
                node b
            .else
                node c
            .endif
            .if 0
                .if 1
                    maxconn 1
                .else
                    maxconn 2
                .endif
            .elif streq("${FOO}",bar)
                maxconn 3
            .endif
            .warning "home is ${HOME}"
            .diag "only with -dD"
            """, environment: ["FOO": "bar", "HOME": "/root"])
        #expect(c.global.node == "a")
        #expect(c.global.maxconn == 3)
        #expect(messages(d) == ["t.cfg:3: notice: 'newer than 2.5'.", "t.cfg:19: warning: 'home is /root'."])
    }

    @Test(arguments: [
        (".endif\nglobal\n", ["t.cfg:1: error: lone '.endif' with no matching '.if'."]),
        (".if 1\nglobal\n", ["t.cfg:2: error: non-terminated '.if' block."]),
        (".if 1\n.else\n.else\n.endif\n", ["t.cfg:3: error: '.else' after '.else' is not permitted."]),
        (
            ".if nope\nfrobnicate\n",
            ["t.cfg:1: error: unparsable conditional expression 'nope' in '.if' at position 1."]
        ),
        (".alert \"stop\"\nfrobnicate\n", ["t.cfg:1: error: 'stop'."]),
        (
            ".warning a b\n",
            ["t.cfg:1: error: Unexpected argument 'b' for '.warning'. Use quotes if the message should contain spaces."]
        ),
        (".bogus\nfrobnicate\n", ["t.cfg:1: error: unknown directive '.bogus'."]),
    ])
    func blockErrors(text: String, expected: [String]) {
        #expect(errors(parse(text).diagnostics) == expected)
    }
}

/// Item 3: every keyword HAProxy 2.6 knows is at most a warning; what it rejects is an error in its words.
@Suite struct HAProxyKeywordTests {
    @Test(arguments: [
        "tune.bufsize 32768", "tune.ssl.default-dh-param 2048", "tune.maxaccept 64", "lua-load /x.lua",
        "ssl-default-bind-options no-sslv3", "h1-case-adjust content-type Content-Type",
    ])
    func knownGlobalKeywordsWarn(line: String) {
        let keyword = line.split(separator: " ")[0]
        #expect(
            messages(parse("global\n    \(line)\n").diagnostics) == [
                "t.cfg:2: warning: '\(keyword)' is not simulated by hadeck; ignored"
            ])
    }

    @Test(arguments: [
        (
            "contimeout 5s",
            "the 'contimeout' directive is not supported anymore since HAProxy 2.1. Use 'timeout connect'."
        ),
        (
            "reqadd X-A:\\ b",
            "The 'reqadd' directive is not supported anymore since HAProxy 2.1. Use 'http-request add-header' instead."
        ),
        (
            "option forceclose",
            "option 'forceclose' is not supported any more since HAProxy 2.0, please just remove it, or use 'option httpclose' if absolutely needed."
        ),
        ("mode health", "'mode health' doesn't exist anymore. Please use 'http-request return status 200' instead."),
        ("mode udp", "unknown proxy mode 'udp'."),
        ("option frobnicate", "unknown option 'frobnicate'."),
        (
            "redispatch",
            "keyword 'redispatch' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'."
        ),
    ])
    func removedProxyKeywordsAreErrorsInHAProxysWords(line: String, message: String) {
        #expect(errors(parse("listen a\n    bind :80\n    \(line)\n").diagnostics) == ["t.cfg:3: error: \(message)"])
    }

    @Test func removedGlobalKeywords() {
        #expect(
            errors(parse("global\n    nbproc 2\n    debug\n").diagnostics) == [
                "t.cfg:2: error: nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available.",
                "t.cfg:3: error: unknown keyword 'debug' in 'global' section",
            ])
    }

    @Test func listenWithAnAddress() {
        let (c, d) = parse("listen web 0.0.0.0:80\n    mode http\n    server s 127.0.0.1:80\n")
        #expect(errors(d) == ["t.cfg:1: error: please use the 'bind' keyword for listening addresses."])
        #expect(c.frontends.isEmpty)
    }

    @Test func warningsNameTheDirectiveNotAValue() {
        let (_, d) = parse("frontend f\n    bind :443 ssl crt /x.pem alpn h2,http/1.1\n")
        #expect(messages(d) == ["t.cfg:2: warning: 'bind': 'ssl', 'crt', 'alpn' are not simulated by hadeck; ignored"])
        #expect(
            errors(parse("frontend f\n    bind :443 frob\n").diagnostics) == [
                "t.cfg:2: error: 'bind :443' unknown keyword 'frob'."
            ])
    }

    @Test func knownSectionsAreSkippedWithOneWarning() {
        let (_, d) = parse("userlist users\n    user admin password x\nresolvers dns\n    nameserver a 127.0.0.53:53\n")
        #expect(
            messages(d) == [
                "t.cfg:1: warning: section 'userlist' is not simulated by hadeck; its content is ignored",
                "t.cfg:3: warning: section 'resolvers' is not simulated by hadeck; its content is ignored",
            ])
    }
}

/// Item 4: addresses as HAProxy accepts them, and what the embedded cluster does instead.
@Suite struct HAProxyAddressTests {
    @Test func serverForms() throws {
        let (c, d) = parse(
            """
            frontend f
                bind :8080
                default_backend b
            backend b
                server noport 127.0.0.1
                server offset 127.0.0.1:+1
                server sock unix@/run/app.sock
                server path /run/app2.sock
                server abstract abns@app
                server name app.internal:80
                server v6 [::1]:8081
                server v4 ipv4@127.0.0.2:8082
            """)
        #expect(d.errors.isEmpty)
        let servers = c.backends[0].servers
        #expect(
            servers.map(\.addressForm) == [
                .clientPort, .portOffset(1), .unixSocket("/run/app.sock"), .unixSocket("/run/app2.sock"),
                .abstractSocket("app"), .hostname("app.internal"), .ip, .ip,
            ])
        #expect(servers.map(\.address.port) == [8080, 8081, 0, 0, 0, 80, 8081, 8082])
        #expect(servers.map(\.disabled) == [false, false, true, true, true, false, false, false])
        #expect(
            messages(d).contains(
                "t.cfg:7: warning: server 'sock': unix socket '/run/app.sock': hadeck connects only to TCP addresses; it keeps this server in MAINT"
            ))
        #expect(
            messages(d).contains(
                "t.cfg:5: warning: server 'noport' has no port: HAProxy connects to the port the client connected to; hadeck uses 8080, the bind port of the frontend that sends it traffic"
            ))
        #expect(
            messages(d).contains(
                "t.cfg:6: warning: server 'offset' has a port offset: HAProxy adds 1 to the client's port; hadeck uses 8081 (8080 + 1)"
            ))
    }

    @Test func bindForms() {
        let (c, d) = parse("frontend f\n    bind unix@/run/h.sock,abns@x\n    bind :::8443\n    bind localhost:9000\n")
        #expect(d.errors.isEmpty)
        #expect(c.frontends[0].binds.map(\.description) == [":::8443", "localhost:9000"])
        #expect(messages(d).count == 3)
        #expect(
            errors(parse("frontend f\n    bind :80-70\n").diagnostics) == [
                "t.cfg:2: error: 'bind': invalid port range '80-70'"
            ])
        #expect(
            errors(parse("backend b\n    server s 1.2.3.4:80-90\n").diagnostics) == [
                "t.cfg:2: error: server 's': port range not permitted here in '1.2.3.4:80-90'"
            ])
    }
}
