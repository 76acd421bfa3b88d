import Testing
import YAMLDocument
import Yams

@Suite struct YAMLDocumentTests {
    @Test func nestingIsCountedWithoutAParser() {
        #expect(YAMLDocument.deepestNesting("a: [1, [2, {b: 3}]]\n")?.depth == 4)
        #expect(YAMLDocument.deepestNesting("a:\n  b:\n    - c\n")?.depth == 4)
        // Brackets inside quotes and comments are text.
        #expect(YAMLDocument.deepestNesting("a: '[[[['  # {{{{\n")?.depth == 1)
        #expect(YAMLDocument.deepestNesting("") == nil)
    }

    @Test func aDeepDocumentIsRefusedBeforeYamsSeesIt() {
        let deep = "a: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n"
        guard
            case .failure(let problem) = YAMLDocument.compose(deep, kind: "the test file", needs: "a test file needs 1")
        else {
            Issue.record("a 10,000-deep document was composed")
            return
        }
        #expect(problem.line == 1)
        #expect(
            problem.message
                == "the test file nests 10001 levels deep here; hadeck reads at most 64 (a test file needs 1)")
    }

    @Test func yamsErrorsCarryTheirLine() throws {
        guard case .failure(let problem) = YAMLDocument.compose("a: 1\nb: [2\n", kind: "x", needs: "y") else {
            Issue.record("unterminated flow sequence accepted")
            return
        }
        #expect(problem.line >= 2 && problem.message.hasPrefix("not valid YAML: "))
        guard case .success(let empty) = YAMLDocument.compose("", kind: "x", needs: "y") else {
            Issue.record("an empty document is not an error")
            return
        }
        #expect(empty == nil)
        guard case .success(let node?) = YAMLDocument.compose("a: 1\nb: 2\n", kind: "x", needs: "y") else {
            Issue.record("a plain mapping was refused")
            return
        }
        #expect(YAMLDocument.line(node) == 1)
        #expect(node.mapping?["b"].map(YAMLDocument.line) == 2)
    }
}
