import NIOCore

// A byte-level HTTP/1.1 head parser for the proxy's hot path: the head is scanned once in the
// received buffer, only the headers the proxy acts on are looked at, and everything else (header
// lines, body bytes) is forwarded as it came. Chunked bodies are followed by `ChunkedScanner`.
//
// What it refuses is what HAProxy 2.6.12 refuses (measured on the real binary, rules from its
// src/h1.c, h1_htx.c and mux_h1.c), and a little more where hadeck forwards bytes that HAProxy would
// have rewritten (README, deliberate differences).
//
// A little over ~500 lines on purpose: one parser, whose request and response heads share the
// byte-scanning helpers kept private to this file.

/// The headers the proxy acts on; every other header is `.other` and passes through untouched.
enum HeaderKind: UInt8 {
    case other, cookie, setCookie, connection, keepAlive, proxyConnection, contentLength, transferEncoding
    case host, upgrade, webSocketKey, webSocketAccept, authorization
}

/// One header line, as offsets into the head.
struct HeaderLine {
    /// Where the name starts.
    var start: Int
    /// The value, without surrounding whitespace.
    var valueStart: Int
    var valueEnd: Int
    var kind: HeaderKind
}

/// How a message body is delimited.
enum BodyFraming: Equatable {
    case none
    case length
    case chunked
    case untilClose
    /// After a `101 Switching Protocols`: bytes both ways until either side closes.
    case tunnel
}

/// A parsed request or response head. Offsets are relative to the first byte handed to `parse`.
/// Reused from message to message so the header list keeps its capacity.
struct ParsedHead {
    /// Bytes of the whole head, blank line included.
    var length = 0
    /// The start line (request or status line), without its line ending.
    var lineStart = 0
    var lineEnd = 0
    /// Request: the method and the target.
    var methodEnd = 0
    var targetStart = 0
    var targetEnd = 0
    /// Response: the status code.
    var status = 0
    /// HTTP/1.x
    var minor = 1
    var headers: [HeaderLine] = []
    var contentLength: Int?
    var chunked = false
    var hasTE = false
    /// `Connection` tokens.
    var close = false
    var keepAlive = false
    /// `Connection: upgrade` together with an `Upgrade` header: the client asks to switch protocols.
    var connectionUpgrade = false
    var hasUpgrade = false
    var upgradeWebSocket = false
    /// A `Sec-WebSocket-Key` of 24 bytes (request), a `Sec-WebSocket-Accept` (response).
    var webSocketKey = false
    var webSocketAccept = false
    /// Any of Connection, Keep-Alive, Proxy-Connection (hop-by-hop: never forwarded).
    var hasHopHeaders = false
    var cookieCount = 0
    var setCookieCount = 0
    /// Content-Length appeared more than once (with the same value): forwarded once.
    var repeatedContentLength = false
    /// Some line ended with a bare LF (accepted like HAProxy; the head is then rewritten with CRLF).
    var bareLF = false
    /// Index in `headers` of the first Host header, or -1.
    var hostIndex = -1
    /// An absolute-form target (or CONNECT's authority-form): its authority without user info, to
    /// compare with Host; `defaultPort` is the scheme's (`:80` for http, `:443` for https, else none).
    var authorityStart = 0
    var authorityEnd = 0
    var defaultPort: DefaultPort = .none

    enum DefaultPort: UInt8 { case none, http, https }

    /// Whether the sender wants the connection kept open after this message.
    var wantsKeepAlive: Bool { minor >= 1 ? !close : keepAlive }

    /// Both Content-Length and Transfer-Encoding: HAProxy drops the length, uses the chunks and
    /// closes the connection after the message.
    var lengthAndChunked: Bool { hasTE && contentLength != nil }

    /// The request asks to switch protocols (`Connection: upgrade` and an `Upgrade` header).
    var asksUpgrade: Bool { connectionUpgrade && hasUpgrade }

    mutating func reset() {
        length = 0
        status = 0
        minor = 1
        headers.removeAll(keepingCapacity: true)
        contentLength = nil
        chunked = false
        hasTE = false
        close = false
        keepAlive = false
        connectionUpgrade = false
        hasUpgrade = false
        upgradeWebSocket = false
        webSocketKey = false
        webSocketAccept = false
        hasHopHeaders = false
        repeatedContentLength = false
        cookieCount = 0
        setCookieCount = 0
        bareLF = false
        hostIndex = -1
        authorityStart = 0
        authorityEnd = 0
        defaultPort = .none
    }
}

