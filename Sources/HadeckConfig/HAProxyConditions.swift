/// HAProxy 2.6's `.if` / `.elif` expressions (src/cfgcond.c): terms joined by `&&` and `||`
/// (`&&` binds tighter), `!` negation, parentheses, numbers (0 is false), and the predicates
/// `defined`, `feature`, `streq`, `strneq`, `version_atleast`, `version_before`,
/// `openssl_version_atleast`, `openssl_version_before` and `ssllib_name_startswith`, evaluated
/// as HAProxy 2.6.12 as Debian builds it (OpenSSL 3.0) would.
enum HAProxyCondition {
    struct Failure: Error, Equatable {
        var message: String
        /// 1-based offset in the expression text, as HAProxy reports it.
        var position: Int
    }

    /// The version hadeck answers `version_atleast` / `version_before` for.
    static let haproxyVersion = [2, 6, 12]
    static let opensslVersion = [3, 0, 19]
    /// `haproxy -vv`'s feature list of HAProxy 2.6.12 on Debian 12, for `feature()`.
    static let features: Set<String> = [
        "ACCEPT4", "BACKTRACE", "CPU_AFFINITY", "CRYPT_H", "DL", "EPOLL", "GETADDRINFO", "LIBCRYPT",
        "LINUX_SPLICE", "LINUX_TPROXY", "LUA", "NETFILTER", "NS", "OPENSSL", "OT", "PCRE2", "PCRE2_JIT", "POLL",
        "PRCTL", "PROMEX", "RT", "SLZ", "SYSTEMD", "TFO", "THREAD", "THREAD_DUMP", "TPROXY",
    ]

    /// Evaluates the text after `.if` (its words joined by single spaces). An empty condition is false.
    static func evaluate(_ text: String, environment: [String: String]) -> Result<Bool, Failure> {
        var parser = Parser(chars: Array(text.utf8), environment: environment)
        parser.skipBlanks()
        if parser.atEnd { return .success(false) }
        do {
            let value = try parser.expression(depth: 0)
            parser.skipBlanks()
            if !parser.atEnd {
                let c = Character(UnicodeScalar(parser.chars[parser.index]))
                throw Failure(
                    message: "unexpected character '\(c)' at the end of conditional expression '\(text)'",
                    position: parser.index + 1)
            }
            return .success(value)
        } catch let failure as Failure {
            return .failure(failure)
        } catch {
            return .failure(Failure(message: "\(error)", position: 1))
        }
    }

    private struct Parser {
        let chars: [UInt8]
        let environment: [String: String]
        var index = 0

        var atEnd: Bool { index >= chars.count }
        func peek(_ offset: Int = 0) -> UInt8 { index + offset < chars.count ? chars[index + offset] : 0 }
        func rest(from start: Int) -> String { String(decoding: chars[start...], as: UTF8.self) }

        mutating func skipBlanks() { while peek() == 0x20 || peek() == 0x09 { index += 1 } }

        mutating func expression(depth: Int) throws -> Bool {
            let start = index
            guard depth < 1024 else {
                throw Failure(message: "unparsable conditional expression '\(rest(from: start))'", position: start + 1)
            }
            var value = try conjunction(depth: depth + 1)
            skipBlanks()
            if peek() == 0x7C && peek(1) == 0x7C {
                index += 2
                skipBlanks()
                let right = try expression(depth: depth + 1)
                value = value || right
            }
            return value
        }

        mutating func conjunction(depth: Int) throws -> Bool {
            var value = try term(depth: depth + 1)
            skipBlanks()
            if peek() == 0x26 && peek(1) == 0x26 {
                index += 2
                skipBlanks()
                let right = try conjunction(depth: depth + 1)
                value = value && right
            }
            return value
        }

        mutating func term(depth: Int) throws -> Bool {
            skipBlanks()
            let start = index
            guard !atEnd, depth < 1024 else {
                throw Failure(
                    message: "unparsable conditional sub-expression '\(rest(from: start))'", position: start + 1)
            }
            var negate = false
            while peek() == 0x21 {
                negate.toggle()
                index += 1
                skipBlanks()
            }
            if let number = integer() { return (number != 0) != negate }
            if peek() == 0x28 {
                index += 1
                skipBlanks()
                let value = try expression(depth: depth + 1)
                skipBlanks()
                guard peek() == 0x29 else {
                    throw Failure(
                        message: "expected ')' after conditional expression '\(rest(from: start))'",
                        position: start + 1)
                }
                index += 1
                skipBlanks()
                return value != negate
            }
            let nameStart = index
            while !atEnd, peek() != 0x20, peek() != 0x28 { index += 1 }
            let name = String(decoding: chars[nameStart..<index], as: UTF8.self)
            let arity: Int
            switch name {
            case "streq", "strneq": arity = 2
            case "defined", "feature", "version_atleast", "version_before", "openssl_version_atleast",
                "openssl_version_before", "ssllib_name_startswith":
                arity = 1
            default:
                throw Failure(message: "unparsable conditional expression '\(rest(from: start))'", position: start + 1)
            }
            let args = try arguments(predicate: name, arity: arity)
            return try evaluate(name, args) != negate
        }

