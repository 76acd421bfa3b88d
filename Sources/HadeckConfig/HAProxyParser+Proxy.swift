import BalancerCore
import HadeckBase

// Keywords of `defaults`, `frontend`, `backend` and `listen` (HAProxy's src/cfgparse-listen.c).

/// The status codes `errorfile` can replace (HAProxy's `http_err_codes`).
let errorFileCodes: Set<Int> = [
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 421, 422, 425, 429, 500, 501, 502, 503, 504,
]

extension HAProxyParser {
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

    mutating func notInDefaults(_ proxy: ProxyState, _ keyword: String, _ n: Int) -> Bool {
        guard proxy.kind == .defaults else { return true }
        error(n, "'\(keyword)' not allowed in 'defaults' section.")
        return false
    }

    mutating func handleProxyDirective(_ line: HAProxyLine, negated: Bool, _ proxy: inout ProxyState) {
        let w = line.words
        let n = line.number
        switch w[0] {
        case "bind":
            guard notInDefaults(proxy, "bind", n), requires(proxy, frontend: true, "bind", n) else { return }
            parseBind(w, n, &proxy)
        case "mode":
            guard tooManyArguments(w, 1, n) else { return }
            switch w.count > 1 ? w[1] : "" {
            case "http", "tcp":
                proxy.settings.mode = ProxyMode(rawValue: w[1])!
                proxy.settings.modeSet = true
            case "health":
                error(n, "'mode health' doesn't exist anymore. Please use 'http-request return status 200' instead.")
            default:
                error(n, "unknown proxy mode '\(w.count > 1 ? w[1] : "")'.")
            }
        case "default_backend":
            guard requires(proxy, frontend: true, "default_backend", n) else { return }
            guard w.count >= 2 else { return error(n, "'default_backend' expects a backend name.") }
            guard tooManyArguments(w, 1, n) else { return }
            proxy.settings.defaultBackend = w[1]
            proxy.settings.defaultBackendLine = n
        case "use_backend":
            guard notInDefaults(proxy, "use_backend", n), requires(proxy, frontend: true, "use_backend", n) else {
                return
            }
            parseUseBackend(w, n, &proxy)
        case "acl":
            parseACL(w, n, &proxy)
        case "http-request":
            parseHTTPRequest(w, n, &proxy)
        case "http-response":
            parseHTTPResponse(w, n, &proxy)
        case "redirect":
            parseRedirectRule(w, n, &proxy)
        case "balance":
            guard requires(proxy, backend: true, "balance", n) else { return }
            parseBalance(w, n, &proxy)
        case "cookie":
            guard requires(proxy, backend: true, "cookie", n) else { return }
            if let cookie = parseCookie(w, n) {
                proxy.settings.cookie = cookie
                proxy.settings.cookieLine = n
            }
        case "server":
            guard notInDefaults(proxy, "server", n), requires(proxy, backend: true, "server", n) else { return }
            if w.count >= 2, let first = proxy.serverLines[w[1]] {
                return error(n, "\(proxy.label) has two servers named '\(w[1])' (first one at line \(first))")
            }
            if w.count >= 2 { proxy.serverLines[w[1]] = n }
            if let server = parseServer(w, n, defaults: proxy.settings.defaultServer) { proxy.servers.append(server) }
        case "default-server":
            guard requires(proxy, backend: true, "default-server", n) else { return }
            var probe = ServerConfig(name: "default-server", address: HostPort(host: "0.0.0.0", port: 0))
            if applyServerParameters(Array(w.dropFirst()), to: &probe, label: "'default-server'", n, forDefault: true) {
                proxy.settings.defaultServer += Array(w.dropFirst())
            }
        case "option":
            handleOption(w, n, negated: negated, &proxy)
        case "http-check":
            guard requires(proxy, backend: true, "http-check", n) else { return }
            handleHTTPCheck(w, n, &proxy)
        case "retries":
            guard requires(proxy, backend: true, "retries", n) else { return }
            guard tooManyArguments(w, 1, n) else { return }
            if let v = integer(w, 1, n, "retries", range: 0...Int(Int32.max)) { proxy.settings.retries = v }
        case "timeout":
            handleTimeout(w, n, &proxy)
        case "stats":
            handleStats(w, n, &proxy)
        case "log":
            var settings = proxy.settings
            parseLog(w, n, negated: negated, settings: &settings)
            proxy.settings = settings
        case "log-format":
            guard w.count >= 2 else { return error(n, "log-format expects an argument.") }
            guard w.count == 2 else {
                return error(n, "log-format expects only one argument, don't forget to escape spaces!")
            }
            proxy.settings.logFormat = .custom(parseLogFormat(w[1], n, context: "log-format"))
        case "errorfile":
            guard w.count >= 3 else { return error(n, "errorfile : expects <status_code> and <file> as arguments.") }
            guard let code = Int(w[1]), errorFileCodes.contains(code) else {
                return warn(
                    n, "errorfile : status code '\(atol(w[1]))' not handled, error customization will be ignored.")
            }
            proxy.settings.errorFiles[code] = w[2]
        case "stick-table":
            guard notInDefaults(proxy, "stick-table", n) else { return }
            let peers = w.firstIndex(of: "peers").flatMap { $0 + 1 < w.count ? w[$0 + 1] : nil }
            if let peers, peersSections[peers] == nil {
                warn(n, "'stick-table': peers section '\(peers)' is declared after its use or not at all")
            }
            proxy.stickTable = StickTableInfo(line: n, peers: peers)
            warn(n, "'stick-table' is not simulated by hadeck; directive ignored")
        case "maxconn":
            guard tooManyArguments(w, 1, n) else { return }
            guard w.count > 1 else { return error(n, "'maxconn' expects an integer argument.") }
            warn(n, "'maxconn' is not simulated by hadeck; directive ignored")
        default:
            if let message = removedProxyKeywords[w[0]] {
                error(n, message)
            } else if proxyKeywords.contains(w[0]) {
                warn(n, "'\(w[0])' is not simulated by hadeck; directive ignored")
            } else {
                error(n, "unknown keyword '\(w[0])' in '\(proxy.kind.rawValue)' section")
            }
        }
    }