enum HeadParseResult: Equatable {
    case incomplete
    /// HAProxy answers 400 (a request) or 502 (a response).
    case invalid(String)
    /// A request HAProxy refuses with another status: 413 (an HTTP/1.0 GET, HEAD or DELETE with a
    /// body), 422 (a transfer coding other than chunked).
    case refused(status: Int, String)
    case complete
}

/// HAProxy's `tune.http.maxhdr` (101, one of which is the end of headers): at most 100 fields.
let maxHeaderFields = 100

private let cr: UInt8 = 13
private let lf: UInt8 = 10
private let sp: UInt8 = 32
private let ht: UInt8 = 9

/// RFC 9110 `tchar`, as a bit in one of two 64-bit masks (bytes 0-63 and 64-127): a shift and a
/// test per byte, with no table to initialise and no chain of range comparisons.
@inline(__always) func isTchar(_ c: UInt8) -> Bool {
    let below64: UInt64 = 0x03FF_6CFA_0000_0000  // ! #$%&' * + - . 0-9
    let from64: UInt64 = 0x57FF_FFFF_C7FF_FFFE  // A-Z ^_` a-z | ~
    let mask = c < 64 ? below64 : from64
    return c < 128 && (mask >> UInt64(c & 63)) & 1 != 0
}

/// A byte HAProxy 2.6.12 accepts in a request target: visible ASCII but `#` (no byte >= 0x80, no
/// control byte, no fragment).
@inline(__always) private func isTargetByte(_ c: UInt8) -> Bool { c > sp && c < 0x7F && c != 0x23 }

/// Unchecked byte access for the parser's loops, which check their bounds themselves (a raw
/// buffer pointer's subscript unwraps its base address on every byte).
struct Bytes {
    let base: UnsafePointer<UInt8>
    let count: Int

    /// `raw` must not be empty.
    init(_ raw: UnsafeRawBufferPointer) {
        base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
        count = raw.count
    }

    @inline(__always) subscript(i: Int) -> UInt8 {
        assert(i >= 0 && i < count, "parser read out of bounds")  // debug builds and tests only
        return base[i]
    }

    /// The 8 bytes from `i`, the first in the lowest bits.
    @inline(__always) func word(at i: Int) -> UInt64 {
        assert(i >= 0 && i + 8 <= count, "parser read out of bounds")
        return UInt64(littleEndian: UnsafeRawPointer(base).loadUnaligned(fromByteOffset: i, as: UInt64.self))
    }
}

/// The bytes of `w` that end a header value or are refused in one: their high bit set, every other
/// bit clear. A byte below 0x20 (control bytes, HT among them) or 0x7F is one; 0x20-0x7E and obs-text
/// (>= 0x80) are not. Exact per byte: no sum carries into the next byte.
@inline(__always) private func valueStops(_ w: UInt64) -> UInt64 {
    let ones7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    let highs: UInt64 = 0x8080_8080_8080_8080
    let atLeastSpace = ((w & ones7) &+ 0x6060_6060_6060_6060) | w
    let notDEL = (((w ^ ones7) & ones7) &+ ones7) | (w ^ ones7)
    return ~(atLeastSpace & notDEL) & highs
}

/// ASCII case-insensitive comparison of `p[at..<at+lower.count]` with a lowercase literal (letters
/// only are folded: `|0x20` would also fold control bytes onto `/`, `.` and digits).
@inline(__always)
private func matches(_ p: Bytes, _ at: Int, _ lower: StaticString) -> Bool {
    let n = lower.utf8CodeUnitCount
    let s = lower.utf8Start
    for i in 0..<n {
        let c = p[at + i]
        let folded = c >= 0x41 && c <= 0x5A ? c | 0x20 : c
        if folded != s[i] { return false }
    }
    return true
}

/// Byte-for-byte comparison of `p[at..<at+k]` with the first `k` bytes of `literal`.
@inline(__always)
private func exact(_ p: Bytes, _ at: Int, _ literal: StaticString, count k: Int) -> Bool {
    let s = literal.utf8Start
    for i in 0..<k where p[at + i] != s[i] { return false }
    return true
}

