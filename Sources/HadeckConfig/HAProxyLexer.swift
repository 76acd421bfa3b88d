import HadeckBase

/// One logical line of a haproxy.cfg, split into words the way HAProxy does.
struct HAProxyLine {
    var number: Int
    var words: [String]
    /// Whether the line starts with blank space (purely informational).
    var indented: Bool
}

/// Splits haproxy.cfg text into words, honouring `"..."` (escapes allowed),
/// `'...'` (literal), backslash escapes (`\ `, `\#`, `\\`, `\"`, `\'`, `\t`, `\n`, `\r`, `\xHH`)
/// and `#` comments, as HAProxy's `parse_line()` does.
enum HAProxyLexer {
    static func lines(of text: String, file: String, diagnostics: inout Diagnostics) -> [HAProxyLine] {
        var result: [HAProxyLine] = []
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            switch split(line) {
            case .success(let words):
                if !words.isEmpty {
                    let indented = line.first == " " || line.first == "\t"
                    result.append(HAProxyLine(number: number, words: words, indented: indented))
                }
            case .failure(let problem):
                diagnostics.error(file, number, problem.message)
            }
        }
        return result
    }

    struct Problem: Error { var message: String }

    static func split(_ line: Substring) -> Result<[String], Problem> {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character? = nil
        var quoteStart = 0
        let chars = Array(line)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if let q = quote {
                if c == q {
                    quote = nil
                } else if c == "\\" && q == "\"" && i + 1 < chars.count {
                    switch unescape(chars, at: i) {
                    case .success(let (text, used)):
                        current += text
                        i += used
                        continue
                    case .failure(let p): return .failure(p)
                    }
                } else {
                    current.append(c)
                }
                i += 1
                continue
            }
            switch c {
            case " ", "\t":
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            case "#":
                if inWord { words.append(current) }
                return .success(words)
            case "\"", "'":
                quote = c
                quoteStart = i + 1
                inWord = true
            case "\\":
                if i + 1 >= chars.count {
                    // A trailing backslash is kept literally.
                    current.append(c)
                    inWord = true
                } else {
                    switch unescape(chars, at: i) {
                    case .success(let (text, used)):
                        current += text
                        inWord = true
                        i += used
                        continue
                    case .failure(let p): return .failure(p)
                    }
                }
            default:
                current.append(c)
                inWord = true
            }
            i += 1
        }
        if let q = quote {
            return .failure(
                Problem(message: "unmatched \(q == "\"" ? "double" : "single") quote starting at column \(quoteStart)"))
        }
        if inWord { words.append(current) }
        return .success(words)
    }

    /// Decodes the escape sequence starting at `chars[i] == "\\"`; returns the text and the characters consumed.
    private static func unescape(_ chars: [Character], at i: Int) -> Result<(String, Int), Problem> {
        let next = chars[i + 1]
        switch next {
        case "t": return .success(("\t", 2))
        case "n": return .success(("\n", 2))
        case "r": return .success(("\r", 2))
        case "x":
            guard i + 3 < chars.count,
                let value = UInt8(String(chars[(i + 2)...(i + 3)]), radix: 16)
            else {
                return .failure(Problem(message: "truncated or invalid hexadecimal sequence at column \(i + 1)"))
            }
            return .success((String(UnicodeScalar(value)), 4))
        default:
            return .success((String(next), 2))
        }
    }
}
