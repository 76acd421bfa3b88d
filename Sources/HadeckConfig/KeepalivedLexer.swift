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

/// How to read a keepalived.conf.
public struct KeepalivedParseOptions: Sendable {
    /// keepalived's config id (`-i`, by default the host name): a line `@ID ...` is read only when
    /// ID is this, `@^ID ...` only when it is not. nil: every `@ID` line is skipped.
    public var configID: String?

    public init(configID: String? = nil) { self.configID = configID }
}

/// keepalived 2.2.7's configuration reader (lib/parser.c `read_line()` and `alloc_strvec()`):
/// lines end at LF with any trailing CR removed; `!` and `#` outside quotes start comments (`\!`,
/// `\#` escape them); `@ID` prefixes select lines per host; `$NAME=VALUE` defines and `$NAME` /
/// `${NAME}` expands (a trailing `\` continues a definition); `include` splices files; a line is
/// cut at its first `{` or `}` so braces stand alone; words split at blanks, with `"..."` as one word.
struct KeepalivedLexer {
    var diagnostics = Diagnostics()
    let includeLoader: KeepalivedIncludeLoader?
    let options: KeepalivedParseOptions
    private var depth = 0
    private var includedFiles = 0
    private var definitions: [String: (value: String, multiline: Bool)] = [:]
    private var warnedHostLines = false

    init(includeLoader: KeepalivedIncludeLoader?, options: KeepalivedParseOptions) {
        self.includeLoader = includeLoader
        self.options = options
    }

    /// A line after reading, cut at braces: a keyword with arguments, `{`, or `}`.
    private struct Line {
        var file: String
        var number: Int
        var words: [String]
    }

    mutating func parse(text: String, file: String) -> [KeepalivedNode] {
        build(lines(text: text, file: file))
    }