private func classify(_ p: Bytes, _ start: Int, _ count: Int) -> HeaderKind {
    switch count {
    case 4 where matches(p, start, "host"): .host
    case 6 where matches(p, start, "cookie"): .cookie
    case 7 where matches(p, start, "upgrade"): .upgrade
    case 13 where matches(p, start, "authorization"): .authorization
    case 10 where matches(p, start, "connection"): .connection
    case 10 where matches(p, start, "set-cookie"): .setCookie
    case 10 where matches(p, start, "keep-alive"): .keepAlive
    case 14 where matches(p, start, "content-length"): .contentLength
    case 16 where matches(p, start, "proxy-connection"): .proxyConnection
    case 17 where matches(p, start, "transfer-encoding"): .transferEncoding
    case 17 where matches(p, start, "sec-websocket-key"): .webSocketKey
    case 20 where matches(p, start, "sec-websocket-accept"): .webSocketAccept
    default: .other
    }
}

@inline(__always) private func findLF(_ p: Bytes, from: Int) -> Int? {
    var i = from
    let n = p.count
    while i < n {
        if p[i] == lf { return i }
        i += 1
    }
    return nil
}

/// Parses `HTTP/1.0` or `HTTP/1.1` at `at` (8 bytes), byte for byte; the minor version, or nil.
private func httpVersion(_ p: Bytes, _ at: Int) -> Int? {
    guard at + 8 <= p.count, exact(p, at, "HTTP/1.", count: 7) else { return nil }
    switch p[at + 7] {
    case UInt8(ascii: "0"): return 0
    case UInt8(ascii: "1"): return 1
    default: return nil
    }
}

