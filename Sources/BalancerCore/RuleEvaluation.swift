// Evaluates a frontend's rules against a request, in HAProxy 2.6's order (http_process_req_common
// and process_switching_rules): the frontend's `http-request` rules, its `redirect` rules, its
// `use_backend` rules (first match; a dynamic name that names no backend falls back to the default),
// `default_backend`, then the chosen backend's own `http-request` and `redirect` rules.
//
// One simplification, said here once: header edits made by an earlier `http-request` rule are
// returned as edits to apply, but later rules still see the request as it arrived.

/// One sample produced by a fetch.
enum SampleValue {
    case bytes([UInt8])
    case integer(Int)
    case address(IPAddress)
    case boolean(Bool)

    var asBytes: [UInt8] {
        switch self {
        case .bytes(let b): b
        case .integer(let n): Array(String(n).utf8)
        case .address(let a): Array(a.description.utf8)
        case .boolean(let b): b ? [0x31] : [0x30]
        }
    }
}

/// What a request-side rule evaluation knows besides the request.
struct SampleContext {
    let request: RequestFacts
    /// The proxy whose rule is evaluated (the default for `nbsrv`).
    let proxy: String
    let usableServers: (String) -> Int
    var responseStatus: Int? = nil
    var responseHeaders: [(name: String, value: String)] = []
}

/// The header edits a decision asks for, in rule order.
public struct HeaderEdit: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable { case set, add, delete }
    public var kind: Kind
    public var name: String
    /// The value after evaluating the format (empty for `delete`).
    public var value: String
    /// The rule's line in its file.
    public var line: Int

    public init(kind: Kind, name: String, value: String, line: Int) {
        self.kind = kind
        self.name = name
        self.value = value
        self.line = line
    }
}

/// What the frontend decides for a request.
public struct RequestDecision: Hashable, Sendable {
    public enum Outcome: Hashable, Sendable {
        /// Forward to this backend (server selection, cookies and the queue come next).
        case backend(String)
        /// HAProxy answers with this status itself (`http-request deny`, 403 by default).
        case deny(status: Int)
        /// `http-request tarpit`: held for `timeout tarpit`, then answered with this status.
        case tarpit(status: Int)
        /// `redirect` / `http-request redirect`: the status and the `Location` value.
        case redirect(status: Int, location: String, setCookie: String?)
        /// `http-request return`.
        case `return`(status: Int, contentType: String?, body: String)
        /// No backend at all: HAProxy answers 503.
        case noBackend
    }

    public var outcome: Outcome
    /// Edits to the request headers before it is forwarded, in order.
    public var requestHeaderEdits: [HeaderEdit]
    /// Which rule decided, in words: `acl is_api (path_beg /api) -> backend api`.
    public var reason: String
    /// The headers of an `http-request return` answer (`hdr NAME FMT`), evaluated, in order.
    public var answerHeaders: [HeaderEdit] = []

    /// The backend's name when the request is forwarded.
    public var backend: String? { if case .backend(let name) = outcome { name } else { nil } }
}

/// A frontend's rules, compiled once (regular expressions included), evaluated per request.
public struct RequestRouter: @unchecked Sendable {
    public let frontend: FrontendConfig
    let backendRules: [String: ProxyRules]
    let backendNames: Set<String>
    let regexes: RegexCache

    /// `backends` are the configuration's backends (their own rules run after the switch).
    public init(frontend: FrontendConfig, backends: [BackendConfig]) {
        self.frontend = frontend
        backendRules = Dictionary(backends.map { ($0.name, $0.rules) }, uniquingKeysWith: { a, _ in a })
        backendNames = Set(backends.map(\.name))
        let cache = RegexCache()
        cache.compile(frontend.rules)
        for b in backends { cache.compile(b.rules) }
        regexes = cache
    }

    /// Decides what happens to `request`. `usableServers` answers how many servers of a backend can
    /// take traffic now (for `nbsrv`); it is called only by rules that use `nbsrv`.
    public func route(_ request: RequestFacts, usableServers: (String) -> Int = { _ in 0 }) -> RequestDecision {
        withoutActuallyEscaping(usableServers) { route(request, $0) }
    }

