import BalancerCore
import HadeckBase

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One request as the balancer handled it: what HAProxy's access log (`option httplog`) says of it.
/// `Balancer`'s `onRequest` receives one per request (or failed request).
public struct AccessLogRecord: Hashable, Sendable {
    /// The balancer's name and pid.
    public var balancer: String
    public var pid: Int
    /// The frontend that accepted the connection and the backend it routed to.
    public var frontend: String
    public var backend: String
    /// The client as `IP:port`.
    public var client: String
    /// The server that answered (or was last tried); nil when none was chosen.
    public var server: String?
    /// `GET /login HTTP/1.1`, or `<BADREQ>` when the request could not be parsed.
    public var requestLine: String
    /// The status sent to the client (0 when nothing was sent: the client or server went away).
    public var status: Int
    /// Why this server (the core's `RoutingDecision.reason`), or why the balancer answered itself.
    public var reason: String
    /// The `JSESSIONID` the server set, or else the one the client sent.
    public var session: String?
    /// What the request's persistence cookie did; nil when the request was never routed (a bad
    /// request, one the balancer answered itself).
    public var requestCookie: RequestCookieStatus?
    /// What happened to the persistence cookie in the response; nil when the request was never routed.
    public var responseCookie: ResponseCookieStatus?
    /// When the connection started waiting for this request.
    public var start: Instant
    /// HAProxy's timers (`%TR/%Tw/%Tc/%Tr/%Ta`): request headers, queue, connect, server response
    /// headers, total. `nil` for a phase that never completed (HAProxy prints -1).
    public var requestTime: TimeSpan?
    /// Time spent waiting in a queue for a `maxconn` slot (`%Tw`): 0 when the request did not
    /// wait, nil when it never reached a server's assignment (`<NOSRV>`).
    public var queueTime: TimeSpan? = .zero
    public var connectTime: TimeSpan?
    public var responseTime: TimeSpan?
    /// Total time from the start of the request to the end of the response.
    public var latency: TimeSpan
    /// Response bytes sent to the client (headers included).
    public var bytesOut: Int
    /// Connection retries (`%rc`); a redispatch is shown as `+N` in the log.
    public var retries: Int
    public var redispatched: Bool
    /// HAProxy's two-letter termination state (`--`, `CR`, `cR`, `SC`, `sH`, `SH`, `CD`...).
    public var termination: String
    /// Concurrent connections at logging time: balancer-wide, on the frontend, on the server.
    public var activeConnections: Int
    public var serverConnections: Int

    /// True when the balancer inserted its persistence cookie (`Set-Cookie: SRV=A`).
    public var insertedCookie: Bool { responseCookie == .inserted }

    /// The last two characters of HAProxy's `%tsc`: the request's and the response's cookie
    /// status (`NI`, `VN`, `DI`...), `--` when the request was never routed or has no cookie.
    public var cookieFlags: (request: UInt8, response: UInt8) {
        guard let requestCookie else { return (UInt8(ascii: "-"), UInt8(ascii: "-")) }
        return (requestCookie.logFlag, (responseCookie ?? .notConfigured).logFlag)
    }
}

