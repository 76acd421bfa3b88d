import HadeckBase

/// One statement of a keepalived.conf: a keyword, its arguments, and an optional `{ }` block.
struct KeepalivedNode {
    var file: String
    var line: Int
    var words: [String]
    var children: [KeepalivedNode]? = nil

    var keyword: String { words.first ?? "" }
    var args: ArraySlice<String> { words.dropFirst() }
}

/// Reads the text of an included file: given the pattern written after `include` and the
/// including file's name, returns the matching files (name and text), or nil if none could be read.
public typealias KeepalivedIncludeLoader =
    @Sendable (_ pattern: String, _ includingFile: String) -> [(file: String, text: String)]?

/// Turns keepalived.conf text into a tree of statements: words split on blanks, `"..."`
/// quoting, `#` and `!` comments to the end of the line, `{` and `}` as their own tokens,
/// and `include FILE` spliced in place.
struct KeepalivedLexer {
    var diagnostics = Diagnostics()
    let includeLoader: KeepalivedIncludeLoader?
    private var depth = 0

    init(includeLoader: KeepalivedIncludeLoader?) { self.includeLoader = includeLoader }

    private struct Token {
        var text: String
        var file: String
        var line: Int
        var isBrace: Bool
        var endsLine: Bool
    }

    mutating func parse(text: String, file: String) -> [KeepalivedNode] {
        let tokens = tokenize(text: text, file: file)
        return build(tokens)
    }

    private mutating func tokenize(text: String, file: String) -> [Token] {
        var tokens: [Token] = []
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var words: [(String, Bool)] = []
            var current = ""
            var inWord = false
            var inQuote = false
            for c in rawLine {
                if inQuote {
                    if c == "\"" { inQuote = false } else { current.append(c) }
                    continue
                }
                if c == "#" || c == "!" { break }
                if c == " " || c == "\t" || c == "\r" {
                    if inWord {
                        words.append((current, false))
                        current = ""
                        inWord = false
                    }
                } else if c == "{" || c == "}" {
                    if inWord {
                        words.append((current, false))
                        current = ""
                        inWord = false
                    }
                    words.append((String(c), true))
                } else if c == "\"" {
                    inQuote = true
                    inWord = true
                } else {
                    current.append(c)
                    inWord = true
                }
            }
            if inQuote {
                diagnostics.error(file, number, "unterminated quoted string")
            }
            if inWord { words.append((current, false)) }
            if words.first?.0 == "include" && !(words.first?.1 ?? true) {
                tokens += include(words.dropFirst().map(\.0), file: file, line: number)
                continue
            }
            for (index, (word, brace)) in words.enumerated() {
                tokens.append(
                    Token(text: word, file: file, line: number, isBrace: brace, endsLine: index == words.count - 1))
            }
        }
        return tokens
    }

    private mutating func include(_ args: [String], file: String, line: Int) -> [Token] {
        guard let pattern = args.first else {
            diagnostics.error(file, line, "'include' expects a file name")
            return []
        }
        guard let loader = includeLoader else {
            diagnostics.warn(
                file, line, "include '\(pattern)' is not followed here (no file access); its content is ignored")
            return []
        }
        guard depth < 8 else {
            diagnostics.error(file, line, "include '\(pattern)' nested too deeply (include loop?)")
            return []
        }
        guard let files = loader(pattern, file), !files.isEmpty else {
            diagnostics.error(file, line, "unable to find config file(s) '\(pattern)'")
            return []
        }
        var tokens: [Token] = []
        depth += 1
        for included in files { tokens += tokenize(text: included.text, file: included.file) }
        depth -= 1
        return tokens
    }

    private mutating func build(_ tokens: [Token]) -> [KeepalivedNode] {
        // stack of (node being filled, its children so far)
        var stack: [KeepalivedNode] = [KeepalivedNode(file: "", line: 0, words: [], children: [])]
        var pending: KeepalivedNode? = nil

        func flush(_ stack: inout [KeepalivedNode], _ pending: inout KeepalivedNode?) {
            if let node = pending {
                stack[stack.count - 1].children!.append(node)
                pending = nil
            }
        }

        for token in tokens {
            if token.isBrace && token.text == "{" {
                var opener: KeepalivedNode
                if let p = pending {
                    opener = p
                    pending = nil
                } else if let last = stack[stack.count - 1].children?.last, last.children == nil {
                    // `{` on the line after its keyword.
                    opener = last
                    stack[stack.count - 1].children!.removeLast()
                } else {
                    diagnostics.error(token.file, token.line, "'{' without a keyword before it")
                    opener = KeepalivedNode(file: token.file, line: token.line, words: [])
                }
                opener.children = []
                stack.append(opener)
            } else if token.isBrace {
                flush(&stack, &pending)
                if stack.count == 1 {
                    diagnostics.error(token.file, token.line, "unbalanced braces: '}' has no matching '{'")
                } else {
                    let done = stack.removeLast()
                    stack[stack.count - 1].children!.append(done)
                }
            } else {
                if pending == nil { pending = KeepalivedNode(file: token.file, line: token.line, words: []) }
                pending!.words.append(token.text)
                if token.endsLine { flush(&stack, &pending) }
            }
        }
        flush(&stack, &pending)
        while stack.count > 1 {
            let open = stack.removeLast()
            diagnostics.error(
                open.file, open.line, "unbalanced braces: block '\(open.words.joined(separator: " "))' is never closed")
            stack[stack.count - 1].children!.append(open)
        }
        return stack[0].children ?? []
    }
}