    private func route(_ request: RequestFacts, _ usableServers: @escaping (String) -> Int) -> RequestDecision {
        var edits: [HeaderEdit] = []
        let feContext = SampleContext(request: request, proxy: frontend.name, usableServers: usableServers)
        if let final = runRequestRules(frontend.rules, label: "", feContext, &edits) {
            return RequestDecision(
                outcome: final.0, requestHeaderEdits: edits, reason: final.1, answerHeaders: final.2)
        }
        var chosen: String? = nil
        var reason = ""
        for rule in frontend.rules.switching {
            guard let why = conditionHolds(rule.condition, feContext) else { continue }
            let name = evaluate(rule.backend, feContext)
            if !rule.backend.isStatic && !backendNames.contains(name) {
                reason = "use_backend \(rule.backend.text) gave '\(name)', which names no backend (line \(rule.line))"
            } else {
                chosen = name
                reason =
                    why.isEmpty ? "use_backend (line \(rule.line)) -> backend \(name)" : "\(why) -> backend \(name)"
            }
            break
        }
        let backend: String
        if let chosen {
            backend = chosen
        } else if let fallback = frontend.defaultBackend {
            backend = fallback
            let prefix =
                frontend.rules.switching.isEmpty ? "" : (reason.isEmpty ? "no use_backend rule matched" : reason)
            reason = prefix.isEmpty ? "default_backend \(fallback)" : "\(prefix) -> default_backend \(fallback)"
        } else {
            return RequestDecision(
                outcome: .noBackend, requestHeaderEdits: edits,
                reason: reason.isEmpty ? "no use_backend rule matched and no default_backend" : reason)
        }
        if backend != frontend.name, let rules = backendRules[backend] {
            let beContext = SampleContext(request: request, proxy: backend, usableServers: usableServers)
            if let final = runRequestRules(rules, label: "backend \(backend): ", beContext, &edits) {
                return RequestDecision(
                    outcome: final.0, requestHeaderEdits: edits, reason: reason + "; " + final.1,
                    answerHeaders: final.2)
            }
        }
        return RequestDecision(outcome: .backend(backend), requestHeaderEdits: edits, reason: reason)
    }

    /// The response header edits of the backend's then the frontend's `http-response` rules, and
    /// whether one of them denies the response (HAProxy then answers 502 by default).
    public func responseEdits(
        request: RequestFacts, backend: String, status: Int, headers: [(name: String, value: String)],
        usableServers: (String) -> Int = { _ in 0 }
    ) -> (edits: [HeaderEdit], denyStatus: Int?) {
        withoutActuallyEscaping(usableServers) {
            responseEdits(request: request, backend: backend, status: status, headers: headers, $0)
        }
    }

    private func responseEdits(
        request: RequestFacts, backend: String, status: Int, headers: [(name: String, value: String)],
        _ usableServers: @escaping (String) -> Int
    ) -> (edits: [HeaderEdit], denyStatus: Int?) {
        var edits: [HeaderEdit] = []
        var proxies: [(String, ProxyRules)] = []
        if backend != frontend.name, let rules = backendRules[backend] { proxies.append((backend, rules)) }
        proxies.append((frontend.name, frontend.rules))
        for (name, rules) in proxies {
            var context = SampleContext(request: request, proxy: name, usableServers: usableServers)
            context.responseStatus = status
            context.responseHeaders = headers
            rules: for rule in rules.httpResponse where conditionHolds(rule.condition, context) != nil {
                switch rule.action {
                case .allow: break rules  // stops this proxy's http-response rules
                case .deny(let code): return (edits, code)
                case .header(let edit): edits.append(headerEdit(edit, context, line: rule.line))
                case .unsupported: continue
                }
            }
        }
        return (edits, nil)
    }

    // MARK: rules

