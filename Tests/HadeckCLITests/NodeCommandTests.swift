import ArgumentParser
import Foundation
import HadeckTestSupport
import Testing

@testable import HadeckCLI

#if canImport(Glibc)
    import Glibc
#endif

@Suite(.onItsOwnThread) struct NodeCommandTests {
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

    /// `--mixed` addresses the mixed lab, a lab of its own unless `--id` names one.
    @Test func mixedLabHasItsOwnID() throws {
        let up = try #require(try Hadeck.parseAsRoot(["lab", "up", "--mixed"]) as? LabUp)
        #expect(up.options.mixed && up.options.labID == "hdkm")
        let kill = try #require(try Hadeck.parseAsRoot(["lab", "kill", "--mixed", "lb1/haproxy"]) as? LabKill)
        #expect(kill.options.labID == "hdkm")
        let named = try #require(try Hadeck.parseAsRoot(["lab", "up", "--mixed", "--id", "hdkx"]) as? LabUp)
        #expect(named.options.labID == "hdkx")
        let plain = try #require(try Hadeck.parseAsRoot(["lab", "status"]) as? LabStatusCommand)
        #expect(!plain.options.mixed && plain.options.labID == "hdk")
    }

    /// The test runs in the machine's own network namespace: the node refuses to touch it.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary), "needs a built .build/debug/hadeck"))
    func refusesTheMachinesOwnNetwork() async throws {
        let root = repositoryRoot + "/Examples/article/"
        let out = try runProgram([
            Self.binary, "node", "-f", root + "haproxy-lb2.cfg", "-k", root + "keepalived-lb2.conf",
        ])
        #expect(out.status == 1)
        let expected = geteuid() == 0 ? "looks like the machine's own network namespace" : "not root"
        #expect(out.stderr.contains(expected), "\(out.stderr)")
    }
}
