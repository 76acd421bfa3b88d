import BalancerCore
import HadeckBase

/// Reads the subset of haproxy.cfg that hadeck simulates into an ``HAProxyConfig``.
///
/// Sections: `global`, `defaults` (optionally named, inherited by later proxies or
/// through `from NAME`), `frontend`, `backend`, `listen`. Directives outside the subset
/// that HAProxy knows are kept out of the model with a warning; words HAProxy would
/// reject are errors. Every diagnostic names the file and line.
public enum HAProxyConfigParser {
    /// Parses the text of a haproxy.cfg. `file` is only used in diagnostics.
    public static func parse(text: String, file: String) -> (config: HAProxyConfig, diagnostics: Diagnostics) {
        var parser = HAProxyParser(file: file)
        parser.run(text: text)
        return (parser.config, parser.diagnostics)
    }
}

/// The settings a `defaults` section passes on, and that every proxy starts from.
struct ProxySettings {
    /// HAProxy's default mode is tcp when nothing says otherwise.
    var mode = ProxyMode.tcp
    var modeSet = false
    var balance = BalanceAlgorithm.roundrobin
    var cookie: CookieConfig? = nil
    var cookieLine = 0
    var httpCheck: HTTPCheckConfig? = nil
    var expectStatus: Int? = nil
    var disableOn404 = false
    var redispatch = false
    var persist = false
    var allbackups = false
    var forwardfor = false
    var httpKeepAlive = true
    var retries = 3
    var timeouts = Timeouts()
    var stats = StatsPageConfig()
    var defaultBackend: String? = nil
    var defaultBackendLine = 0
}

private enum ProxyKind: String {
    case defaults, frontend, backend, listen

    var isFrontend: Bool { self != .backend }
    var isBackend: Bool { self != .frontend }
}

private struct ProxyState {
    var kind: ProxyKind
    var name: String
    var line: Int
    var settings: ProxySettings
    var binds: [SocketAddress] = []
    var servers: [ServerConfig] = []
    /// Line of each server name seen, valid or not, to catch duplicates.
    var serverLines: [String: Int] = [:]

    var label: String { "\(kind.rawValue) '\(name)'" }
}

private enum Section {
    case none
    case global
    case proxy
    /// A section HAProxy knows but hadeck does not simulate (peers, resolvers, ...).
    case ignored
}

/// HAProxy keywords outside hadeck's subset that are accepted with a warning, per section kind.
private let knownGlobalKeywords: Set<String> = [
    "daemon", "log", "log-send-hostname", "log-tag", "chroot", "user", "group", "uid", "gid", "pidfile",
    "master-worker", "nbproc", "cpu-map", "ca-base", "crt-base", "description", "hard-stop-after",
    "spread-checks", "max-spread-checks", "maxconnrate", "maxsessrate", "maxsslconn", "maxsslrate",
    "maxpipes", "maxcompcpuusage", "maxcomprate", "noepoll", "nopoll", "nosplice", "quiet", "setenv",
    "presetenv", "unsetenv", "resetenv", "server-state-base", "server-state-file", "localpeer",
    "insecure-fork-wanted", "insecure-setuid-wanted", "expose-experimental-directives", "h1-case-adjust",
    "lua-load", "stats", "ssl-default-bind-ciphers", "ssl-default-bind-ciphersuites",
    "ssl-default-bind-options", "ssl-default-server-ciphers", "ssl-default-server-ciphersuites",
    "ssl-default-server-options", "ssl-dh-param-file", "ssl-server-verify", "unix-bind", "ulimit-n",
    "busy-polling", "profiling.tasks", "set-dumpable", "strict-limits", "thread-groups", "zero-warning",
]

private let knownProxyKeywords: Set<String> = [
    "acl", "http-request", "http-response", "http-after-response", "tcp-request", "tcp-response",
    "log", "log-format", "log-tag", "maxconn", "capture", "compression", "errorfile", "errorfiles",
    "errorloc", "errorloc302", "errorloc303", "redirect", "use_backend", "use-server", "default-server",
    "hash-type", "hash-balance-factor", "http-reuse", "monitor-uri", "monitor", "description", "id",
    "disabled", "enabled", "fullconn", "rate-limit", "stick", "stick-table", "stick-on", "stick-match",
    "stick-store-request", "stick-store-response", "unique-id-format", "unique-id-header", "email-alert",
    "external-check", "filter", "force-persist", "ignore-persist", "grace", "bind-process",
    "declare", "server-template", "dynamic-cookie-key", "load-server-state-from-file",
    "server-state-file-name", "persist", "source", "backlog", "max-keep-alive-queue", "http-send-name-header",
    "http-error", "clitcpka-cnt", "clitcpka-idle", "clitcpka-intvl", "srvtcpka-cnt", "srvtcpka-idle",
    "srvtcpka-intvl", "tcp-check", "retry-on",
]

