import HadeckTestSupport
import NIOCore
import NIOEmbedded
import Testing

@testable import LiveEngine

/// `stats auth`, `stats realm` and `stats hide-version` on the page the balancer serves, as
/// haproxy 2.6.12 answers them (401 with its body and `WWW-Authenticate`, the connection kept).
@Suite("Stats page: stats auth answers 401 without and 200 with the credentials", .onItsOwnThread)
struct StatsAuthTests {
    static let config = """
        defaults
            mode http
            timeout client 5s
        listen stats
            bind 127.80.1.1:18080
            stats enable
            stats uri /st
            stats auth admin:secret
            stats auth ops:pa:ss
            stats realm Ops
            stats hide-version
        """

    private func ask(_ p: EmbeddedProxy, _ authorization: String?, port: Int, path: String = "/st") throws -> String {
        let c = try p.client(port: port)
        try c.receive(
            "GET \(path) HTTP/1.1\r\nHost: x\r\n" + (authorization.map { "Authorization: \($0)\r\n" } ?? "") + "\r\n")
        return try c.sent()
    }

    @Test func withoutValidCredentialsThePageIs401WithTheRealm() throws {
        let p = try EmbeddedProxy(Self.config)
        let challenge =
            "HTTP/1.1 401 Unauthorized\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n"
            + "WWW-Authenticate: Basic realm=\"Ops\"\r\nContent-Length: 112\r\n\r\n"
            + HAProxyErrorResponse.unauthorized.body
        #expect(try ask(p, nil, port: 40_001) == challenge)
        // admin:wrong, a scheme other than Basic, junk base64.
        for bad in ["Basic YWRtaW46d3Jvbmc=", "Bearer YWRtaW46c2VjcmV0", "Basic !!!"] {
            #expect(try ask(p, bad, port: 40_002).hasPrefix("HTTP/1.1 401 Unauthorized\r\n"), "\(bad)")
        }
        #expect(try ask(p, nil, port: 40_003, path: "/metrics").hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
        #expect(p.records.allSatisfy { $0.status == 401 && $0.reason.hasSuffix(": 401") })
    }

    @Test func withCredentialsThePageIsServedWithoutItsVersion() throws {
        let p = try EmbeddedProxy(Self.config)
        // admin:secret, and ops:pa:ss (the password holds a colon).
        for (i, good) in ["Basic YWRtaW46c2VjcmV0", "basic b3BzOnBhOnNz"].enumerated() {
            let page = try ask(p, good, port: 40_010 + i)
            #expect(page.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(good)")
            #expect(page.contains("HAProxy semantics</h1>") && !page.contains("id=\"version\""))
        }
    }
}
