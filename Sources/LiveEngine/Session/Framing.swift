import BalancerCore
import NIOCore

// How messages are framed and which heads are rewritten on the way through the proxy: pure
// functions of the parsed heads, tested on their own (FramingTests).

/// How the server's response body is delimited, from its status and headers.
func responseBodyFraming(status: Int, toHEAD: Bool, chunked: Bool, contentLength: Int?) -> BodyFraming {
    if toHEAD || status == 204 || status == 304 || (status >= 100 && status < 200) { return .none }
    if chunked { return .chunked }
    if let length = contentLength { return length > 0 ? .length : .none }
    return .untilClose
}

/// How a request body is delimited. With both Content-Length and Transfer-Encoding the chunks
/// delimit it, as in HAProxy (which drops the length and closes the connection afterwards).
func requestBodyFraming(_ h: ParsedHead) -> RequestBody {
    if h.chunked { return .chunked(ChunkedScanner()) }
    if let length = h.contentLength, length > 0 { return .length(length) }
    return .complete
}

/// What is left of a request body.
enum RequestBody {
    /// Every byte has arrived (or there was none).
    case complete
    /// This many bytes of a Content-Length body.
    case length(Int)
    /// Chunked: the scanner follows the framing.
    case chunked(ChunkedScanner)
    /// After a `101 Switching Protocols`: everything the client sends, until it closes.
    case tunnel

    var isComplete: Bool {
        if case .complete = self { return true }
        return false
    }

    /// The body bytes at the front of `buffer`, as they came (framing included): how many belong to
    /// the body, and whether they end it; nil when the chunked framing is broken.
    mutating func take(from buffer: ByteBuffer) -> (count: Int, ended: Bool)? {
        switch self {
        case .complete:
            return (0, true)
        case .tunnel:
            return (buffer.readableBytes, false)
        case .length(let left):
            let n = min(left, buffer.readableBytes)
            self = n == left ? .complete : .length(left - n)
            return (n, n == left)
        case .chunked(var scanner):
            let step = buffer.withUnsafeReadableBytes { scanner.scan($0) { _, _ in } }
            switch step {
            case .more:
                self = .chunked(scanner)
                return (buffer.readableBytes, false)
            case .done(let end):
                self = .complete
                return (end, true)
            case .invalid:
                return nil
            }
        }
    }
}

/// How a response reaches the client: its framing and connection handling, decided from what
/// the client asked and how the server framed the body.
struct ResponsePlan: Hashable {
    /// The server's body is delimited by its close: re-framed as chunked for an HTTP/1.1 client.
    var chunkEncode = false
    /// The server's body is chunked and the client speaks HTTP/1.0: the chunks' data only.
    var dechunk = false
    /// The `Connection` value written to the client, if any.
    var connection: ConnectionToken? = nil
    /// The client connection ends after this response.
    var closeAfter: Bool

    /// - Parameters:
    ///   - clientHTTP11: the request was HTTP/1.1 (else 1.0).
    ///   - closeAfter: the client connection already ends after this response (the client or the
    ///     configuration asked for it).
    ///   - clientKeepAlive: an HTTP/1.0 client asked for keep-alive (and the configuration allows it).
    static func make(
        clientHTTP11: Bool, closeAfter: Bool, clientKeepAlive: Bool, serverChunked: Bool, serverHasLength: Bool,
        framing: BodyFraming
    ) -> ResponsePlan {
        var plan = ResponsePlan(closeAfter: closeAfter)
        if framing == .tunnel {
            // Switching protocols: the connection becomes a tunnel, closed by either side.
            plan.connection = .upgrade
            plan.closeAfter = true
            return plan
        }
        if clientHTTP11 {
            plan.chunkEncode = framing == .untilClose
            if closeAfter { plan.connection = .close }
            return plan
        }
        // An HTTP/1.0 client: no chunked framing; keep-alive only with a known length.
        if serverChunked {
            plan.dechunk = true
            plan.closeAfter = true
        }
        if clientKeepAlive && serverHasLength && !serverChunked {
            plan.connection = .keepAlive
        } else {
            plan.closeAfter = true
        }
        return plan
    }
}

/// Whether a request head can go to the server as it came (`edited`: rules change its headers).
func requestHeadIsForwardable(_ h: ParsedHead, cookiesChanged: Bool, forwardfor: Bool, edited: Bool = false) -> Bool {
    !cookiesChanged && !h.hasHopHeaders && !forwardfor && h.minor == 1 && !h.bareLF && !h.repeatedContentLength
        && !h.lengthAndChunked && !edited
}

/// The request head for the server: HTTP/1.1, CRLF line endings, without hop-by-hop headers (but
/// `Connection: upgrade` for a request that asks to switch protocols), without Content-Length when
/// the body is chunked, with `cookies` in place of the client's Cookie headers when given, with the
/// routing rules' header `edits` (`http-request set-header|add-header|del-header`) applied, and
/// X-Forwarded-For when given.
func rewriteRequestHead(
    _ head: ByteBuffer, _ h: ParsedHead, cookies: [String]?, forwardedFor: String?, edits: [HeaderEdit] = [],
    allocator: ByteBufferAllocator
) -> ByteBuffer {
    var out = allocator.buffer(capacity: head.readableBytes + 64)
    var added: [(name: String, value: String)] = []
    head.withUnsafeReadableBytes { p in
        out.writeBytes(p, h.lineStart, h.targetEnd)
        out.writeStaticString(" HTTP/1.1\r\n")
        let keep: [Bool]
        (keep, added) = headerEdits(edits, on: h, p)
        var lengthWritten = h.lengthAndChunked
        for (index, line) in h.headers.enumerated() {
            if !keep.isEmpty && !keep[index] { continue }
            switch line.kind {
            case .connection, .keepAlive, .proxyConnection: continue
            case .cookie where cookies != nil: continue
            case .contentLength where lengthWritten: continue
            case .contentLength: lengthWritten = true
            default: break
            }
            out.writeBytes(p, line.start, line.valueEnd)
            out.writeStaticString("\r\n")
        }
    }
    for c in cookies ?? [] where !c.isEmpty {
        out.writeStaticString("Cookie: ")
        out.writeString(c)
        out.writeStaticString("\r\n")
    }
    out.writeHeaderLines(added)
    if let forwardedFor {
        out.writeStaticString("X-Forwarded-For: ")
        out.writeString(forwardedFor)
        out.writeStaticString("\r\n")
    }
    if h.asksUpgrade { out.writeStaticString("Connection: upgrade\r\n") }
    out.writeStaticString("\r\n")
    return out
}

