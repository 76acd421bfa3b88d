import BalancerCore
import NIOCore

// What the frontend's routing rules change on the wire, as pure functions: the answers they make
// without a server (`http-request deny|redirect|return`, `redirect`), the request facts they read
// (from the parsed head) and the header edits of `http-request|http-response set-header|add-header|
// del-header`. Measured on HAProxy 2.6.12 (Tests/HadeckCLITests/RoutingDifferentialTests).

/// An answer the rules make without a server, as HAProxy 2.6 writes it: an `HTTP/1.1` status line
/// whatever the client's version, lowercase header names in HAProxy's order, then `connection`.
struct RuleAnswer: Equatable {
    var status: Int
    var reasonPhrase: String
    var headers: [(name: String, value: String)]
    var body: String
    /// HAProxy's own 400 and 408 end the connection (their message says `Connection: close`).
    var closes: Bool
    /// The `errorfile` page sent instead (a denial's status has one).
    var page: ErrorFilePage? = nil

    static func == (a: RuleAnswer, b: RuleAnswer) -> Bool {
        a.status == b.status && a.reasonPhrase == b.reasonPhrase && a.body == b.body && a.closes == b.closes
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
            && a.page == b.page
    }

    /// The answer for a decision the balancer makes itself; nil for one that goes to a backend.
    /// `answerHeaders`: an `http-request return`'s `hdr` lines.
    init?(_ outcome: RequestDecision.Outcome, answerHeaders: [HeaderEdit] = []) {
        switch outcome {
        case .backend, .noBackend:
            return nil
        case .deny(let status), .tarpit(let status):
            // `deny_status` takes only the codes HAProxy has a message for (the parser checks it).
            let error = HAProxyErrorResponse(status: status) ?? .forbidden
            self.init(error: error)
        case .redirect(let status, let location, let setCookie):
            var headers: [(name: String, value: String)] = [("content-length", "0"), ("location", location)]
            // The temporary redirects are not to be cached (http_apply_redirect_rule).
            if status == 302 || status == 303 || status == 307 { headers.append(("cache-control", "no-cache")) }
            if let setCookie { headers.append(("set-cookie", setCookie)) }
            self.init(status: status, reasonPhrase: httpReasonPhrase(status), headers: headers, body: "", closes: false)
        case .return(let status, let contentType, let body):
            var headers = answerHeaders.map { (name: $0.name.lowercased(), value: $0.value) }
            let bodiless = status == 204 || status == 304 || status < 200
            if !bodiless { headers.append(("content-length", String(body.utf8.count))) }
            if let contentType, !body.isEmpty { headers.append(("content-type", contentType)) }
            self.init(
                status: status, reasonPhrase: httpReasonPhrase(status), headers: headers, body: bodiless ? "" : body,
                closes: false)
        }
    }

    /// One of HAProxy's own error messages (`http_err_msgs[]`) sent by a rule: `deny`, `tarpit`.
    init(error: HAProxyErrorResponse) {
        self.init(
            status: error.rawValue, reasonPhrase: error.reason,
            headers: [
                ("content-length", String(error.body.utf8.count)), ("cache-control", "no-cache"),
                ("content-type", "text/html"),
            ], body: error.body, closes: error == .badRequest || error == .requestTimeout)
    }

    /// A denial answered with an `errorfile` page.
    init(page: ErrorFilePage) {
        self.init(status: page.status, reasonPhrase: "", headers: [], body: "", closes: page.closes)
        self.page = page
    }

    init(status: Int, reasonPhrase: String, headers: [(name: String, value: String)], body: String, closes: Bool) {
        self.status = status
        self.reasonPhrase = reasonPhrase
        self.headers = headers
        self.body = body
        self.closes = closes
    }

