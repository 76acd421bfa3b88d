import BalancerCore
import Foundation
import HadeckBase

/// One datagram of a syslog stream: the header haproxy's `log ... format rfc3164|rfc5424|short|raw`
/// puts in front, and the message.
public struct SyslogDatagram: Hashable, Sendable {
    /// `<PRI>`: facility x 8 + severity.
    public var priority: Int?
    public var host: String?
    public var program: String?
    public var pid: Int?
    public var message: String

    /// Parses one datagram. A header it does not recognise is left in the message, never dropped.
    public static func parse(_ text: String) -> SyslogDatagram {
        var rest = Substring(text)
        while rest.last == "\n" || rest.last == "\r" || rest.last == "\0" { rest = rest.dropLast() }
        var datagram = SyslogDatagram(priority: nil, host: nil, program: nil, pid: nil, message: String(rest))
        guard rest.first == "<", let close = rest.firstIndex(of: ">"),
            let pri = Int(rest[rest.index(after: rest.startIndex)..<close])
        else { return datagram }
        datagram.priority = pri
        rest = rest[rest.index(after: close)...]
        let words = rest.split(separator: " ", maxSplits: 7, omittingEmptySubsequences: false)
        if words.count >= 8, words[0] == "1", words[1].contains("T") {
            // RFC 5424: VERSION TIMESTAMP HOST APP PROCID MSGID SD MSG (SD `-` without structured data).
            datagram.host = words[2] == "-" ? nil : String(words[2])
            datagram.program = words[3] == "-" ? nil : String(words[3])
            datagram.pid = Int(words[4])
            var message = words[7]
            if words[6] != "-", let end = message.firstIndex(of: " ") {
                message = message[message.index(after: end)...]
            }
            datagram.message = String(message)
            return datagram
        }
        // RFC 3164: `Mmm dd hh:mm:ss HOST TAG[PID]: MSG` (the day padded with a space: `Dec  2`).
        if rest.count > 16, isBSDTimestamp(rest.prefix(15)) {
            let afterTime = rest.dropFirst(16)
            if let space = afterTime.firstIndex(of: " ") {
                datagram.host = String(afterTime[..<space])
                let tagged = afterTime[afterTime.index(after: space)...]
                if let colon = tagged.range(of: ": ") {
                    let tag = tagged[..<colon.lowerBound]
                    if let open = tag.firstIndex(of: "["), tag.last == "]" {
                        datagram.program = String(tag[..<open])
                        datagram.pid = Int(tag[tag.index(after: open)..<tag.index(before: tag.endIndex)])
                    } else {
                        datagram.program = String(tag)
                    }
                    datagram.message = String(tagged[colon.upperBound...])
                    return datagram
                }
            }
        }
        datagram.message = String(rest)
        return datagram
    }

    /// `Dec  2 03:56:20`.
    static func isBSDTimestamp(_ s: Substring) -> Bool {
        let c = Array(s)
        guard c.count == 15, c[3] == " ", c[6] == " ", c[9] == ":", c[12] == ":" else { return false }
        return c[0].isUppercase && (c[4] == " " || c[4].isNumber) && c[5].isNumber
    }
}

/// What one haproxy log message is about.
public enum HAProxyLogMessage: Hashable, Sendable {
    /// One request, in HAProxy's `option httplog` layout.
    case request(HTTPLogRecord)
    /// A server changed state (a check or the runtime API).
    case server(ServerStateLog)
    /// `Proxy web stopped (...)`: haproxy is stopping gracefully.
    case proxyStopped(String)
    /// `Proxy web started.`
    case proxyStarted(String)
    /// `backend 'web' has no server available!`
    case noServerAvailable(String)
    case other(String)

    public static func parse(_ message: String) -> HAProxyLogMessage {
        if let r = HTTPLogRecord.parse(message) { return .request(r) }
        if let s = ServerStateLog.parse(message) { return .server(s) }
        if message.hasPrefix("Proxy "), let name = message.dropFirst(6).split(separator: " ").first {
            if message.contains(" stopped") { return .proxyStopped(String(name)) }
            if message.hasSuffix(" started.") { return .proxyStarted(String(name)) }
        }
        if message.hasSuffix("has no server available!"), let open = message.firstIndex(of: "'"),
            let close = message[message.index(after: open)...].firstIndex(of: "'")
        {
            return .noServerAvailable(String(message[message.index(after: open)..<close]))
        }
        return .other(message)
    }
}

/// A request log line in the layout of `option httplog` (HAProxy 2.6's default, which the lab and
/// the README spell out as a `log-format`):
/// `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r`.
public struct HTTPLogRecord: Hashable, Sendable {
    public struct Timers: Hashable, Sendable {
        /// Milliseconds; -1 where haproxy never got that far.
        public var request, queue, connect, response, total: Int
    }