    private func runRequestRules(
        _ rules: ProxyRules, label: String, _ context: SampleContext, _ edits: inout [HeaderEdit]
    ) -> (RequestDecision.Outcome, String, [HeaderEdit])? {
        for rule in rules.httpRequest {
            guard let why = conditionHolds(rule.condition, context) else { continue }
            let cause = label + rule.text + " (line \(rule.line))" + (why.isEmpty ? "" : " if \(why)")
            switch rule.action {
            case .allow:
                return runRedirects(rules, label: label, context).map { ($0.0, $0.1, []) }
            case .deny(let status): return (.deny(status: status), cause + " -> \(status)", [])
            case .tarpit(let status): return (.tarpit(status: status), cause + " -> tarpit, \(status)", [])
            case .redirect(let r):
                let outcome = redirect(r, context)
                return (outcome, cause + " -> redirect", [])
            case .return(let r):
                let body = r.body.map { evaluate($0, context) } ?? ""
                let headers = r.headers.map {
                    HeaderEdit(kind: .add, name: $0.name, value: evaluate($0.value, context), line: rule.line)
                }
                return (
                    .return(status: r.status, contentType: r.contentType, body: body),
                    cause + " -> return \(r.status)", headers
                )
            case .header(let edit):
                edits.append(headerEdit(edit, context, line: rule.line))
            case .unsupported:
                continue
            }
        }
        return runRedirects(rules, label: label, context).map { ($0.0, $0.1, []) }
    }

    private func runRedirects(_ rules: ProxyRules, label: String, _ context: SampleContext) -> (
        RequestDecision.Outcome, String
    )? {
        for rule in rules.redirects {
            guard let why = conditionHolds(rule.condition, context), case .redirect(let r) = rule.action else {
                continue
            }
            return (redirect(r, context), label + "redirect (line \(rule.line))" + (why.isEmpty ? "" : " if \(why)"))
        }
        return nil
    }

    private func redirect(_ r: RedirectAction, _ context: SampleContext) -> RequestDecision.Outcome {
        let target = evaluate(r.target, context)
        let request = context.request
        var location: String
        switch r.kind {
        case .location:
            location = target
        case .prefix:
            let path = request.path.map { String(decoding: request.bytes($0), as: UTF8.self) } ?? "/"
            let query = request.query.map { "?" + String(decoding: request.bytes($0), as: UTF8.self) } ?? ""
            location = (target == "/" ? "" : target) + path + (r.dropQuery ? "" : query)
            if r.appendSlash, !path.hasSuffix("/") { location = (target == "/" ? "" : target) + path + "/" }
        case .scheme:
            let host = firstHeaderValue("host", request) ?? ""
            let path = String(decoding: request.bytes(request.target), as: UTF8.self)
            location = target + "://" + host + (r.dropQuery ? String(path.prefix { $0 != "?" }) : path)
        }
        if r.kind == .location, r.appendSlash, !location.hasSuffix("/") { location += "/" }
        var cookie: String? = nil
        if let set = r.setCookie { cookie = set + "; path=/;" }
        if let clear = r.clearCookie { cookie = clear + "; path=/; Max-Age=0;" }
        return .redirect(status: r.code, location: location, setCookie: cookie)
    }

    private func headerEdit(_ edit: HeaderEditAction, _ context: SampleContext, line: Int) -> HeaderEdit {
        switch edit {
        case .set(let name, let value): HeaderEdit(kind: .set, name: name, value: evaluate(value, context), line: line)
        case .add(let name, let value): HeaderEdit(kind: .add, name: name, value: evaluate(value, context), line: line)
        case .delete(let name): HeaderEdit(kind: .delete, name: name, value: "", line: line)
        }
    }

    // MARK: conditions

    /// nil when the condition does not hold; otherwise the terms that made it hold, in words
    /// (empty for a rule without condition).
    func conditionHolds(_ condition: RuleCondition?, _ context: SampleContext) -> String? {
        guard let condition else { return "" }
        var holdingAlternative: [String]? = nil
        for alternative in condition.alternatives {
            var words: [String] = []
            var all = true
            for term in alternative {
                let matched = term.tests.first { test(test: $0, context) }
                if (matched != nil) != term.negated {
                    words.append(describe(term, matched: matched))
                } else {
                    all = false
                    break
                }
            }
            if all {
                holdingAlternative = words
                break
            }
        }
        if condition.unless {
            if holdingAlternative != nil { return nil }
            let names = condition.alternatives.map { $0.map { describe($0, matched: nil) }.joined(separator: " ") }
            return "unless " + names.joined(separator: " || ")
        }
        return holdingAlternative?.joined(separator: ", ")
    }