private let knownOptions: Set<String> = [
    "httplog", "tcplog", "dontlognull", "dontlog-normal", "log-health-checks", "log-separate-errors",
    "logasap", "http-server-close", "httpclose", "forceclose", "http-pretend-keepalive", "abortonclose",
    "tcpka", "clitcpka", "srvtcpka", "splice-auto", "splice-request", "splice-response", "tcp-check",
    "ssl-hello-chk", "mysql-check", "pgsql-check", "redis-check", "smtpchk", "ldap-check", "spop-check",
    "external-check", "checkcache", "contstats", "http-buffer-request", "http-ignore-probes",
    "http-use-proxy-header", "http-no-delay", "http-use-htx", "httpchk", "independent-streams",
    "nolinger", "originalto", "accept-invalid-http-request", "accept-invalid-http-response",
    "socket-stats", "tcp-smart-accept", "tcp-smart-connect", "transparent", "disable-h2-upgrade",
    "h1-case-adjust-bogus-client", "h1-case-adjust-bogus-server", "http-restrict-req-hdr-names",
    "idle-close-on-response", "prefer-last-server", "persist", "redispatch", "allbackups", "forwardfor",
    "http-keep-alive",
]

private let ignoredSections: Set<String> = [
    "peers", "resolvers", "userlist", "mailers", "program", "http-errors", "ring", "cache",
    "fcgi-app", "dynbuf", "crt-store",
]

/// Server keywords hadeck ignores, with the number of arguments each takes (so that its
/// arguments are not mistaken for keywords).
private let ignoredServerKeywords: [String: Int] = [
    "addr": 1, "port": 1, "id": 1, "maxqueue": 1, "minconn": 1, "on-error": 1, "on-marked-down": 1,
    "on-marked-up": 1, "resolvers": 1, "resolve-prefer": 1, "resolve-net": 1, "resolve-opts": 1,
    "source": 1, "crt": 1, "ca-file": 1, "crl-file": 1, "verify": 1, "verifyhost": 1, "sni": 1,
    "ciphers": 1, "ciphersuites": 1, "alpn": 1, "npn": 1, "proto": 1, "agent-port": 1, "agent-inter": 1,
    "agent-addr": 1, "agent-send": 1, "observe": 1, "error-limit": 1, "track": 1, "redir": 1,
    "init-addr": 1, "namespace": 1, "pool-max-conn": 1, "pool-purge-delay": 1, "pool-low-conn": 1,
    "max-reuse": 1, "check-sni": 1, "check-alpn": 1, "check-proto": 1, "ssl-min-ver": 1, "ssl-max-ver": 1,
    "tfo": 0, "ssl": 0, "check-ssl": 0, "check-send-proxy": 0, "send-proxy": 0, "send-proxy-v2": 0,
    "agent-check": 0, "non-stick": 0, "no-check": 0, "no-backup": 0, "no-ssl": 0, "enabled": 0,
    "check-via-socks4": 0, "allow-0rtt": 0, "no-tls-tickets": 0, "no-sslv3": 0, "force-tlsv12": 0,
]

private struct HAProxyParser {
    let file: String
    var diagnostics = Diagnostics()
    var config = HAProxyConfig()

    var section = Section.none
    var current: ProxyState? = nil
    /// The settings of the most recent `defaults` section; new proxies start from these.
    var lastDefaults = ProxySettings()
    var namedDefaults: [String: ProxySettings] = [:]
    var proxies: [ProxyState] = []

    init(file: String) { self.file = file }

    mutating func warn(_ line: Int, _ message: String) { diagnostics.warn(file, line, message) }
    mutating func error(_ line: Int, _ message: String) { diagnostics.error(file, line, message) }

    mutating func run(text: String) {
        for line in HAProxyLexer.lines(of: text, file: file, diagnostics: &diagnostics) {
            handle(line)
        }
        closeProxy()
        finish()
    }

    // MARK: Sections

    mutating func handle(_ line: HAProxyLine) {
        let keyword = line.words[0]
        switch keyword {
        case "global":
            closeProxy()
            section = .global
            if line.words.count > 1 { warn(line.number, "'global' takes no argument; '\(line.words[1])' ignored") }
            return
        case "defaults", "frontend", "backend", "listen":
            closeProxy()
            openProxy(ProxyKind(rawValue: keyword)!, line)
            return
        default:
            break
        }
        if ignoredSections.contains(keyword) {
            closeProxy()
            section = .ignored
            warn(line.number, "section '\(keyword)' is not simulated by hadeck; its content is ignored")
            return
        }
        switch section {
        case .none:
            error(
                line.number,
                "unknown keyword '\(keyword)' out of section (expected 'global', 'defaults', 'frontend', 'backend' or 'listen')"
            )
        case .ignored:
            break
        case .global:
            handleGlobal(line)
        case .proxy:
            handleProxy(line)
        }
    }

