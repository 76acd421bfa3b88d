import BalancerCore
import HadeckBase

// `bind`, `server` and `default-server` lines and the addresses they carry (HAProxy's
// src/server.c and str2sa_range() in src/tools.c).

/// An address as HAProxy's `str2sa_range()` reads it.
enum ParsedAddress: Equatable {
    /// An IP address or host name, with its port or port range (nil: none written) and offset form.
    case inet(host: String, isName: Bool, ports: ClosedRange<Int>?, offset: Int?)
    case unix(String)
    case abstract(String)
    /// `fd@N`, `sockpair@N`: inherited sockets.
    case inherited(String)
}

extension HAProxyParser {
    /// HAProxy's legacy `env_expand()`: addresses expand `$NAME` and `${NAME}` even outside quotes.
    func expandEnvironment(_ text: String) -> String {
        guard text.contains("$") else { return text }
        var out = ""
        var chars = Substring(text)
        while let dollar = chars.firstIndex(of: "$") {
            out += chars[..<dollar]
            var rest = chars[chars.index(after: dollar)...]
            let braced = rest.first == "{"
            if braced { rest = rest.dropFirst() }
            let name = rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            rest = rest.dropFirst(name.count)
            if braced, rest.first == "}" { rest = rest.dropFirst() }
            out += environment[String(name)] ?? ""
            chars = rest
        }
        return out + chars
    }

    /// Parses an address; nil after reporting HAProxy's error as `'\(what)' : message`.
    mutating func parseAddress(
        _ written: String, _ n: Int, what: String, portMandatory: Bool, rangeAllowed: Bool, offsetAllowed: Bool
    ) -> ParsedAddress? {
        let text = expandEnvironment(written)
        func fail(_ message: String) -> ParsedAddress? {
            error(n, "\(what): \(message)")
            return nil
        }
        func badPort(_ port: Substring) -> ParsedAddress? {
            fail("invalid port '\(port)' in address '\(written)' (must be between 1 and 65535)")
        }
        if text.isEmpty { return fail("'\(written)' resolves to an empty address (environment variable missing?)") }
        var rest = Substring(text)
        var family: String? = nil
        if let at = text.firstIndex(of: "@") {
            let prefix = String(text[..<at])
            let known = [
                "ipv4", "ipv6", "unix", "abns", "fd", "sockpair", "udp", "udp4", "udp6", "tcp", "tcp4", "tcp6", "uxst",
                "uxdg",
            ]
            if known.contains(prefix) {
                family = prefix
                rest = text[text.index(after: at)...]
            } else if prefix.hasPrefix("quic") {
                return fail("QUIC is not supported by this HAProxy build in '\(written)'")
            }
        }
        switch family {
        case "unix", "uxst", "uxdg": return .unix(String(rest))
        case "abns": return .abstract(String(rest))
        case "fd", "sockpair": return .inherited(text)
        default: break
        }
        if family == nil, rest.hasPrefix("/") { return .unix(String(rest)) }
        // Search for ':' or ']' from the end, whichever comes first.
        var host = rest
        var portText = ""
        if let mark = rest.lastIndex(where: { $0 == ":" || $0 == "]" }), rest[mark] == ":", mark != rest.startIndex {
            host = rest[..<mark]
            portText = String(rest[rest.index(after: mark)...])
        } else if let first = rest.first, first == ":" {
            host = ""
            portText = String(rest.dropFirst())
        }
        var ports: ClosedRange<Int>? = nil
        var offset: Int? = nil
        if let c = portText.first, c.isASCII, c.isNumber {
            let pieces = portText.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            if pieces.count == 2, !rangeAllowed { return fail("port range not permitted here in '\(written)'") }
            let low = atol(String(pieces[0]))
            let high = pieces.count == 2 ? atol(String(pieces[1])) : low
            let minimum = portMandatory ? 1 : 0
            if low < minimum || low > 65535 { return badPort(portText[...]) }
            if high < minimum || high > 65535 { return badPort(portText[...]) }
            if low > high { return fail("invalid port range '\(low)-\(high)'") }
            ports = low...high
        } else if let c = portText.first, c == "+" || c == "-" {
            if !offsetAllowed { return fail("port offset not permitted here in '\(written)'") }
            offset = max(-65535, min(65535, atol(String(portText.dropFirst())))) * (c == "-" ? -1 : 1)
        } else if portText.first != nil {
            return badPort(portText[...])
        } else if portMandatory {
            return fail("missing port specification in '\(written)'")
        }
        var hostText = String(host)
        if hostText.hasPrefix("["), hostText.hasSuffix("]") { hostText = String(hostText.dropFirst().dropLast()) }
        if hostText.isEmpty || hostText == "*" {
            return .inet(host: "0.0.0.0", isName: false, ports: ports, offset: offset)
        }
        if IPAddress(hostText) != nil { return .inet(host: hostText, isName: false, ports: ports, offset: offset) }
        guard isHostName(hostText) else { return fail("invalid address: '\(hostText)' in '\(written)'") }
        return .inet(host: hostText, isName: true, ports: ports, offset: offset)
    }