    private func describe(_ term: ConditionTerm, matched: ACLTest?) -> String {
        let bang = term.negated ? "!" : ""
        let detail = (matched ?? (term.tests.count == 1 ? term.tests[0] : nil)).map { $0.text }
        if let name = term.name {
            return detail.map { "\(bang)acl \(name) (\($0))" } ?? "\(bang)acl \(name)"
        }
        return "\(bang){ \(detail ?? term.tests.map(\.text).joined(separator: " || ")) }"
    }

    func test(test: ACLTest, _ context: SampleContext) -> Bool {
        let samples = fetch(test.sample, context)
        if test.method == .found { return !samples.isEmpty }
        for sample in samples where matches(sample, test) { return true }
        return false
    }

    private func matches(_ sample: SampleValue, _ test: ACLTest) -> Bool {
        switch test.method {
        case .found: return true
        case .bool:
            switch sample {
            case .boolean(let b): return b
            case .integer(let n): return n != 0
            case .bytes(let b): return !b.isEmpty
            case .address: return true
            }
        case .int:
            let value: Int?
            switch sample {
            case .integer(let n): value = n
            case .boolean(let b): value = b ? 1 : 0
            case .bytes(let b): value = Int(String(decoding: b, as: UTF8.self).trimmingSpaces())
            case .address: value = nil
            }
            guard let value else { return false }
            return test.integerPatterns.contains { $0.matches(value) }
        case .len:
            let length = sample.asBytes.count
            return test.integerPatterns.contains { $0.matches(length) }
        case .ip:
            let address: IPAddress?
            switch sample {
            case .address(let a): address = a
            case .bytes(let b): address = IPAddress(String(decoding: b, as: UTF8.self).trimmingSpaces())
            default: address = nil
            }
            guard let address else { return false }
            return test.addressPatterns.contains { $0.contains(address) }
        case .reg:
            let text = String(decoding: sample.asBytes, as: UTF8.self)
            return test.patterns.contains { regexes.matches($0, ignoreCase: test.ignoreCase, text) }
        case .str, .beg, .end, .sub, .dom, .dir:
            let value = sample.asBytes
            return test.patterns.contains { textMatch(value, Array($0.utf8), test.method, test.ignoreCase) }
        }
    }

    // MARK: log-format strings

    func evaluate(_ format: LogFormat, _ context: SampleContext) -> String {
        var out = ""
        for part in format.parts {
            switch part {
            case .literal(let text): out += text
            case .variable(let name): out += variable(name, context)
            case .sample(let expression):
                if let first = fetch(expression, context).first {
                    out += String(decoding: first.asBytes, as: UTF8.self)
                }
            }
        }
        return out
    }

    private func variable(_ name: String, _ context: SampleContext) -> String {
        switch name {
        case "ci": context.request.source?.description ?? "-"
        case "cp": String(context.request.sourcePort)
        case "f", "ft": frontend.name
        case "HM": String(decoding: context.request.bytes(context.request.method), as: UTF8.self)
        case "HU": String(decoding: context.request.bytes(context.request.target), as: UTF8.self)
        case "HP": context.request.path.map { String(decoding: context.request.bytes($0), as: UTF8.self) } ?? ""
        case "HQ": context.request.query.map { "?" + String(decoding: context.request.bytes($0), as: UTF8.self) } ?? ""
        case "HV": "HTTP/" + context.request.version
        default: ""
        }
    }
}

/// Compiled regular expressions, keyed by pattern and case mode. Filled once, then only read.
final class RegexCache: @unchecked Sendable {
    private var compiled: [String: Regex<AnyRegexOutput>] = [:]