    private mutating func lines(text: String, file: String) -> [Line] {
        var out: [Line] = []
        var number = 0
        var pendingDefinition: String? = nil
        // Split on the scalar LF: a Character-level split would keep "\r\n" (one Character) whole.
        for raw in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var line = String(String.UnicodeScalarView(raw.prefix { $0 != "\0" }))
            while let last = line.unicodeScalars.last, last == "\r" || last == "\n" {
                line.unicodeScalars.removeLast()
            }
            if let name = pendingDefinition {
                // A definition continued by a trailing backslash.
                var piece = decomment(line, file: file, line: number).trimmingBlanks()
                let continues = piece.hasSuffix("\\")
                if continues { piece = String(piece.dropLast()).trimmingBlanks() }
                if !piece.isEmpty {
                    let old = definitions[name]!.value
                    definitions[name] = (old.isEmpty ? piece : old + "\n" + piece, true)
                }
                if !continues { pendingDefinition = nil }
                continue
            }
            if line.isEmpty { continue }
            var text = decomment(line, file: file, line: number)
            var rounds = 0
            var skip = false
            while true {
                rounds += 1
                if rounds > 32 {
                    diagnostics.error(file, number, "definitions expand without end (a $NAME that refers to itself?)")
                    skip = true
                    break
                }
                guard !text.isEmpty else { break }
                if text.hasPrefix("@") {
                    guard let rest = hostLine(text, file: file, line: number) else {
                        skip = true
                        break
                    }
                    text = rest
                }
                if text.hasPrefix("$"), let (name, value, continues) = definition(text) {
                    definitions[name] = (value, continues)
                    if continues { pendingDefinition = name }
                    skip = true
                    break
                }
                if text.hasPrefix("~SEQ") || text.hasPrefix("~LST") {
                    diagnostics.warn(
                        file, number, "'\(text.prefix(4))' sequences are not expanded by hadeck; the line is ignored")
                    skip = true
                    break
                }
                if text.hasPrefix("~") { break }
                guard text.contains("$"), let expanded = expand(text), expanded != text else { break }
                // keepalived's line buffer is 1024 bytes: a longer substitution is refused (and definitions
                // that double at each round cannot grow without end).
                guard expanded.utf8.count < 1024 else {
                    diagnostics.warn(
                        file, number,
                        "Parameter substitution on line '\(text.prefix(80))' would exceed maximum line length; the line is read without it, as keepalived does"
                    )
                    break
                }
                text = decomment(expanded, file: file, line: number)
                if !(text.hasPrefix("@") || text.contains("$")) { break }
            }
            if skip || text.isEmpty { continue }
            for piece in text.split(separator: "\n") {
                let item = String(piece)
                if let include = includeArguments(item) {
                    out += self.include(include, file: file, line: number)
                    continue
                }
                for part in cutAtBraces(item) {
                    let words = splitWords(part, file: file, line: number)
                    if !words.isEmpty { out.append(Line(file: file, number: number, words: words)) }
                }
            }
        }
        return out
    }

    /// keepalived's `decomment()`: leading blanks go; `!`/`#` outside quotes end the line; `\!` and
    /// `\#` outside quotes become `!` and `#`; trailing blanks go.
    private func decomment(_ line: String, file: String, line number: Int) -> String {
        var out = ""
        var quote = false
        var chars = Substring(line).drop { $0 == " " || $0 == "\t" }
        while let c = chars.first {
            chars = chars.dropFirst()
            if c == "\"" {
                quote.toggle()
                out.append(c)
            } else if c == "\\", let next = chars.first {
                if !quote && (next == "#" || next == "!") {
                    out.append(next)
                } else {
                    out.append(c)
                    out.append(next)
                }
                chars = chars.dropFirst()
            } else if !quote && (c == "!" || c == "#") {
                break
            } else {
                out.append(c)
            }
        }
        return out.trimmingBlanks()
    }

    /// `@ID rest` is read when ID is the config id, `@^ID rest` when it is not.
    private mutating func hostLine(_ text: String, file: String, line: Int) -> String? {
        let reverse = text.hasPrefix("@^")
        let body = text.dropFirst(reverse ? 2 : 1)
        guard let blank = body.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        let id = String(body[..<blank])
        let matches = options.configID == id
        guard matches != reverse else {
            if !warnedHostLines {
                warnedHostLines = true
                let who = options.configID.map { "config id '\($0)'" } ?? "no config id"
                diagnostics.warn(
                    file, line,
                    "'\(text.prefix { $0 != " " && $0 != "\t" })' lines are skipped: hadeck reads this file with \(who), as keepalived -i would"
                )
            }
            return nil
        }
        return String(body[blank...]).trimmingBlanks()
    }

    /// `$NAME=VALUE`: the name, the value, and whether a trailing backslash continues it.
    private func definition(_ text: String) -> (String, String, Bool)? {
        let body = text.dropFirst()
        guard let first = body.first, first.isASCII, first.isLetter || first == "_" else { return nil }
        let name = body.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        var rest = body.dropFirst(name.count).drop { $0 == " " || $0 == "\t" }
        guard rest.first == "=" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" }
        var value = String(rest)
        let continues = value.hasSuffix("\\")
        if continues { value = String(value.dropLast()).trimmingBlanks() }
        return (String(name), value, continues)
    }

    /// Replaces every `$NAME` / `${NAME}` that names a definition; others stay as written.
    private func expand(_ text: String) -> String? {
        var out = ""
        var rest = Substring(text)
        var changed = false
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            var after = rest[rest.index(after: dollar)...]
            let braced = after.first == "{"
            if braced { after = after.dropFirst() }
            let name = after.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            let end = after.dropFirst(name.count)
            // keepalived's find_definition(): `${NAME}` must close; `$NAME` must be followed by a blank,
            // `,`, `)` or the end of the line (`$VIP/24` is not expanded, `${VIP}/24` is).
            let closes = braced ? end.first == "}" : (end.first.map { " \t,)".contains($0) } ?? true)
            if !name.isEmpty, closes, let value = standardDefinition(String(name)) ?? definitions[String(name)]?.value {
                out += value
                rest = braced ? end.dropFirst() : end
                changed = true
            } else {
                out += "$"
                rest = rest[rest.index(after: dollar)...]
            }
        }
        out += rest
        return changed ? out : nil
    }

    private func standardDefinition(_ name: String) -> String? {
        switch name {
        case "_HASH": "#"
        case "_BANG": "!"
        case "_INSTANCE": options.configID ?? ""
        default: nil
        }
    }

    /// The patterns after `include` (and its variants `includer`, `includem`, ...), if the line is one.
    private func includeArguments(_ text: String) -> [String]? {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first,
            ["include", "includer", "includem", "includew", "includeb", "includea"].contains(first)
        else { return nil }
        return Array(words.dropFirst())
    }

    private mutating func include(_ args: [String], file: String, line: Int) -> [Line] {
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
            if pattern.contains(where: { "*?[".contains($0) }) {
                diagnostics.warn(file, line, "No config files matched '\(pattern)'.")
            } else {
                diagnostics.error(
                    file, line,
                    "Config files missing '\(pattern)': keepalived 2.2.7 only logs this and runs without them; hadeck is stricter and refuses a configuration it cannot read whole"
                )
            }
            return []
        }
        var out: [Line] = []
        includedFiles += files.count
        guard includedFiles <= 1000 else {
            diagnostics.error(
                file, line, "include '\(pattern)': more than 1000 files included in all (an include loop?)")
            return []
        }
        depth += 1
        for included in files { out += lines(text: included.text, file: included.file) }
        depth -= 1
        return out
    }

    /// keepalived puts a `{` or `}` outside quotes on a line of its own, with what follows it after.
    private func cutAtBraces(_ text: String) -> [String] {
        var out: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            var quote = false
            var cut: Substring.Index? = nil
            for i in rest.indices {
                let c = rest[i]
                if c == "\"" { quote.toggle() }
                if !quote && (c == "{" || c == "}") {
                    cut = i
                    break
                }
            }
            guard let brace = cut else {
                out.append(String(rest))
                break
            }
            if brace == rest.startIndex {
                out.append(String(rest[brace]))
                rest = rest[rest.index(after: brace)...].drop { $0 == " " || $0 == "\t" }
            } else {
                out.append(String(rest[..<brace]).trimmingBlanks())
                rest = rest[brace...]
            }
        }
        return out
    }

    /// keepalived's `alloc_strvec_r()`: blank-separated words, a word starting with `"` runs to the next `"`.
    private mutating func splitWords(_ text: String, file: String, line: Int) -> [String] {
        var words: [String] = []
        var rest = Substring(text)
        let blanks: Set<Character> = [" ", "\t", "\u{0C}", "\u{0B}", "\r", "\n"]
        while true {
            rest = rest.drop { blanks.contains($0) }
            guard let first = rest.first else { break }
            if first == "\"" {
                let body = rest.dropFirst()
                guard let close = body.firstIndex(of: "\"") else {
                    diagnostics.error(file, line, "Unmatched quote: '\(text)'")
                    break
                }
                words.append(String(body[..<close]))
                rest = body[body.index(after: close)...]
            } else {
                let word = rest.prefix { !blanks.contains($0) && $0 != "\"" }
                words.append(String(word))
                rest = rest.dropFirst(word.count)
            }
        }
        return words
    }

    /// keepalived's blocks nest three deep at most (`virtual_server { real_server { HTTP_GET { url {`);
    /// deeper ones are skipped, brace for brace, so that no nesting can exhaust the stack.
    static let maximumBlockDepth = 32

    private mutating func build(_ lines: [Line]) -> [KeepalivedNode] {
        var stack: [KeepalivedNode] = [KeepalivedNode(file: "", line: 0, words: [], children: [])]
        var skippedDepth = 0
        for line in lines {
            if skippedDepth > 0 {
                if line.words == ["{"] { skippedDepth += 1 }
                if line.words == ["}"] { skippedDepth -= 1 }
                continue
            }
            if line.words == ["{"], stack.count > Self.maximumBlockDepth {
                diagnostics.error(
                    line.file, line.number,
                    "blocks nested more than \(Self.maximumBlockDepth) deep; hadeck skips this one")
                skippedDepth = 1
                continue
            }
            if line.words == ["{"] {
                var opener: KeepalivedNode
                if let last = stack[stack.count - 1].children?.last, last.children == nil {
                    opener = last
                    stack[stack.count - 1].children!.removeLast()
                } else {
                    diagnostics.error(line.file, line.number, "'{' without a keyword before it")
                    opener = KeepalivedNode(file: line.file, line: line.number, words: [])
                }
                opener.children = []
                stack.append(opener)
            } else if line.words == ["}"] {
                if stack.count == 1 {
                    diagnostics.error(line.file, line.number, "unbalanced braces: '}' has no matching '{'")
                } else {
                    let done = stack.removeLast()
                    stack[stack.count - 1].children!.append(done)
                }
            } else {
                stack[stack.count - 1].children!.append(
                    KeepalivedNode(file: line.file, line: line.number, words: line.words))
            }
        }
        while stack.count > 1 {
            let open = stack.removeLast()
            diagnostics.error(
                open.file, open.line, "unbalanced braces: block '\(open.words.joined(separator: " "))' is never closed")
            stack[stack.count - 1].children!.append(open)
        }
        return stack[0].children ?? []
    }
}

extension String {
    func trimmingBlanks() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
