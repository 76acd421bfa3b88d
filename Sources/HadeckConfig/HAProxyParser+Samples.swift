import BalancerCore
import HadeckBase

// Sample expressions (`hdr(host),lower`), log-format strings (`%[src] %ci`) and ACL expressions
// (`path_beg -i /api`), as HAProxy's src/sample.c, src/log.c and src/acl.c read them.

let converterNames: Set<String> = [
    "add", "add_item", "aes_gcm_dec", "and", "b64dec", "base64", "be2dec", "be2hex", "bool", "bytes", "concat",
    "cpl", "crc32", "crc32c", "cut_crlf", "debug", "digest", "div", "djb2", "even", "field", "hex", "hex2i", "hmac",
    "htonl", "http_date", "iif", "in_table", "ipmask", "json", "json_query", "jwt_header_query",
    "jwt_payload_query", "jwt_verify", "language", "length", "lower", "ltime", "ltrim", "map", "mod", "mul",
    "nbsrv", "neg", "not", "odd", "or", "protobuf", "regsub", "rtrim", "sdbm", "secure_memcmp", "sha1", "sha2",
    "srv_queue", "strcmp", "sub", "ub64dec", "ub64enc", "ungrpc", "upper", "url_dec", "url_enc", "utime", "word",
    "wt6", "xor", "xxh3", "xxh32", "xxh64", "set-var", "unset-var", "capture-req", "capture-res",
]

/// Why a sample expression could not be read.
struct SampleProblem: Error { var message: String }

extension HAProxyParser {
    // MARK: sample expressions

    /// Splits `name(arg,arg),conv(arg),conv` into its parts.
    func splitExpression(_ text: String) -> [(name: String, args: [String])]? {
        var parts: [(String, [String])] = []
        var i = text.startIndex
        while i < text.endIndex {
            let nameStart = i
            while i < text.endIndex, text[i] != "(", text[i] != "," { i = text.index(after: i) }
            let name = String(text[nameStart..<i])
            var args: [String] = []
            if i < text.endIndex, text[i] == "(" {
                i = text.index(after: i)
                var current = ""
                var closed = false
                while i < text.endIndex {
                    let c = text[i]
                    i = text.index(after: i)
                    if c == ")" {
                        closed = true
                        break
                    } else if c == "," {
                        args.append(current)
                        current = ""
                    } else if c == "\\", i < text.endIndex {
                        current.append(text[i])
                        i = text.index(after: i)
                    } else {
                        current.append(c)
                    }
                }
                guard closed else { return nil }
                args.append(current)
            }
            parts.append((name, args))
            if i < text.endIndex {
                guard text[i] == "," else { return nil }
                i = text.index(after: i)
            }
        }
        return parts
    }

