import HadeckBase

/// One logical line of a haproxy.cfg, split into words the way HAProxy does.
struct HAProxyLine {
    var number: Int
    var words: [String]
    /// Whether the line starts with blank space (purely informational).
    var indented: Bool
}

/// What HAProxy's tokenizer needs besides the line: the environment and the pseudo-variables
/// `${.FILE}`, `${.LINE}` and `${.SECTION}`.
struct HAProxyTokenContext {
    var environment: [String: String] = [:]
    var file = ""
    var line = 0
    var section = ""

    func value(of name: String) -> String? {
        switch name {
        case ".LINE": String(line)
        case ".FILE": file
        case ".SECTION": section
        default: environment[name]
        }
    }
}

/// HAProxy 2.6's configuration tokenizer (`parse_line()` in src/tools.c), byte for byte:
/// blanks separate words; `"..."` groups and expands `$VAR`, `${VAR}`, `${VAR-default}` and
/// `${VAR[*]}` (one word per blank-separated part); `'...'` is literal; outside single quotes a
/// backslash escapes a blank, `\`, `#`, `'`, `"` and (in double quotes) `$`, and `\t`, `\n`, `\r`,
/// `\xHH` make those bytes; any other backslash stays a backslash, so a backslash at the end of a
/// line is a plain character of that line, never a continuation. `#` outside quotes starts a
/// comment; a CR or NUL ends the line (so CRLF files read as LF files).
enum HAProxyLexer {
    struct Problem: Error, Equatable { var message: String }

    /// HAProxy's `MAX_LINE_ARGS`: more words on a line is an error.
    static let maxWords = 64

    /// Splits one line with an empty environment (tests and simple callers).
    static func split(_ line: Substring) -> Result<[String], Problem> {
        split(Array(line.utf8)[...], context: HAProxyTokenContext())
    }

