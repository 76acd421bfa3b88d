import ClusterCore
import ClusterModel
import Foundation
import HadeckBase
import LiveCluster
import Testing

@Suite("Live cluster: sessions through the VIP with curl")
struct StickySessionTests {
    @Test(.enabled(if: curlPath != nil, "needs curl"))
    func curlKeepsItsSessionAndTheBackendNeverSeesSRV() async throws {
        let live = try await startArticle(slot: 1)
        let jar = newJar()
        defer { try? FileManager.default.removeItem(atPath: jar) }
        let url = "http://127.66.1.99:8080/login"

        let first = try curl(url, jar: jar)
        #expect(first.status == 0)
        let cookies = first.header("set-cookie")
        let srv = cookies.first { $0.hasPrefix("SRV=") }
        let session = cookies.first { $0.hasPrefix("JSESSIONID=") }
        #expect(srv == "SRV=A; path=/" || srv == "SRV=B; path=/", "\(cookies)")
        let id = try #require(session?.dropFirst("JSESSIONID=".count).split(separator: ";").first.map(String.init))
        // The cookie names the server that made the session: A is webA (jvm3), B is webB (jvm2).
        #expect(id.hasSuffix(srv == "SRV=A; path=/" ? ".jvm3" : ".jvm2"), "\(id) with \(srv ?? "-")")
        #expect(first.body.contains(id))

        let second = try curl(url, jar: jar)
        #expect(second.header("set-cookie").isEmpty, "the session is kept: \(second.header("set-cookie"))")
        #expect(second.body.contains(id))
        // indirect: the balancer strips its cookie; the app echoes what it received.
        let seen = second.header("x-seen-cookie").joined()
        #expect(seen.contains("JSESSIONID=\(id)"))
        #expect(!seen.contains("SRV="), "the backend saw \(seen)")

        // Killing the backend that holds the session moves the client to the other one, with a new session.
        let holder = id.hasSuffix(".jvm3") ? "webA" : "webB"
        try await live.apply(.kill(.backend(holder)), by: "the test")
        let third = try curl(url, jar: jar)
        let newSession = third.header("set-cookie").first { $0.hasPrefix("JSESSIONID=") }
        let newID = try #require(newSession?.dropFirst("JSESSIONID=".count).split(separator: ";").first)
        #expect(newID != id)
        #expect(newID.hasSuffix(holder == "webA" ? ".jvm2" : ".jvm3"))
        #expect(third.header("set-cookie").contains(holder == "webA" ? "SRV=B; path=/" : "SRV=A; path=/"))
        #expect(third.header("x-served-by") == [holder == "webA" ? "webB" : "webA"])
        await live.shutdown()
    }
}