    /// Reads a sample expression. Unknown names are errors; names HAProxy knows that hadeck does not
    /// evaluate come back as `.unsupported` (the caller warns).
    func sampleExpression(_ text: String) -> Result<SampleExpression, SampleProblem> {
        guard let parts = splitExpression(text), let head = parts.first, !head.name.isEmpty else {
            return .failure(SampleProblem(message: "unknown fetch method '\(text)'"))
        }
        let arg = head.args.first.flatMap { $0.isEmpty ? nil : $0 }
        let fetch: SampleFetch
        switch head.name {
        case "path": fetch = .path
        case "pathq": fetch = .pathQuery
        case "url": fetch = .url
        case "query": fetch = .query
        case "base": fetch = .base
        case "url_param", "urlp":
            guard let arg else { return .failure(SampleProblem(message: "missing arguments (got 0/1)")) }
            fetch = .urlParameter(arg)
        case "method": fetch = .method
        case "src": fetch = .source
        case "src_port": fetch = .sourcePort
        case "hdr", "req.hdr", "hdr_val", "req.hdr_val", "hdr_ip", "req.hdr_ip": fetch = .header(arg)
        case "req.fhdr":
            guard let arg else { return .failure(SampleProblem(message: "missing arguments (got 0/1)")) }
            fetch = .fullHeader(arg)
        case "hdr_cnt", "req.hdr_cnt": fetch = .headerCount(arg)
        case "cook", "req.cook", "cookie": fetch = .cookie(arg)
        case "cook_cnt", "req.cook_cnt": fetch = .cookieCount(arg)
        case "nbsrv": fetch = .usableServers(arg)
        case "req.ver", "req_ver": fetch = .httpVersion
        case "res.hdr", "shdr": fetch = .responseHeader(arg)
        case "status": fetch = .status
        case "always_true": fetch = .alwaysTrue
        case "always_false": fetch = .alwaysFalse
        case "str", "int", "bool": fetch = .constant(arg ?? "")
        default:
            guard haproxyFetchNames.contains(head.name) else {
                return .failure(SampleProblem(message: "unknown fetch method '\(head.name)'"))
            }
            fetch = .unsupported(head.name)
        }
        var converters: [SampleConverter] = []
        for part in parts.dropFirst() {
            switch part.name {
            case "lower": converters.append(.lower)
            case "upper": converters.append(.upper)
            case "length": converters.append(.length)
            case "field", "word":
                guard let index = part.args.first.flatMap({ Int($0) }), part.args.count >= 2 else {
                    return .failure(SampleProblem(message: "converter '\(part.name)' expects an index and delimiters"))
                }
                converters.append(
                    part.name == "field"
                        ? .field(index: index, delimiters: part.args[1]) : .word(index: index, delimiters: part.args[1])
                )
            case "regsub":
                guard part.args.count >= 2 else {
                    return .failure(SampleProblem(message: "converter 'regsub' expects a regex and a replacement"))
                }
                let flags = part.args.count > 2 ? part.args[2] : ""
                converters.append(
                    .regsub(
                        pattern: part.args[0], replacement: part.args[1], global: flags.contains("g"),
                        ignoreCase: flags.contains("i")))
            default:
                guard converterNames.contains(part.name) || part.name.hasPrefix("map") || part.name.hasPrefix("table_")
                else { return .failure(SampleProblem(message: "unknown conv method '\(part.name)'")) }
                converters.append(.unsupported(part.name))
            }
        }
        return .success(SampleExpression(fetch: fetch, converters: converters, text: text))
    }

    /// Whether an expression reads something hadeck does not evaluate.
    func unsupportedPart(_ e: SampleExpression) -> String? {
        if case .unsupported(let name) = e.fetch { return name }
        for case .unsupported(let name) in e.converters { return name }
        return nil
    }

    // MARK: log-format strings

    /// Reads a log-format string: `%[expr]` samples, `%var` log variables, `%%`, literal text.
    mutating func parseLogFormat(_ text: String, _ n: Int, context: String) -> LogFormat {
        var parts: [LogFormat.Part] = []
        var literal = ""
        var i = text.startIndex
        func flush() {
            if !literal.isEmpty { parts.append(.literal(literal)) }
            literal = ""
        }
        while i < text.endIndex {
            let c = text[i]
            i = text.index(after: i)
            guard c == "%", i < text.endIndex else {
                literal.append(c)
                continue
            }
            if text[i] == "%" {
                literal.append("%")
                i = text.index(after: i)
                continue
            }
            if text[i] == "{" {  // %{+Q}var: flags
                guard let close = text[i...].firstIndex(of: "}") else { break }
                i = text.index(after: close)
            }
            if i < text.endIndex, text[i] == "[" {
                guard let close = text[i...].firstIndex(of: "]") else {
                    error(n, "\(context) : missing ']' after '%[' in '\(text)'")
                    break
                }
                let inner = String(text[text.index(after: i)..<close])
                i = text.index(after: close)
                flush()
                switch sampleExpression(inner) {
                case .success(let e):
                    if let missing = unsupportedPart(e) {
                        warn(
                            n, "\(context): '\(missing)' in '%[\(inner)]' is not evaluated by hadeck; it yields nothing"
                        )
                    }
                    parts.append(.sample(e))
                case .failure(let p):
                    error(n, "\(context) : failed to parse sample expression <\(inner)> : \(p.message).")
                }
                continue
            }
            let name = text[i...].prefix { $0.isASCII && $0.isLetter }
            flush()
            parts.append(.variable(String(name)))
            i = text.index(i, offsetBy: name.count)
        }
        flush()
        return LogFormat(parts: parts, text: text)
    }