    /// A word HAProxy hands to the resolver: anything non-empty without blanks. Whether it resolves
    /// is decided when HAProxy (or hadeck) starts, not by `haproxy -c -dr`.
    func isHostName(_ text: String) -> Bool {
        !text.isEmpty && !text.contains(where: { $0 == " " || $0 == "\t" })
    }

    // MARK: bind

    mutating func parseBind(_ w: [String], _ n: Int, _ proxy: inout ProxyState) {
        guard w.count >= 2 else {
            return error(n, "'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.")
        }
        for part in w[1].split(separator: ",", omittingEmptySubsequences: false) {
            let what = "'bind'"
            switch parseAddress(
                String(part), n, what: what, portMandatory: true, rangeAllowed: true, offsetAllowed: false)
            {
            case .inet(let host, let isName, let ports?, _):
                if isName {
                    warn(n, "'bind': '\(host)' is a host name: hadeck listens on what it resolves to when it starts")
                }
                for port in ports {
                    proxy.binds.append(HostPort(host: host, port: port))
                }
            case .unix(let path), .abstract(let path):
                warn(n, "'bind': the embedded cluster listens only on TCP addresses; '\(path)' is not opened")
            case .inherited(let name):
                warn(n, "'bind': '\(name)' is an inherited socket, which hadeck cannot use; not opened")
            case .inet, nil:
                break
            }
        }
        var i = 2
        var unmodelled: [String] = []
        while i < w.count {
            guard let count = bindKeywords[w[i]] else {
                return error(n, "'bind \(w[1])' unknown keyword '\(w[i])'.")
            }
            if i + count >= w.count, count > 0 {
                return error(n, "'bind \(w[1])' : '\(w[i])' expects an argument.")
            }
            unmodelled.append(w[i])
            i += 1 + count
        }
        if !unmodelled.isEmpty {
            let list = unmodelled.map { "'\($0)'" }.joined(separator: ", ")
            warn(n, "'bind': \(list) \(unmodelled.count == 1 ? "is" : "are") not simulated by hadeck; ignored")
        }
    }

    // MARK: server

    mutating func parseServer(_ w: [String], _ n: Int, defaults: [String]) -> ServerConfig? {
        guard w.count >= 2 else {
            error(n, "'server' expects <name> and <addr>[:<port>] as arguments.")
            return nil
        }
        let name = w[1]
        guard w.count >= 3 else {
            error(n, "server '\(name)': missing address ('server' expects <name> and <addr>:<port>)")
            return nil
        }
        let label = "server '\(name)'"
        guard
            let address = parseAddress(
                w[2], n, what: label, portMandatory: false, rangeAllowed: false, offsetAllowed: true)
        else { return nil }
        var server = ServerConfig(name: name, address: HostPort(host: "0.0.0.0", port: 0))
        server.line = n
        switch address {
        case .inet(let host, let isName, let ports, let offset):
            server.address = HostPort(host: host, port: ports?.lowerBound ?? 0)
            if let offset {
                server.addressForm = .portOffset(offset)
            } else if ports == nil || ports?.lowerBound == 0 {
                server.addressForm = .clientPort
            } else if isName {
                server.addressForm = .hostname(host)
            }
            if isName {
                warn(
                    n,
                    "\(label): '\(host)' is a host name: hadeck resolves it once when it starts, as HAProxy does by default (init-addr last,libc), and never again"
                )
            }
        case .unix(let path):
            server.addressForm = .unixSocket(path)
            server.disabled = true
            warn(
                n,
                "\(label): unix socket '\(path)': hadeck connects only to TCP addresses; it keeps this server in MAINT")
        case .abstract(let path):
            server.addressForm = .abstractSocket(path)
            server.disabled = true
            warn(
                n,
                "\(label): abstract socket '\(path)': hadeck connects only to TCP addresses; it keeps this server in MAINT"
            )
        case .inherited(let text):
            server.addressForm = .unixSocket(text)
            server.disabled = true
            warn(n, "\(label): '\(text)' is an inherited socket: hadeck keeps this server in MAINT")
        }
        if !defaults.isEmpty {
            var quiet = self
            quiet.diagnostics = Diagnostics()
            _ = quiet.applyServerParameters(defaults, to: &server, label: label, n, forDefault: true, silent: true)
        }
        guard applyServerParameters(Array(w.dropFirst(3)), to: &server, label: label, n, forDefault: false) else {
            return nil
        }
        return server
    }