/// The response head for the client, or nil when the server's head goes out as it came.
///
/// - Parameters:
///   - replaceSetCookies: the server's Set-Cookie headers are dropped (their replacements are in `extras`).
///   - extras: the lines the proxy adds; `extraBytes` renders them with the blank line (from a cache).
///   - edits: the `http-response set-header|add-header|del-header` edits, in order.
///   - spare: room to leave in the new buffer after the head (for a body the caller writes after it).
func rewriteResponseHead(
    _ head: ByteBuffer, _ r: ParsedHead, plan: ResponsePlan, clientHTTP11: Bool, replaceSetCookies: Bool,
    extras: ResponseExtras, edits: [HeaderEdit] = [], extraBytes: (ResponseExtras) -> ByteBuffer, spare: Int = 0,
    allocator: ByteBufferAllocator
) -> ByteBuffer? {
    let versionMatches = r.minor == (clientHTTP11 ? 1 : 0)
    let addsNothing =
        !replaceSetCookies && !extras.cachePrivate && extras.connection == nil && !extras.chunked && edits.isEmpty
    if addsNothing && !r.hasHopHeaders && !plan.dechunk && versionMatches && !r.bareLF && !r.lengthAndChunked {
        return nil
    }
    let extraLines = extraBytes(extras)
    var out = allocator.buffer(capacity: head.readableBytes + extraLines.readableBytes + spare)
    let removes =
        (replaceSetCookies && r.setCookieCount > 0) || r.hasHopHeaders || plan.dechunk || r.lengthAndChunked
        || !edits.isEmpty
    var added: [(name: String, value: String)] = []
    head.withUnsafeReadableBytes { p in
        if !removes && !r.bareLF && versionMatches {
            // Only additions: the server's head up to its blank line in one copy.
            out.writeBytes(p, 0, r.length - 2)
            return
        }
        let keep: [Bool]
        (keep, added) = headerEdits(edits, on: r, p)
        out.writeStaticString(clientHTTP11 ? "HTTP/1.1" : "HTTP/1.0")
        out.writeBytes(p, r.lineStart + 8, r.lineEnd)
        out.writeStaticString("\r\n")
        // Kept lines that stand as they are to be sent (`value\r\n`, nothing trimmed) go out in runs,
        // one copy for each run between removed lines, rather than two writes a line.
        var runStart = -1
        var runEnd = -1
        let headers = r.headers
        for (index, line) in headers.enumerated() {
            var dropped = !keep.isEmpty && !keep[index]
            switch line.kind {
            case .connection, .keepAlive, .proxyConnection: dropped = true
            case .setCookie where replaceSetCookies: dropped = true
            case .transferEncoding where plan.dechunk: dropped = true
            // With Transfer-Encoding the length is not the body's (HAProxy drops it).
            case .contentLength where r.lengthAndChunked: dropped = true
            default: break
            }
            if !dropped && !r.bareLF {
                let next = index + 1 < headers.count ? headers[index + 1].start : r.length - 2
                if line.valueEnd + 2 == next {
                    if runStart < 0 { runStart = line.start }
                    runEnd = next
                    continue
                }
            }
            if runStart >= 0 {
                out.writeBytes(p, runStart, runEnd)
                runStart = -1
            }
            if dropped { continue }
            out.writeBytes(p, line.start, line.valueEnd)
            out.writeStaticString("\r\n")
        }
        if runStart >= 0 { out.writeBytes(p, runStart, runEnd) }
    }
    out.writeHeaderLines(added)
    out.writeImmutableBuffer(extraLines)
    return out
}

/// The routing rules' header `edits` on a head: which of its header lines stay (empty: all of
/// them, as without edits) and the lines to add after them.
private func headerEdits(_ edits: [HeaderEdit], on head: ParsedHead, _ p: UnsafeRawBufferPointer) -> (
    keep: [Bool], added: [(name: String, value: String)]
) {
    if edits.isEmpty { return ([], []) }
    return applyHeaderEdits(edits, count: head.headers.count) { i, name in
        headerName(p, at: head.headers[i].start, is: name)
    }
}

extension ByteBuffer {
    /// Writes each `name: value` line with its CRLF.
    fileprivate mutating func writeHeaderLines(_ lines: [(name: String, value: String)]) {
        for (name, value) in lines {
            writeString(name)
            writeStaticString(": ")
            writeString(value)
            writeStaticString("\r\n")
        }
    }
}

/// The chunk-size line that precedes `size` bytes of chunk data.
func chunkSizeLine(_ size: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
    var line = allocator.buffer(capacity: 18)
    line.writeString(String(size, radix: 16))
    line.writeStaticString("\r\n")
    return line
}

/// The last chunk and the empty trailer.
let lastChunk = ByteBuffer(staticString: "0\r\n\r\n")
/// What ends a chunk's data.
let chunkEnd = ByteBuffer(staticString: "\r\n")