/// HAProxy's `option httplog` line, without the syslog header: a pure function of the record and
/// the wall-clock time the balancer's clock started at.
///
/// `IP:PORT [DATE] FRONTEND BACKEND/SERVER TR/Tw/Tc/Tr/Ta STATUS BYTES - - TSC ac/fc/bc/sc/rc 0/0 "REQUEST"`
public enum HTTPLogLine {
    /// The line as text, with its newline.
    public static func text(_ r: AccessLogRecord, wallAtStart: Double, dates: LogDateCache = LogDateCache()) -> String {
        var bytes: [UInt8] = []
        append(r, wallAtStart: wallAtStart, dates: dates, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The line appended as bytes: one per request on the proxy's hot path, without building a
    /// `String` from a dozen interpolations.
    public static func append(_ r: AccessLogRecord, wallAtStart: Double, dates: LogDateCache, to out: inout [UInt8]) {
        func ms(_ t: TimeSpan?) {
            if let t { appendDecimal(Int(t.micros / 1000), to: &out) } else { appendStatic("-1", to: &out) }
        }
        appendUTF8(r.client, to: &out)
        appendStatic(" [", to: &out)
        dates.append(micros: wallMicros(wallAtStart) + r.start.micros, to: &out)
        appendStatic("] ", to: &out)
        appendUTF8(r.frontend, to: &out)
        out.append(UInt8(ascii: " "))
        appendUTF8(r.backend, to: &out)
        out.append(UInt8(ascii: "/"))
        appendUTF8((r.server ?? "<NOSRV>"), to: &out)
        out.append(UInt8(ascii: " "))
        ms(r.requestTime)
        out.append(UInt8(ascii: "/"))
        ms(r.queueTime)
        out.append(UInt8(ascii: "/"))
        ms(r.connectTime)
        out.append(UInt8(ascii: "/"))
        ms(r.responseTime)
        out.append(UInt8(ascii: "/"))
        ms(r.latency)
        out.append(UInt8(ascii: " "))
        appendDecimal(r.status, to: &out)
        out.append(UInt8(ascii: " "))
        appendDecimal(r.bytesOut, to: &out)
        appendStatic(" - - ", to: &out)
        appendUTF8(r.termination, to: &out)
        let cookie = r.cookieFlags
        out.append(cookie.request)
        out.append(cookie.response)
        out.append(UInt8(ascii: " "))
        for _ in 0..<2 {
            appendDecimal(r.activeConnections, to: &out)
            out.append(UInt8(ascii: "/"))
        }
        for _ in 0..<2 {
            appendDecimal(r.serverConnections, to: &out)
            out.append(UInt8(ascii: "/"))
        }
        if r.redispatched { out.append(UInt8(ascii: "+")) }
        appendDecimal(r.retries, to: &out)
        appendStatic(" 0/0 \"", to: &out)
        appendUTF8(r.requestLine, to: &out)
        appendStatic("\"\n", to: &out)
    }

    /// Appends a string's UTF-8 in one copy (`+= s.utf8` goes byte by byte).
    static func appendUTF8(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { out.append(contentsOf: $0) }
    }

    static func appendStatic(_ s: StaticString, to out: inout [UInt8]) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// Appends `n` in decimal.
    static func appendDecimal(_ n: Int, to out: inout [UInt8]) {
        if n < 0 { out.append(UInt8(ascii: "-")) }
        var v = n.magnitude
        if v < 10 { return out.append(UInt8(ascii: "0") + UInt8(v)) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 digits, little end first, no allocation
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 {
                d[count] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { out.append(d[i]) }
        }
    }

    /// `25/Nov/2026:15:07:49.123` in local time.
    public static func date(_ seconds: Double) -> String { date(micros: wallMicros(seconds)) }

    /// `date(_:)` of a time in microseconds since the epoch.
    public static func date(micros: Int64) -> String {
        var t = time_t(micros.floorDiv(1_000_000))
        var parts = tm()
        localtime_r(&t, &parts)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let millis = Int(micros.floorMod(1_000_000) / 1000)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let msText = millis < 10 ? "00\(millis)" : (millis < 100 ? "0\(millis)" : "\(millis)")
        return
            "\(two(parts.tm_mday))/\(months[Int(parts.tm_mon)])/\(parts.tm_year + 1900):\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(msText)"
    }

    /// Seconds since the epoch as whole microseconds (rounded: `x.007` must not print as `.006`).
    static func wallMicros(_ seconds: Double) -> Int64 { Int64((seconds * 1_000_000).rounded()) }
}

extension Int64 {
    fileprivate func floorDiv(_ d: Int64) -> Int64 { (self >= 0 ? self : self - d + 1) / d }
    fileprivate func floorMod(_ d: Int64) -> Int64 { self - floorDiv(d) * d }
}

/// `HTTPLogLine.date` for the current second, computed once per second. Not thread-safe: one per writer.
public final class LogDateCache {
    private var second: Int64 = .min
    private var prefix = ""

    public init() {}

    /// `HTTPLogLine.date(seconds)`.
    public func text(_ seconds: Double) -> String {
        var bytes: [UInt8] = []
        append(micros: HTTPLogLine.wallMicros(seconds), to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `text(seconds)` appended as bytes.
    public func append(_ seconds: Double, to out: inout [UInt8]) {
        append(micros: HTTPLogLine.wallMicros(seconds), to: &out)
    }

    /// The date of a time in microseconds since the epoch, appended as bytes.
    public func append(micros: Int64, to out: inout [UInt8]) {
        let whole = micros.floorDiv(1_000_000)
        if whole != second {
            second = whole
            prefix = String(HTTPLogLine.date(micros: whole * 1_000_000).dropLast(3))
        }
        HTTPLogLine.appendUTF8(prefix, to: &out)
        let millis = Int(micros.floorMod(1_000_000) / 1000)
        out.append(UInt8(ascii: "0") + UInt8(millis / 100 % 10))
        out.append(UInt8(ascii: "0") + UInt8(millis / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(millis % 10))
    }
}

/// The `JSESSIONID` value among Cookie headers.
func jsessionID(inCookieHeaders headers: [String]) -> String? {
    for header in headers {
        for part in header.split(separator: ";") {
            let item = part.drop { $0 == " " }
            if item.hasPrefix("JSESSIONID=") { return String(item.dropFirst("JSESSIONID=".count)) }
        }
    }
    return nil
}

/// The `JSESSIONID` value set by Set-Cookie headers.
func jsessionID(inSetCookies values: [String]) -> String? {
    for value in values where value.hasPrefix("JSESSIONID=") {
        let rest = value.dropFirst("JSESSIONID=".count)
        return String(rest.prefix { $0 != ";" })
    }
    return nil
}
