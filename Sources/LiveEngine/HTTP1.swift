import NIOCore

// A byte-level HTTP/1.1 head parser and chunked-body scanner for the proxy's hot path: the head is
// scanned once in the received buffer, only the headers the proxy acts on are looked at, and
// everything else (header lines, body bytes, chunk framing) is forwarded as it came.

/// The headers the proxy acts on; every other header is `.other` and passes through untouched.
enum HeaderKind: UInt8 {
    case other, cookie, setCookie, connection, keepAlive, proxyConnection, contentLength, transferEncoding
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
    /// Any of Connection, Keep-Alive, Proxy-Connection (hop-by-hop: never forwarded).
    var hasHopHeaders = false
    var cookieCount = 0
    var setCookieCount = 0
    /// Content-Length appeared more than once (with the same value): forwarded once.
    var repeatedContentLength = false
    /// Some line ended with a bare LF (accepted like HAProxy; the head is then rewritten with CRLF).
    var bareLF = false

    /// Whether the sender wants the connection kept open after this message.
    var wantsKeepAlive: Bool { minor >= 1 ? !close : keepAlive }

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
        hasHopHeaders = false
        repeatedContentLength = false
        cookieCount = 0
        setCookieCount = 0
        bareLF = false
    }
}

enum HeadParseResult: Equatable {
    case incomplete
    case invalid(String)
    case complete
}

private let cr: UInt8 = 13
private let lf: UInt8 = 10
private let sp: UInt8 = 32
private let ht: UInt8 = 9

/// RFC 9110 `tchar` (a switch, not a table: no global initialisation check per byte).
@inline(__always) private func isTchar(_ c: UInt8) -> Bool {
    switch c {
    case 0x61...0x7A, 0x41...0x5A, 0x30...0x39, 0x2D: true  // a-z A-Z 0-9 -
    case 0x21, 0x23...0x27, 0x2A, 0x2B, 0x2E, 0x5E...0x60, 0x7C, 0x7E: true  // ! #$%&' * + . ^_` | ~
    default: false
    }
}

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
}

/// ASCII case-insensitive comparison of `p[at..<at+lower.count]` with a lowercase literal.
@inline(__always)
private func matches(_ p: Bytes, _ at: Int, _ lower: StaticString) -> Bool {
    let n = lower.utf8CodeUnitCount
    let s = lower.utf8Start
    for i in 0..<n where p[at + i] | 0x20 != s[i] { return false }
    return true
}

private func classify(_ p: Bytes, _ start: Int, _ count: Int) -> HeaderKind {
    switch count {
    case 6 where matches(p, start, "cookie"): .cookie
    case 10 where matches(p, start, "connection"): .connection
    case 10 where matches(p, start, "set-cookie"): .setCookie
    case 10 where matches(p, start, "keep-alive"): .keepAlive
    case 14 where matches(p, start, "content-length"): .contentLength
    case 16 where matches(p, start, "proxy-connection"): .proxyConnection
    case 17 where matches(p, start, "transfer-encoding"): .transferEncoding
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

/// Parses `HTTP/1.0` or `HTTP/1.1` at `at` (8 bytes); the minor version, or nil.
private func httpVersion(_ p: Bytes, _ at: Int) -> Int? {
    guard at + 8 <= p.count, matches(p, at, "http/1."), p[at] == UInt8(ascii: "H"), p[at + 1] == UInt8(ascii: "T"),
        p[at + 2] == UInt8(ascii: "T"), p[at + 3] == UInt8(ascii: "P")
    else { return nil }
    switch p[at + 7] {
    case UInt8(ascii: "0"): return 0
    case UInt8(ascii: "1"): return 1
    default: return nil
    }
}

/// Parses a request head (`request: true`) or a response head at the start of `p`.
///
/// Accepted like HAProxy 2.6: leading empty lines before a request, bare LF line endings. Rejected:
/// anything but HTTP/1.0 and HTTP/1.1, obs-fold (a line starting with whitespace), a header without
/// a colon or with whitespace or other non-token bytes in its name, control bytes in values, a
/// bad or conflicting Content-Length, and a Transfer-Encoding other than `chunked`.
func parseHead(_ raw: UnsafeRawBufferPointer, request: Bool, into h: inout ParsedHead) -> HeadParseResult {
    h.reset()
    guard raw.count > 0 else { return .incomplete }
    let p = Bytes(raw)
    let n = p.count
    var i = 0
    if request {
        while i < n && (p[i] == cr || p[i] == lf) { i += 1 }
    }
    guard let firstLF = findLF(p, from: i) else { return .incomplete }
    var lineEnd = firstLF
    if lineEnd > i && p[lineEnd - 1] == cr { lineEnd -= 1 } else { h.bareLF = true }
    h.lineStart = i
    h.lineEnd = lineEnd
    if request {
        var j = i
        while j < lineEnd && isTchar(p[j]) { j += 1 }
        guard j > i, j < lineEnd, p[j] == sp else { return .invalid("bad method") }
        h.methodEnd = j
        j += 1
        let t = j
        while j < lineEnd && p[j] > sp && p[j] != 0x7F { j += 1 }
        guard j > t, j < lineEnd, p[j] == sp else { return .invalid("bad request target") }
        h.targetStart = t
        h.targetEnd = j
        guard j + 9 == lineEnd, let minor = httpVersion(p, j + 1) else { return .invalid("bad HTTP version") }
        h.minor = minor
    } else {
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
            return .complete
        }
        if c == cr {
            guard pos + 1 < n else { return .incomplete }
            guard p[pos + 1] == lf else { return .invalid("CR without LF") }
            h.length = pos + 2
            return .complete
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
        // One pass to the end of the line, checking the value's bytes on the way.
        var k = pos
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
        while valueEnd > pos && (p[valueEnd - 1] == sp || p[valueEnd - 1] == ht) { valueEnd -= 1 }
        switch kind {
        case .other: break
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
                return .invalid("unsupported Transfer-Encoding")
            }
            h.hasTE = true
            h.chunked = true
        }
        h.headers.append(HeaderLine(start: nameStart, valueStart: pos, valueEnd: valueEnd, kind: kind))
        pos = end + 1
    }
}

/// The `close` and `keep-alive` tokens of a Connection value.
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
    }
}