    /// Splits one raw line (without its LF). Positions in problems count bytes from 1, as HAProxy's do.
    /// An empty quoted word (`""`) ends the word list, as HAProxy's keyword parsers stop at the first empty word.
    static func split(_ raw: ArraySlice<UInt8>, context: HAProxyTokenContext) -> Result<[String], Problem> {
        var words: [[UInt8]] = []
        var current: [UInt8] = []
        var squote = false
        var dquote = false
        var quoteAt = 0
        let bytes = raw
        let base = bytes.startIndex
        var i = base
        func at(_ k: Int) -> UInt8 { k < bytes.endIndex ? bytes[k] : 0 }
        func position(_ k: Int) -> Int { k - base + 1 }
        // Leading blanks are skipped before the tokenizer sees the line.
        while i < bytes.endIndex, isSpace(bytes[i]) { i += 1 }
        while i < bytes.endIndex {
            let c = bytes[i]
            if c >= 0x2D && c != 0x5C {  // '-' and above, except backslash: ordinary
                current.append(c)
                i += 1
            } else if c == 0 || c == 0x0A || c == 0x0D {
                break
            } else if c == 0x23 && !squote && !dquote {  // '#'
                break
            } else if c == 0x22 && !squote {  // '"'
                dquote.toggle()
                quoteAt = i
                i += 1
            } else if c == 0x27 && !dquote {  // '\''
                squote.toggle()
                quoteAt = i
                i += 1
            } else if c == 0x5C && !squote {  // backslash
                var send = c
                switch at(i + 1) {
                case 0x20, 0x5C:
                    send = at(i + 1)
                    i += 1
                case 0x74:
                    send = 0x09
                    i += 1
                case 0x6E:
                    send = 0x0A
                    i += 1
                case 0x72:
                    send = 0x0D
                    i += 1
                case 0x23, 0x27, 0x22:
                    i += 1
                    send = at(i)
                case 0x24:
                    if dquote { i += 1 }
                    send = at(i)
                case 0x78:
                    guard let high = hexValue(at(i + 2)), let low = hexValue(at(i + 3)) else {
                        return .failure(
                            Problem(message: "truncated or invalid hexadecimal sequence at position \(position(i))"))
                    }
                    send = high << 4 | low
                    i += 3
                default:
                    break
                }
                i += 1
                current.append(send)
            } else if isSpace(c) && !squote && !dquote {
                while i < bytes.endIndex, isSpace(bytes[i]) { i += 1 }
                words.append(current)
                current = []
            } else if c == 0x24 && dquote {  // '$'
                i += 1
                var brace: Int? = nil
                if at(i) == 0x7B {
                    brace = i
                    i += 1
                }
                let first = at(i)
                guard isAlpha(first) || first == 0x5F || first == 0x2E else {
                    return .failure(
                        Problem(message: "forbidden first char in environment variable name at position \(position(i))")
                    )
                }
                let nameStart = i
                if at(i) == 0x2E { i += 1 }
                while isAlnum(at(i)) || at(i) == 0x5F { i += 1 }
                let name = String(decoding: bytes[nameStart..<i], as: UTF8.self)
                if name.hasPrefix("."), ![".LINE", ".FILE", ".SECTION"].contains(name) {
                    return .failure(
                        Problem(
                            message:
                                "forbidden first char in environment variable name at position \(position(nameStart))"
                        ))
                }
                var value = context.value(of: name).map { Array($0.utf8) }
                var expandWords = false
                if at(i) == 0x5B, brace != nil {  // `[*]`
                    let open = i
                    guard at(i + 1) == 0x2A, at(i + 2) == 0x5D else {
                        return .failure(
                            Problem(
                                message: "truncated or invalid word expansion sequence at position \(position(open))"))
                    }
                    expandWords = true
                    i += 3
                }
                if let open = brace {
                    if at(i) == 0x2D {  // `-default`
                        let defaultStart = i + 1
                        while i < bytes.endIndex, bytes[i] != 0x7D { i += 1 }
                        guard i < bytes.endIndex else {
                            return .failure(
                                Problem(
                                    message:
                                        "unmatched brace in environment variable name at position \(position(open))"))
                        }
                        if value == nil { value = Array(bytes[defaultStart..<i]) }
                    } else if at(i) != 0x7D {
                        return .failure(
                            Problem(
                                message: "unmatched brace in environment variable name at position \(position(open))"))
                    }
                    i += 1
                }
                var spaceRun = false
                for byte in value ?? [] {
                    if expandWords && isSpace(byte) {
                        if !spaceRun {
                            words.append(current)
                            current = []
                        }
                        spaceRun = true
                    } else {
                        spaceRun = false
                        current.append(byte)
                    }
                }
            } else {
                current.append(c)
                i += 1
            }
        }
        words.append(current)
        if squote || dquote {
            return .failure(Problem(message: "unmatched quote at position \(position(quoteAt))"))
        }
        if words.count > maxWords {
            return .failure(Problem(message: "too many words, truncating after word \(maxWords)"))
        }
        // HAProxy's parsers stop at the first empty word (a trailing blank or comment makes one).
        if let empty = words.firstIndex(where: \.isEmpty) { words.removeSubrange(empty...) }
        return .success(words.map { String(decoding: $0, as: UTF8.self) })
    }

    @inline(__always) static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }
    @inline(__always) private static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
    @inline(__always) private static func isAlnum(_ c: UInt8) -> Bool { isAlpha(c) || (c >= 0x30 && c <= 0x39) }
    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x37
        case 0x61...0x66: c - 0x57
        default: nil
        }
    }
}

/// The raw lines of a haproxy.cfg as HAProxy's `readcfgfile()` reads them: split at LF only
/// (a CR is dropped by the tokenizer), numbered from 1.
struct HAProxyRawLines {
    struct Line {
        var number: Int
        var bytes: ArraySlice<UInt8>
        /// Where the first NUL byte is, if any (HAProxy stops reading after such a line).
        var nulAt: Int?
        /// False for a last line without LF.
        var terminated: Bool
    }

    var lines: [Line] = []

    init(_ text: String) {
        let bytes = Array(text.utf8)
        var start = 0
        var number = 0
        while start < bytes.count {
            number += 1
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            let slice = bytes[start..<end]
            let nul = slice.firstIndex(of: 0).map { $0 - start }
            let line = nul.map { bytes[start..<(start + $0)] } ?? slice
            lines.append(Line(number: number, bytes: line, nulAt: nul, terminated: end < bytes.count))
            start = end + 1
        }
    }
}