        /// `strtol(…, 0)`: decimal, `0x` hexadecimal or leading-zero octal, optionally signed.
        mutating func integer() -> Int? {
            var i = index
            var sign = 1
            if peek() == 0x2D || peek() == 0x2B {
                sign = peek() == 0x2D ? -1 : 1
                i += 1
            }
            var radix = 10
            if i + 1 < chars.count, chars[i] == 0x30, chars[i + 1] | 0x20 == 0x78,
                i + 2 < chars.count, hexDigit(chars[i + 2]) != nil
            {
                radix = 16
                i += 2
            } else if i < chars.count, chars[i] == 0x30 {
                radix = 8
            }
            var value = 0
            var digits = 0
            while i < chars.count, let d = hexDigit(chars[i]), d < radix {
                value = value &* radix &+ d
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            index = i
            return sign &* value
        }

        func hexDigit(_ c: UInt8) -> Int? {
            switch c {
            case 0x30...0x39: Int(c - 0x30)
            case 0x41...0x46: Int(c - 0x37)
            case 0x61...0x66: Int(c - 0x57)
            default: nil
            }
        }

        /// `(arg,arg)` as HAProxy's `make_arg_list()` reads them: quotes group, a backslash escapes,
        /// blanks are kept.
        mutating func arguments(predicate: String, arity: Int) throws -> [String] {
            guard peek() == 0x28 else {
                if arity == 2 {
                    throw Failure(
                        message:
                            "missing arguments (got 0/2), type 'string' expected in argument 1 of predicate '\(predicate)' used in conditional expression",
                        position: index + 1)
                }
                return []
            }
            index += 1
            var args: [String] = []
            var current: [UInt8] = []
            var quote: UInt8 = 0
            while true {
                guard !atEnd else {
                    throw Failure(
                        message:
                            "expected ')' in argument \(args.count + 1) of predicate '\(predicate)' used in conditional expression",
                        position: index + 1)
                }
                let c = peek()
                index += 1
                if quote != 0 {
                    if c == quote { quote = 0 } else { current.append(c) }
                } else if c == 0x22 || c == 0x27 {
                    quote = c
                } else if c == 0x5C, !atEnd {
                    current.append(peek())
                    index += 1
                } else if c == 0x2C {
                    args.append(String(decoding: current, as: UTF8.self))
                    current = []
                    if args.count >= arity {
                        throw Failure(
                            message:
                                "expected ')' before '\(rest(from: index - 1))' in argument \(args.count) of predicate '\(predicate)' used in conditional expression",
                            position: index)
                    }
                } else if c == 0x29 {
                    if !(current.isEmpty && args.isEmpty) { args.append(String(decoding: current, as: UTF8.self)) }
                    break
                } else {
                    current.append(c)
                }
            }
            if args.count < arity && !(arity == 1 && args.isEmpty) {
                throw Failure(
                    message:
                        "missing arguments (got \(args.count)/\(arity)), type 'string' expected in argument \(max(1, args.count)) of predicate '\(predicate)' used in conditional expression",
                    position: index)
            }
            return args
        }

        func evaluate(_ predicate: String, _ args: [String]) throws -> Bool {
            let arg = args.first ?? ""
            switch predicate {
            case "defined": return !arg.isEmpty && environment[arg] != nil
            case "feature": return HAProxyCondition.features.contains(arg)
            case "streq": return args[0] == args[1]
            case "strneq": return args[0] != args[1]
            case "version_atleast": return compareVersion(HAProxyCondition.haproxyVersion, arg) >= 0
            case "version_before": return compareVersion(HAProxyCondition.haproxyVersion, arg) < 0
            case "openssl_version_atleast": return compareVersion(HAProxyCondition.opensslVersion, arg) >= 0
            case "openssl_version_before": return compareVersion(HAProxyCondition.opensslVersion, arg) < 0
            default: return "OpenSSL".hasPrefix(arg)
            }
        }
    }

    /// Compares a running version with a written one such as `2.6`, `2.6.12`, `2.7-dev3`:
    /// missing components count as 0, and a `-dev`/`-pre`/`-rc` suffix is older than the release.
    static func compareVersion(_ current: [Int], _ written: String) -> Int {
        let main = written.split(separator: "-", maxSplits: 1).first.map(String.init) ?? ""
        let isPrerelease = written.contains("-")
        let parts = main.split(separator: ".").map { Int($0) ?? 0 }
        for k in 0..<max(current.count, parts.count) {
            let a = k < current.count ? current[k] : 0
            let b = k < parts.count ? parts[k] : 0
            if a != b { return a < b ? -1 : 1 }
        }
        return isPrerelease ? 1 : 0
    }
}
