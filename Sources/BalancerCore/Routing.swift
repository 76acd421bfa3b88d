import HadeckBase

/// What the balancer needs to know about an incoming HTTP request to route it.
public struct RoutedRequest: Hashable, Sendable {
    public var method: String
    /// The values of every `Cookie` header, in order.
    public var cookieHeaders: [String]
    /// The client's address (`source` hashing), e.g. `127.0.0.5` or `127.0.0.5:41234`.
    public var clientAddress: String

    public init(method: String = "GET", cookieHeaders: [String] = [], clientAddress: String = "127.0.0.1") {
        self.method = method
        self.cookieHeaders = cookieHeaders
        self.clientAddress = clientAddress
    }
}

/// What the request's persistence cookie did for the routing: HAProxy's `%tsc` third character
/// (`sess_cookie[]`, from the `TX_CK_*` flags of manage_client_side_cookies()).
///
/// HAProxy also has `E` (expired) and `O` (old) for `maxidle`/`maxlife` dates and `U` (unused)
/// for `use-server` rules; hadeck's cookies carry no dates and it has no `use-server`, so it never
/// produces them.
public enum RequestCookieStatus: Hashable, Sendable {
    /// The backend has no `cookie` line (`-`).
    case notConfigured
    /// The client sent no persistence cookie (`N`).
    case none
    /// The cookie (`SRV=Q`, as sent) names no server (`I`).
    case invalid(cookie: String)
    /// The cookie names a server that is stopped (DOWN or MAINT) (`D`): the request is rebalanced,
    /// or `option persist` sends it there anyway (`persisted`).
    case down(cookie: String, server: String, serverStatus: String, persisted: Bool)
    /// The cookie names a server that is not stopped, and the request goes there (`V`). It may be
    /// draining, or have weight 0 (`weightZero`, said in the reason of an UP server): persistence keeps it.
    case valid(cookie: String, server: String, serverStatus: String, weightZero: Bool)

    /// The `%tsc` character: `-`, `N`, `I`, `D` or `V`.
    public var logFlag: UInt8 {
        switch self {
        case .notConfigured: UInt8(ascii: "-")
        case .none: UInt8(ascii: "N")
        case .invalid: UInt8(ascii: "I")
        case .down: UInt8(ascii: "D")
        case .valid: UInt8(ascii: "V")
        }
    }

    /// The start of the routing reason: what the cookie said, before the balancing part.
    var reasonPrefix: String {
        switch self {
        case .notConfigured: ""
        case .none: "no cookie: "
        case .invalid(let cookie): "cookie \(cookie) matches no server: "
        case .down(let cookie, let server, let status, _): "cookie \(cookie) names \(server) which is \(status): "
        case .valid(let cookie, let server, let status, _): "cookie \(cookie) names \(server) which is \(status): "
        }
    }

    /// The whole reason when the cookie chose the server itself (no balancing).
    var persistenceReason: String? {
        switch self {
        case .notConfigured, .none, .invalid, .down(_, _, _, persisted: false): nil
        case .down(let cookie, let server, let status, persisted: true):
            "cookie \(cookie) names \(server) which is \(status): option persist sends it there anyway"
        case .valid(let cookie, let server, let status, let weightZero):
            if status.hasPrefix("UP") || status == "no check" {
                weightZero
                    ? "cookie \(cookie) names \(server) which has weight 0: kept on \(server)"
                    : "cookie \(cookie) -> \(server)"
            } else {
                "cookie \(cookie) names \(server) which is \(status): kept on \(server)"
            }
        }
    }
}

/// What happened to the persistence cookie in the response: HAProxy's `%tsc` fourth character
/// (`sess_set_cookie[]`, from the `TX_SCK_*` flags). `U` (updated date) needs `maxidle`, which
/// hadeck does not apply, so it is never produced.
public enum ResponseCookieStatus: Hashable, Sendable {
    /// The backend has no `cookie` line (`-`).
    case notConfigured
    /// The server set no persistence cookie and none was inserted (`N`).
    case none
    /// The balancer inserted its cookie (`I`), overwriting one the server set in insert mode.
    case inserted
    /// The server set the cookie and it went to the client as it was (`P`).
    case provided
    /// The server's cookie was rewritten (`cookie rewrite`) or prefixed (`cookie prefix`) (`R`).
    case rewritten
    /// The server's cookie was removed (`D`).
    case deleted