    private static func key(_ pattern: String, _ ignoreCase: Bool) -> String { (ignoreCase ? "i:" : "s:") + pattern }

    func compile(_ rules: ProxyRules) {
        var tests: [ACLTest] = rules.acls.flatMap(\.tests)
        func addCondition(_ condition: RuleCondition?) {
            for alternative in condition?.alternatives ?? [] { for term in alternative { tests += term.tests } }
        }
        for rule in rules.httpRequest + rules.redirects { addCondition(rule.condition) }
        for rule in rules.switching { addCondition(rule.condition) }
        for rule in rules.httpResponse { addCondition(rule.condition) }
        for test in tests where test.method == .reg {
            for pattern in test.patterns { add(pattern, ignoreCase: test.ignoreCase) }
        }
        func converters(_ format: LogFormat) {
            for case .sample(let e) in format.parts {
                for case .regsub(let p, _, _, let i) in e.converters { add(p, ignoreCase: i) }
            }
        }
        for rule in rules.switching { converters(rule.backend) }
    }

    func add(_ pattern: String, ignoreCase: Bool) {
        let key = Self.key(pattern, ignoreCase)
        guard compiled[key] == nil, let regex = try? Regex(pattern) else { return }
        compiled[key] = ignoreCase ? regex.ignoresCase() : regex
    }

    func matches(_ pattern: String, ignoreCase: Bool, _ text: String) -> Bool {
        guard let regex = compiled[Self.key(pattern, ignoreCase)] else { return false }
        return (try? regex.firstMatch(in: text)) != nil
    }

    func replace(_ pattern: String, ignoreCase: Bool, in text: String, with replacement: String, global: Bool)
        -> String
    {
        guard let regex = compiled[Self.key(pattern, ignoreCase)] else { return text }
        if global { return text.replacing(regex, with: replacement) }
        return text.replacing(regex, with: replacement, maxReplacements: 1)
    }
}

/// HAProxy's string matches on bytes: `str` equal, `beg`/`end`/`sub` prefix/suffix/substring,
/// `dom` a run delimited by `/`, `?`, `.`, `:` (or the ends), `dir` one delimited by `/` or `?`.
func textMatch(_ value: [UInt8], _ pattern: [UInt8], _ method: MatchMethod, _ ignoreCase: Bool) -> Bool {
    @inline(__always) func eq(_ a: UInt8, _ b: UInt8) -> Bool {
        if a == b { return true }
        guard ignoreCase else { return false }
        let la = a >= 0x41 && a <= 0x5A ? a | 0x20 : a
        let lb = b >= 0x41 && b <= 0x5A ? b | 0x20 : b
        return la == lb
    }
    func equalAt(_ start: Int) -> Bool {
        guard start >= 0, start + pattern.count <= value.count else { return false }
        for k in 0..<pattern.count where !eq(value[start + k], pattern[k]) { return false }
        return true
    }
    switch method {
    case .str: return value.count == pattern.count && equalAt(0)
    case .beg: return equalAt(0)
    case .end: return equalAt(value.count - pattern.count)
    case .sub:
        if pattern.isEmpty { return true }
        return (0...max(0, value.count - pattern.count)).contains { equalAt($0) }
    case .dom, .dir:
        let delimiters: Set<UInt8> = method == .dom ? [0x2F, 0x3F, 0x2E, 0x3A] : [0x2F, 0x3F]
        var p = pattern[...]
        while let f = p.first, delimiters.contains(f) { p = p.dropFirst() }
        while let l = p.last, delimiters.contains(l) { p = p.dropLast() }
        let word = Array(p)
        guard !word.isEmpty, word.count <= value.count else { return false }
        for start in 0...(value.count - word.count) {
            guard start == 0 || delimiters.contains(value[start - 1]) else { continue }
            let end = start + word.count
            guard end == value.count || delimiters.contains(value[end]) else { continue }
            var ok = true
            for k in 0..<word.count where !eq(value[start + k], word[k]) {
                ok = false
                break
            }
            if ok { return true }
        }
        return false
    default: return false
    }
}
