import NIOCore

@testable import LiveEngine

// LiveEngine's HTTP/1 head parser and chunked scanner, as the proxy uses them. The proxy parses a
// head again as more bytes arrive and forwards what it rewrote, so beyond "no trap" the harnesses
// check what that relies on: a complete head stays complete (same length) alone, and is incomplete
// one byte short; its offsets lie inside it; the rewritten head parses again; the chunked scanner
// gives the same end and the same data however the body is split.
//
// Only this file knows the parser's API: to fuzz another parser, change these three functions.

func fuzzHTTPRequestHead(_ data: UnsafeRawBufferPointer) {
    guard let h = completeHead(data, request: true) else { return }
    _ = requestBodyFraming(h)
    let rewritten = rewriteRequestHead(
        ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: data[..<h.length])), h, cookies: ["SERVERID=webA"],
        forwardedFor: "127.0.0.1", allocator: ByteBufferAllocator())
    // The proxy's own lines (Cookie, X-Forwarded-For) may take a head at the field limit over it:
    // such a head is not expected to parse again.
    guard h.headers.count + 2 <= maxHeaderFields else { return }
    let again = rewritten.withUnsafeReadableBytes { completeHead($0, request: true) }
    precondition(again?.length == rewritten.readableBytes, "the rewritten request head does not parse")
    // Content-Length beside chunked is dropped on the way (as haproxy does): the chunks frame the body.
    let expectedLength = h.lengthAndChunked ? nil : h.contentLength
    precondition(
        again?.contentLength == expectedLength && again?.chunked == h.chunked, "rewriting changed the framing")
}

func fuzzHTTPResponseHead(_ data: UnsafeRawBufferPointer) {
    guard let r = completeHead(data, request: false) else { return }
    let framing = responseBodyFraming(
        status: r.status, toHEAD: false, chunked: r.chunked, contentLength: r.contentLength)
    for clientHTTP11 in [true, false] {
        let plan = ResponsePlan.make(
            clientHTTP11: clientHTTP11, closeAfter: false, clientKeepAlive: true, serverChunked: r.chunked,
            serverHasLength: r.contentLength != nil, framing: framing)
        let extras = ResponseExtras(setCookies: ["SERVERID=webA; path=/"], cachePrivate: true, chunked: false)
        let head = ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: data[..<r.length]))
        let rewritten =
            rewriteResponseHead(
                head, r, plan: plan, clientHTTP11: clientHTTP11, replaceSetCookies: true, extras: extras,
                extraBytes: { $0.render(allocator: ByteBufferAllocator()) }, allocator: ByteBufferAllocator()) ?? head
        // Set-Cookie and Cache-Control added may take a head at the field limit over it.
        guard r.headers.count + 2 <= maxHeaderFields else { return }
        let again = rewritten.withUnsafeReadableBytes { completeHead($0, request: false) }
        precondition(again?.length == rewritten.readableBytes, "the rewritten response head does not parse")
        precondition(again?.status == r.status, "rewriting changed the status")
    }
}

/// The head at the start of `data` when it is complete, after checking the parser's invariants.
private func completeHead(_ data: UnsafeRawBufferPointer, request: Bool) -> ParsedHead? {
    var h = ParsedHead()
    guard parseHead(data, request: request, into: &h) == .complete else { return nil }
    precondition(h.length > 0 && h.length <= data.count, "head length outside the input")
    precondition(h.lineStart <= h.lineEnd && h.lineEnd < h.length, "start line outside the head")
    if request {
        precondition(h.lineStart < h.methodEnd && h.methodEnd < h.targetStart, "method outside the start line")
        precondition(h.targetStart < h.targetEnd && h.targetEnd < h.lineEnd, "target outside the start line")
    }
    for line in h.headers {
        precondition(
            h.lineEnd < line.start && line.start < line.valueStart && line.valueStart <= line.valueEnd
                && line.valueEnd < h.length, "header outside the head")
    }
    let alone = UnsafeRawBufferPointer(rebasing: data[..<h.length])
    var again = ParsedHead()
    precondition(
        parseHead(alone, request: request, into: &again) == .complete && again.length == h.length,
        "the head alone parses differently")
    let short = UnsafeRawBufferPointer(rebasing: data[..<(h.length - 1)])
    // One byte short, the head is not complete (it may be refused already: a bad line stays bad).
    precondition(parseHead(short, request: request, into: &again) != .complete, "one byte short is complete")
    return h
}

func fuzzChunkedScanner(_ data: UnsafeRawBufferPointer) {
    guard data.count > 1 else { return }
    // The first byte chooses where the rest is split (as bytes arrive in reads of any size).
    let step = Int(data[0]) % 16 + 1
    let body = UnsafeRawBufferPointer(rebasing: data[1...])
    let whole = scanChunked(body, pieces: [0, body.count])
    let split = scanChunked(body, pieces: Array(stride(from: 0, to: body.count, by: step)) + [body.count])
    precondition(whole.outcome == split.outcome, "the outcome depends on how the body is split")
    precondition(whole.data == split.data, "the chunk data depends on how the body is split")
}

/// The scanner's outcome over `body` fed in the pieces between the offsets `cuts`: the end offset
/// (or -1 invalid, -2 more expected) and the chunk data it reported.
private func scanChunked(_ body: UnsafeRawBufferPointer, pieces cuts: [Int]) -> (outcome: Int, data: [UInt8]) {
    var scanner = ChunkedScanner()
    var data: [UInt8] = []
    for (from, to) in zip(cuts, cuts.dropFirst()) where from < to {
        let piece = UnsafeRawBufferPointer(rebasing: body[from..<to])
        let step = scanner.scan(piece) { s, e in
            precondition(0 <= s && s <= e && e <= piece.count, "chunk data outside the piece")
            data += piece[s..<e]
        }
        switch step {
        case .more: continue
        case .done(let end):
            precondition(0 < end && end <= piece.count, "end outside the piece")
            return (from + end, data)
        case .invalid: return (-1, data)
        }
    }
    return (-2, data)
}