    // MARK: ACLs

    /// `acl NAME CRITERION [FLAGS] [OPERATOR] [VALUE...]`
    mutating func parseACL(_ w: [String], _ n: Int, _ proxy: inout ProxyState) {
        guard w.count >= 3 else { return error(n, "'acl' expects a name and an ACL expression.") }
        let name = w[1]
        if let bad = name.utf8.first(where: { !isNameByte($0) }) {
            return error(n, "character '\(Character(UnicodeScalar(bad)))' is not permitted in acl name '\(name)'.")
        }
        switch aclTest(Array(w[2...]), n) {
        case .success(let test):
            if let existing = proxy.rules.acls.firstIndex(where: { $0.name == name }) {
                proxy.rules.acls[existing].tests.append(test)
            } else {
                proxy.rules.acls.append(ACLDefinition(name: name, tests: [test], line: n))
            }
        case .failure(let p):
            error(n, "error detected while parsing ACL '\(name)' : \(p.message).")
        }
    }

    /// One ACL expression (`path_beg -i /api /v2`).
    mutating func aclTest(_ w: [String], _ n: Int) -> Result<ACLTest, SampleProblem> {
        let criterion = w[0]
        var method: MatchMethod? = nil
        var expressionText = criterion
        if let alias = aclKeywordAliases[criterion.prefix { $0 != "(" && $0 != "," }.description] {
            // `path_beg` is `path -m beg`; `hdr_beg(host)` is `req.hdr(host) -m beg`.
            let suffix = criterion.drop { $0 != "(" && $0 != "," }
            expressionText = alias.fetch + suffix
            method = MatchMethod(rawValue: alias.method)
        }
        let sample: SampleExpression
        switch sampleExpression(expressionText) {
        case .success(let e): sample = e
        case .failure(let p):
            let message =
                p.message.hasPrefix("unknown fetch") ? "\(p.message) in ACL expression '\(criterion)'" : p.message
            return .failure(SampleProblem(message: message))
        }
        if let missing = unsupportedPart(sample) {
            warn(n, "'\(missing)' is not evaluated by hadeck: ACL criterion '\(criterion)' never matches")
        }
        var ignoreCase = false
        var i = 1
        flags: while i < w.count, w[i].hasPrefix("-"), w[i].count > 1 {
            switch w[i] {
            case "-i": ignoreCase = true
            case "-n", "-u": break
            case "--":
                i += 1
                break flags
            case "-m":
                guard i + 1 < w.count else {
                    return .failure(SampleProblem(message: "missing matching method after '-m'"))
                }
                guard let m = MatchMethod(rawValue: w[i + 1]) else {
                    return .failure(
                        SampleProblem(message: "unknown matching method '\(w[i + 1])' when parsing ACL expression"))
                }
                method = m
                i += 1
            case "-f", "-M":
                if w[i] == "-f" {
                    warn(
                        n,
                        "acl '-f \(i + 1 < w.count ? w[i + 1] : "")': hadeck does not read pattern files; they add no pattern"
                    )
                }
                i += w[i] == "-f" ? 1 : 0
            default:
                if Int(w[i]) != nil { break flags }
                return .failure(
                    SampleProblem(
                        message:
                            "'\(w[i])' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'"
                    ))
            }
            i += 1
        }
        let match = method ?? defaultMethod(sample.fetch)
        var test = ACLTest(sample: sample, method: match, text: w.joined(separator: " "))
        test.ignoreCase = ignoreCase
        let values = Array(w[min(i, w.count)...])
        switch match {
        case .int, .len:
            var k = 0
            while k < values.count {
                var value = values[k]
                var op: String? = nil
                if ["eq", "ge", "gt", "le", "lt"].contains(value), k + 1 < values.count {
                    op = value
                    k += 1
                    value = values[k]
                }
                guard let pattern = integerPattern(value, op) else {
                    return .failure(SampleProblem(message: "'\(value)' is not a number"))
                }
                test.integerPatterns.append(pattern)
                k += 1
            }
        case .ip:
            for value in values {
                guard let pattern = addressPattern(value) else {
                    return .failure(SampleProblem(message: "'\(value)' is not a valid IPv4 or IPv6 address"))
                }
                test.addressPatterns.append(pattern)
            }
        case .reg:
            for value in values where (try? Regex(value)) == nil {
                warn(n, "regex '\(value)' uses syntax hadeck cannot compile; it never matches")
            }
            test.patterns = values
        default:
            test.patterns = values
        }
        if values.isEmpty, ![.found, .bool].contains(match), !isPatternless(sample.fetch),
            !w.contains("-f"), w.last != "--"
        {
            warn(
                n,
                "parsing acl keyword '\(criterion)' : no pattern to match against were provided, so this ACL will never match."
            )
        }
        return .success(test)
    }

