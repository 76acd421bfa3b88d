import Foundation
import HadeckBase
import Testing

@testable import HadeckConfig

/// Real haproxy.cfg and keepalived.conf files from public repositories (permissive licences; the
/// sources are in Benchmarks/config-corpus/sources.tsv). expectations.tsv says which ones the real
/// programs accept, as Benchmarks/config-corpus.sh found by running them; hadeck must report no error
/// on those, and must read every file to the end.
@Suite struct CorpusTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    struct Case: CustomTestStringConvertible, Sendable {
        var kind: String
        var name: String
        var accepted: Bool
        var testDescription: String { "\(kind)/\(name)" }
    }

    static let cases: [Case] = {
        let text =
            (try? String(contentsOf: directory.appendingPathComponent("expectations.tsv"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            let f = line.split(separator: "\t").map(String.init)
            return f.count == 3 ? Case(kind: f[0], name: f[1], accepted: f[2] == "1") : nil
        }
    }()

    static func diagnostics(_ c: Case) throws -> Diagnostics {
        let path = directory.appendingPathComponent(c.kind).appendingPathComponent(c.name).path
        if c.kind == "haproxy" { return try ConfigFiles.loadHAProxy(path: path).diagnostics }
        return try ConfigFiles.loadKeepalived(path: path).diagnostics
    }

    @Test func everyFixtureHasAnExpectation() throws {
        for kind in ["haproxy", "keepalived"] {
            let names = try FileManager.default.contentsOfDirectory(
                atPath: Self.directory.appendingPathComponent(kind).path)
            #expect(Set(names) == Set(Self.cases.filter { $0.kind == kind }.map(\.name)))
        }
        #expect(Self.cases.filter(\.accepted).count >= 5)
    }

    @Test(arguments: cases)
    func noErrorWhereTheRealProgramAccepts(_ c: Case) throws {
        let diagnostics = try Self.diagnostics(c)
        if c.accepted {
            #expect(diagnostics.errors.map(\.description) == [])
        }
    }

    /// The files HAProxy 2.6 refuses for their last line alone are refused by hadeck in HAProxy's words.
    @Test func missingFinalNewlineAsHAProxy() throws {
        let c = Case(kind: "haproxy", name: "AllawaAbdat_docker_image_haproxy__haproxy.cfg", accepted: false)
        let errors = try Self.diagnostics(c).errors.map(\.message)
        #expect(errors == ["Missing LF on last line, file might have been truncated at position 5."])
    }
}
