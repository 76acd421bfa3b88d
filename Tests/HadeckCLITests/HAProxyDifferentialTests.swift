import Foundation
import HadeckTestSupport
import PlainSockets
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One malformed (or borderline) exchange: the request a client sends, and, for a response case,
/// what the backend answers. `stricter` names the README's sentence when hadeck refuses what
/// HAProxy accepts on purpose.
struct DifferentialCase: CustomStringConvertible, Sendable {
    var name: String
    var request: [UInt8]
    var response: [UInt8]? = nil
    var stricter: String? = nil
    var description: String { name }
}

/// What one proxy did with a case.
private struct Outcome: Equatable {
    var status: Int?
    var seconds: Double
    /// Bytes the backend received.
    var forwarded: Int
    /// Request lines for `/smuggled` the backend received.
    var smuggled: Int

    /// The proxy answered itself: a request refused (4xx with nothing forwarded) or a response refused (502).
    func refused(response: Bool) -> Bool {
        guard let status else { return false }
        return response ? status == 502 : status >= 400 && forwarded == 0
    }
}

/// The README sentences that document where hadeck refuses what HAProxy 2.6 accepts.
enum Stricter {
    static let obsFold = "obs-fold (a header line that starts with a blank)"
    static let lengthList = "a Content-Length list such as `3, 3`"
    static let chunkLineEnding = "a bare LF in chunked framing"
    static let extensionBytes = "control bytes in a chunk extension"
    static let nulInValue = "NUL and other control bytes in a header value"
    static let version = "any version but HTTP/1.0 and HTTP/1.1"
}

