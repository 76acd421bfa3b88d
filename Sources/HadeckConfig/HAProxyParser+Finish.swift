import BalancerCore
import HadeckBase

// The checks HAProxy makes once every section is read (check_config_validity() in src/cfgparse.c),
// and the typed configuration built from the proxies.

extension HAProxyParser {
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
        let backendPorts = portsOfFrontends(routingTo: backendNames)

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
                if !proxy.rules.httpRequest.isEmpty || !proxy.rules.httpResponse.isEmpty {
                    let line =
                        (proxy.rules.httpRequest.first?.line ?? proxy.rules.httpResponse.first?.line) ?? proxy.line
                    warn(line, "\(proxy.label) is in tcp mode: its 'http-request'/'http-response' rules are ignored")
                }
            }
            if proxy.kind.isFrontend { buildFrontend(proxy, stats: stats, backendNames: backendNames) }
            if proxy.kind.isBackend {
                buildBackend(proxy, cookie: cookie, stats: stats, ports: backendPorts[proxy.name] ?? [])
            }
        }
    }

    private mutating func buildFrontend(_ proxy: ProxyState, stats: StatsPageConfig, backendNames: Set<String>) {
        let s = proxy.settings
        var fe = FrontendConfig(name: proxy.name)
        fe.mode = s.mode
        fe.binds = proxy.binds
        fe.defaultBackend = s.defaultBackend ?? (proxy.kind == .listen ? proxy.name : nil)
        fe.forwardfor = s.forwardfor
        fe.httpKeepAlive = s.httpKeepAlive
        fe.timeouts = s.timeouts
        fe.stats = stats
        fe.line = proxy.line
        fe.rules = s.mode == .http ? proxy.rules : tcpRules(proxy.rules)
        fe.errorFiles = s.errorFiles
        fe.logging.targets = s.logTargets
        fe.logging.format = s.logFormat
        fe.logging.dontLogNull = s.dontLogNull
        if s.logFormat != .standard, s.logTargets.isEmpty {
            warn(
                proxy.line, "log format ignored for \(proxy.kind.rawValue) '\(proxy.name)' since it has no log address."
            )
        }
        if proxy.binds.isEmpty {
            warn(
                proxy.line,
                "\(proxy.label) has no 'bind' directive. Please declare it as a backend if this was intended. (hadeck sends it no traffic)"
            )
        }
        if let target = s.defaultBackend, !backendNames.contains(target) {
            error(s.defaultBackendLine, "\(proxy.label): unable to find required default_backend: '\(target)'")
        }
        for (name, line) in proxy.staticSwitchTargets where !backendNames.contains(name) {
            error(line, "\(proxy.label): unable to find required use_backend: '\(name)'.")
        }
        config.frontends.append(fe)
    }

    private mutating func buildBackend(_ proxy: ProxyState, cookie: CookieConfig?, stats: StatsPageConfig, ports: [Int])
    {
        let s = proxy.settings
        var be = BackendConfig(name: proxy.name)
        be.mode = s.mode
        be.balance = s.balance
        be.cookie = cookie
        be.cookieLine = cookie == nil ? 0 : s.cookieLine
        if var check = s.httpCheck {
            check.expectStatus = s.expectStatus
            check.expectStatusRanges = s.expectStatusRanges
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
        be.servers = proxy.servers.map { server in resolvePort(server, ports: ports, backend: proxy.label) }
        be.line = proxy.line
        be.errorFiles = s.errorFiles
        be.stickTable = proxy.stickTable
        // A listen section's rules belong to its frontend half; a backend keeps its own.
        if proxy.kind == .backend { be.rules = s.mode == .http ? proxy.rules : tcpRules(proxy.rules) }
        if s.httpCheck == nil && (s.expectStatus != nil || !s.expectStatusRanges.isEmpty || s.disableOn404) {
            warn(
                proxy.line,
                "\(proxy.label) uses 'http-check' without 'option httpchk'; the http-check rules have no effect")
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

    /// In tcp mode HAProxy runs no HTTP rule; `use_backend` still switches.
    private func tcpRules(_ rules: ProxyRules) -> ProxyRules {
        var out = ProxyRules()
        out.acls = rules.acls
        out.switching = rules.switching
        return out
    }

    /// The bind ports of the frontends that can send traffic to each backend (default_backend,
    /// use_backend, or the listen section itself).
    private func portsOfFrontends(routingTo backends: Set<String>) -> [String: [Int]] {
        var out: [String: [Int]] = [:]
        for fe in proxies where fe.kind.isFrontend {
            var targets = Set(fe.staticSwitchTargets.map(\.name))
            if let d = fe.settings.defaultBackend { targets.insert(d) }
            if fe.kind == .listen { targets.insert(fe.name) }
            for target in targets where backends.contains(target) {
                out[target, default: []] += fe.binds.map(\.port)
            }
        }
        return out
    }

    /// A server without a port (or with `+N`) connects to the client's port in HAProxy; the embedded
    /// cluster needs one port, so it takes the first bind port of a frontend that routes here.
    private mutating func resolvePort(_ server: ServerConfig, ports: [Int], backend: String) -> ServerConfig {
        var s = server
        switch server.addressForm {
        case .clientPort:
            if let port = ports.first {
                s.address.port = port
                warn(
                    server.line,
                    "server '\(server.name)' has no port: HAProxy connects to the port the client connected to; hadeck uses \(port), the bind port of the frontend that sends it traffic"
                )
            } else {
                s.address.port = 80
                warn(
                    server.line,
                    "server '\(server.name)' has no port: HAProxy connects to the port the client connected to; no frontend of this file routes to \(backend), so hadeck uses 80"
                )
            }
        case .portOffset(let offset):
            let base = ports.first ?? 80
            s.address.port = min(65535, max(1, base + offset))
            warn(
                server.line,
                "server '\(server.name)' has a port offset: HAProxy adds \(offset) to the client's port; hadeck uses \(s.address.port) (\(base) \(offset < 0 ? "-" : "+") \(abs(offset)))"
            )
        default:
            break
        }
        return s
    }
}
