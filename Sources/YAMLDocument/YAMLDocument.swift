import Yams

/// Reading a YAML document as hadeck's YAML files (the cluster file, the attach file) do: the
/// nesting bounded before Yams sees the text, Yams's errors as a line and a sentence, and node
/// lines. One place, so that every YAML file hadeck reads gets the same protection and wording.
public enum YAMLDocument {
    /// What went wrong, at which line (1-based).
    public struct Problem: Error, Hashable, Sendable {
        public var line: Int
        public var message: String
    }

    /// The document's root node (nil for an empty document), or why it cannot be read. `kind`
    /// names the file in the nesting message ("the cluster file"), `needs` says how deep such a
    /// file really is ("a cluster file needs 3").
    public static func compose(_ text: String, kind: String, needs: String) -> Result<Node?, Problem> {
        if let (line, depth) = deepestNesting(text), depth > maximumNesting {
            return .failure(
                Problem(
                    line: line,
                    message:
                        "\(kind) nests \(depth) levels deep here; hadeck reads at most \(maximumNesting) (\(needs))"
                ))
        }
        do {
            return .success(try Yams.compose(yaml: text))
        } catch let error as YamlError {
            return .failure(Problem(line: errorLine(error), message: "not valid YAML: \(problem(error))"))
        } catch {
            return .failure(Problem(line: 1, message: "not valid YAML: \(error)"))
        }
    }

    /// The line a node starts on (1 when Yams does not say).
    public static func line(_ node: Node) -> Int { node.mark?.line ?? 1 }

    private static func errorLine(_ e: YamlError) -> Int {
        switch e {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: 1
        }
    }

    private static func problem(_ e: YamlError) -> String {
        switch e {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): problem
        default: "\(e)"
        }
    }

    /// How deep a file may nest collections before it is refused unread (Yams recurses per level:
    /// a file 5,000 levels deep overflowed the stack).
    public static let maximumNesting = 64

    /// The deepest collection nesting of a YAML text and the line where it is reached, counted without
    /// a YAML parser: `[`/`{` outside quotes and comments, plus block levels (indentation steps and
    /// `- ` sequence entries). It may count a little more than YAML would, never less.
    public static func deepestNesting(_ text: String) -> (line: Int, depth: Int)? {
        var best: (line: Int, depth: Int)? = nil
        var indents: [Int] = []
        var flow = 0
        var number = 0
        for raw in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var i = raw.startIndex
            var indent = 0
            while i < raw.endIndex, raw[i] == " " {
                indent += 1
                i = raw.index(after: i)
            }
            guard i < raw.endIndex, raw[i] != "#", raw[i] != "\r" else { continue }
            if flow == 0 {
                while let last = indents.last, last >= indent { indents.removeLast() }
                indents.append(indent)
            }
            var dashes = 0
            var deepestFlow = flow
            var quote: Unicode.Scalar? = nil
            var atEntryStart = true
            while i < raw.endIndex {
                let c = raw[i]
                if let q = quote {
                    if c == q { quote = nil }
                } else if c == "\"" || c == "'" {
                    quote = c
                    atEntryStart = false
                } else if c == "#" {
                    break
                } else if c == "[" || c == "{" {
                    flow += 1
                    deepestFlow = max(deepestFlow, flow)
                    atEntryStart = false
                } else if c == "]" || c == "}" {
                    flow = max(0, flow - 1)
                } else if c == "-" && atEntryStart {
                    dashes += 1
                } else if c != " " {
                    atEntryStart = false
                }
                i = raw.index(after: i)
            }
            let depth = indents.count + dashes + deepestFlow
            if depth > (best?.depth ?? 0) { best = (number, depth) }
        }
        return best
    }
}