    mutating func openProxy(_ kind: ProxyKind, _ line: HAProxyLine) {
        section = .proxy
        var args = Array(line.words.dropFirst())
        var base = lastDefaults
        if let fromIndex = args.firstIndex(of: "from") {
            if fromIndex + 1 < args.count {
                let parent = args[fromIndex + 1]
                if let settings = namedDefaults[parent] {
                    base = settings
                } else {
                    error(line.number, "\(kind.rawValue) section refers to unknown defaults section '\(parent)'")
                }
                args.removeSubrange(fromIndex...(fromIndex + 1))
            } else {
                error(line.number, "'from' expects the name of a defaults section")
                args.remove(at: fromIndex)
            }
        }
        var name = args.first ?? ""
        if kind == .defaults {
            // A new defaults section starts over from HAProxy's built-in values unless it says `from`.
            if !line.words.contains("from") { base = ProxySettings() }
        } else if name.isEmpty {
            error(line.number, "'\(kind.rawValue)' expects a name")
            name = "<unnamed-\(line.number)>"
        }
        if args.count > 1 {
            warn(line.number, "\(kind.rawValue) '\(name)': extra arguments after the name are ignored")
        }
        if !name.isEmpty, kind != .defaults,
            let bad = name.first(where: { !($0.isLetter || $0.isNumber || "-_.:".contains($0)) })
        {
            error(line.number, "character '\(bad)' is not permitted in \(kind.rawValue) name '\(name)'")
        }
        current = ProxyState(kind: kind, name: name, line: line.number, settings: base)
    }

    mutating func closeProxy() {
        guard let proxy = current else { return }
        current = nil
        if proxy.kind == .defaults {
            lastDefaults = proxy.settings
            if !proxy.name.isEmpty { namedDefaults[proxy.name] = proxy.settings }
            return
        }
        proxies.append(proxy)
    }

    // MARK: global

    mutating func handleGlobal(_ line: HAProxyLine) {
        let w = line.words
        let n = line.number
        switch w[0] {
        case "nbthread":
            if let v = integer(w, 1, n, "nbthread", range: 1...4096) { config.global.nbthread = v }
        case "maxconn":
            if let v = integer(w, 1, n, "maxconn", range: 1...Int(Int32.max)) { config.global.maxconn = v }
        case "node":
            guard w.count >= 2 else { return error(n, "'node' expects a name") }
            config.global.node = w[1]
        case "stats" where w.count >= 2 && w[1] == "socket":
            parseStatsSocket(w, n)
        default:
            if knownGlobalKeywords.contains(w[0]) {
                warn(n, "'\(w.prefix(2).joined(separator: " "))' is not simulated by hadeck; ignored")
            } else {
                error(n, "unknown keyword '\(w[0])' in 'global' section")
            }
        }
    }

    mutating func parseStatsSocket(_ w: [String], _ n: Int) {
        guard w.count >= 3 else { return error(n, "'stats socket' expects a path") }
        var socket = StatsSocketConfig(path: w[2])
        var i = 3
        while i < w.count {
            let key = w[i]
            switch key {
            case "mode":
                guard i + 1 < w.count, let mode = Int(w[i + 1], radix: 8), mode >= 0, mode <= 0o7777 else {
                    error(n, "'stats socket': 'mode' expects an octal file mode")
                    return
                }
                socket.mode = mode
                i += 2
            case "level":
                guard i + 1 < w.count, let level = StatsSocketConfig.Level(rawValue: w[i + 1]) else {
                    error(n, "'stats socket': 'level' only supports 'user', 'operator', and 'admin'")
                    return
                }
                socket.level = level
                i += 2
            case "expose-fd", "uid", "gid", "user", "group", "name", "process", "thread", "maxconn", "backlog":
                warn(n, "'stats socket': parameter '\(key)' is not simulated by hadeck; ignored")
                i += 2
            default:
                warn(n, "'stats socket': parameter '\(key)' is not simulated by hadeck; ignored")
                i += 1
            }
        }
        config.global.statsSockets.append(socket)
    }

    // MARK: proxies

    mutating func handleProxy(_ line: HAProxyLine) {
        guard var proxy = current else { return }
        handleProxyDirective(line, &proxy)
        current = proxy
    }

    /// Warns and returns false when `keyword` needs a capability the current proxy lacks.
    mutating func requires(
        _ proxy: ProxyState, frontend: Bool = false, backend: Bool = false, _ keyword: String, _ n: Int
    ) -> Bool {
        if frontend && !proxy.kind.isFrontend {
            warn(n, "'\(keyword)' ignored because \(proxy.label) has no frontend capability")
            return false
        }
        if backend && !proxy.kind.isBackend {
            warn(n, "'\(keyword)' ignored because \(proxy.label) has no backend capability")
            return false
        }
        return true
    }

