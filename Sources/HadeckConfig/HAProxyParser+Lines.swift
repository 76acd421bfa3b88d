import BalancerCore
import HadeckBase

// Reading a haproxy.cfg line by line as HAProxy's readcfgfile() does (src/cfgparse.c): the
// tokenizer, `[scope]` lines, `.if`/`.elif`/`.else`/`.endif` blocks and `.notice`/`.warning`/
// `.alert`/`.diag`, stray NUL bytes, the final LF, and the 50-error limit.

extension HAProxyParser {
    // MARK: reading lines

    mutating func run(text: String, requireFinalNewline: Bool) {
        let raw = HAProxyRawLines(text)
        var lastLine = 0
        for (index, line) in raw.lines.enumerated() {
            lastLine = line.number
            if diagnostics.errors.count >= 50 {
                error(line.number, "too many fatal errors (50), stopping now.")
                break
            }
            read(line)
            if stopped { break }
            if let nul = line.nulAt {
                if index + 1 < raw.lines.count {
                    error(line.number, "Stray NUL character at position \(nul + 1).")
                    stopped = true
                    break
                }
            }
        }
        if !stopped, requireFinalNewline, let last = raw.lines.last, !last.terminated || last.nulAt != nil {
            let position = (last.nulAt ?? last.bytes.count) + 1
            error(last.number, "Missing LF on last line, file might have been truncated at position \(position).")
        }
        if !stopped, !conditions.isEmpty {
            error(lastLine, "non-terminated '.if' block.")
        }
        closeProxy()
        finish()
    }

    mutating func read(_ line: HAProxyRawLines.Line) {
        let bytes = line.bytes
        let content = bytes.drop { HAProxyLexer.isSpace($0) && $0 != 0x0A && $0 != 0x0D }
        if content.first == 0x5B {  // `[scope]`
            scope(content, line.number)
            return
        }
        let context = HAProxyTokenContext(
            environment: environment, file: file, line: line.number, section: sectionName)
        var words: [String]
        switch HAProxyLexer.split(bytes, context: context) {
        case .success(let w): words = w
        case .failure(let problem):
            error(line.number, problem.message)
            return
        }
        guard var first = words.first else { return }
        if line.number == 1, first.unicodeScalars.first == "\u{FEFF}" {
            // HAProxy reads the mark as part of the first word and rejects it ("unknown keyword
            // '\u{FEFF}global' out of section", then every line of that section): one clear error instead.
            first = String(first.unicodeScalars.dropFirst())
            error(
                1,
                "the file starts with a UTF-8 byte order mark, which HAProxy 2.6 reads as part of the first word\(first.isEmpty ? "" : " ('\(first)')") and rejects (unknown keyword out of section); save the file without it"
            )
            words[0] = first
            guard !first.isEmpty else { return }
        }
        let indented = bytes.first.map { $0 == 0x20 || $0 == 0x09 } ?? false
        if first.hasPrefix("."), conditionDirective(words, line.number) { return }
        if conditions.last?.masks == true { return }
        if first.hasPrefix(".") {
            messageDirective(words, line.number)
            return
        }
        handle(HAProxyLine(number: line.number, words: words, indented: indented))
    }

    mutating func scope(_ content: ArraySlice<UInt8>, _ n: Int) {
        guard let close = content.firstIndex(of: 0x5D), close > content.startIndex + 1 else {
            return error(n, "empty scope name is forbidden.")
        }
        let name = content[(content.startIndex + 1)..<close]
        if let bad = name.first(where: { !isNameByte($0) }) {
            return error(n, "character '\(Character(UnicodeScalar(bad)))' is not permitted in a scope name.")
        }
        let rest = content[(close + 1)...].drop { HAProxyLexer.isSpace($0) }
        if let c = rest.first, c != 0x23, c != 0x0D {
            error(n, "character '\(Character(UnicodeScalar(c)))' is not permitted after scope declaration.")
        }
    }

    /// `.if`, `.elif`, `.else`, `.endif`. Returns false for other words.
    mutating func conditionDirective(_ w: [String], _ n: Int) -> Bool {
        let expression = w.dropFirst().joined(separator: " ")
        switch w[0] {
        case ".if":
            guard conditions.count + 1 < 100 else {
                error(n, "too many nested '.if', max is 100.")
                stopped = true
                return true
            }
            if conditions.last?.masks == true {
                conditions.append(.ifSkip)
                return true
            }
            guard let value = condition(expression, ".if", n) else { return true }
            conditions.append(value ? .ifTake : .ifDrop)
        case ".elif":
            guard let state = conditions.last else {
                error(n, "lone '.elif' with no matching '.if'.")
                stopped = true
                return true
            }
            if state == .elseTake || state == .elseDrop {
                error(n, "'.elif' after '.else' is not permitted.")
                stopped = true
                return true
            }
            if state.tookBranch {
                conditions[conditions.count - 1] = .elifSkip
                return true
            }
            guard let value = condition(expression, ".elif", n) else { return true }
            conditions[conditions.count - 1] = value ? .elifTake : .elifDrop
        case ".else":
            if w.count > 1 {
                error(n, "Unexpected argument '\(w[1])' for '.else'.")
                stopped = true
                return true
            }
            guard let state = conditions.last else {
                error(n, "lone '.else' with no matching '.if'.")
                stopped = true
                return true
            }
            if state == .elseTake || state == .elseDrop {
                error(n, "'.else' after '.else' is not permitted.")
                stopped = true
                return true
            }
            conditions[conditions.count - 1] = state.tookBranch ? .elseDrop : .elseTake
        case ".endif":
            if w.count > 1 {
                error(n, "Unexpected argument '\(w[1])' for '.endif'.")
                stopped = true
                return true
            }
            guard !conditions.isEmpty else {
                error(n, "lone '.endif' with no matching '.if'.")
                stopped = true
                return true
            }
            conditions.removeLast()
        default:
            return false
        }
        return true
    }

    /// Evaluates a `.if`/`.elif` condition; an unparsable one stops the file, as in HAProxy.
    mutating func condition(_ text: String, _ directive: String, _ n: Int) -> Bool? {
        switch HAProxyCondition.evaluate(text, environment: environment) {
        case .success(let value): return value
        case .failure(let f):
            error(n, "\(f.message) in '\(directive)' at position \(f.position).")
            stopped = true
            return nil
        }
    }

    /// `.alert`, `.warning`, `.notice`, `.diag`; any other `.word` is an error that stops the file.
    mutating func messageDirective(_ w: [String], _ n: Int) {
        let known = [".alert", ".warning", ".notice", ".diag"]
        guard known.contains(w[0]) else {
            error(n, "unknown directive '\(w[0])'.")
            stopped = true
            return
        }
        if w.count > 2 {
            return error(
                n, "Unexpected argument '\(w[2])' for '\(w[0])'. Use quotes if the message should contain spaces.")
        }
        let message = "'\(w.count > 1 ? w[1] : "")'."
        switch w[0] {
        case ".alert":
            error(n, message)
            stopped = true
        case ".warning": warn(n, message)
        case ".notice": diagnostics.notice(file, n, message)
        default: break  // `.diag` is only shown by `haproxy -dD`.
        }
    }
}
