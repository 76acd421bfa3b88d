import ClusterConfig
import ClusterModel
import Foundation
import HadeckBase
import HadeckConfig
import Testing

@testable import ClusterCore

/// The simulator routes by the frontend's rules as the proxy does: `acl`, `use_backend`,
/// `http-request deny`, and the routing reason names the rule that matched.
@Suite struct FrontendRulesTests {
    /// The article's cluster with a frontend in front of the `web` listen section.
    func cluster(frontendRules: String) throws -> Cluster {
        let (loaded, diags) = ClusterLoader.load(path: "article/cluster.yaml") { path in
            let name = String(path.split(separator: "/").last ?? "")
            guard var text = ArticleClusterFiles.files[name] else { throw ConfigFileError(path: path, reason: "none") }
            if name.hasPrefix("haproxy") {
                text = text.replacingOccurrences(of: "listen web\n    bind :8080\n", with: "backend web\n")
                text += """

                    backend other
                        server webB 127.0.2.2:8888 check inter 2000 rise 2 fall 3

                    frontend www
                        bind :8080
                    \(frontendRules)
                    """
            }
            return text
        }
        let spec = ClusterSpec(try #require(loaded, "\(diags.items)"))
        return Cluster(spec: spec)
    }

    @Test func useBackendWithAnACLAndAnHTTPRequestDeny() throws {
        let c = try cluster(
            frontendRules: """
                    acl from_c1 src 127.0.3.2
                    acl login path_beg /login
                    http-request deny if from_c1
                    use_backend other if login { hdr(host) -m beg 127.0.0.99 }
                    default_backend web
                """)
        var records: [RequestRecord] = []
        c.onEvent = { if let r = $0.request { records.append(r) } }
        try c.apply(.traffic(enabled: true, rate: 4, clients: 2))
        c.run(until: Instant(micros: 10_000_000))
        let c1 = records.filter { $0.client == "c1" }
        let c2 = records.filter { $0.client == "c2" }
        #expect(
            !c1.isEmpty && c1.allSatisfy { $0.status == 403 && $0.reason.contains("http-request deny") },
            "\(c1.map(\.reason))")
        #expect(!c2.isEmpty && c2.allSatisfy { $0.status == 200 && $0.server == "webB" }, "\(c2.map(\.reason))")
        let reason = try #require(c2.first?.reason)
        #expect(reason.contains("-> backend other"), "\(reason)")
    }
}