    mutating func handleProxyDirective(_ line: HAProxyLine, _ proxy: inout ProxyState) {
        let w = line.words
        let n = line.number
        switch w[0] {
        case "bind":
            if proxy.kind == .defaults { return error(n, "'bind' not allowed in 'defaults' section") }
            guard requires(proxy, frontend: true, "bind", n) else { return }
            guard w.count >= 2 else {
                return error(n, "'bind' expects [addr1]:port1[-end1]{,[addr]:port[-end]}... as arguments")
            }
            proxy.binds += parseBindAddresses(w[1], n)
            var i = 2
            while i < w.count {
                warn(n, "'bind': parameter '\(w[i])' is not simulated by hadeck; ignored")
                i += 1
            }
        case "mode":
            guard w.count >= 2, let mode = ProxyMode(rawValue: w[1]) else {
                return error(n, "'mode' expects one of 'http' or 'tcp'" + (w.count >= 2 ? " (got '\(w[1])')" : ""))
            }
            proxy.settings.mode = mode
            proxy.settings.modeSet = true
        case "default_backend":
            guard requires(proxy, frontend: true, "default_backend", n) else { return }
            guard w.count >= 2 else { return error(n, "'default_backend' expects a backend name") }
            proxy.settings.defaultBackend = w[1]
            proxy.settings.defaultBackendLine = n
        case "use_backend":
            warn(
                n,
                "'use_backend' is not supported by hadeck; the rule is ignored and traffic goes to the default backend")
        case "balance":
            guard requires(proxy, backend: true, "balance", n) else { return }
            guard w.count >= 2 else { return error(n, "'balance' expects an algorithm") }
            if let algo = BalanceAlgorithm(rawValue: w[1]) {
                proxy.settings.balance = algo
            } else if ["uri", "url_param", "random", "rdp-cookie", "hash"].contains(w[1]) || w[1].hasPrefix("hdr(")
                || w[1].hasPrefix("rdp-cookie(") || w[1].hasPrefix("random(")
            {
                warn(n, "'balance \(w[1])' is not simulated by hadeck; using 'roundrobin'")
                proxy.settings.balance = .roundrobin
            } else {
                error(
                    n,
                    "unknown balancing algorithm '\(w[1])' (expected roundrobin, static-rr, leastconn, source, first, uri, url_param, hdr(name), random, rdp-cookie or hash)"
                )
            }
        case "cookie":
            guard requires(proxy, backend: true, "cookie", n) else { return }
            if let cookie = parseCookie(w, n) {
                proxy.settings.cookie = cookie
                proxy.settings.cookieLine = n
            }
        case "server":
            if proxy.kind == .defaults { return error(n, "'server' not allowed in 'defaults' section") }
            guard requires(proxy, backend: true, "server", n) else { return }
            if w.count >= 2, let first = proxy.serverLines[w[1]] {
                return error(n, "\(proxy.label) has two servers named '\(w[1])' (first one at line \(first))")
            }
            if w.count >= 2 { proxy.serverLines[w[1]] = n }
            if let server = parseServer(w, n) { proxy.servers.append(server) }
        case "option", "no":
            handleOption(w, n, &proxy)
        case "http-check":
            guard requires(proxy, backend: true, "http-check", n) else { return }
            handleHTTPCheck(w, n, &proxy)
        case "retries":
            guard requires(proxy, backend: true, "retries", n) else { return }
            if let v = integer(w, 1, n, "retries", range: 0...Int(Int32.max)) { proxy.settings.retries = v }
        case "timeout":
            handleTimeout(w, n, &proxy)
        case "contimeout", "clitimeout", "srvtimeout":
            error(n, "the '\(w[0])' directive is not supported anymore since HAProxy 2.1; use 'timeout' instead")
        case "stats":
            handleStats(w, n, &proxy)
        default:
            if knownProxyKeywords.contains(w[0]) {
                warn(n, "'\(w[0])' is not simulated by hadeck; directive ignored")
            } else {
                error(n, "unknown keyword '\(w[0])' in '\(proxy.kind.rawValue)' section")
            }
        }
    }

    // MARK: addresses