    public var clientAddress: String
    public var clientPort: Int
    /// `%tr`, as haproxy wrote it (`02/Dec/2026:03:56:20.391`).
    public var acceptDate: String
    public var frontend: String
    public var backend: String
    /// nil for `<NOSRV>`: no server was chosen.
    public var server: String?
    public var timers: Timers
    /// -1 when no response was sent.
    public var status: Int
    public var bytes: Int
    /// `%CC`: the captured request cookie (`SRV=B`), nil for `-`.
    public var requestCookie: String?
    /// `%CS`: the captured response cookie (only a server's own Set-Cookie, never haproxy's inserted one).
    public var responseCookie: String?
    /// `%tsc`: termination cause, session state, request cookie, cookie action (`--NI`).
    public var terminationState: String
    /// `%ac/%fc/%bc/%sc`.
    public var connections: [Int]
    /// `%rc`: connection retries.
    public var retries: Int
    /// `%rc` had a `+`: the request was redispatched to another server.
    public var redispatched: Bool
    public var serverQueue: Int
    public var backendQueue: Int
    /// `%hr`, `%hs`: captured request and response headers, in `capture` order.
    public var requestHeaders: [String]
    public var responseHeaders: [String]
    /// `%{+Q}r`: `GET /login HTTP/1.1`.
    public var requestLine: String?

    public static func parse(_ line: String) -> HTTPLogRecord? {
        let t = tokens(line)
        guard t.count >= 12, t[1].hasPrefix("["), t[9].count == 4 else { return nil }
        guard let colon = t[0].lastIndex(of: ":"), let port = Int(t[0][t[0].index(after: colon)...]) else { return nil }
        let route = t[3].split(separator: "/", maxSplits: 1).map(String.init)
        let timers = t[4].split(separator: "/").compactMap { Int($0) }
        let counts = t[10].split(separator: "/").map(String.init)
        let queues = t[11].split(separator: "/").compactMap { Int($0) }
        guard route.count == 2, timers.count == 5, counts.count == 5, queues.count == 2, let status = Int(t[5]) else {
            return nil
        }
        var groups: [String] = []
        var requestLine: String?
        for token in t[12...] {
            if token.hasPrefix("{") && token.hasSuffix("}") {
                groups.append(String(token.dropFirst().dropLast()))
            } else if token.hasPrefix("\"") {
                requestLine = String(token.dropFirst().dropLast())
            }
        }
        func headers(_ i: Int) -> [String] {
            i < groups.count ? groups[i].split(separator: "|", omittingEmptySubsequences: false).map(String.init) : []
        }
        let retriesText = counts[4]
        return HTTPLogRecord(
            clientAddress: String(t[0][..<colon]).trimmingCharacters(in: ["[", "]"]), clientPort: port,
            acceptDate: String(t[1].dropFirst().dropLast()), frontend: String(t[2]), backend: route[0],
            server: route[1] == "<NOSRV>" ? nil : route[1],
            timers: Timers(
                request: timers[0], queue: timers[1], connect: timers[2], response: timers[3], total: timers[4]),
            status: status, bytes: Int(t[6].drop { $0 == "+" }) ?? 0, requestCookie: t[7] == "-" ? nil : String(t[7]),
            responseCookie: t[8] == "-" ? nil : String(t[8]), terminationState: String(t[9]),
            connections: counts[0..<4].map { Int($0) ?? 0 }, retries: Int(retriesText.drop { $0 == "+" }) ?? 0,
            redispatched: retriesText.hasPrefix("+"), serverQueue: queues[0], backendQueue: queues[1],
            requestHeaders: headers(0), responseHeaders: headers(1), requestLine: requestLine)
    }

    /// The value of cookie `name` the client sent, from the captured `Cookie` header.
    public func requestCookie(named name: String) -> String? {
        for header in requestHeaders {
            for pair in header.split(separator: ";") {
                let p = pair.trimmingCharacters(in: .whitespaces)
                if p.hasPrefix(name + "=") { return String(p.dropFirst(name.count + 1)) }
            }
        }
        return nil
    }

    /// The value the response set for cookie `name`, from the captured `Set-Cookie` header.
    public func setCookie(named name: String) -> String? {
        for header in responseHeaders {
            let first = header.split(separator: ";").first?.trimmingCharacters(in: .whitespaces) ?? ""
            if first.hasPrefix(name + "=") { return String(first.dropFirst(name.count + 1)) }
        }
        return nil
    }

    /// The persistence cookie's name and value from `%CC` (`SRV=B`).
    public var persistenceCookie: (name: String, value: String)? {
        guard let c = requestCookie, let eq = c.firstIndex(of: "=") else { return nil }
        return (String(c[..<eq]), String(c[c.index(after: eq)...]))
    }