/// Follows chunked framing (sizes, extensions, trailers) through the bytes as they pass, so the
/// body can be forwarded as-is and its end found without decoding it.
struct ChunkedScanner {
    private enum State: UInt8 { case size, ext, sizeLF, data, dataCR, dataLF, trailerStart, trailer, lastLF }
    private var state = State.size
    private var remaining = 0
    private var digits = 0

    enum Step: Equatable {
        /// Every byte belongs to the body; more are expected.
        case more
        /// The body ends after `end` bytes.
        case done(end: Int)
        case invalid
    }

    /// Scans `p`; `data` receives the ranges of chunk data (for de-chunking).
    mutating func scan(_ raw: UnsafeRawBufferPointer, data: (Int, Int) -> Void) -> Step {
        guard raw.count > 0 else { return .more }
        let p = Bytes(raw)
        var i = 0
        let n = p.count
        while i < n {
            let c = p[i]
            switch state {
            case .size:
                if let v = hexValue(c) {
                    digits += 1
                    guard digits <= 15 else { return .invalid }
                    remaining = remaining << 4 | v
                } else if digits > 0 && (c == UInt8(ascii: ";") || c == sp || c == ht) {
                    state = .ext
                } else if digits > 0 && c == cr {
                    state = .sizeLF
                } else if digits > 0 && c == lf {
                    state = remaining == 0 ? .trailerStart : .data
                } else {
                    return .invalid
                }
            case .ext:
                if c == cr {
                    state = .sizeLF
                } else if c == lf {
                    state = remaining == 0 ? .trailerStart : .data
                }
            case .sizeLF:
                guard c == lf else { return .invalid }
                state = remaining == 0 ? .trailerStart : .data
            case .data:
                let k = min(remaining, n - i)
                data(i, i + k)
                remaining -= k
                i += k
                if remaining == 0 { state = .dataCR }
                continue
            case .dataCR:
                if c == cr {
                    state = .dataLF
                } else if c == lf {
                    nextChunk()
                } else {
                    return .invalid
                }
            case .dataLF:
                guard c == lf else { return .invalid }
                nextChunk()
            case .trailerStart:
                if c == cr {
                    state = .lastLF
                } else if c == lf {
                    self = ChunkedScanner()
                    return .done(end: i + 1)
                } else {
                    state = .trailer
                }
            case .trailer:
                if c == lf { state = .trailerStart }
            case .lastLF:
                guard c == lf else { return .invalid }
                self = ChunkedScanner()
                return .done(end: i + 1)
            }
            i += 1
        }
        return .more
    }

    private mutating func nextChunk() {
        state = .size
        digits = 0
        remaining = 0
    }

    @inline(__always) private func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(c &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(c &- UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(c &- UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}

extension ByteBuffer {
    /// Appends `p[from..<to]`.
    @inline(__always)
    mutating func writeBytes(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) {
        writeBytes(UnsafeRawBufferPointer(rebasing: p[from..<to]))
    }
}

/// A `String` of `p[from..<to]` (header values handed to the balancer core).
@inline(__always)
func string(_ p: UnsafeRawBufferPointer, _ from: Int, _ to: Int) -> String {
    String(decoding: UnsafeRawBufferPointer(rebasing: p[from..<to]), as: UTF8.self)
}