    /// Splits `HOST:PORT` (IPv6 as `[::1]:80`). Returns nil after reporting a problem.
    mutating func parseAddress(_ text: String, _ n: Int, what: String, allowRange: Bool) -> (
        host: String, ports: ClosedRange<Int>
    )? {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                error(n, "\(what): invalid address '\(text)' (missing ']')")
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                error(n, "\(what): missing port in address '\(text)'")
                return nil
            }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            error(n, "\(what): missing port in address '\(text)'")
            return nil
        }
        // `:8080` and `*:8080` listen on every IPv4 address.
        if host.isEmpty || host == "*" { host = "0.0.0.0" }
        guard !portText.isEmpty else {
            error(n, "\(what): missing port in address '\(text)'")
            return nil
        }
        var lowText = portText
        var highText = portText
        if allowRange, let dash = portText.firstIndex(of: "-") {
            lowText = portText[..<dash]
            highText = portText[portText.index(after: dash)...]
        }
        guard let low = Int(lowText), let high = Int(highText), (1...65535).contains(low), (1...65535).contains(high),
            low <= high
        else {
            error(n, "\(what): invalid port '\(portText)' in address '\(text)' (must be between 1 and 65535)")
            return nil
        }
        if host.contains(where: { $0 == " " }) || host.isEmpty {
            error(n, "\(what): invalid address '\(text)'")
            return nil
        }
        return (String(host), low...high)
    }

    mutating func parseBindAddresses(_ text: String, _ n: Int) -> [SocketAddress] {
        var result: [SocketAddress] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let (host, ports) = parseAddress(String(part), n, what: "'bind'", allowRange: true) else { continue }
            for port in ports { result.append(SocketAddress(host: host, port: port)) }
        }
        return result
    }

    // MARK: server

    mutating func parseServer(_ w: [String], _ n: Int) -> ServerConfig? {
        guard w.count >= 2 else {
            error(n, "'server' expects <name> and <addr>[:<port>] as arguments")
            return nil
        }
        guard w.count >= 3 else {
            error(n, "server '\(w[1])': missing address ('server' expects <name> and <addr>:<port>)")
            return nil
        }
        let name = w[1]
        guard let (host, ports) = parseAddress(w[2], n, what: "server '\(name)'", allowRange: false) else { return nil }
        var server = ServerConfig(name: name, address: SocketAddress(host: host, port: ports.lowerBound))
        server.line = n
        let label = "server '\(name)'"
        var i = 3
        func arg(_ i: Int) -> String? { i + 1 < w.count ? w[i + 1] : nil }
        while i < w.count {
            let key = w[i]
            switch key {
            case "check": server.check = true
            case "disabled": server.disabled = true
            case "backup": server.backup = true
            case "inter", "fastinter", "downinter", "slowstart":
                guard let value = arg(i) else {
                    error(n, "\(label): '\(key)' expects a time value")
                    return nil
                }
                switch HAProxyTime.parse(value) {
                case .success(let span):
                    if span == .zero && key != "slowstart" {
                        error(n, "\(label): '\(key)' has to be > 0")
                        return nil
                    }
                    switch key {
                    case "inter": server.inter = span
                    case "fastinter": server.fastinter = span
                    case "downinter": server.downinter = span
                    default: server.slowstart = span == .zero ? nil : span
                    }
                case .failure(let problem):
                    error(n, "\(label): '\(key)': \(problem.message)")
                    return nil
                }
                i += 1
            case "rise", "fall":
                guard let value = arg(i) else {
                    error(n, "\(label): '\(key)' expects an integer argument")
                    return nil
                }
                guard let v = Int(value), v > 0, v <= 1_000_000 else {
                    error(n, "\(label): '\(key)' has to be > 0 (got '\(value)')")
                    return nil
                }
                if key == "rise" { server.rise = v } else { server.fall = v }
                i += 1
            case "weight":
                guard let value = arg(i) else {
                    error(n, "\(label): 'weight' expects an integer argument")
                    return nil
                }
                guard let v = Int(value), (0...256).contains(v) else {
                    error(n, "\(label): 'weight' must be between 0 and 256 (got '\(value)')")
                    return nil
                }
                server.weight = v
                i += 1
            case "maxconn":
                guard let value = arg(i), let v = Int(value), v >= 0 else {
                    error(n, "\(label): 'maxconn' expects a non-negative integer")
                    return nil
                }
                server.maxconn = v
                i += 1
            case "cookie":
                guard let value = arg(i), !value.isEmpty else {
                    error(n, "\(label): 'cookie' expects a value")
                    return nil
                }
                server.cookie = value
                i += 1
            default:
                if let count = ignoredServerKeywords[key] {
                    warn(n, "\(label): keyword '\(key)' is not simulated by hadeck; ignored")
                    i += count
                } else {
                    warn(n, "\(label): unknown keyword '\(key)'; ignored")
                }
            }
            i += 1
        }
        return server
    }

    // MARK: cookie

    mutating func parseCookie(_ w: [String], _ n: Int) -> CookieConfig? {
        guard w.count >= 2 else {
            error(n, "'cookie' expects <cookie_name> as argument")
            return nil
        }
        var mode: CookieConfig.Mode? = nil
        var cookie = CookieConfig(name: w[1], mode: .insert)
        var i = 2
        while i < w.count {
            let key = w[i]
            switch key {
            case "insert", "prefix", "rewrite":
                let newMode = CookieConfig.Mode(rawValue: key)!
                if let existing = mode, existing != newMode {
                    error(n, "'cookie': '\(existing.rawValue)' and '\(key)' modes are mutually exclusive")
                    return nil
                }
                mode = newMode
            case "indirect": cookie.indirect = true
            case "nocache": cookie.nocache = true
            case "preserve": cookie.preserve = true
            case "httponly": cookie.httponly = true
            case "secure": cookie.secure = true
            case "postonly": cookie.postonly = true
            case "domain":
                guard i + 1 < w.count else {
                    error(n, "'cookie': 'domain' expects a domain name")
                    return nil
                }
                let domain = w[i + 1]
                if !domain.hasPrefix(".") || !domain.dropFirst().contains(".") {
                    warn(
                        n,
                        "'cookie': domain '\(domain)' contains no embedded dot nor does not start with a dot; browsers may ignore it"
                    )
                }
                cookie.domains.append(domain)
                i += 1
            case "maxidle", "maxlife":
                guard i + 1 < w.count else {
                    error(n, "'cookie': '\(key)' expects a time value")
                    return nil
                }
                switch HAProxyTime.parse(w[i + 1], defaultUnit: .seconds) {
                case .success(let span):
                    if key == "maxidle" { cookie.maxidle = span } else { cookie.maxlife = span }
                case .failure(let problem):
                    error(n, "'cookie': '\(key)': \(problem.message)")
                    return nil
                }
                i += 1
            case "dynamic":
                warn(n, "'cookie': option 'dynamic' is not simulated by hadeck; ignored")
            case "attr":
                warn(n, "'cookie': option 'attr' is not simulated by hadeck; ignored")
                i += 1
            default:
                error(
                    n,
                    "'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'maxlife', 'dynamic', 'attr', 'preserve', 'httponly' and 'secure' options (got '\(key)')"
                )
                return nil
            }
            i += 1
        }
        if let mode {
            cookie.mode = mode
        } else {
            warn(
                n,
                "'cookie \(cookie.name)' has no mode ('insert', 'prefix' or 'rewrite'); hadeck treats it as 'rewrite'")
            cookie.mode = .rewrite
        }
        if cookie.preserve && cookie.mode != .insert {
            warn(n, "'cookie': 'preserve' only makes sense with 'insert'")
        }
        return cookie
    }

    // MARK: options

    mutating func handleOption(_ w: [String], _ n: Int, _ proxy: inout ProxyState) {
        var words = w
        var negate = false
        if words[0] == "no" {
            negate = true
            words.removeFirst()
            guard words.first == "option" else {
                return error(n, "'no' only applies to 'option' (got '\(words.first ?? "")')")
            }
        }
        guard words.count >= 2 else { return error(n, "'option' expects an option name") }
        let name = words[1]
        switch name {
        case "httpchk":
            guard requires(proxy, backend: true, "option httpchk", n) else { return }
            if negate {
                proxy.settings.httpCheck = nil
                return
            }
            var check = HTTPCheckConfig()
            let args = Array(words.dropFirst(2))
            switch args.count {
            case 0: break
            case 1: check.uri = args[0]
            case 2:
                check.method = args[0]
                check.uri = args[1]
            default:
                check.method = args[0]
                check.uri = args[1]
                check.version = args[2...].joined(separator: " ")
            }
            proxy.settings.httpCheck = check
        case "redispatch":
            guard requires(proxy, backend: true, "option redispatch", n) else { return }
            proxy.settings.redispatch = !negate
        case "persist":
            guard requires(proxy, backend: true, "option persist", n) else { return }
            proxy.settings.persist = !negate
        case "allbackups":
            guard requires(proxy, backend: true, "option allbackups", n) else { return }
            proxy.settings.allbackups = !negate
        case "forwardfor":
            proxy.settings.forwardfor = !negate
            if words.count > 2 { warn(n, "'option forwardfor': parameters are not simulated by hadeck; ignored") }
        case "http-keep-alive":
            proxy.settings.httpKeepAlive = !negate
        default:
            if knownOptions.contains(name) {
                warn(n, "'\(negate ? "no " : "")option \(name)' is not simulated by hadeck; ignored")
            } else {
                error(n, "unknown option '\(name)'")
            }
        }
    }

    mutating func handleHTTPCheck(_ w: [String], _ n: Int, _ proxy: inout ProxyState) {
        guard w.count >= 2 else {
            return error(
                n, "'http-check' expects 'disable-on-404', 'expect', 'send', 'connect', 'comment' or 'set-var'")
        }
        switch w[1] {
        case "disable-on-404":
            proxy.settings.disableOn404 = true
        case "expect":
            guard w.count >= 3 else { return error(n, "'http-check expect' expects a match method and a pattern") }
            var args = Array(w.dropFirst(2))
            if args.first == "!" {
                warn(n, "'http-check expect !' (inverted match) is not simulated by hadeck; ignored")
                return
            }
            if args.first == "status" {
                args.removeFirst()
                guard let code = args.first.flatMap({ Int($0) }), (100...599).contains(code) else {
                    return error(n, "'http-check expect status' expects an HTTP status code between 100 and 599")
                }
                if args.count > 1 || args[0].contains(",") || args[0].contains("-") {
                    warn(n, "'http-check expect status': only a single status code is simulated by hadeck")
                }
                proxy.settings.expectStatus = code
            } else {
                warn(n, "'http-check expect \(args[0])' is not simulated by hadeck; ignored")
            }
        case "send", "connect", "comment", "set-var", "unset-var", "send-state":
            warn(n, "'http-check \(w[1])' is not simulated by hadeck; ignored")
        default:
            error(
                n,
                "'http-check' only supports 'disable-on-404', 'send-state', 'comment', 'connect', 'send', 'expect', 'set-var' and 'unset-var' (got '\(w[1])')"
            )
        }
    }

    mutating func handleTimeout(_ w: [String], _ n: Int, _ proxy: inout ProxyState) {
        guard w.count >= 2 else {
            return error(
                n, "'timeout' expects 'client', 'server', 'connect', 'check', 'queue', 'http-request' and a time value")
        }
        let kind = w[1]
        let known = ["connect", "client", "server", "check", "http-request", "http-keep-alive", "queue"]
        let ignored = ["tunnel", "client-fin", "server-fin", "tarpit"]
        guard known.contains(kind) || ignored.contains(kind) else {
            return error(
                n,
                "'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '\(kind)')"
            )
        }
        guard w.count >= 3 else { return error(n, "'timeout \(kind)' expects an integer value (in milliseconds)") }
        let span: TimeSpan
        switch HAProxyTime.parse(w[2]) {
        case .success(let s): span = s
        case .failure(let problem): return error(n, "'timeout \(kind)': \(problem.message)")
        }
        if w.count > 3 { warn(n, "'timeout \(kind)': extra arguments after the value are ignored") }
        switch kind {
        case "connect": proxy.settings.timeouts.connect = span
        case "client": proxy.settings.timeouts.client = span
        case "server": proxy.settings.timeouts.server = span
        case "check": proxy.settings.timeouts.check = span
        case "http-request": proxy.settings.timeouts.httpRequest = span
        case "http-keep-alive": proxy.settings.timeouts.httpKeepAlive = span
        case "queue": proxy.settings.timeouts.queue = span
        default: warn(n, "'timeout \(kind)' is not simulated by hadeck; ignored")
        }
    }

    mutating func handleStats(_ w: [String], _ n: Int, _ proxy: inout ProxyState) {
        guard w.count >= 2 else {
            return error(
                n,
                "'stats' expects 'enable', 'uri', 'refresh', 'realm', 'admin', 'auth', 'scope', 'hide-version' or 'show-*'"
            )
        }
        switch w[1] {
        case "enable":
            proxy.settings.stats.enabled = true
        case "uri":
            guard w.count >= 3 else { return error(n, "'stats uri' expects a URI prefix") }
            proxy.settings.stats.enabled = true
            proxy.settings.stats.uri = w[2]
        case "refresh":
            guard w.count >= 3 else { return error(n, "'stats refresh' expects a delay") }
            switch HAProxyTime.parse(w[2], defaultUnit: .seconds) {
            case .success(let span):
                proxy.settings.stats.enabled = true
                proxy.settings.stats.refresh = span
            case .failure(let problem):
                error(n, "'stats refresh': \(problem.message)")
            }
        case "realm":
            guard w.count >= 3 else { return error(n, "'stats realm' expects a realm name") }
            proxy.settings.stats.enabled = true
            proxy.settings.stats.realm = w[2...].joined(separator: " ")
        case "admin":
            guard w.count >= 4, w[2] == "if" || w[2] == "unless" else {
                return error(n, "'stats admin' requires either 'if' or 'unless' followed by a condition")
            }
            let condition = Array(w[3...])
            if condition != ["TRUE"] && condition != ["FALSE"] {
                warn(
                    n,
                    "'stats admin': condition '\(condition.joined(separator: " "))' is not evaluated by hadeck; it is treated as true"
                )
            }
            let holds = condition == ["FALSE"] ? false : true
            proxy.settings.stats.admin = w[2] == "if" ? holds : (condition == ["TRUE"] ? false : true)
        case "socket":
            error(n, "'stats socket' is only allowed in the 'global' section")
        case "auth", "scope", "hide-version", "show-legends", "show-node", "show-desc", "show-modules", "http-request",
            "bind-process", "timeout", "maxconn":
            warn(n, "'stats \(w[1])' is not simulated by hadeck; ignored")
        default:
            error(
                n,
                "unknown stats parameter '\(w[1])' (expected 'enable', 'uri', 'refresh', 'realm', 'admin', 'auth', 'scope', 'hide-version' or 'show-*')"
            )
        }
    }

    // MARK: helpers

    mutating func integer(_ w: [String], _ index: Int, _ n: Int, _ keyword: String, range: ClosedRange<Int>) -> Int? {
        guard index < w.count else {
            error(n, "'\(keyword)' expects an integer argument")
            return nil
        }
        guard let v = Int(w[index]), range.contains(v) else {
            if range.upperBound >= Int(Int32.max) {
                error(n, "'\(keyword)' expects an integer >= \(range.lowerBound) (got '\(w[index])')")
            } else {
                error(n, "'\(keyword)' must be between \(range.lowerBound) and \(range.upperBound) (got '\(w[index])')")
            }
            return nil
        }
        return v
    }

    // MARK: checks across the whole file

    mutating func finish() {
        // Duplicate names among proxies that share a capability.
        for (index, proxy) in proxies.enumerated() {
            if let earlier = proxies[..<index].first(where: {
                $0.name == proxy.name
                    && (($0.kind.isFrontend && proxy.kind.isFrontend) || ($0.kind.isBackend && proxy.kind.isBackend))
            }) {
                error(
                    proxy.line,
                    "\(proxy.label) has the same name as \(earlier.label) declared at \(file):\(earlier.line)")
            }
        }
        let backendNames = Set(proxies.filter { $0.kind.isBackend }.map(\.name))

        for proxy in proxies {
            let s = proxy.settings
            var cookie = s.cookie
            var stats = s.stats
            if s.mode == .tcp {
                if cookie != nil && proxy.kind.isBackend {
                    warn(
                        s.cookieLine == 0 ? proxy.line : s.cookieLine,
                        "\(proxy.label) is in tcp mode: 'cookie' requires 'mode http' and is ignored")
                    cookie = nil
                }
                if stats.enabled {
                    warn(proxy.line, "\(proxy.label) is in tcp mode: 'stats' requires 'mode http' and is ignored")
                    stats = StatsPageConfig()
                }
            }
            if proxy.kind.isFrontend {
                var fe = FrontendConfig(name: proxy.name)
                fe.mode = s.mode
                fe.binds = proxy.binds
                fe.defaultBackend = s.defaultBackend ?? (proxy.kind == .listen ? proxy.name : nil)
                fe.forwardfor = s.forwardfor
                fe.httpKeepAlive = s.httpKeepAlive
                fe.timeouts = s.timeouts
                fe.stats = stats
                fe.line = proxy.line
                if proxy.binds.isEmpty {
                    error(proxy.line, "\(proxy.label) has no 'bind' directive; hadeck cannot send it any traffic")
                }
                if let target = s.defaultBackend, !backendNames.contains(target) {
                    error(s.defaultBackendLine, "\(proxy.label): unable to find required default_backend: '\(target)'")
                }
                config.frontends.append(fe)
            }
            if proxy.kind.isBackend {
                var be = BackendConfig(name: proxy.name)
                be.mode = s.mode
                be.balance = s.balance
                be.cookie = cookie
                if var check = s.httpCheck {
                    check.expectStatus = s.expectStatus
                    check.disableOn404 = s.disableOn404
                    be.httpCheck = check
                }
                be.redispatch = s.redispatch
                be.persist = s.persist
                be.allbackups = s.allbackups
                be.forwardfor = s.forwardfor
                be.httpKeepAlive = s.httpKeepAlive
                be.retries = s.retries
                be.timeouts = s.timeouts
                be.stats = stats
                be.servers = proxy.servers
                be.line = proxy.line
                if s.httpCheck == nil && (s.expectStatus != nil || s.disableOn404) {
                    warn(
                        proxy.line,
                        "\(proxy.label) uses 'http-check' without 'option httpchk'; the http-check rules have no effect"
                    )
                }
                var seenCookies: [String: ServerConfig] = [:]
                for server in proxy.servers {
                    guard let value = server.cookie else { continue }
                    if cookie == nil {
                        warn(
                            server.line,
                            "\(proxy.label): server '\(server.name)' has a cookie value but the backend has no 'cookie' directive; the value is ignored"
                        )
                        continue
                    }
                    if let other = seenCookies[value] {
                        error(
                            server.line,
                            "\(proxy.label): server '\(server.name)' has the same cookie value '\(value)' as server '\(other.name)' (line \(other.line))"
                        )
                    } else {
                        seenCookies[value] = server
                    }
                }
                config.backends.append(be)
            }
        }
    }
}