    /// The `%tsc` character: `-`, `N`, `I`, `P`, `R` or `D`.
    public var logFlag: UInt8 {
        switch self {
        case .notConfigured: UInt8(ascii: "-")
        case .none: UInt8(ascii: "N")
        case .inserted: UInt8(ascii: "I")
        case .provided: UInt8(ascii: "P")
        case .rewritten: UInt8(ascii: "R")
        case .deleted: UInt8(ascii: "D")
        }
    }
}

/// Where a request goes, why, and what the server will see.
public struct RoutingDecision: Hashable, Sendable {
    /// The server to connect to; nil means HAProxy answers 503 itself.
    public var server: String?
    /// The reason in plain words, e.g. `cookie SRV=A -> webA`; its cookie part comes from `requestCookie`.
    public var reason: String
    /// What the request's persistence cookie did (the log's `%tsc` third character).
    public var requestCookie: RequestCookieStatus
    /// True when the server was chosen from the persistence cookie (HAProxy's SF_DIRECT).
    public var persistent: Bool
    /// The `Cookie` header values to forward to the server (balancer cookie or prefix stripped);
    /// headers left empty are dropped.
    public var forwardedCookieHeaders: [String]
    /// Whether a `Set-Cookie` for the balancer cookie will be added to the response.
    public var willInsertCookie: Bool
    /// Connection retries still allowed (starts at `retries`).
    public var retriesLeft: Int
    /// Connection attempts made so far on this request (0 before the first).
    public var attempts: Int
    var method: String
    var clientAddress: String
    /// The server whose `maxconn` slot the request holds (`Backend.admit`), until `Backend.finish`,
    /// and its index in the backend (no name lookup per request).
    public internal(set) var slot: String? = nil
    var slotIndex = -1
    /// The index of `server` in the backend when routing set it (else found by name).
    var serverIndex = -1
    /// No server chosen because every usable one is at its maxconn: the request waits in the
    /// backend's queue (`admit`).
    var everyServerFull = false

    /// The HTTP status HAProxy itself returns when no server is chosen.
    public var statusCode: Int? { server == nil ? 503 : nil }

    /// The position of `server` among the backend's servers (`Backend.serverNames`), when routing
    /// chose it: the data plane finds its counters by it rather than by name.
    public var serverPosition: Int? { server != nil && serverIndex >= 0 ? serverIndex : nil }
}

/// What to do after a connection attempt to the chosen server failed.
public struct ConnectRetry: Hashable, Sendable {
    public enum Action: Hashable, Sendable {
        /// Try the same server again after the delay.
        case retry(after: TimeSpan)
        /// Try `decision.server` (another one) after the delay.
        case redispatch(after: TimeSpan)
        /// Stop: HAProxy answers 503.
        case giveUp
    }

    public var action: Action
    /// The updated decision: carry it into the next `connectFailed` call.
    public var decision: RoutingDecision
    /// One plain sentence saying why.
    public var why: String
    /// Requests that a redispatch's freed slot let out of a queue: they connect now.
    public var dequeued: [Dequeued] = []
}

/// The response header edits HAProxy makes for cookie persistence.
public struct ResponseCookieEdits: Hashable, Sendable {
    /// Every `Set-Cookie` value the client receives, in order: the server's own (possibly
    /// rewritten or prefixed; removed ones omitted) followed by the one HAProxy inserts.
    public var setCookies: [String]
    /// True when `Cache-control: private` is appended (`nocache` and a cookie was inserted).
    public var cacheControlPrivate: Bool
    /// What happened to the persistence cookie (the log's `%tsc` fourth character).
    public var cookieStatus: ResponseCookieStatus
    /// The resulting header lines, byte for byte: `Set-Cookie: ...` lines then `Cache-control: private`.
    public var headerLines: [String] {
        setCookies.map { "Set-Cookie: \($0)" } + (cacheControlPrivate ? ["Cache-control: private"] : [])
    }
}

/// One `name=value` pair of a Cookie header.
public struct CookiePair: Hashable, Sendable {
    public var name: String
    public var value: String
    /// False for a bare `name` with no `=`.
    public var hasEquals: Bool
    public var text: String { hasEquals ? "\(name)=\(value)" : name }
}

