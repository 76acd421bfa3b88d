import Foundation
import HadeckTestSupport
import PlainSockets
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `hadeck proxy` as a process, as clients and the machine's limits treat it.
@Suite(.tags(.live), .serialized, .onItsOwnThread) struct ProxyLiveTests {
    static let backendHost = "127.82.2.10"
    static let proxyHost = "127.82.2.11"

    /// A running `hadeck proxy` on a one-server config in front of a recording backend.
    private func withProxy(
        limit: Int? = nil, logging: Bool = false, _ body: (BackgroundProgram, _ stdout: String) throws -> Void
    ) throws {
        try withTemporaryDirectory("proxy2-live") { dir in
            let backend = try RecordingBackend(host: Self.backendHost, port: 18081)
            defer { backend.stop() }
            let config = try dir.write(
                "haproxy.cfg",
                """
                \(logging ? "global\n    log stdout format raw local0" : "")
                defaults
                    mode http
                    \(logging ? "log global" : "")
                    timeout connect 2s
                    timeout client 30s
                    timeout server 30s
                    timeout http-request 30s
                frontend web
                    bind \(Self.proxyHost):18080
                    default_backend app
                backend app
                    server s1 \(Self.backendHost):18081

                """)
            let run = "exec '\(DashboardEndToEndTests.binary)' proxy -f '\(config)'"
            let proxy = try BackgroundProgram(
                ["/bin/sh", "-c", limit.map { "ulimit -n \($0) && " + run } ?? run], stdout: dir.file("stdout"))
            try #require(proxy.waitListening(Self.proxyHost, 18080), "hadeck proxy did not start")
            try body(proxy, dir.file("stdout"))
        }
    }

    /// `printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | socat -t3 - TCP:HOST:PORT,shut-down`: the client
    /// shuts down its sending side after the request and still gets the answer (as from HAProxy).
    @Test(
        .enabled(
            if: HeadlessLiveTests.available && which("socat") != nil, "needs socat and a built .build/debug/hadeck"))
    func aClientThatHalfClosesAfterItsRequestGetsTheResponse() throws {
        try withProxy { _, _ in
            let result = try runProgram(
                ["socat", "-t3", "-", "TCP:\(Self.proxyHost):18080,shut-down"],
                input: "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                timeout: 10)
            #expect(
                result.stdout.hasPrefix("HTTP/1.1 200 OK\r\n") && result.stdout.hasSuffix("\r\n\r\nok"), "\(result)")
        }
    }

    /// Sends a GET on `fd` and reads its 200 (the backend's `ok` body); false when it does not come.
    private func exchange(_ fd: Int32) -> Bool {
        let request = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count
        else { return false }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !out.starts(with: Array("HTTP/1.1 200".utf8)) || !out.suffix(6).elementsEqual(Array("\r\n\r\nok".utf8)) {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return false }
            out += buffer[0..<n]
            if out.count >= 12 && !out.starts(with: Array("HTTP/1.1 200".utf8)) { return false }
        }
        return true
    }

    /// Out of file descriptors (RLIMIT_NOFILE 64 and a flood of connections), HAProxy stops
    /// accepting for a while and uses no CPU; so does hadeck: it does not retry a failing accept()
    /// in a loop, keeps serving the connections it has, and accepts again once descriptors are free.
    @Test(.enabled(if: HeadlessLiveTests.available, "needs a built .build/debug/hadeck"))
    func outOfDescriptorsItPausesAcceptingServesWhatItHasAndDoesNotSpin() throws {
        try withProxy(limit: 64) { proxy, _ in
            let kept = try #require(LoopbackTCP.connect(host: Self.proxyHost, port: 18080))
            defer { close(kept) }
            #expect(exchange(kept))

            // The flood: far more connections than the proxy has descriptors for; the kernel completes
            // them (the listen backlog), the proxy cannot accept them all.
            var flood: [Int32] = []
            defer { for fd in flood { close(fd) } }
            for _ in 0..<150 {
                if let fd = LoopbackTCP.connect(host: Self.proxyHost, port: 18080, timeoutMicros: 500_000) {
                    flood.append(fd)
                }
            }
            #expect(flood.count > 100)
            usleep(300_000)
            let before = proxy.cpuSeconds
            usleep(2_000_000)
            let spent = proxy.cpuSeconds - before
            // HAProxy: 0 %. Spinning on accept() was ~97 % of a core.
            #expect(spent < 0.2, "hadeck proxy used \(spent) s of CPU in 2 s while out of descriptors")

            // The connection it has is still served.
            #expect(exchange(kept))

            // Descriptors free again: new connections are accepted and served.
            for fd in flood { close(fd) }
            flood = []
            var served = false
            let end = Date().addingTimeInterval(5)
            while !served && Date() < end {
                served =
                    firstStatus(host: Self.proxyHost, port: 18080, Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                    .status == 200
                if !served { usleep(100_000) }
            }
            #expect(served, "no connection accepted after the flood ended")
        }
    }

    /// No `log` line, no request lines (as HAProxy); with `log global` one line per request.
    @Test(.enabled(if: HeadlessLiveTests.available, "needs a built .build/debug/hadeck"))
    func requestsAreLoggedOnlyWhenTheConfigurationSaysLog() throws {
        for logging in [false, true] {
            try withProxy(logging: logging) { _, stdout in
                let request = Array("GET /logged HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
                #expect(firstStatus(host: Self.proxyHost, port: 18080, request).status == 200)
                usleep(400_000)  // the log is flushed every 100 ms
                let lines = ((try? String(contentsOfFile: stdout, encoding: .utf8)) ?? "").split(separator: "\n")
                #expect(lines.filter { $0.contains("GET /logged HTTP/1.1") }.count == (logging ? 1 : 0), "\(lines)")
            }
        }
    }
}
