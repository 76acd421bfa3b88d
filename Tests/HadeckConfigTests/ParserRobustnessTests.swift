import Foundation
import HadeckBase
import HadeckTestSupport
import Testing

@testable import HadeckConfig

/// SplitMix64: a fixed sequence, so a failure names the mutation that caused it.
private struct Mutator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }

    /// Inserts, deletes, duplicates and corrupts bytes, favouring the bytes the readers act on.
    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var b = input
        let special = Array("{}\"'\\$#!%[]()@~\r\n\t \0:,.-+*0123456789".utf8) + [0xEF, 0xBB, 0xBF, 0xE9, 0xFF]
        for _ in 0...below(8) {
            let at = below(b.count + 1)
            switch below(6) {
            case 0: b.insert(special[below(special.count)], at: at)
            case 1: if !b.isEmpty { b.remove(at: min(at, b.count - 1)) }
            case 2:
                let end = min(b.count, at + below(64))
                b.insert(contentsOf: b[at..<end], at: at)
            case 3: if !b.isEmpty { b[min(at, b.count - 1)] = UInt8(truncatingIfNeeded: next()) }
            case 4: b.insert(contentsOf: Array(String(repeating: "{", count: below(3000)).utf8), at: at)
            default: b.insert(contentsOf: Array("\n.if 1\n$A=$A$A\n${A}${A}\n".utf8), at: at)
            }
        }
        return b
    }
}

/// Issue 15's "bad files that crash", the configuration readers' part: thousands of mutated corpus
/// files and a few pathological ones must be read to the end (a crash fails the whole test run),
/// each in well under a second.
@Suite(.inTheBackground) struct ParserRobustnessTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    static func files(_ kind: String) throws -> [[UInt8]] {
        let dir = corpus.appendingPathComponent(kind)
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().map {
            Array(try Data(contentsOf: dir.appendingPathComponent($0)))
        }
    }

    static func readBoth(_ bytes: [UInt8]) {
        let text = ConfigFiles.decode(bytes)
        _ = HAProxyConfigParser.parse(text: text, file: "m.cfg", options: .file(environment: ["A": "x y"]))
        let loader: KeepalivedIncludeLoader = { _, _ in [(file: "inc.conf", text: text)] }
        _ = KeepalivedConfigParser.parse(text: text, file: "m.conf", includeLoader: loader)
    }

    /// Seconds of CPU in a debug build: the suite runs in the background (nice 19), so the parsing
    /// takes only what the live tests leave, and its budget is CPU time.
    @Test func mutatedCorpusFiles() throws {
        let inputs = try Self.files("haproxy") + Self.files("keepalived")
        var mutator = Mutator(state: 14)
        let start = threadCPUTime()
        for round in 0..<1_000 {
            Self.readBoth(mutator.mutate(inputs[round % inputs.count]))
        }
        #expect(threadCPUTime() - start < .seconds(60))
    }

    /// A text, described by its start in test output.
    struct Text: CustomTestStringConvertible, Sendable {
        var text: String
        init(_ text: String) { self.text = text }
        var testDescription: String { "\(text.prefix(40))... (\(text.utf8.count) bytes)" }
    }

    @Test(
        arguments: [
            String(repeating: "(", count: 100_000),
            ".if " + String(repeating: "!(", count: 20_000) + "1",
            String(repeating: ".if 1\n", count: 200),
            "global\n    node " + String(repeating: "x", count: 2_000_000) + "\n",
            "acl a hdr(" + String(repeating: "(", count: 50_000) + "\n",
            String(repeating: "{", count: 100_000) + String(repeating: "}", count: 100_000),
            "$A=$B $B\n$B=$C $C\n$C=$D $D\n$D=$E $E\n$E=$F $F\n$F=$G $G\n$G=x x x x x x x x x\n$A\n",
            "$X=a \\\n" + String(repeating: "b \\\n", count: 10_000) + "c\n$X\n",
            "acl a nbsrv gt 9223372036854775807\nacl b nbsrv lt -9223372036854775808\nserver s 1.2.3.4:+9223372036854775808\n",
            "frontend f\n    bind :80\n    use_backend %[" + String(repeating: "lower,", count: 10_000) + "\n",
            String(repeating: "frontend f\n", count: 5_000),
        ].map(Text.init))
    func pathologicalFiles(_ text: Text) {
        let start = threadCPUTime()
        Self.readBoth(Array(text.text.utf8))
        #expect(threadCPUTime() - start < .seconds(10))
    }

    @Test func includeLoopsAreBounded() {
        let loader: KeepalivedIncludeLoader = { _, _ in
            (0..<20).map { (file: "f\($0).conf", text: "include *.conf\nvrrp_instance V { }\n") }
        }
        let r = KeepalivedConfigParser.parse(text: "include *.conf\n", file: "k.conf", includeLoader: loader)
        #expect(r.diagnostics.errors.contains { $0.message.contains("more than 1000 files included") })
    }
}
