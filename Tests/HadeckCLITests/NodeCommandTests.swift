import ArgumentParser
import Foundation
import HadeckTestSupport
import Testing

@testable import HadeckCLI

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct NodeCommandTests {
    static let binary = repositoryRoot + "/.build/debug/hadeck"

    @Test(arguments: [
        ["node"], ["node", "lb1"], ["node", "--cluster", "Examples/article/cluster.yaml"],
        ["node", "-f", "haproxy.cfg"], ["node", "--cluster", "c.yaml", "lb1", "-f", "h.cfg", "-k", "k.conf"],
    ])
    func incompleteCommandLinesAreRefused(_ words: [String]) {
        #expect(throws: (any Error).self) { try Hadeck.parseAsRoot(words) }
    }

    @Test func bothWaysOfNamingTheHostParse() throws {
        let files = try #require(try Hadeck.parseAsRoot(["node", "-f", "h.cfg", "-k", "k.conf"]) as? NodeCommand)
        #expect(files.haproxyFile == "h.cfg" && files.keepalivedFile == "k.conf" && !files.hostNetwork)
        let cluster = try #require(
            try Hadeck.parseAsRoot(["node", "--cluster", "Examples/article/cluster.yaml", "lb2"]) as? NodeCommand)
        #expect(cluster.host == "lb2" && cluster.cluster == "Examples/article/cluster.yaml")
    }

    /// The test runs in the machine's own network namespace: the node refuses to touch it.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary), "needs a built .build/debug/hadeck"))
    func refusesTheMachinesOwnNetwork() throws {
        let root = repositoryRoot + "/Examples/article/"
        let out = try runProgram([
            Self.binary, "node", "-f", root + "haproxy-lb2.cfg", "-k", root + "keepalived-lb2.conf",
        ])
        #expect(out.status == 1)
        let expected = geteuid() == 0 ? "looks like the machine's own network namespace" : "not root"
        #expect(out.stderr.contains(expected), "\(out.stderr)")
    }
}