    mutating func parseBalance(_ w: [String], _ n: Int, _ proxy: inout ProxyState) {
        guard w.count >= 2 else { return error(n, "'balance' expects an algorithm") }
        if let algo = BalanceAlgorithm(rawValue: w[1]) {
            proxy.settings.balance = algo
            return
        }
        let known = ["uri", "url_param", "random", "rdp-cookie", "hash"]
        if known.contains(w[1]) || w[1].hasPrefix("hdr(") || w[1].hasPrefix("rdp-cookie(")
            || w[1].hasPrefix("random(")
        {
            warn(n, "'balance \(w[1])' is not simulated by hadeck; using 'roundrobin'")
            proxy.settings.balance = .roundrobin
        } else {
            error(
                n,
                "'balance' only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hash', 'hdr(name)' and 'rdp-cookie(name)' options."
            )
        }
    }

    // MARK: options

    mutating func handleOption(_ w: [String], _ n: Int, negated: Bool, _ proxy: inout ProxyState) {
        guard w.count >= 2 else { return error(n, "'option' expects an option name.") }
        let name = w[1]
        let label = "'\(negated ? "no " : "")option \(name)'"
        switch name {
        case "httpchk":
            guard requires(proxy, backend: true, "option httpchk", n) else { return }
            if negated {
                proxy.settings.httpCheck = nil
                return
            }
            var check = HTTPCheckConfig()
            let args = Array(w.dropFirst(2))
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
            proxy.settings.redispatch = !negated
        case "persist":
            guard requires(proxy, backend: true, "option persist", n) else { return }
            proxy.settings.persist = !negated
        case "allbackups":
            guard requires(proxy, backend: true, "option allbackups", n) else { return }
            proxy.settings.allbackups = !negated
        case "forwardfor":
            proxy.settings.forwardfor = !negated
            if w.count > 2 { warn(n, "'option forwardfor': parameters are not simulated by hadeck; ignored") }
        case "http-keep-alive":
            proxy.settings.httpKeepAlive = !negated
        case "httplog":
            if negated {
                proxy.settings.logFormat = .standard
            } else if w.count > 2, w[2] == "clf" {
                proxy.settings.logFormat = .httplogCLF
            } else if w.count > 2 {
                error(n, "'option httplog' only supports 'clf' option.")
            } else {
                proxy.settings.logFormat = .httplog
            }
        case "httpslog":
            proxy.settings.logFormat = negated ? .standard : .httpslog
        case "tcplog":
            proxy.settings.logFormat = negated ? .standard : .tcplog
        case "dontlognull":
            proxy.settings.dontLogNull = !negated
        default:
            if let message = removedOptions[name] {
                error(n, message)
            } else if knownOptions.contains(name) {
                warn(n, "\(label) is not simulated by hadeck; ignored")
            } else {
                error(n, "unknown option '\(name)'.")
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
                // HAProxy 2.6 takes a list of codes and ranges: `200`, `200-399`, `200,302,400-404`.
                var ranges: [ClosedRange<Int>] = []
                for item in (args.first ?? "").split(separator: ",", omittingEmptySubsequences: false) {
                    let ends = item.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map {
                        Int($0)
                    }
                    guard let low = ends.first ?? nil, let high = ends.last ?? nil, (100...599).contains(low),
                        (100...599).contains(high), low <= high
                    else {
                        return error(n, "'http-check expect status' expects an HTTP status code between 100 and 599")
                    }
                    ranges.append(low...high)
                }
                if ranges.isEmpty {
                    return error(n, "'http-check expect status' expects an HTTP status code between 100 and 599")
                }
                if ranges.count == 1, ranges[0].count == 1 {
                    proxy.settings.expectStatus = ranges[0].lowerBound
                    proxy.settings.expectStatusRanges = []
                } else {
                    proxy.settings.expectStatus = nil
                    proxy.settings.expectStatusRanges = ranges
                }
                if args.count > 1 {
                    warn(n, "'http-check expect status': options after the codes are not simulated by hadeck; ignored")
                }
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
                n,
                "'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '')"
            )
        }
        let kind = w[1]
        guard timeoutKinds.contains(kind) else {
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
        if w.count > 3 { return error(n, "'timeout' cannot handle unexpected argument '\(w[3])'.") }
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
                "'stats' expects 'admin', 'auth', 'enable', 'hide-version', 'show-node', 'realm', 'refresh', 'scope', 'uri', 'show-legends' or 'show-modules'"
            )
        }
        switch w[1] {
        case "enable":
            proxy.settings.stats.enabled = true
        case "uri":
            guard w.count >= 3 else { return error(n, "'stats uri' needs an URI prefix.") }
            proxy.settings.stats.enabled = true
            proxy.settings.stats.uri = w[2]
        case "refresh":
            guard w.count >= 3 else { return error(n, "'stats refresh' needs a positive refresh time in seconds.") }
            switch HAProxyTime.parse(w[2], defaultUnit: .seconds) {
            case .success(let span):
                proxy.settings.stats.enabled = true
                proxy.settings.stats.refresh = span
            case .failure(let problem):
                error(n, "'stats refresh': \(problem.message)")
            }
        case "realm":
            guard w.count >= 3 else { return error(n, "'stats realm' needs an realm name.") }
            proxy.settings.stats.enabled = true
            proxy.settings.stats.realm = w[2...].joined(separator: " ")
        case "auth":
            guard w.count >= 3, let colon = w[2].firstIndex(of: ":") else {
                return error(n, "'stats auth' needs a user:password account.")
            }
            proxy.settings.stats.enabled = true
            proxy.settings.stats.credentials.append(
                StatsCredential(user: String(w[2][..<colon]), password: String(w[2][w[2].index(after: colon)...])))
        case "hide-version":
            proxy.settings.stats.enabled = true
            proxy.settings.stats.hideVersion = true
        case "admin":
            guard w.count >= 4, w[2] == "if" || w[2] == "unless" else {
                return error(n, "'stats admin' requires either 'if' or 'unless' followed by a condition")
            }
            let condition = Array(w[3...])
            if condition != ["TRUE"] && condition != ["FALSE"] {
                warn(
                    n,
                    "'stats admin': hadeck does not evaluate the condition '\(condition.joined(separator: " "))' and treats it as true"
                )
            }
            let holds = condition == ["FALSE"] ? false : true
            proxy.settings.stats.admin = w[2] == "if" ? holds : (condition == ["TRUE"] ? false : true)
        case "socket":
            error(n, "'stats socket' is only allowed in 'global' section")
        case "scope", "show-legends", "show-node", "show-desc", "show-modules", "http-request", "bind-process",
            "timeout", "maxconn":
            warn(n, "'stats \(w[1])' is not simulated by hadeck; ignored")
        default:
            error(
                n,
                "'stats' expects 'admin', 'auth', 'enable', 'hide-version', 'show-node', 'realm', 'refresh', 'scope', 'uri', 'show-legends' or 'show-modules' (got '\(w[1])')"
            )
        }
    }
}
