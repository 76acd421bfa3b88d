import HadeckBase
import HadeckConfig
import HadeckTestSupport
import Testing
import YAMLDocument

@testable import ClusterConfig

private let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

@Suite(.inTheBackground) struct ClusterFileDepthTests {
    /// Each of these overflowed the stack inside the YAML parser (a crash of the whole program)
    /// before the depth was bounded.
    @Test(arguments: [
        (String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000), 3, 50_002),
        (String(repeating: "{a: ", count: 5_000) + "1" + String(repeating: "}", count: 5_000), 3, 5_002),
    ])
    func flowNestingIsRefusedWithItsLine(value: String, line: Int, depth: Int) {
        let (file, d) = ClusterFile.parse("name: x\nbalancers:\n  lb1: \(value)\n", file: "deep.yaml")
        #expect(file == nil)
        #expect(
            d.items.map(\.description) == [
                "deep.yaml:\(line): error: the cluster file nests \(depth) levels deep here; hadeck reads at most 64 (a cluster file needs 3)"
            ])
    }

    @Test func blockNestingIsRefusedWithItsLine() {
        var text = "name: x\n"
        for i in 0..<5_000 { text += String(repeating: " ", count: i) + "k\(i):\n" }
        let (file, d) = ClusterFile.parse(text, file: "deep.yaml")
        #expect(file == nil)
        #expect(d.errors.first?.line == 5_001)
        #expect(d.errors.count == 1)
    }

    @Test func ordinaryFilesAreShallow() throws {
        let text = try ConfigFiles.read(repositoryRoot + "/Examples/article/cluster.yaml")
        #expect(YAMLDocument.deepestNesting(text)?.depth == 3)
    }
}

@Suite struct ClusterDriftTests {
    @Test func articleClusterHasNoDrift() throws {
        let (loaded, d) = ClusterLoader.load(
            path: repositoryRoot + "/Examples/article/cluster.yaml", read: ConfigFiles.read)
        let cluster = try #require(loaded)
        #expect(d.items.isEmpty)
        #expect(ClusterLoader.drift(cluster).items.isEmpty)
        #expect(cluster.hosts.map { $0.keepalivedSources.instances.keys.sorted() } == [["VI_1"], ["VI_1"]])
    }

    /// The drifted pair of Examples/broken: every kind of drift, each naming both files' lines.
    @Test func driftedPairWarnsWithBothLines() throws {
        let dir = repositoryRoot + "/Examples/broken/"
        let (loaded, d) = ClusterLoader.load(path: dir + "cluster-drift.yaml", read: ConfigFiles.read)
        #expect(loaded != nil)
        let drift = d.items.filter { !$0.message.contains("is not simulated by hadeck") }
        let h1 = dir + "haproxy-drift-lb1.cfg"
        let h2 = dir + "haproxy-drift-lb2.cfg"
        let k1 = dir + "keepalived-drift-lb1.conf"
        let k2 = dir + "keepalived-drift-lb2.conf"
        let expected: [(String, Int, String)] = [
            (h1, 15, "(\(h2):13)"), (h1, 16, "(\(h2):14)"), (h1, 13, "(\(h2):16)"), (h1, 20, "(\(h2):19)"),
            (h2, 19, "(\(h1):20)"), (k1, 9, "(lb2: \(k2):9)"), (k1, 11, "(lb2: \(k2):11)"), (k1, 18, "(lb2: \(k2):18)"),
            (k1, 20, "(lb2: \(k2):20)"), (k1, 7, "(lb2: \(k2):7)"), (k1, 13, "\(k2):12"),
        ]
        #expect(drift.count == expected.count)
        for (item, (file, line, other)) in zip(drift, expected) {
            #expect(item.severity == .warning)
            #expect(item.file == file && item.line == line, "\(item)")
            #expect(item.message.contains(other), "\(item)")
        }
        #expect(drift.map(\.message).contains { $0.hasPrefix("backend 'web': cookie 'SRV' insert on lb1 differs") })
        #expect(drift.map(\.message).contains { $0.contains("virtual_router_id 51 on lb1 differs from 52 on lb2") })
    }
}

@Suite struct ClusterFileBoundsTests {
    /// `traffic: {rate: 1000000}` used to run away (a simulated hour took longer than the hour).
    @Test func trafficBeyondWhatTheBrowsersSendIsRefused() {
        let text = """
            vip: 10.0.0.99:80
            balancers:
              lb1: {address: 10.0.0.1, mac: "52:54:00:00:01:01", haproxy: h.cfg, keepalived: k.conf}
            backends:
              webA: {address: 10.0.1.1:8081, jvmRoute: jvm3}
            traffic: {rate: 1000000, clients: 1000001}
            """
        let (file, d) = ClusterFile.parse(text, file: "c.yaml")
        #expect(file == nil)
        #expect(
            d.items.map(\.description) == [
                "c.yaml:6: error: traffic rate must be a number of requests per second from 0 to 10000",
                "c.yaml:6: error: traffic clients must be a whole number from 1 to 100000",
            ])
    }

    /// Found by fuzzing: Yams reads `1:2:...` as a base-60 integer and traps when it overflows Int.
    @Test func aSexagesimalClientCountBeyondIntIsAnErrorNotATrap() {
        let text = """
            vip: 10.0.0.99:80
            balancers:
              lb1: {address: 10.0.0.1, mac: "52:54:00:00:01:01", haproxy: h.cfg, keepalived: k.conf}
            backends:
              webA: {address: 10.0.1.1:8081, jvmRoute: jvm3}
            traffic: {clients: 1:2:3:4:5:6:7:8:9:10:11:12}
            """
        let (file, d) = ClusterFile.parse(text, file: "c.yaml")
        #expect(file == nil)
        #expect(
            d.items.map(\.description) == ["c.yaml:6: error: traffic clients must be a whole number from 1 to 100000"])
    }
}
