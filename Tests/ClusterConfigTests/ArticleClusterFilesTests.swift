import HadeckConfig
import Testing
import VRRPCore

@testable import ClusterConfig

/// The repository root, found from this file's path.
private let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

@Suite struct ArticleClusterFilesTests {
    @Test func builtInArticleFilesMatchTheExamples() throws {
        for (name, text) in ArticleClusterFiles.files {
            #expect(
                try ConfigFiles.read(repositoryRoot + "/Examples/article/" + name) == text,
                "Examples/article/\(name) differs from the built-in copy")
        }
    }

    @Test func builtInClusterLoadsWithoutDiagnostics() {
        let loaded = ClusterLoader.article()
        #expect(loaded.hosts.map(\.definition.name) == ["lb1", "lb2"])
        #expect(loaded.hosts.allSatisfy { !$0.keepalived.instances.isEmpty })
    }
}