/// Splits a `Cookie:` header value into its pairs, in order (blanks around names and values trimmed).
public func parseCookieHeader(_ header: String) -> [CookiePair] {
    // On the UTF-8 bytes, as HAProxy reads them: `;`, `=`, space and tab are ASCII, so every range
    // below starts and ends on a scalar boundary. Offsets into one contiguous buffer, not String
    // indices: the simulator and the proxy parse a header per request.
    var header = header
    return header.withUTF8 { bytes in
        func isSpace(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }
        func trimmed(_ lower: Int, _ upper: Int) -> Range<Int> {
            var lower = lower
            var upper = upper
            while lower < upper, isSpace(bytes[lower]) { lower += 1 }
            while lower < upper, isSpace(bytes[upper - 1]) { upper -= 1 }
            return lower..<upper
        }
        func text(_ r: Range<Int>) -> String {
            String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self)
        }
        func first(_ byte: UInt8, in r: Range<Int>) -> Int? { r.first { bytes[$0] == byte } }
        var pairs: [CookiePair] = []
        var start = 0
        while start < bytes.count {
            let end = first(UInt8(ascii: ";"), in: start..<bytes.count) ?? bytes.count
            let item = trimmed(start, end)
            if !item.isEmpty {
                if let eq = first(UInt8(ascii: "="), in: item) {
                    pairs.append(
                        CookiePair(
                            name: text(trimmed(item.lowerBound, eq)), value: text(trimmed(eq + 1, item.upperBound)),
                            hasEquals: true))
                } else {
                    pairs.append(CookiePair(name: text(item), value: "", hasEquals: false))
                }
            }
            start = end == bytes.count ? end : end + 1
        }
        return pairs
    }
}