/// Parses a request head (`request: true`) or a response head at the start of `p`.
///
/// Accepted like HAProxy 2.6: leading empty lines before a request, bare LF line endings, a target
/// in origin form (`/...`), `*`, absolute form (`scheme://authority...`) or, for CONNECT, authority
/// form. Refused like HAProxy: a request line whose bytes are wrong as soon as they arrive (a TLS
/// ClientHello gets its 400 at once), a target with `#`, control bytes or bytes >= 0x80, a version
/// that is not `HTTP/1.0` or `HTTP/1.1` byte for byte, two different Host headers, an absolute URI
/// whose authority differs from Host, a WebSocket upgrade without a 24-byte Sec-WebSocket-Key,
/// more than 100 header fields, obs-fold (a line starting with whitespace), a header without a colon
/// or with whitespace or other non-token bytes in its name, control bytes in values, a bad or
/// conflicting Content-Length, a Transfer-Encoding other than one `chunked`.
func parseHead(_ raw: UnsafeRawBufferPointer, request: Bool, into h: inout ParsedHead) -> HeadParseResult {
    h.reset()
    guard raw.count > 0 else { return .incomplete }
    let p = Bytes(raw)
    let n = p.count
    var i = 0
    let firstLF: Int
    if request {
        while i < n && (p[i] == cr || p[i] == lf) { i += 1 }
        guard i < n else { return .incomplete }
        h.lineStart = i
        // Each part is checked as its bytes arrive: a request that cannot be HTTP is refused at
        // once rather than when a line feed (which may never come) arrives.
        var j = i
        while j < n && isTchar(p[j]) { j += 1 }
        guard j < n else { return .incomplete }
        guard j > i, p[j] == sp else { return .invalid("bad method") }
        h.methodEnd = j
        j += 1
        let t = j
        while j < n && isTargetByte(p[j]) { j += 1 }
        guard j < n else { return .incomplete }
        guard j > t, p[j] == sp else { return .invalid("bad request target") }
        h.targetStart = t
        h.targetEnd = j
        j += 1
        let have = min(n - j, 8)
        guard exact(p, j, "HTTP/1.1", count: min(have, 7)) else { return .invalid("bad HTTP version") }
        guard have == 8, j + 8 < n else { return .incomplete }
        guard let minor = httpVersion(p, j) else { return .invalid("bad HTTP version") }
        h.minor = minor
        h.lineEnd = j + 8
        if p[j + 8] == lf {
            h.bareLF = true
            firstLF = j + 8
        } else {
            guard p[j + 8] == cr else { return .invalid("bad HTTP version") }
            guard j + 9 < n else { return .incomplete }
            guard p[j + 9] == lf else { return .invalid("CR without LF") }
            firstLF = j + 9
        }
        if let why = checkTarget(p, &h) { return .invalid(why) }
    } else {
        guard let lineLF = findLF(p, from: i) else { return .incomplete }
        firstLF = lineLF
        var lineEnd = lineLF
        if lineEnd > i && p[lineEnd - 1] == cr { lineEnd -= 1 } else { h.bareLF = true }
        h.lineStart = i
        h.lineEnd = lineEnd
        guard let minor = httpVersion(p, i), i + 12 <= lineEnd, p[i + 8] == sp else {
            return .invalid("bad status line")
        }
        h.minor = minor
        var status = 0
        for k in (i + 9)..<(i + 12) {
            let d = p[k] &- UInt8(ascii: "0")
            guard d < 10 else { return .invalid("bad status code") }
            status = status * 10 + Int(d)
        }
        guard i + 12 == lineEnd || p[i + 12] == sp else { return .invalid("bad status line") }
        for k in i..<lineEnd where p[k] == cr { return .invalid("CR in status line") }
        h.status = status
    }

    var pos = firstLF + 1
    while true {
        guard pos < n else { return .incomplete }
        let c = p[pos]
        if c == lf {
            h.bareLF = true
            h.length = pos + 1
            return finish(p, request: request, &h)
        }
        if c == cr {
            guard pos + 1 < n else { return .incomplete }
            guard p[pos + 1] == lf else { return .invalid("CR without LF") }
            h.length = pos + 2
            return finish(p, request: request, &h)
        }
        if c == sp || c == ht { return .invalid("obs-fold or whitespace before a header name") }
        let nameStart = pos
        while pos < n && isTchar(p[pos]) { pos += 1 }
        guard pos < n else { return .incomplete }
        guard pos > nameStart, p[pos] == UInt8(ascii: ":") else {
            return .invalid("header without a colon or with a bad name")
        }
        let kind = classify(p, nameStart, pos - nameStart)
        pos += 1
        while pos < n && (p[pos] == sp || p[pos] == ht) { pos += 1 }
        // One pass to the end of the line, checking the value's bytes on the way: 8 at a time up to
        // the first that is not plain value text, then byte by byte (past an HT, to the line's end).
        var k = pos
        while k + 8 <= n {
            let stops = valueStops(p.word(at: k))
            if stops != 0 {
                k += stops.trailingZeroBitCount >> 3
                break
            }
            k += 8
        }
        while k < n {
            let c = p[k]
            if c >= sp {
                if c == 0x7F { return .invalid("control byte in a header value") }
            } else if c != ht {
                break
            }
            k += 1
        }
        guard k < n else { return .incomplete }
        var valueEnd = k
        let end: Int
        if p[k] == lf {
            h.bareLF = true
            end = k
        } else if p[k] == cr {
            guard k + 1 < n else { return .incomplete }
            guard p[k + 1] == lf else { return .invalid("CR without LF") }
            end = k + 1
        } else {
            return .invalid("control byte in a header value")
        }
        guard h.headers.count < maxHeaderFields else { return .invalid("more than \(maxHeaderFields) header fields") }
        while valueEnd > pos && (p[valueEnd - 1] == sp || p[valueEnd - 1] == ht) { valueEnd -= 1 }
        switch kind {
        case .other, .authorization: break
        case .cookie: h.cookieCount += 1
        case .setCookie: h.setCookieCount += 1
        case .connection:
            h.hasHopHeaders = true
            scanConnection(p, pos, valueEnd, into: &h)
        case .keepAlive, .proxyConnection: h.hasHopHeaders = true
        case .contentLength:
            guard pos < valueEnd, valueEnd - pos <= 15 else { return .invalid("bad Content-Length") }
            var value = 0
            for k in pos..<valueEnd {
                let d = p[k] &- UInt8(ascii: "0")
                guard d < 10 else { return .invalid("bad Content-Length") }
                value = value * 10 + Int(d)
            }
            if let previous = h.contentLength {
                guard previous == value else { return .invalid("conflicting Content-Length") }
                h.repeatedContentLength = true
            }
            h.contentLength = value
        case .transferEncoding:
            guard !h.hasTE, valueEnd - pos == 7, matches(p, pos, "chunked") else {
                return transferCodingRefusal(p, pos, valueEnd, request: request, again: h.hasTE)
            }
            h.hasTE = true
            h.chunked = true
        case .host:
            if h.hostIndex < 0 {
                h.hostIndex = h.headers.count
            } else {
                let first = h.headers[h.hostIndex]
                guard equalIgnoringCase(p, first.valueStart, first.valueEnd, pos, valueEnd) else {
                    return .invalid("two different Host headers")
                }
            }
        case .upgrade:
            h.hasUpgrade = true
            if containsToken(p, pos, valueEnd, "websocket") { h.upgradeWebSocket = true }
        case .webSocketKey:
            if valueEnd - pos == 24 { h.webSocketKey = true }
        case .webSocketAccept:
            h.webSocketAccept = true
        }
        h.headers.append(HeaderLine(start: nameStart, valueStart: pos, valueEnd: valueEnd, kind: kind))
        pos = end + 1
    }
}

