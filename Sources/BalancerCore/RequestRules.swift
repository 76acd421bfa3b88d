// The routing rules of a haproxy.cfg as typed values: ACLs, conditions, `use_backend`,
// `http-request` / `http-response` actions, `redirect`, and HAProxy's log-format strings.
// RuleEvaluation.swift evaluates them against a request.

/// What an ACL, a `%[...]` expression or a `use_backend %[...]` name reads from the request.
public enum SampleFetch: Hashable, Sendable {
    /// The path: from the first `/` of the target up to `?` (`path`).
    case path
    /// The path and the query (`pathq`).
    case pathQuery
    /// The target as sent (`url`).
    case url
    /// What follows `?` (`query`).
    case query
    /// `Host` value without port followed by the path (`base`).
    case base
    /// `url_param(name)` / `urlp(name)`: a query parameter's value.
    case urlParameter(String)
    case method
    /// The client's address (`src`).
    case source
    /// The client's port (`src_port`).
    case sourcePort
    /// `hdr(name[,occ])` / `req.hdr`: every comma-separated value of the header (all headers if no name).
    case header(String?)
    /// `req.fhdr(name)`: the full values, commas included.
    case fullHeader(String)
    /// `hdr_cnt(name)`: how many values the header has.
    case headerCount(String?)
    /// `req.cook(name)` / `cook(name)`: the values of that cookie.
    case cookie(String?)
    /// `req.cook_cnt(name)`.
    case cookieCount(String?)
    /// `nbsrv([backend])`: usable servers of a backend (the current one without argument).
    case usableServers(String?)
    /// `req.ver`: `1.1`, `1.0`.
    case httpVersion
    /// `res.hdr(name)` (response rules only).
    case responseHeader(String?)
    /// `status` (response rules only).
    case status
    case alwaysTrue
    case alwaysFalse
    /// A constant: `str(x)`, `int(n)`, `bool(b)`.
    case constant(String)
    /// A fetch HAProxy knows that hadeck does not evaluate (it yields nothing, so it never matches).
    case unsupported(String)
}

/// HAProxy's conversions after a fetch (`hdr(host),lower`). Unsupported ones make the sample disappear.
public enum SampleConverter: Hashable, Sendable {
    case lower
    case upper
    /// `field(index,delimiters)`; a negative index counts from the end.
    case field(index: Int, delimiters: String)
    /// `word(index,delimiters)`: like field, empty words skipped.
    case word(index: Int, delimiters: String)
    /// `regsub(regex,replacement[,flags])`.
    case regsub(pattern: String, replacement: String, global: Bool, ignoreCase: Bool)
    case length
    case unsupported(String)
}

/// A fetch with its converters.
public struct SampleExpression: Hashable, Sendable {
    public var fetch: SampleFetch
    public var converters: [SampleConverter]
    /// As written, for reasons and messages.
    public var text: String

    public init(fetch: SampleFetch, converters: [SampleConverter] = [], text: String) {
        self.fetch = fetch
        self.converters = converters
        self.text = text
    }
}

/// How an ACL compares samples with its patterns (`-m` or the keyword's own method).
public enum MatchMethod: String, Hashable, Sendable {
    case found, bool, int, ip, str, beg, end, sub, reg, dom, dir, len
}

/// An integer pattern: `5`, `1:10`, `ge 3`, `lt 1`.
public struct IntegerPattern: Hashable, Sendable {
    public var low: Int?
    public var high: Int?

    public init(low: Int?, high: Int?) {
        self.low = low
        self.high = high
    }

    public func matches(_ value: Int) -> Bool {
        if let low, value < low { return false }
        if let high, value > high { return false }
        return true
    }
}

/// An address pattern: `10.0.0.0/8`, `127.0.0.1`, `::1`.
public struct AddressPattern: Hashable, Sendable {
    public var address: IPAddress
    public var prefixLength: Int

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public func contains(_ other: IPAddress) -> Bool {
        let a = address.bytes
        // An IPv4 pattern also matches IPv4-mapped IPv6 addresses, as HAProxy's ip matching does.
        var b = other.bytes
        if a.count == 4, b.count == 16, b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xFF, b[11] == 0xFF {
            b = Array(b[12...])
        }
        guard a.count == b.count else { return false }
        var remaining = prefixLength
        for k in 0..<a.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if a[k] & mask != b[k] & mask { return false }
            remaining -= bits
        }
        return true
    }
}