/// The generated set: HAProxy 2.6's refusals found by the reliability probe, request smuggling
/// variants (CL.TE, TE.CL, TE.TE with obfuscated Transfer-Encoding names and values), Content-Length
/// forms, chunked framing, and malformed responses.
enum DifferentialCases {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
    static let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    static let ok = bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    static var requests: [DifferentialCase] {
        var cases: [DifferentialCase] = []
        func add(_ name: String, _ text: String, stricter: String? = nil) {
            cases.append(DifferentialCase(name: name, request: bytes(text), stricter: stricter))
        }
        let post = "POST / HTTP/1.1\r\nHost: x\r\n"
        add("plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        add("two different Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        add("the same Host twice", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n")
        add("absolute URI, other host", "GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n")
        add("absolute URI, default port", "GET http://a:80/ HTTP/1.1\r\nHost: a\r\n\r\n")
        add("absolute URI, other port", "GET http://a:81/ HTTP/1.1\r\nHost: a\r\n\r\n")
        add("absolute URI, user info", "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n")
        add("target without /", "GET foo HTTP/1.1\r\nHost: x\r\n\r\n")
        add("target with #", "GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n")
        cases.append(
            DifferentialCase(
                name: "target with bytes >= 0x80",
                request: bytes("GET /a") + [0xC3, 0xA9] + bytes(" HTTP/1.1\r\nHost: x\r\n\r\n")))
        add("control bytes in the version", "GET / HTTP\u{0F}1\u{0E}1\r\nHost: x\r\n\r\n")
        add("lowercase version", "GET / http/1.1\r\nHost: x\r\n\r\n")
        add("HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", stricter: Stricter.version)
        add("asterisk", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        add("no Host", "GET / HTTP/1.1\r\n\r\n")
        add("WebSocket without key", "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
        add(
            "WebSocket with key",
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        let fields = { (n: Int) in (0..<n).map { "X-\($0): a\r\n" }.joined() }
        add("100 header fields", "GET / HTTP/1.1\r\nHost: x\r\n\(fields(99))\r\n")
        add("101 header fields", "GET / HTTP/1.1\r\nHost: x\r\n\(fields(100))\r\n")
        add("space in a header name", "GET / HTTP/1.1\r\nHost: x\r\nX Y: 1\r\n\r\n")
        add("NUL in a value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\u{0}b\r\n\r\n", stricter: Stricter.nulInValue)
        add("HTTP/1.0 GET with a body", "GET / HTTP/1.0\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
        cases.append(
            DifferentialCase(
                name: "TLS ClientHello",
                request: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]
                    + Array(repeating: 0, count: 40)
            ))

        // Content-Length forms.
        for (name, header, stricter) in [
            ("CL", "Content-Length: 3", nil), ("CL leading zero", "Content-Length: 03", nil),
            ("CL plus", "Content-Length: +3", nil), ("CL minus", "Content-Length: -3", nil),
            ("CL hex", "Content-Length: 0x3", nil), ("CL list", "Content-Length: 3, 3", Stricter.lengthList),
            ("CL twice, same", "Content-Length: 3\r\nContent-Length: 3", nil),
            ("CL twice, differing", "Content-Length: 3\r\nContent-Length: 4", nil),
            ("CL space before colon", "Content-Length : 3", nil),
        ] {
            add(name, post + header + "\r\n\r\nabc", stricter: stricter)
        }

        // Smuggling: Transfer-Encoding names and values, alone (TE), after (CL.TE) and before (TE.CL) a
        // Content-Length that covers the whole rest, with a request hidden behind the chunks.
        let names = [
            "Transfer-Encoding", "transfer-encoding", "Transfer-Encoding ", "Transfer_Encoding",
            "X: y\r\n Transfer-Encoding",
        ]
        let values = [
            ": chunked", ":chunked", ": chunked ", ":\tchunked", ": xchunked", ": chunked, identity",
            ": identity, chunked",
            ": \"chunked\"", ": chunk", ": CHUNKED", ": chunked\r\nTransfer-Encoding: x", ":\u{0B}chunked",
            ": chunked;q=1",
            ":\r\n chunked", ": gzip, chunked",
        ]
        let body = "0\r\n\r\n" + smuggled
        let length = "Content-Length: \(body.utf8.count)"
        for name in names {
            for value in values {
                let te = name + value
                let fold = name.contains("\r\n ") || value.contains("\r\n ")
                for (kind, headers) in [("TE", te), ("CL.TE", length + "\r\n" + te), ("TE.CL", te + "\r\n" + length)] {
                    add(
                        "\(kind) \(te.debugDescription)", post + headers + "\r\n\r\n" + body,
                        stricter: fold ? Stricter.obsFold : value.contains("\u{0B}") ? Stricter.nulInValue : nil)
                }
            }
        }

        // Chunked framing.
        let chunked = post + "Transfer-Encoding: chunked\r\n\r\n"
        for (name, framing, stricter) in [
            ("chunks", "3\r\nabc\r\n0\r\n\r\n", nil),
            ("bare LF after an extension", "3;a\nabc\r\n0\r\n\r\n", Stricter.chunkLineEnding),
            ("bare LF everywhere", "3\nabc\n0\n\n", Stricter.chunkLineEnding),
            ("junk after the size", "3x\r\nabc\r\n0\r\n\r\n", nil),
            ("control byte in an extension", "3;a\u{1}b\r\nabc\r\n0\r\n\r\n", Stricter.extensionBytes),
            ("blank then extension", "3 ;a=b\r\nabc\r\n0\r\n\r\n", nil),
            ("trailer without colon", "3\r\nabc\r\n0\r\nbad\r\n\r\n", nil),
            ("trailer", "3\r\nabc\r\n0\r\nT: v\r\n\r\n", nil),
            ("20 kB extension", "3;" + String(repeating: "a", count: 20_000) + "\r\nabc\r\n0\r\n\r\n", nil),
            ("3000 trailers", "3\r\nabc\r\n0\r\n" + (0..<3000).map { "T\($0): v\r\n" }.joined() + "\r\n", nil),
            ("15-digit size", "100000000000000\r\nabc", nil), ("14-digit size", "10000000000000\r\nabc", nil),
            ("leading zeros", "0000000000000003\r\nabc\r\n0\r\n\r\n", nil),
            ("negative size", "-3\r\nabc\r\n0\r\n\r\n", nil),
            ("0x size", "0x3\r\nabc\r\n0\r\n\r\n", nil), ("data longer than its size", "3\r\nabcX\r\n0\r\n\r\n", nil),
        ] {
            add("chunked: \(name)", chunked + framing, stricter: stricter)
        }
        return cases
    }

    static var responses: [DifferentialCase] {
        var cases: [DifferentialCase] = []
        let get = bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        func add(_ name: String, _ response: String, request: [UInt8]? = nil) {
            cases.append(
                DifferentialCase(name: "response: \(name)", request: request ?? get, response: bytes(response)))
        }
        let fields = { (n: Int) in (0..<n).map { "X-\($0): a\r\n" }.joined() }
        add("CL+TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        add("100 fields", "HTTP/1.1 200 OK\r\n\(fields(99))Content-Length: 2\r\n\r\nok")
        add("101 fields", "HTTP/1.1 200 OK\r\n\(fields(100))Content-Length: 2\r\n\r\nok")
        add("500 fields", "HTTP/1.1 200 OK\r\n\(fields(500))Content-Length: 2\r\n\r\nok")
        add("unasked 101", "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
        let ws = bytes(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        add(
            "101 without Accept",
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", request: ws)
        add(
            "101 with Accept",
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n"
                + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", request: ws)
        add("two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok")
        add("gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok")
        add("invalid chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n")
        add("15-digit chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000000000000\r\nok")
        add("trailer without colon", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nbad\r\n\r\n")
        add("bad status", "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok")
        for value in [": xchunked", ": chunked, identity", ": \"chunked\"", ": chunked\r\nTransfer-Encoding: chunked"] {
            add(
                "TE\(value.debugDescription)",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding\(value)\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        }
        return cases
    }
}

/// The same haproxy.cfg served by the real haproxy 2.6 and by `hadeck proxy`, in front of one
/// recording backend; every case goes to both. The test fails when HAProxy refuses something that
/// hadeck accepts, when a request hadeck refuses reaches the backend, when hadeck lets more hidden
/// `/smuggled` requests through than HAProxy, or when hadeck refuses what HAProxy accepts without the
/// README saying so.
@Suite(.tags(.live), .serialized, .onItsOwnThread) struct HAProxyDifferentialTests {
    static let haproxy = which("haproxy")
    static var available: Bool { haproxy != nil && HeadlessLiveTests.available }
    static let backendHost = "127.82.1.10"
    static let haproxyHost = "127.82.1.11"
    static let hadeckHost = "127.82.1.12"

    static func config(bind: String) -> String {
        """
        defaults
            mode http
            timeout connect 2s
            timeout client 5s
            timeout server 5s
            timeout http-request 5s
        frontend web
            bind \(bind):18080
            default_backend app
        backend app
            server s1 \(backendHost):18081

        """
    }

    @Test(.enabled(if: available, "needs haproxy (apt-get install haproxy) and a built .build/debug/hadeck"))
    func whatHAProxyRefusesHadeckRefusesAndNothingRefusedReachesTheBackend() throws {
        try withTemporaryDirectory("proxy2-diff") { dir in
            let backend = try RecordingBackend(host: Self.backendHost, port: 18081)
            defer { backend.stop() }
            let real = try BackgroundProgram([
                try #require(Self.haproxy), "-db", "-f",
                try dir.write("haproxy.cfg", Self.config(bind: Self.haproxyHost)),
            ])
            let mine = try BackgroundProgram([
                DashboardEndToEndTests.binary, "proxy", "-f",
                try dir.write("hadeck.cfg", Self.config(bind: Self.hadeckHost)),
            ])
            try #require(real.waitListening(Self.haproxyHost, 18080), "haproxy did not start")
            try #require(mine.waitListening(Self.hadeckHost, 18080), "hadeck proxy did not start")
            let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)

            let cases = DifferentialCases.requests + DifferentialCases.responses
            var stricter: [String] = []
            for c in cases {
                backend.answer(c.response ?? DifferentialCases.ok)
                func run(_ host: String) -> Outcome {
                    _ = backend.take()
                    let (status, seconds) = firstStatus(host: host, port: 18080, c.request, timeout: 1)
                    usleep(20_000)  // what the proxy forwards arrives at the backend
                    let got = backend.take()
                    let smuggled =
                        String(decoding: got, as: UTF8.self).components(separatedBy: "GET /smuggled ").count - 1
                    return Outcome(status: status, seconds: seconds, forwarded: got.count, smuggled: smuggled)
                }
                let theirs = run(Self.haproxyHost)
                let ours = run(Self.hadeckHost)
                let response = c.response != nil
                let summary = "\(c.name): haproxy \(theirs), hadeck \(ours)"
                if theirs.refused(response: response) {
                    #expect(ours.status == theirs.status && ours.refused(response: response), "\(summary)")
                    // Refused at once, as HAProxy does (no wait for a timeout).
                    #expect(ours.seconds < 0.5, "\(summary)")
                } else if ours.refused(response: response) {
                    stricter.append(c.name)
                    #expect(c.stricter != nil, "hadeck refuses what HAProxy accepts, not in README: \(summary)")
                }
                if !response, let status = ours.status, status >= 400, status != 502, status != 503, status != 504 {
                    #expect(ours.forwarded == 0, "a refused request reached the backend: \(summary)")
                }
                #expect(ours.smuggled <= theirs.smuggled, "a hidden request got through: \(summary)")
            }
            for phrase in Set(cases.compactMap(\.stricter)) {
                #expect(readme.contains(phrase), "README lacks the deviation: \(phrase)")
            }
            // Each documented deviation shows in some case (else the sentence should go).
            for phrase in Set(cases.compactMap(\.stricter)) {
                #expect(
                    cases.contains { $0.stricter == phrase && stricter.contains($0.name) }, "never stricter: \(phrase)")
            }
            withExtendedLifetime((real, mine)) {}
        }
    }
}