/// The checks that need the whole request head.
private func finish(_ p: Bytes, request: Bool, _ h: inout ParsedHead) -> HeadParseResult {
    guard request else { return .complete }
    if h.authorityEnd > h.authorityStart, h.hostIndex >= 0 {
        let host = h.headers[h.hostIndex]
        guard sameAuthority(p, h.authorityStart, h.authorityEnd, host.valueStart, host.valueEnd, h.defaultPort)
        else { return .invalid("absolute URI whose host differs from Host") }
    }
    if h.connectionUpgrade && h.upgradeWebSocket && !h.webSocketKey {
        return .invalid("WebSocket upgrade without Sec-WebSocket-Key")
    }
    // HAProxy refuses a body on an HTTP/1.0 GET, HEAD or DELETE with 413 (mux_h1.c h1_handle_headers).
    if h.minor == 0 && (h.chunked || (h.contentLength ?? 0) > 0) {
        let m = h.methodEnd - h.lineStart
        let s = h.lineStart
        if (m == 3 && exact(p, s, "GET", count: 3)) || (m == 4 && exact(p, s, "HEAD", count: 4))
            || (m == 6 && exact(p, s, "DELETE", count: 6))
        {
            return .refused(status: 413, "HTTP/1.0 GET, HEAD or DELETE request with a body")
        }
    }
    return .complete
}

