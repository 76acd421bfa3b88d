import ClusterConfig
import ClusterModel
import Foundation
import HadeckBase
import HadeckConfig
import Testing

@testable import ClusterCore

/// The simulator gives servers' `maxconn` slots and queues as the live balancer does (issue 14,
/// item 7): requests beyond the slots wait, take a freed slot in order, or get 503 at `timeout queue`.
@Suite struct ServerQueueSimulationTests {
    /// The article's cluster with `maxconn 1` on both apps and `extraDefaults` in its defaults.
    func cluster(extraDefaults: String = "") throws -> Cluster {
        let (loaded, diags) = ClusterLoader.load(path: "article/cluster.yaml") { path in
            let name = String(path.split(separator: "/").last ?? "")
            guard var text = ArticleClusterFiles.files[name] else { throw ConfigFileError(path: path, reason: "none") }
            if name.hasPrefix("haproxy") {
                text = text.replacingOccurrences(of: " check inter 2000", with: " maxconn 1 check inter 2000")
                text = text.replacingOccurrences(
                    of: "    timeout connect 5s\n", with: "    timeout connect 5s\n\(extraDefaults)")
            }
            return text
        }
        let spec = ClusterSpec(try #require(loaded, "\(diags.items)"))
        return Cluster(spec: spec)
    }

    func records(_ c: Cluster, seconds: Int64) throws -> [RequestRecord] {
        var records: [RequestRecord] = []
        c.onEvent = { if let r = $0.request { records.append(r) } }
        try c.apply(.traffic(enabled: true, rate: 2_000, clients: 12))
        c.run(until: Instant(micros: seconds * 1_000_000))
        return records
    }

    @Test func requestsBeyondTheSlotsWaitAndAreServedInTurn() throws {
        let c = try cluster()
        let all = try records(c, seconds: 6)
        let queued = all.filter { $0.reason.contains("a slot freed") }
        #expect(all.count > 1_000)
        #expect(!queued.isEmpty, "no request waited")
        #expect(queued.allSatisfy { $0.status == 200 }, "\(queued.prefix(3).map(\.reason))")
        #expect(all.allSatisfy { $0.status == 200 }, "\(all.filter { $0.status != 200 }.prefix(3).map(\.reason))")
    }

    @Test func aRequestThatWaitsLongerThanTimeoutQueueGets503() throws {
        let c = try cluster(extraDefaults: "    timeout queue 1ms\n")
        let all = try records(c, seconds: 6)
        let expired = all.filter { $0.reason.contains("timeout queue (1ms) expired") }
        #expect(!expired.isEmpty, "no request timed out in the queue")
        #expect(expired.allSatisfy { $0.status == 503 && $0.server == nil })
        #expect(all.contains { $0.status == 200 && $0.reason.contains("a slot freed") })
    }
}