/// An IPv4 (4 bytes) or IPv6 (16 bytes) address.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init?(_ text: some StringProtocol) {
        if let v4 = IPAddress.parseIPv4(text) {
            bytes = v4
        } else if let v6 = IPAddress.parseIPv6(text) {
            bytes = v6
        } else {
            return nil
        }
    }

    public var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }

    static func parseIPv4(_ text: some StringProtocol) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }), let v = UInt8(part)
            else { return nil }
            out.append(v)
        }
        return out
    }

    static func parseIPv6(_ text: some StringProtocol) -> [UInt8]? {
        var s = Substring(text)
        if let percent = s.firstIndex(of: "%") { s = s[..<percent] }
        guard s.contains(":"), s.count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var v4Tail: [UInt8] = []
        var halves: [String] = []
        if let gap = s.firstRange(of: "::") {
            halves = [String(s[..<gap.lowerBound]), String(s[gap.upperBound...])]
            guard !halves[1].contains("::") else { return nil }
        } else {
            halves = [String(s)]
        }
        func groups(_ part: String, allowV4: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let items = part.split(separator: ":", omittingEmptySubsequences: false)
            for (k, item) in items.enumerated() {
                if allowV4, k == items.count - 1, item.contains("."), let v4 = parseIPv4(item) {
                    v4Tail = v4
                    continue
                }
                guard !item.isEmpty, item.count <= 4, let v = UInt16(item, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        if halves.count == 2 {
            guard let h = groups(halves[0], allowV4: false), let t = groups(halves[1], allowV4: true) else {
                return nil
            }
            head = h
            tail = t
            guard head.count + tail.count + v4Tail.count / 2 <= 7 else { return nil }
        } else {
            guard let h = groups(halves[0], allowV4: true), h.count + v4Tail.count / 2 == 8 else { return nil }
            head = h
        }
        let zeros = 8 - head.count - tail.count - v4Tail.count / 2
        let all = head + [UInt16](repeating: 0, count: zeros) + tail
        var out: [UInt8] = []
        for g in all { out += [UInt8(g >> 8), UInt8(g & 0xFF)] }
        return out + v4Tail
    }
}

/// One ACL test: a sample, how to match it, and the patterns (any pattern matching makes it true).
public struct ACLTest: Hashable, Sendable {
    public var sample: SampleExpression
    public var method: MatchMethod
    /// `-i`: ASCII case-insensitive.
    public var ignoreCase = false
    public var patterns: [String] = []
    public var integerPatterns: [IntegerPattern] = []
    public var addressPatterns: [AddressPattern] = []
    /// The criterion and patterns as written (`path_beg /api`), for routing reasons.
    public var text: String

    public init(sample: SampleExpression, method: MatchMethod, text: String) {
        self.sample = sample
        self.method = method
        self.text = text
    }
}

/// A named ACL: every `acl NAME ...` line of a proxy adds a test, and the ACL is true when any is.
public struct ACLDefinition: Hashable, Sendable {
    public var name: String
    public var tests: [ACLTest]
    public var line: Int

    public init(name: String, tests: [ACLTest], line: Int) {
        self.name = name
        self.tests = tests
        self.line = line
    }
}

/// One term of a condition: a named or anonymous (`{ ... }`) ACL, possibly negated with `!`.
public struct ConditionTerm: Hashable, Sendable {
    public var negated: Bool
    /// The ACL's name, or nil for an anonymous one.
    public var name: String?
    public var tests: [ACLTest]

    public init(negated: Bool, name: String?, tests: [ACLTest]) {
        self.negated = negated
        self.name = name
        self.tests = tests
    }
}

/// `if|unless TERM [TERM ...] [|| TERM ...]`: terms side by side are ANDed, `||` (or `or`) separates
/// alternatives.
public struct RuleCondition: Hashable, Sendable {
    public var unless: Bool
    public var alternatives: [[ConditionTerm]]

    public init(unless: Bool, alternatives: [[ConditionTerm]]) {
        self.unless = unless
        self.alternatives = alternatives
    }
}

/// A log-format string (`set-header X %[src]`, `log-format`, `use_backend be_%[hdr(host)]`).
public struct LogFormat: Hashable, Sendable {
    public enum Part: Hashable, Sendable {
        case literal(String)
        case sample(SampleExpression)
        /// A `%x` log variable such as `%ci` or `%b` (kept as written; only meaningful in logs).
        case variable(String)
    }

    public var parts: [Part]
    /// As written.
    public var text: String

    public init(parts: [Part], text: String) {
        self.parts = parts
        self.text = text
    }

    /// A format without any `%`: its value never depends on the request.
    public var isStatic: Bool { parts.allSatisfy { if case .literal = $0 { true } else { false } } }
}

/// `use_backend NAME|FORMAT [if|unless COND]`.
public struct SwitchingRule: Hashable, Sendable {
    public var backend: LogFormat
    public var condition: RuleCondition?
    public var line: Int

    public init(backend: LogFormat, condition: RuleCondition?, line: Int) {
        self.backend = backend
        self.condition = condition
        self.line = line
    }
}

/// `redirect location|prefix|scheme TARGET [code N] [drop-query] [append-slash] [set-cookie X] [clear-cookie X]`.
public struct RedirectAction: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable { case location, prefix, scheme }

    public var kind: Kind
    public var target: LogFormat
    /// 301, 302 (default), 303, 307 or 308.
    public var code = 302
    public var dropQuery = false
    public var appendSlash = false
    public var setCookie: String? = nil
    public var clearCookie: String? = nil

    public init(kind: Kind, target: LogFormat) {
        self.kind = kind
        self.target = target
    }
}

/// `http-request return [status N] [content-type T] [string S | lf-string F | file F | errorfile F]`.
public struct ReturnAction: Hashable, Sendable {
    public var status = 200
    public var contentType: String? = nil
    public var body: LogFormat? = nil
    /// `file` / `errorfile` / `lf-file`: a path hadeck does not read (the body stays empty).
    public var file: String? = nil
    public var headers: [(name: String, value: LogFormat)] = []

    public init() {}

    public static func == (a: ReturnAction, b: ReturnAction) -> Bool {
        a.status == b.status && a.contentType == b.contentType && a.body == b.body && a.file == b.file
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }

    public func hash(into h: inout Hasher) {
        h.combine(status)
        h.combine(contentType)
        h.combine(body)
        h.combine(file)
        for header in headers {
            h.combine(header.name)
            h.combine(header.value)
        }
    }
}

/// A header edit made by `http-request` / `http-response` `set-header`, `add-header` or `del-header`.
public enum HeaderEditAction: Hashable, Sendable {
    case set(name: String, value: LogFormat)
    case add(name: String, value: LogFormat)
    case delete(name: String)
}

/// What an `http-request` rule does.
public enum HTTPRequestAction: Hashable, Sendable {
    /// Stops evaluating `http-request` rules; the request goes on.
    case allow
    /// `deny [deny_status N]`, default 403.
    case deny(status: Int)
    /// `tarpit [deny_status N]`: held for `timeout tarpit`, then answered (500 by default).
    case tarpit(status: Int)
    case redirect(RedirectAction)
    case `return`(ReturnAction)
    case header(HeaderEditAction)
    /// An action HAProxy knows that hadeck does not perform (the rule is skipped).
    case unsupported(String)
}

/// An `http-request` rule, or a `redirect` rule (which is evaluated after every `http-request` rule).
public struct HTTPRequestRule: Hashable, Sendable {
    public var action: HTTPRequestAction
    public var condition: RuleCondition?
    public var line: Int
    /// The directive as written, for reasons (`http-request deny`).
    public var text: String

    public init(action: HTTPRequestAction, condition: RuleCondition?, line: Int, text: String) {
        self.action = action
        self.condition = condition
        self.line = line
        self.text = text
    }
}

/// What an `http-response` rule does.
public enum HTTPResponseAction: Hashable, Sendable {
    case allow
    case deny(status: Int)
    case header(HeaderEditAction)
    case unsupported(String)
}

/// An `http-response` rule.
public struct HTTPResponseRule: Hashable, Sendable {
    public var action: HTTPResponseAction
    public var condition: RuleCondition?
    public var line: Int
    public var text: String

    public init(action: HTTPResponseAction, condition: RuleCondition?, line: Int, text: String) {
        self.action = action
        self.condition = condition
        self.line = line
        self.text = text
    }
}

/// The routing rules of one proxy, in the order HAProxy runs them.
public struct ProxyRules: Hashable, Sendable {
    public var acls: [ACLDefinition] = []
    /// `http-request` rules, in order.
    public var httpRequest: [HTTPRequestRule] = []
    /// `redirect` rules, evaluated after the `http-request` rules; the first that matches answers.
    public var redirects: [HTTPRequestRule] = []
    /// `use_backend` rules (frontends only), in order.
    public var switching: [SwitchingRule] = []
    public var httpResponse: [HTTPResponseRule] = []

    public init() {}

    public var isEmpty: Bool { httpRequest.isEmpty && redirects.isEmpty && switching.isEmpty && httpResponse.isEmpty }
}