/// The target's form: origin (`/...`), asterisk, absolute (`scheme://authority...`) or CONNECT's
/// authority form; nil when valid, else why not. Notes the authority to compare with Host.
private func checkTarget(_ p: Bytes, _ h: inout ParsedHead) -> String? {
    let t = h.targetStart
    let end = h.targetEnd
    let methodLength = h.methodEnd - h.lineStart
    let connect = methodLength == 7 && exact(p, h.lineStart, "CONNECT", count: 7)
    let first = p[t]
    if first == UInt8(ascii: "/") { return connect ? "CONNECT without an authority" : nil }
    if connect {
        h.authorityStart = t
        h.authorityEnd = end
        return nil
    }
    if first == UInt8(ascii: "*") { return nil }
    // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then "://".
    guard (first | 0x20) >= 0x61 && (first | 0x20) <= 0x7A else { return "request target without a leading /" }
    var k = t + 1
    while k < end {
        let c = p[k]
        let letter = (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A
        guard letter || (c >= 0x30 && c <= 0x39) || c == 0x2B || c == 0x2D || c == 0x2E else { break }
        k += 1
    }
    guard k + 3 <= end, exact(p, k, "://", count: 3) else { return "request target without a leading /" }
    if k - t == 4 && matches(p, t, "http") { h.defaultPort = .http }
    if k - t == 5 && matches(p, t, "https") { h.defaultPort = .https }
    var a = k + 3
    var stop = a
    while stop < end && p[stop] != UInt8(ascii: "/") { stop += 1 }
    // No user info in the authority compared with Host (HAProxy's http_parse_authority(.., 1)).
    for q in a..<stop where p[q] == UInt8(ascii: "@") { a = q + 1 }
    h.authorityStart = a
    h.authorityEnd = stop
    return nil
}

/// Whether two authorities are the same host and port, without regard to case, a scheme's
/// default port written or not (HAProxy normalises `http://b:80/` and `Host: b:80` to `b`).
private func sameAuthority(
    _ p: Bytes, _ a0: Int, _ a1: Int, _ b0: Int, _ b1: Int, _ port: ParsedHead.DefaultPort
) -> Bool {
    func trimmed(_ s: Int, _ e: Int) -> Int {
        switch port {
        case .none: return e
        case .http: return e - s > 3 && exact(p, e - 3, ":80", count: 3) ? e - 3 : e
        case .https: return e - s > 4 && exact(p, e - 4, ":443", count: 4) ? e - 4 : e
        }
    }
    return equalIgnoringCase(p, a0, trimmed(a0, a1), b0, trimmed(b0, b1))
}

private func equalIgnoringCase(_ p: Bytes, _ a0: Int, _ a1: Int, _ b0: Int, _ b1: Int) -> Bool {
    guard a1 - a0 == b1 - b0 else { return false }
    for k in 0..<(a1 - a0) {
        var x = p[a0 + k]
        var y = p[b0 + k]
        if x >= 0x41 && x <= 0x5A { x |= 0x20 }
        if y >= 0x41 && y <= 0x5A { y |= 0x20 }
        if x != y { return false }
    }
    return true
}

/// Why a Transfer-Encoding value that is not one `chunked` is refused, as HAProxy would: 422 for a
/// request whose codings end with one `chunked` after another coding (h1_parse_xfer_enc_header and
/// mux_h1.c), else 400 (for a response: 502).
private func transferCodingRefusal(_ p: Bytes, _ from: Int, _ to: Int, request: Bool, again: Bool)
    -> HeadParseResult
{
    guard request, !again else { return .invalid("unsupported Transfer-Encoding") }
    var chunkedCount = 0
    var lastIsChunked = false
    var other = false
    var i = from
    while i < to {
        if p[i] == sp || p[i] == ht {
            i += 1
            continue
        }
        var e = i
        while e < to && p[e] != UInt8(ascii: ",") { e += 1 }
        var w = e
        while w > i && (p[w - 1] == sp || p[w - 1] == ht) { w -= 1 }
        lastIsChunked = w - i == 7 && matches(p, i, "chunked")
        if lastIsChunked { chunkedCount += 1 } else { other = true }
        i = e + 1
    }
    if other && chunkedCount == 1 && lastIsChunked {
        return .refused(status: 422, "unsupported Transfer-Encoding")
    }
    return .invalid("unsupported Transfer-Encoding")
}

/// The `close`, `keep-alive` and `upgrade` tokens of a Connection value.
private func scanConnection(_ p: Bytes, _ from: Int, _ to: Int, into h: inout ParsedHead) {
    var i = from
    while i < to {
        while i < to && (p[i] == sp || p[i] == ht || p[i] == UInt8(ascii: ",")) { i += 1 }
        let s = i
        while i < to && p[i] != UInt8(ascii: ",") { i += 1 }
        var e = i
        while e > s && (p[e - 1] == sp || p[e - 1] == ht) { e -= 1 }
        if e - s == 5 && matches(p, s, "close") { h.close = true }
        if e - s == 10 && matches(p, s, "keep-alive") { h.keepAlive = true }
        if e - s == 7 && matches(p, s, "upgrade") { h.connectionUpgrade = true }
    }
}

/// Whether a comma-separated value holds `token` (lowercase), without regard to case.
private func containsToken(_ p: Bytes, _ from: Int, _ to: Int, _ token: StaticString) -> Bool {
    var i = from
    let length = token.utf8CodeUnitCount
    while i < to {
        while i < to && (p[i] == sp || p[i] == ht || p[i] == UInt8(ascii: ",")) { i += 1 }
        let s = i
        while i < to && p[i] != UInt8(ascii: ",") { i += 1 }
        var e = i
        while e > s && (p[e - 1] == sp || p[e - 1] == ht) { e -= 1 }
        if e - s == length && matches(p, s, token) { return true }
    }
    return false
}

extension ByteBuffer {
    /// Appends `p[from..<to]`.
    @inline(__always)
    mutating func writeBytes(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) {
        // Not `rebasing: p[from..<to]`: the slice's bounds checks and `dropFirst` cost ~20
        // instructions per call on the proxy's hot path.
        precondition(0 <= from && from <= to && to <= p.count, "bytes out of the buffer")
        guard let base = p.baseAddress, to > from else { return }
        writeBytes(UnsafeRawBufferPointer(start: base + from, count: to - from))
    }
}

/// A `String` of `p[from..<to]` (header values handed to the balancer core).
@inline(__always)
func string(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> String {
    String(decoding: UnsafeRawBufferPointer(rebasing: p[from..<to]), as: UTF8.self)
}