    /// The bytes for the client. `close`: the connection ends after it (`connection: close`);
    /// `http10KeepAlive`: an HTTP/1.0 client that keeps the connection (`connection: keep-alive`);
    /// `head`: the request was HEAD (no body).
    func wire(close: Bool, http10KeepAlive: Bool, head: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        if let page { return page.wire(close: close, allocator: allocator) }
        var out = allocator.buffer(capacity: 128 + body.utf8.count)
        out.writeStaticString("HTTP/1.1 ")
        out.writeString(String(status))
        out.writeStaticString(" ")
        out.writeString(reasonPhrase)
        out.writeStaticString("\r\n")
        for (name, value) in headers {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        if close {
            out.writeStaticString("connection: close\r\n")
        } else if http10KeepAlive {
            out.writeStaticString("connection: keep-alive\r\n")
        }
        out.writeStaticString("\r\n")
        if !head { out.writeString(body) }
        return out
    }
}

/// HAProxy 2.6's reason phrase for a status it writes itself (`http_get_reason` in src/http.c).
func httpReasonPhrase(_ status: Int) -> String {
    switch status {
    case 100: "Continue"
    case 101: "Switching Protocols"
    case 102: "Processing"
    case 200: "OK"
    case 201: "Created"
    case 202: "Accepted"
    case 203: "Non-Authoritative Information"
    case 204: "No Content"
    case 205: "Reset Content"
    case 206: "Partial Content"
    case 207: "Multi-Status"
    case 210: "Content Different"
    case 226: "IM Used"
    case 300: "Multiple Choices"
    case 301: "Moved Permanently"
    case 302: "Found"
    case 303: "See Other"
    case 304: "Not Modified"
    case 305: "Use Proxy"
    case 307: "Temporary Redirect"
    case 308: "Permanent Redirect"
    case 310: "Too many Redirects"
    case 400: "Bad Request"
    case 401: "Unauthorized"
    case 402: "Payment Required"
    case 403: "Forbidden"
    case 404: "Not Found"
    case 405: "Method Not Allowed"
    case 406: "Not Acceptable"
    case 407: "Proxy Authentication Required"
    case 408: "Request Time-out"
    case 409: "Conflict"
    case 410: "Gone"
    case 411: "Length Required"
    case 412: "Precondition Failed"
    case 413: "Request Entity Too Large"
    case 414: "Request-URI Too Long"
    case 415: "Unsupported Media Type"
    case 416: "Requested range unsatisfiable"
    case 417: "Expectation failed"
    case 418: "I'm a teapot"
    case 421: "Misdirected Request"
    case 422: "Unprocessable entity"
    case 423: "Locked"
    case 424: "Method failure"
    case 425: "Too Early"
    case 426: "Upgrade Required"
    case 428: "Precondition Required"
    case 429: "Too Many Requests"
    case 431: "Request Header Fields Too Large"
    case 449: "Retry With"
    case 450: "Blocked by Windows Parental Controls"
    case 451: "Unavailable For Legal Reasons"
    case 456: "Unrecoverable Error"
    case 499: "client has closed connection"
    case 500: "Internal Server Error"
    case 501: "Not Implemented"
    case 502: "Bad Gateway or Proxy Error"
    case 503: "Service Unavailable"
    case 504: "Gateway Time-out"
    case 505: "HTTP Version not supported"
    case 506: "Variant also negociate"
    case 507: "Insufficient storage"
    case 508: "Loop detected"
    case 509: "Bandwidth Limit Exceeded"
    case 510: "Not extended"
    case 511: "Network authentication required"
    case 520: "Web server is returning an unknown error"
    default: "Other"
    }
}

// MARK: request facts

/// What the rules read of a request, from its parsed head (`h`'s offsets are into `p`): the head's
/// bytes are copied once, the rules then read ranges into them.
func requestFacts(_ p: UnsafeRawBufferPointer, _ h: ParsedHead, source: IPAddress?, sourcePort: Int) -> RequestFacts {
    let bytes = [UInt8](UnsafeRawBufferPointer(rebasing: p[0..<h.length]))
    var fields: [RequestFacts.Field] = []
    fields.reserveCapacity(h.headers.count)
    for line in h.headers {
        var colon = line.start
        while colon < line.valueStart && bytes[colon] != UInt8(ascii: ":") { colon += 1 }
        fields.append(RequestFacts.Field(name: line.start..<colon, value: line.valueStart..<line.valueEnd))
    }
    return RequestFacts(
        head: bytes, method: h.lineStart..<h.methodEnd, target: h.targetStart..<h.targetEnd,
        version: h.minor >= 1 ? "1.1" : "1.0", headers: fields, source: source, sourcePort: sourcePort)
}

// MARK: header edits

/// The header lines left and added once `edits` are applied in order to a head's `count` lines, as
/// HAProxy does: `del-header` removes every line of that name (ASCII case ignored), `set-header`
/// removes them and appends one, `add-header` appends one. `isNamed(i, lowercaseName)` says whether
/// original line `i` has that name.
func applyHeaderEdits(_ edits: [HeaderEdit], count: Int, isNamed: (Int, [UInt8]) -> Bool) -> (
    keep: [Bool], added: [(name: String, value: String)]
) {
    var keep = [Bool](repeating: true, count: count)
    var added: [(name: String, value: String)] = []
    for edit in edits {
        if edit.kind != .add {
            let lower = Array(edit.name.lowercased().utf8)
            for i in 0..<count where keep[i] && isNamed(i, lower) { keep[i] = false }
            added.removeAll { $0.name.lowercased() == edit.name.lowercased() }
        }
        if edit.kind != .delete { added.append((edit.name, edit.value)) }
    }
    return (keep, added)
}

/// Whether the header name at `p[start...]` (up to its colon) is `lowercase`, ASCII case ignored.
func headerName(_ p: UnsafeRawBufferPointer, at start: Int, is lowercase: [UInt8]) -> Bool {
    let end = start + lowercase.count
    guard end < p.count, p[end] == UInt8(ascii: ":") else { return false }
    for k in 0..<lowercase.count {
        var c = p[start + k]
        if c >= 0x41 && c <= 0x5A { c |= 0x20 }
        if c != lowercase[k] { return false }
    }
    return true
}

extension RequestDecision.Outcome {
    /// `deny` and `tarpit`: logged with termination state `PR` (the proxy refused the request).
    var isDenial: Bool {
        switch self {
        case .deny, .tarpit: true
        default: false
        }
    }
}

/// A response head's header lines as names and values, for `http-response` rules.
func responseHeaderList(_ p: UnsafeRawBufferPointer, _ r: ParsedHead) -> [(name: String, value: String)] {
    r.headers.map { line in
        var colon = line.start
        while colon < line.valueStart && p[colon] != UInt8(ascii: ":") { colon += 1 }
        return (string(p, line.start, colon), string(p, line.valueStart, line.valueEnd))
    }
}