    /// Splits on spaces, keeping `[...]`, `{...}` and `"..."` (with `\"` escapes) whole.
    static func tokens(_ line: String) -> [Substring] {
        var out: [Substring] = []
        var i = line.startIndex
        while i < line.endIndex {
            if line[i] == " " {
                i = line.index(after: i)
                continue
            }
            let start = i
            let closer: Character? =
                switch line[i] {
                case "[": "]"
                case "{": "}"
                case "\"": "\""
                default: nil
                }
            if let closer {
                i = line.index(after: i)
                while i < line.endIndex && line[i] != closer {
                    if line[i] == "\\" && closer == "\"" { i = line.index(after: i) }
                    if i < line.endIndex { i = line.index(after: i) }
                }
                if i < line.endIndex { i = line.index(after: i) }
            } else {
                while i < line.endIndex && line[i] != " " { i = line.index(after: i) }
            }
            out.append(line[start..<i])
        }
        return out
    }
}

/// A server state change as haproxy logs it:
/// `Server web/webB is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 1 active and 0 backup servers left. ...`
public struct ServerStateLog: Hashable, Sendable {
    public var backup: Bool
    public var backend: String
    public var server: String
    /// The status it changed to.
    public var status: ServerStatus
    /// The check's reason (`Layer4 connection problem`), its code (`200`), its info (`Connection refused`).
    public var reason: String?
    public var code: String?
    public var info: String?
    public var checkDuration: TimeSpan?
    /// The whole sentence after `Server B/S ` up to the server counts (`is DOWN, reason: ...`).
    public var text: String

    /// The check as `show stat` names it: `L4CON`, `L7OK/200`; empty for an admin change.
    public var check: String {
        guard let reason, let short = Self.checkCodes[reason] else { return "" }
        return code.map { "\(short)/\($0)" } ?? short
    }

    /// haproxy's check reasons (`get_check_status_description`) and their `show stat` codes.
    static let checkCodes: [String: String] = [
        "Layer4 connection problem": "L4CON", "Layer4 timeout": "L4TOUT", "Layer4 check passed": "L4OK",
        "Layer6 invalid response": "L6RSP", "Layer6 timeout": "L6TOUT", "Layer6 check passed": "L6OK",
        "Layer7 check passed": "L7OK", "Layer7 wrong status": "L7STS", "Layer7 invalid response": "L7RSP",
        "Layer7 timeout": "L7TOUT", "Layer7 check conditionally passed": "L7OKC", "Socket error": "SOCKERR",
        "Initializing": "INI", "Agent up": "L7OK", "Agent down": "L7STS",
    ]

    public static func parse(_ message: String) -> ServerStateLog? {
        var rest = Substring(message)
        var backup = false
        if rest.hasPrefix("Backup Server ") {
            backup = true
            rest = rest.dropFirst("Backup Server ".count)
        } else if rest.hasPrefix("Server ") {
            rest = rest.dropFirst("Server ".count)
        } else {
            return nil
        }
        guard let space = rest.firstIndex(of: " ") else { return nil }
        let names = rest[..<space].split(separator: "/", maxSplits: 1)
        guard names.count == 2 else { return nil }
        let sentence = rest[rest.index(after: space)...]
        // The first sentence: up to ". " followed by the server counts, or the final period.
        var text = String(sentence)
        if let counts = sentence.range(of: #"\. \d+ active and"#, options: .regularExpression) {
            text = String(sentence[..<counts.lowerBound])
        } else if text.hasSuffix(".") {
            text.removeLast()
        }
        guard let status = newStatus(text) else { return nil }
        var log = ServerStateLog(
            backup: backup, backend: String(names[0]), server: String(names[1]), status: status, text: text)
        log.reason = field("reason", in: text)
        log.code = field("code", in: text)
        log.info = field("info", in: text).map { $0.trimmingCharacters(in: ["\""]) }
        if let d = field("check duration", in: text), d.hasSuffix("ms"), let ms = Int64(d.dropLast(2)) {
            log.checkDuration = .milliseconds(ms)
        }
        return log
    }

    /// The status a sentence reports: `is UP/READY (leaving forced maintenance)` is UP,
    /// `is UP/DRAIN (...)` and `enters drain state` DRAIN, `is going DOWN for maintenance` MAINT.
    static func newStatus(_ text: String) -> ServerStatus? {
        if text.hasPrefix("is UP/DRAIN") || text.hasPrefix("enters drain state")
            || text.hasPrefix("remains in forced drain")
        {
            return ServerStatus(.drain)
        }
        if text.hasPrefix("is going DOWN for maintenance") || text.hasPrefix("remains in forced maintenance") {
            return ServerStatus(.maint)
        }
        if text.hasPrefix("is UP") { return ServerStatus(.up) }
        if text.hasPrefix("is DOWN") { return ServerStatus(.down) }
        if text.hasPrefix("is stopping") { return ServerStatus(.nolb) }
        return nil
    }

    /// `reason: X, ...` -> `X` (a quoted info may contain commas).
    static func field(_ name: String, in text: String) -> String? {
        guard let start = text.range(of: name + ": ") else { return nil }
        let rest = text[start.upperBound...]
        if rest.hasPrefix("\""), let close = rest.dropFirst().firstIndex(of: "\"") {
            return String(rest[...close])
        }
        let end = rest.firstIndex(of: ",") ?? rest.endIndex
        return String(rest[..<end])
    }
}