    /// Applies `server` / `default-server` keywords to `server`. False (after the error) on a keyword
    /// HAProxy rejects.
    mutating func applyServerParameters(
        _ words: [String], to server: inout ServerConfig, label: String, _ n: Int, forDefault: Bool,
        silent: Bool = false
    ) -> Bool {
        var i = 0
        var unmodelled: [String] = []
        func value(_ i: Int) -> String? { i + 1 < words.count ? words[i + 1] : nil }
        while i < words.count {
            let key = words[i]
            switch key {
            case "check": server.check = true
            case "no-check": server.check = false
            case "disabled": server.disabled = true
            case "enabled": server.disabled = false
            case "backup": server.backup = true
            case "no-backup": server.backup = false
            case "inter", "fastinter", "downinter", "slowstart":
                guard let text = value(i) else {
                    error(n, "\(label): '\(key)' expects a time value")
                    return false
                }
                switch HAProxyTime.parse(text) {
                case .success(let span):
                    if span == .zero && key != "slowstart" {
                        error(n, "\(label): '\(key)' has to be > 0")
                        return false
                    }
                    switch key {
                    case "inter": server.inter = span
                    case "fastinter": server.fastinter = span
                    case "downinter": server.downinter = span
                    default: server.slowstart = span == .zero ? nil : span
                    }
                case .failure(let problem):
                    error(n, "\(label): '\(key)': \(problem.message)")
                    return false
                }
                i += 1
            case "rise", "fall":
                guard let text = value(i) else {
                    error(n, "\(label): '\(key)' expects an integer argument")
                    return false
                }
                guard let v = Int(text), v > 0, v <= 1_000_000 else {
                    error(n, "\(label): '\(key)' has to be > 0 (got '\(text)')")
                    return false
                }
                if key == "rise" { server.rise = v } else { server.fall = v }
                i += 1
            case "weight":
                guard let text = value(i) else {
                    error(n, "\(label): 'weight' expects an integer argument")
                    return false
                }
                guard let v = Int(text), (0...256).contains(v) else {
                    error(n, "\(label): 'weight' must be between 0 and 256 (got '\(text)')")
                    return false
                }
                server.weight = v
                i += 1
            case "maxconn", "maxqueue":
                guard let text = value(i), let v = Int(text), v >= 0 else {
                    error(n, "\(label): '\(key)' expects a non-negative integer")
                    return false
                }
                if key == "maxconn" { server.maxconn = v } else { server.maxqueue = v }
                i += 1
            case "port":
                guard let text = value(i), let v = Int(text), (1...65535).contains(v) else {
                    error(n, "\(label): 'port' expects a valid port number (got '\(value(i) ?? "")')")
                    return false
                }
                server.checkPort = v
                i += 1
            case "addr":
                guard let text = value(i), IPAddress(expandEnvironment(text)) != nil || isHostName(text) else {
                    error(n, "\(label): 'addr' expects an address (got '\(value(i) ?? "")')")
                    return false
                }
                server.checkAddress = expandEnvironment(text)
                i += 1
            case "cookie":
                guard let text = value(i), !text.isEmpty else {
                    error(n, "\(label): 'cookie' expects a value")
                    return false
                }
                if forDefault {
                    if !silent { warn(n, "\(label): 'cookie' is not inherited by servers; ignored") }
                } else {
                    server.cookie = text
                }
                i += 1
            default:
                guard let count = otherServerKeywords[key] else {
                    error(n, "\(label): unknown keyword '\(key)'.")
                    return false
                }
                if count > 0, value(i) == nil {
                    error(n, "\(label): '\(key)' expects an argument.")
                    return false
                }
                unmodelled.append(key)
                i += count
            }
            i += 1
        }
        if !unmodelled.isEmpty, !silent {
            let list = unmodelled.map { "'\($0)'" }.joined(separator: ", ")
            warn(
                n,
                "\(label): \(unmodelled.count == 1 ? "keyword" : "keywords") \(list) \(unmodelled.count == 1 ? "is" : "are") not simulated by hadeck; ignored"
            )
        }
        return true
    }
}