/// The cookie a `Set-Cookie:` header value sets (its attributes ignored), or nil if it has no `name=`.
public func parseSetCookie(_ header: String) -> CookiePair? {
    let first = header.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    guard let pair = parseCookieHeader(String(first)).first, pair.hasEquals, !pair.name.isEmpty else { return nil }
    return pair
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

extension Backend {
    private var algorithmName: String { config.balance.rawValue }

    /// Routes one request as HAProxy 2.6 does (manage_client_side_cookies, then assign_server).
    public func route(request: RoutedRequest, now: Instant) -> RoutingDecision {
        advanceSlowstart(now: now)
        var forwarded: [String] = []
        var named: (raw: String, server: Int?)? = nil
        if let ck = config.cookie {
            for header in request.cookieHeaders {
                var kept: [String] = []
                for pair in parseCookieHeader(header) {
                    guard pair.name == ck.name, named == nil else {
                        kept.append(pair.text)
                        continue
                    }
                    var serverPart = pair.value
                    var appPart: String? = nil
                    if ck.mode == .prefix, let tilde = pair.value.firstIndex(of: "~") {
                        serverPart = String(pair.value[..<tilde])
                        appPart = String(pair.value[pair.value.index(after: tilde)...])
                    }
                    // Empty cookie values never match, so clients cannot stick to cookie-less servers.
                    let match =
                        serverPart.isEmpty ? nil : servers.indices.first { servers[$0].config.cookie == serverPart }
                    named = ("\(pair.name)=\(pair.value)", match)
                    if let appPart {
                        kept.append("\(pair.name)=\(appPart)")
                    } else if ck.mode == .insert && ck.indirect {
                        continue
                    } else {
                        kept.append(pair.text)
                    }
                }
                if !kept.isEmpty { forwarded.append(kept.joined(separator: "; ")) }
            }
        } else {
            forwarded = request.cookieHeaders
        }

        var cookie = RequestCookieStatus.notConfigured
        if let named {
            if let i = named.server {
                let s = servers[i]
                // Anything but STOPPED keeps the cookie (DRAIN, NOLB, weight 0); MAINT is STOPPED too.
                if s.state != .stopped {
                    cookie = .valid(
                        cookie: named.raw, server: s.name, serverStatus: s.statusText, weightZero: s.uweight == 0)
                } else {
                    cookie = .down(
                        cookie: named.raw, server: s.name, serverStatus: s.statusText, persisted: config.persist)
                }
            } else {
                cookie = .invalid(cookie: named.raw)
            }
        } else if config.cookie != nil {
            cookie = .none
        }
        var decision = RoutingDecision(
            server: nil, reason: "", requestCookie: cookie, persistent: false, forwardedCookieHeaders: forwarded,
            willInsertCookie: false, retriesLeft: config.retries, attempts: 0,
            method: request.method, clientAddress: request.clientAddress)
        if let i = named?.server, let reason = cookie.persistenceReason {
            decision.server = servers[i].name
            decision.serverIndex = i
            decision.persistent = true
            decision.reason = reason
            return decision
        }
        let prefix = cookie.reasonPrefix
        balance(&decision, avoid: nil, prefix: prefix, verb: named != nil ? "rebalanced by " : "", now: now)
        return decision
    }

    func willInsert(_ d: RoutingDecision) -> Bool {
        guard let ck = config.cookie, ck.mode == .insert, !d.persistent, d.server != nil else { return false }
        return !ck.postonly || d.method == "POST"
    }

    func balance(_ d: inout RoutingDecision, avoid: Int?, prefix: String, verb: String, now: Instant) {
        let (picked, set, backups) = pick(clientAddress: d.clientAddress, avoid: avoid, now: now)
        guard let i = picked else {
            d.server = nil
            d.persistent = false
            d.willInsertCookie = false
            d.everyServerFull = !set.isEmpty
            d.reason = prefix + (d.everyServerFull ? "every usable server is at maxconn" : "no usable server: 503")
            return
        }
        d.everyServerFull = false
        d.server = servers[i].name
        d.serverIndex = i
        d.persistent = false
        d.willInsertCookie = willInsert(d)
        // The text only depends on these (server names and cookies never change): reuse it rather
        // than concatenating it again for every request.
        let cacheable = config.balance != .source
        if cacheable, i < reasonCache.count, let c = reasonCache[i], c.prefix == prefix, c.verb == verb,
            c.backups == backups, c.insert == d.willInsertCookie
        {
            d.reason = c.text
            return
        }
        var reason = prefix + verb + algorithmName
        if config.balance == .source { reason += " (\(d.clientAddress))" }
        reason += " -> \(servers[i].name)"
        if backups { reason += " (backup)" }
        if d.willInsertCookie, let ck = config.cookie {
            reason += ", new cookie \(ck.name)=\(servers[i].config.cookie ?? "")"
        }
        d.reason = reason
        if cacheable {
            if reasonCache.count < servers.count { reasonCache = Array(repeating: nil, count: servers.count) }
            reasonCache[i] = BalanceReason(
                prefix: prefix, verb: verb, backups: backups, insert: d.willInsertCookie, text: reason)
        }
    }

    /// A connection attempt to `decision.server` failed. Follows haproxy 2.6's back_handle_st_cer()
    /// and stream_choose_redispatch() (include/haproxy/stream.h): give up with 503 once `retries`
    /// retries are spent (`conn_retries >= retries`, checked before counting this one, so
    /// `retries 3` makes 4 attempts); otherwise count the retry and, with `option redispatch`, move
    /// the request to another server when its server is not running, on the last retry
    /// (`conn_retries % retries == 0`, the default `redispatch -1`), or at once for a request
    /// without persistence under round robin with more than one active server; else retry the same
    /// server. After a refused or reset connect (`timedOut` false: SE_FL_ERROR, `must_tar`) the
    /// next attempt waits the turn-around min(timeout connect, 1 s), except a redispatch under
    /// round robin with more than one active server; after `timeout connect` expired it follows at once.
    public func connectFailed(_ decision: RoutingDecision, now: Instant, timedOut: Bool = false) -> ConnectRetry {
        advanceSlowstart(now: now)
        var d = decision
        d.attempts += 1
        guard let name = d.server, let i = index(of: name, hint: d.serverIndex) else {
            d.server = nil
            return ConnectRetry(action: .giveUp, decision: d, why: "no server to retry: 503")
        }
        d.retriesLeft -= 1
        if d.retriesLeft < 0 {
            d.server = nil
            d.persistent = false
            d.willInsertCookie = false
            d.reason = "connection to \(name) failed \(d.attempts) times (retries \(config.retries)): 503"
            return ConnectRetry(action: .giveUp, decision: d, why: d.reason)
        }
        let retries = config.retries
        let done = retries - d.retriesLeft
        let isRR = config.balance == .roundrobin || config.balance == .staticRR
        let srvAct = activeUsableCount(now: now)
        // The reference says persist+redispatch is "retried, then redispatched"; the source redispatches
        // at once when the cookie's server is not running (cur_state < SRV_ST_RUNNING).
        let redispatch =
            config.redispatch
            && (servers[i].state < .running
                || (retries > 0 && done % retries == 0)
                || (!d.persistent && srvAct > 1 && isRR))
        var delay = TimeSpan.milliseconds(1000)
        if let c = config.timeouts.connect, c > .zero, c < delay { delay = c }
        if timedOut { delay = .zero }
        if redispatch {
            let wait = (!isRR || srvAct <= 1) ? delay : .zero
            let why0 =
                servers[i].state < .running
                ? "connection to \(name) failed and \(name) is \(servers[i].statusText): option redispatch "
                : "connection to \(name) failed (attempt \(d.attempts)): option redispatch "
            balance(&d, avoid: i, prefix: why0, verb: "moves it by ", now: now)
            if d.server == nil {
                if d.everyServerFull { d.reason += ": 503" }
                return ConnectRetry(action: .giveUp, decision: d, why: d.reason)
            }
            let dequeued = moveSlot(&d, from: i, now: now)
            return ConnectRetry(action: .redispatch(after: wait), decision: d, why: d.reason, dequeued: dequeued)
        }
        let when = delay == .zero ? "at once (timeout connect: no turn-around)" : "in \(delay.haproxyText)"
        let why =
            "connection to \(name) failed (attempt \(d.attempts)): retrying \(name) \(when), \(d.retriesLeft) retr\(d.retriesLeft == 1 ? "y" : "ies") left"
        return ConnectRetry(action: .retry(after: delay), decision: d, why: why)
    }

    /// The response header edits for a routed request, given the values of the server's own
    /// `Set-Cookie` headers. Mirrors http_manage_server_side_cookies() and the insert block of
    /// http_process_res_common(). `responseCacheable` is HAProxy's TX_CACHEABLE for the response.
    public func responseHeaders(
        for decision: RoutingDecision, serverSetCookies: [String], responseCacheable: Bool = true
    ) -> ResponseCookieEdits {
        guard let ck = config.cookie else {
            return ResponseCookieEdits(
                setCookies: serverSetCookies, cacheControlPrivate: false, cookieStatus: .notConfigured)
        }
        let srv = decision.server.flatMap { index(of: $0, hint: decision.serverIndex) }
        let srvCookie = srv.flatMap { servers[$0].config.cookie }
        var out: [String] = []
        var serverSetOurs = false
        var status = ResponseCookieStatus.none
        for header in serverSetCookies {
            let first = header.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
            let pairText = first.first.map(String.init) ?? ""
            let rest = first.count > 1 ? ";" + first[1] : ""
            guard let eq = pairText.firstIndex(of: "="), pairText[..<eq].trimmingSpaces() == ck.name else {
                out.append(header)
                continue
            }
            serverSetOurs = true
            let value = String(pairText[pairText.index(after: eq)...]).trimmingSpaces()
            if ck.preserve {
                out.append(header)
                status = .provided
            } else if (srv != nil && ck.mode == .insert) || (decision.persistent && ck.indirect) {
                status = .deleted
            } else if let srvCookie, ck.mode == .rewrite {
                out.append("\(ck.name)=\(srvCookie)\(rest)")
                status = .rewritten
            } else if let srvCookie, ck.mode == .prefix {
                out.append("\(ck.name)=\(srvCookie)~\(value)\(rest)")
                status = .rewritten
            } else {
                out.append(header)
                status = .provided
            }
        }
        var cachePrivate = false
        if ck.mode == .insert, let srv, !(serverSetOurs && ck.preserve), !decision.persistent,
            !ck.postonly || decision.method == "POST"
        {
            // Depends only on the configuration: built once per server, not per response.
            if insertLines.count < servers.count { insertLines = Array(repeating: nil, count: servers.count) }
            if let line = insertLines[srv] {
                out.append(line)
            } else {
                var line: String
                if let value = servers[srv].config.cookie {
                    line = "\(ck.name)=\(value); path=/"
                } else {
                    line = "\(ck.name)=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"
                }
                // Several `domain` options are chained as "; domain=a; domain=b" by the parser.
                for domain in ck.domains { line += "; domain=\(domain)" }
                if ck.httponly { line += "; HttpOnly" }
                if ck.secure { line += "; Secure" }
                insertLines[srv] = line
                out.append(line)
            }
            cachePrivate = ck.nocache && responseCacheable
            status = .inserted
        }
        return ResponseCookieEdits(setCookies: out, cacheControlPrivate: cachePrivate, cookieStatus: status)
    }
}
