import HadeckTestSupport
import Testing

@testable import LiveEngine

/// Parses `text` as a request (or response) head.
private func parse(_ text: String, request: Bool = true) -> (HeadParseResult, ParsedHead) {
    var head = ParsedHead()
    let bytes = Array(text.utf8)
    let result = bytes.withUnsafeBytes { parseHead($0, request: request, into: &head) }
    return (result, head)
}

private func isInvalid(_ text: String, request: Bool = true) -> Bool {
    if case .invalid = parse(text, request: request).0 { return true }
    return false
}

/// Runs the chunked scanner over `text` in pieces of `step` bytes; the body's end offset (or nil
/// when more is expected, or "invalid") and the de-chunked data.
private func scanChunked(_ text: String, step: Int = .max) -> (end: Int?, invalid: Bool, data: [UInt8]) {
    let bytes = Array(text.utf8)
    var scanner = ChunkedScanner()
    var data: [UInt8] = []
    var offset = 0
    while offset < bytes.count {
        let piece = Array(bytes[offset..<min(bytes.count, offset + step)])
        let result = piece.withUnsafeBytes { p in
            scanner.scan(p) { from, to in data += piece[from..<to] }
        }
        switch result {
        case .more: offset += piece.count
        case .done(let end): return (offset + end, false, data)
        case .invalid: return (nil, true, data)
        }
    }
    return (nil, false, data)
}

@Suite("HTTP/1.1 byte-level parser: what it accepts and rejects, like HAProxy 2.6", .inTheBackground)
struct HTTP1ParserTests {
    @Test func requestHeadIsFoundWithTheHeadersTheProxyActsOn() {
        let text =
            "GET /login?a=b HTTP/1.1\r\nHost: x\r\nCookie: SRV=A\r\nconnection: Keep-Alive, close \r\n"
            + "Content-Length: 0\r\nX-Other: 1\r\n\r\nNEXT"
        let (result, h) = parse(text)
        #expect(result == .complete)
        #expect(h.length == text.utf8.count - 4)
        #expect(h.minor == 1)
        #expect(Array(Array(text.utf8)[h.targetStart..<h.targetEnd]) == Array("/login?a=b".utf8))
        #expect(h.headers.map(\.kind) == [.host, .cookie, .connection, .contentLength, .other])
        #expect(h.cookieCount == 1 && h.close && h.keepAlive && h.hasHopHeaders)
        #expect(h.contentLength == 0 && !h.chunked && !h.bareLF)
        #expect(!h.wantsKeepAlive)
        let cookie = h.headers[1]
        #expect(Array(Array(text.utf8)[cookie.valueStart..<cookie.valueEnd]) == Array("SRV=A".utf8))
    }