    func isPatternless(_ fetch: SampleFetch) -> Bool {
        switch fetch {
        case .alwaysTrue, .alwaysFalse, .unsupported: true
        default: false
        }
    }

    /// The match method a fetch uses when the ACL names none (its sample type's).
    func defaultMethod(_ fetch: SampleFetch) -> MatchMethod {
        switch fetch {
        case .source: .ip
        case .sourcePort, .headerCount, .cookieCount, .usableServers, .status: .int
        case .alwaysTrue, .alwaysFalse: .bool
        default: .str
        }
    }

    func integerPattern(_ text: String, _ op: String?) -> IntegerPattern? {
        if let op {
            guard let v = Int(text) else { return nil }
            switch op {
            case "eq": return IntegerPattern(low: v, high: v)
            case "ge": return IntegerPattern(low: v, high: nil)
            case "gt": return v == .max ? IntegerPattern(low: 1, high: 0) : IntegerPattern(low: v + 1, high: nil)
            case "le": return IntegerPattern(low: nil, high: v)
            default: return v == .min ? IntegerPattern(low: 1, high: 0) : IntegerPattern(low: nil, high: v - 1)
            }
        }
        if let colon = text.firstIndex(of: ":") {
            let low = text[..<colon]
            let high = text[text.index(after: colon)...]
            let l = low.isEmpty ? nil : Int(low)
            let h = high.isEmpty ? nil : Int(high)
            if (!low.isEmpty && l == nil) || (!high.isEmpty && h == nil) { return nil }
            return IntegerPattern(low: l, high: h)
        }
        guard let v = Int(text) else { return nil }
        return IntegerPattern(low: v, high: v)
    }

    func addressPattern(_ text: String) -> AddressPattern? {
        let pieces = text.split(separator: "/", maxSplits: 1)
        guard let first = pieces.first, let address = IPAddress(first) else { return nil }
        let full = address.bytes.count * 8
        guard pieces.count == 2 else { return AddressPattern(address: address, prefixLength: full) }
        if let bits = Int(pieces[1]), (0...full).contains(bits) {
            return AddressPattern(address: address, prefixLength: bits)
        }
        // A dotted netmask: 255.255.255.0.
        guard let mask = IPAddress(pieces[1]), mask.bytes.count == 4 else { return nil }
        let bits = mask.bytes.reduce(0) { $0 + $1.nonzeroBitCount }
        return AddressPattern(address: address, prefixLength: bits)
    }
}