    @Test func tokenBytesAreRFC9110Tchar() {
        let tchar = Set("!#$%&'*+-.^_`|~0123456789".utf8).union("abcdefghijklmnopqrstuvwxyz".utf8)
            .union("ABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for byte in 0...255 { #expect(isTchar(UInt8(byte)) == tchar.contains(UInt8(byte)), "byte \(byte)") }
    }

    /// The value scan reads 8 bytes at a time up to the first byte that is not plain text: every
    /// byte value, at every offset of a long value (so in each lane of a word and in the byte-by-byte
    /// tail), is accepted, taken as the line's end or refused as one byte at a time would.
    @Test func everyByteInEveryPositionOfAValueIsJudgedAsAlone() {
        let prefix = Array("HTTP/1.1 200 OK\r\nX-Value: ".utf8)
        for position in 0..<19 {
            for byte in 0...255 {
                var value = Array(repeating: UInt8(ascii: "v"), count: 19)
                value[position] = UInt8(byte)
                let input = prefix + value + Array("\r\n\r\n".utf8)
                var head = ParsedHead()
                let result = input.withUnsafeBytes { parseHead($0, request: false, into: &head) }
                let b = UInt8(byte)
                let edge = position == 0 || position == value.count - 1
                if b == 0x0A && position == value.count - 1 {
                    // A bare LF ending the line: accepted, like HAProxy.
                    #expect(result == .complete && head.bareLF, "byte \(byte) at \(position)")
                } else if b == 0x0A || b == 0x0D {
                    // The line ends there: the rest (`vvv...`) is a header line without a colon, or a
                    // CR without its LF.
                    if case .invalid = result {} else { Issue.record("byte \(byte) at \(position): \(result)") }
                } else if b == 0x7F || (b < 0x20 && b != 0x09) {
                    #expect(result == .invalid("control byte in a header value"), "byte \(byte) at \(position)")
                } else {
                    #expect(result == .complete, "byte \(byte) at \(position)")
                    // Blanks around a value are not part of it.
                    let expected = (b == 0x20 || b == 0x09) && edge ? value.count - 1 : value.count
                    let length = head.headers.first.map { $0.valueEnd - $0.valueStart }
                    #expect(length == expected, "byte \(byte) at \(position)")
                }
            }
        }
    }

    @Test func incompleteHeadsWaitForMoreBytes() {
        for partial in [
            "", "GET", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: x\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r",
        ] {
            #expect(parse(partial).0 == .incomplete, "\(partial)")
        }
    }

    @Test func bareLFAndLeadingEmptyLinesAreAcceptedLikeHAProxy() {
        let (r1, h1) = parse("GET / HTTP/1.1\nHost: x\n\n")
        #expect(r1 == .complete)
        #expect(h1.bareLF)
        let (r2, h2) = parse("GET / HTTP/1.1\r\nHost: x\n\r\n")
        #expect(r2 == .complete && h2.bareLF)
        let (r3, h3) = parse("\r\n\r\nGET / HTTP/1.0\r\n\r\n")
        #expect(r3 == .complete && h3.lineStart == 4 && h3.minor == 0 && !h3.wantsKeepAlive)
    }

    @Test func malformedRequestsAreRejected() {
        let cases = [
            "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",  // obs-fold
            "GET / HTTP/1.1\r\n Host: x\r\n\r\n",  // whitespace before the first header
            "GET / HTTP/1.1\r\nHost: x\r\nBogus\r\n\r\n",  // no colon
            "GET / HTTP/1.1\r\nHost : x\r\n\r\n",  // whitespace before the colon
            "GET / HTTP/1.1\r\n: v\r\n\r\n",  // empty name
            "GET / HTTP/1.1\r\nX\tA: v\r\n\r\n",  // tab in the name
            "GET / HTTP/1.1\r\nX-A: a\u{1}b\r\n\r\n",  // control byte in a value
            "GET / HTTP/1.1\rHost: x\r\n\r\n",  // CR alone
            "GET / HTTP/1.1\r\nHost: x\r\n\rX",  // CR alone ending the head
            "GET /a b HTTP/1.1\r\n\r\n",  // space in the target
            "GET / HTTP/2.0\r\n\r\n",
            "GET / http/1.1\r\n\r\n",
            "GET /\r\n\r\n",  // HTTP/0.9
            "GARBAGE\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 9999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        ]
        for text in cases { #expect(isInvalid(text), "\(text.debugDescription)") }
    }

    @Test func repeatedIdenticalContentLengthIsAcceptedAndFlagged() {
        let (r, h) = parse("POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n")
        #expect(r == .complete && h.contentLength == 3 && h.repeatedContentLength)
        let (r2, h2) = parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n")
        #expect(r2 == .complete && h2.chunked && h2.hasTE)
    }

    @Test func responseHeads() {
        let (r, h) = parse("HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\nContent-Length: 5\r\n\r\n", request: false)
        #expect(r == .complete && h.status == 200 && h.setCookieCount == 1 && h.contentLength == 5 && h.wantsKeepAlive)
        let (r2, h2) = parse("HTTP/1.0 204\r\nConnection: keep-alive\r\n\r\n", request: false)
        #expect(r2 == .complete && h2.status == 204 && h2.minor == 0 && h2.wantsKeepAlive)
        #expect(isInvalid("HTTP/1.1 2x0 OK\r\n\r\n", request: false))
        #expect(isInvalid("HTTP/1.1 200OK\r\n\r\n", request: false))
        #expect(isInvalid("ICY 200 OK\r\n\r\n", request: false))
        #expect(isInvalid("garbage\r\n\r\n", request: false))
    }

    @Test func chunkedBodiesAreFollowedWhateverTheSplit() {
        let body = "4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n"
        for step in [1, 2, 3, 7, 1000] {
            let r = scanChunked(body + "GET", step: step)
            #expect(r.end == body.utf8.count, "step \(step)")
            #expect(String(decoding: r.data, as: UTF8.self) == "Wikipedia in\r\n\r\nchunks.")
        }
        #expect(scanChunked("0\r\n\r\n").end == 5)
        // A bare LF in the framing: HAProxy accepts and rewrites it, hadeck (which forwards the
        // framing as it came) refuses it (README).
        #expect(scanChunked("0\n\n").invalid)
        #expect(scanChunked("A\r\n0123456789").end == nil)
        #expect(!scanChunked("A\r\n0123456789").invalid)
    }

    @Test func badChunkFramingIsRejected() {
        for bad in [
            "zz\r\n", "\r\n", ";x\r\n", "3\r\nabcX\r\n", "3\r\nabc\rX", "1234567890123456\r\n", "0\r\n\rX",
            "-1\r\n",
        ] {
            #expect(scanChunked(bad).invalid, "\(bad.debugDescription)")
        }
    }

    /// Random mutations of valid heads and chunked bodies: the parser never reads out of bounds
    /// (it asserts in debug builds), never crashes, and what it reports stays inside the input.
    @Test func randomMutationsNeverCrashOrEscapeTheInput() {
        var rng = SplitMix(seed: 0x6861_6465_636B)
        let seeds = [
            "GET /login HTTP/1.1\r\nHost: x\r\nCookie: SRV=A; JSESSIONID=1\r\nConnection: keep-alive\r\n\r\n",
            "POST /echo HTTP/1.0\nContent-Length: 12\nTransfer-Encoding: chunked\n\n",
            "HTTP/1.1 200 OK\r\nSet-Cookie: a=b\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        ]
        let alphabet = Array("\r\n :;,\t0aZ-/\u{0}\u{7f}\u{ff}".utf8)
        for round in 0..<20_000 {
            var bytes = Array(seeds[round % seeds.count].utf8)
            for _ in 0..<(1 + rng.next() % 4) {
                let i = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: i)
                default: bytes.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: i)
                }
                if bytes.isEmpty { bytes = [13] }
            }
            let cut = Int(rng.next() % UInt64(bytes.count + 1))
            for input in [bytes, Array(bytes[..<cut])] {
                for request in [true, false] {
                    var head = ParsedHead()
                    let result = input.withUnsafeBytes { parseHead($0, request: request, into: &head) }
                    if result == .complete {
                        #expect(head.length <= input.count)
                        #expect(head.headers.allSatisfy { $0.start <= $0.valueStart && $0.valueEnd <= head.length })
                    }
                }
                var scanner = ChunkedScanner()
                let step = input.withUnsafeBytes { p in
                    scanner.scan(p) { from, to in #expect(0 <= from && from <= to && to <= input.count) }
                }
                if case .done(let end) = step { #expect(end <= input.count) }
            }
        }
    }
}

/// A small deterministic generator (SplitMix64) so a failure can be replayed.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
