import BalancerCore
import HadeckBase

// `acl`, conditions, `use_backend`, `http-request`, `http-response`, `redirect`, and the sample
// expressions and log-format strings they use (HAProxy's src/acl.c, src/http_rules.c, src/log.c).

/// `http-request` actions HAProxy 2.6 knows (configuration manual, section 4.2).
private let httpRequestActions: Set<String> = [
    "add-acl", "add-header", "allow", "auth", "cache-use", "capture", "del-acl", "del-header", "del-map", "deny",
    "disable-l7-retry", "do-resolve", "early-hint", "normalize-uri", "redirect", "reject", "replace-header",
    "replace-path", "replace-pathq", "replace-uri", "replace-value", "return", "sc-inc-gpc", "sc-inc-gpc0",
    "sc-inc-gpc1", "sc-set-gpt", "sc-set-gpt0", "send-spoe-group", "set-bandwidth-limit", "set-dst", "set-dst-port",
    "set-header", "set-log-level", "set-map", "set-mark", "set-method", "set-nice", "set-path", "set-pathq",
    "set-priority-class", "set-priority-offset", "set-query", "set-src", "set-src-port", "set-timeout", "set-tos",
    "set-uri", "set-var", "set-var-fmt", "silent-drop", "strict-mode", "tarpit", "track-sc0", "track-sc1",
    "track-sc2", "unset-var", "use-service", "wait-for-body", "wait-for-handshake", "lua",
]

/// `http-response` actions HAProxy 2.6 knows.
private let httpResponseActions: Set<String> = [
    "add-acl", "add-header", "allow", "cache-store", "capture", "del-acl", "del-header", "del-map", "deny",
    "redirect", "replace-header", "replace-value", "return", "sc-inc-gpc", "sc-inc-gpc0", "sc-inc-gpc1",
    "sc-set-gpt", "sc-set-gpt0", "send-spoe-group", "set-bandwidth-limit", "set-header", "set-log-level", "set-map",
    "set-mark", "set-nice", "set-status", "set-tos", "set-var", "set-var-fmt", "silent-drop", "strict-mode",
    "track-sc0", "track-sc1", "track-sc2", "unset-var", "wait-for-body", "lua",
]

/// HAProxy's predefined ACLs (acl.c `default_acl_list`).
private let predefinedACLs: [String: [String]] = [
    "TRUE": ["always_true"], "FALSE": ["always_false"], "LOCALHOST": ["src", "127.0.0.1/8", "::1"],
    "HTTP": ["req.proto_http"], "HTTP_1.0": ["req.ver", "1.0"], "HTTP_1.1": ["req.ver", "1.1"],
    "HTTP_2.0": ["req.ver", "2.0"], "METH_CONNECT": ["method", "CONNECT"], "METH_DELETE": ["method", "DELETE"],
    "METH_GET": ["method", "GET", "HEAD"], "METH_HEAD": ["method", "HEAD"], "METH_OPTIONS": ["method", "OPTIONS"],
    "METH_POST": ["method", "POST"], "METH_PUT": ["method", "PUT"], "METH_TRACE": ["method", "TRACE"],
    "HTTP_URL_ABS": ["url_reg", "^[^/:]*://"], "HTTP_URL_SLASH": ["url_beg", "/"], "HTTP_URL_STAR": ["url", "*"],
    "HTTP_CONTENT": ["req.hdr_val(content-length)", "gt", "0"], "RDP_COOKIE": ["req.rdp_cookie_cnt", "gt", "0"],
    "REQ_CONTENT": ["req.len", "gt", "0"], "WAIT_END": ["wait_end"],
]

extension HAProxyParser {
    // MARK: conditions

    /// `if|unless TERMS` starting at `w[start]`; nil (after the error `failure(message)`) when invalid.
    mutating func parseCondition(
        _ w: [String], from start: Int, _ n: Int, _ proxy: ProxyState, failure: (String) -> String
    ) -> RuleCondition?? {
        guard start < w.count else { return .some(nil) }
        let unless = w[start] == "unless"
        var alternatives: [[ConditionTerm]] = []
        var currentTerms: [ConditionTerm] = []
        var negated = false
        var i = start + 1
        while i < w.count {
            var word = Substring(w[i])
            while word.first == "!" {
                negated.toggle()
                word = word.dropFirst()
            }
            if word.isEmpty {
                i += 1
                continue
            }
            if word.lowercased() == "or" || word == "||" {
                alternatives.append(currentTerms)
                currentTerms = []
                negated = false
                i += 1
                continue
            }
            if word == "{" {
                guard let end = w[(i + 1)...].firstIndex(of: "}") else {
                    error(n, failure("missing closing '}' in condition"))
                    return nil
                }
                let body = Array(w[(i + 1)..<end])
                guard !body.isEmpty else {
                    error(n, failure("missing ACL expression between braces"))
                    return nil
                }
                switch aclTest(body, n) {
                case .success(let test): currentTerms.append(ConditionTerm(negated: negated, name: nil, tests: [test]))
                case .failure(let p):
                    error(n, failure(p.message))
                    return nil
                }
                i = end + 1
                negated = false
                continue
            }
            let name = String(word)
            if let acl = proxy.rules.acls.first(where: { $0.name == name }) {
                currentTerms.append(ConditionTerm(negated: negated, name: name, tests: acl.tests))
            } else if let expression = predefinedACLs[name], case .success(let test) = aclTest(expression, n) {
                currentTerms.append(ConditionTerm(negated: negated, name: name, tests: [test]))
            } else {
                error(n, failure("no such ACL : '\(name)'"))
                return nil
            }
            negated = false
            i += 1
        }
        alternatives.append(currentTerms)
        return .some(RuleCondition(unless: unless, alternatives: alternatives.filter { !$0.isEmpty }))
    }

    // MARK: use_backend

    mutating func parseUseBackend(_ w: [String], _ n: Int, _ proxy: inout ProxyState) {
        guard w.count >= 2 else { return error(n, "'use_backend' expects a backend name.") }
        if w.count > 2, w[2] != "if", w[2] != "unless" {
            return error(
                n, "unexpected keyword '\(w[2])' after switching rule, only 'if' and 'unless' are allowed.")
        }
        guard
            let condition = parseCondition(
                w, from: 2, n, proxy, failure: { "error detected while parsing switching rule : \($0)." })
        else { return }
        let name =
            w[1].contains("%")
            ? parseLogFormat(w[1], n, context: "use_backend") : LogFormat(parts: [.literal(w[1])], text: w[1])
        if name.isStatic { proxy.staticSwitchTargets.append((w[1], n)) }
        proxy.rules.switching.append(SwitchingRule(backend: name, condition: condition, line: n))
    }

    // MARK: http-request / http-response / redirect

    /// Where a rule's condition starts (`if`/`unless`), or the word count.
    func conditionStart(_ w: [String], from: Int) -> Int {
        w[min(from, w.count)...].firstIndex { $0 == "if" || $0 == "unless" } ?? w.count
    }

    func actionName(_ word: String) -> String { String(word.prefix { $0 != "(" }) }

    /// The action of an `http-request` or `http-response` rule (`w[1]`), or nil after HAProxy's
    /// error when the rule names none that `directive` knows (`suchAs` lists the common ones).
    mutating func ruleAction(_ w: [String], _ n: Int, _ directive: String, known: Set<String>, suchAs: String)
        -> String?
    {
        // Actions may carry arguments in parentheses: `set-var(txn.x)`, `sc-inc-gpc0(1)`.
        guard w.count >= 2, known.contains(actionName(w[1])) || w[1].hasPrefix("lua.") else {
            error(
                n,
                "'\(directive)' expects an action such as \(suchAs), but got '\(w.count >= 2 ? w[1] : "")'\(w.count >= 2 ? "" : " (missing argument)")."
            )
            return nil
        }
        return w[1]
    }

    mutating func parseHTTPRequest(_ w: [String], _ n: Int, _ proxy: inout ProxyState) {
        guard
            let action = ruleAction(
                w, n, "http-request", known: httpRequestActions,
                suchAs:
                    "'allow', 'deny', 'tarpit', 'redirect', 'return', 'set-header', 'add-header' or 'del-header'")
        else { return }
        let proxyLabel = proxy.label
        func actionError(_ message: String) {
            error(n, "error detected in \(proxyLabel) while parsing 'http-request \(action)' rule : \(message).")
        }
        let end = conditionStart(w, from: 2)
        let args = Array(w[2..<end])
        let parsed: HTTPRequestAction
        switch action {
        case "allow":
            parsed = .allow
        case "deny", "tarpit":
            var status = action == "deny" ? 403 : 500
            if args.count >= 2, args[0] == "deny_status" {
                guard let code = Int(args[1]), (200...599).contains(code) else {
                    return actionError("invalid status code '\(args[1])'")
                }
                status = code
            }
            parsed = action == "deny" ? .deny(status: status) : .tarpit(status: status)
        case "redirect":
            guard let r = redirectAction(args, n, label: "http-request redirect") else { return }
            parsed = .redirect(r)
        case "return":
            guard let r = returnAction(args, n, proxyLabel: proxyLabel) else { return }
            parsed = .return(r)
        case "set-header", "add-header", "del-header":
            guard let edit = headerEdit("http-request", action, args, n, proxyLabel) else { return }
            parsed = .header(edit)
        default:
            warn(n, "'http-request \(w[1])' is not simulated by hadeck; the rule is skipped")
            parsed = .unsupported(action)
        }
        guard let condition = ruleCondition("http-request", action, w, from: end, n, proxy) else { return }
        proxy.rules.httpRequest.append(
            HTTPRequestRule(action: parsed, condition: condition, line: n, text: "http-request \(action)"))
    }

    mutating func parseHTTPResponse(_ w: [String], _ n: Int, _ proxy: inout ProxyState) {
        guard
            let action = ruleAction(
                w, n, "http-response", known: httpResponseActions,
                suchAs: "'allow', 'deny', 'set-header', 'add-header' or 'del-header'")
        else { return }
        let proxyLabel = proxy.label
        let end = conditionStart(w, from: 2)
        let args = Array(w[2..<end])
        let parsed: HTTPResponseAction
        switch action {
        case "allow": parsed = .allow
        case "deny":
            var status = 502
            if args.count >= 2, args[0] == "deny_status", let code = Int(args[1]) { status = code }
            parsed = .deny(status: status)
        case "set-header", "add-header", "del-header":
            guard let edit = headerEdit("http-response", action, args, n, proxyLabel) else { return }
            parsed = .header(edit)
        default:
            warn(n, "'http-response \(w[1])' is not simulated by hadeck; the rule is skipped")
            parsed = .unsupported(action)
        }
        guard let condition = ruleCondition("http-response", action, w, from: end, n, proxy) else { return }
        proxy.rules.httpResponse.append(
            HTTPResponseRule(action: parsed, condition: condition, line: n, text: "http-response \(action)"))
    }

    /// `set-header NAME FMT`, `add-header NAME FMT`, `del-header NAME [-m METH]`.
    mutating func headerEdit(
        _ directive: String, _ action: String, _ args: [String], _ n: Int, _ proxyLabel: String
    ) -> HeaderEditAction? {
        let deleting = action == "del-header"
        guard deleting ? (args.count == 1 || (args.count == 3 && args[1] == "-m")) : args.count == 2 else {
            error(
                n,
                "error detected in \(proxyLabel) while parsing '\(directive) \(action)' rule : expects exactly \(deleting ? 1 : 2) argument\(deleting ? "" : "s")."
            )
            return nil
        }
        if deleting { return .delete(name: args[0]) }
        let value = parseLogFormat(args[1], n, context: "\(directive) \(action)")
        return action == "set-header" ? .set(name: args[0], value: value) : .add(name: args[0], value: value)
    }

    /// The condition of an `http-request`/`http-response` rule; `.some(nil)` for none, nil after an
    /// error or for a rule in a defaults section (which hadeck skips with a warning).
    mutating func ruleCondition(
        _ directive: String, _ action: String, _ w: [String], from end: Int, _ n: Int, _ proxy: ProxyState
    ) -> RuleCondition?? {
        if proxy.kind == .defaults {
            warn(n, "'\(directive)' in a defaults section is not simulated by hadeck; the rule is skipped")
            return nil
        }
        return parseCondition(
            w, from: end, n, proxy,
            failure: { "error detected while parsing an '\(directive) \(action)' condition : \($0)." })
    }

    /// `redirect ...` as a proxy keyword.
    mutating func parseRedirectRule(_ w: [String], _ n: Int, _ proxy: inout ProxyState) {
        guard notInDefaults(proxy, "redirect", n) else { return }
        let end = conditionStart(w, from: 1)
        guard let r = redirectAction(Array(w[1..<end]), n, label: "redirect") else { return }
        guard
            let condition = parseCondition(
                w, from: end, n, proxy,
                failure: { "error detected while parsing redirect rule : error in condition: \($0)." })
        else { return }
        proxy.rules.redirects.append(
            HTTPRequestRule(action: .redirect(r), condition: condition, line: n, text: "redirect"))
    }

    mutating func redirectAction(_ args: [String], _ n: Int, label: String) -> RedirectAction? {
        func fail(_ message: String) -> RedirectAction? {
            error(n, "error detected while parsing \(label) rule : \(message).")
            return nil
        }
        var kind: RedirectAction.Kind? = nil
        var target = ""
        var code = 302
        var dropQuery = false
        var appendSlash = false
        var setCookie: String? = nil
        var clearCookie: String? = nil
        var i = 0
        while i < args.count {
            let word = args[i]
            let needsValue = ["location", "prefix", "scheme", "set-cookie", "clear-cookie", "code"].contains(word)
            if needsValue, i + 1 >= args.count { return fail("missing argument for '\(word)'") }
            switch word {
            case "location", "prefix", "scheme":
                kind = RedirectAction.Kind(rawValue: word)
                target = args[i + 1]
                i += 1
            case "set-cookie":
                setCookie = args[i + 1]
                i += 1
            case "clear-cookie":
                clearCookie = args[i + 1]
                i += 1
            case "code":
                code = atol(args[i + 1])
                if code < 301 || code > 308 || (code > 303 && code < 307) {
                    return fail(
                        "'code': unsupported HTTP code '\(args[i + 1])' (must be one of 301, 302, 303, 307 or 308)")
                }
                i += 1
            case "drop-query": dropQuery = true
            case "append-slash": appendSlash = true
            case "ignore-empty": break
            default:
                return fail(
                    "expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query', 'ignore-empty' or 'append-slash' (was '\(word)')"
                )
            }
            i += 1
        }
        guard let kind else { return fail("redirection type expected ('prefix', 'location', or 'scheme')") }
        var r = RedirectAction(kind: kind, target: parseLogFormat(target, n, context: label))
        r.code = code
        r.dropQuery = dropQuery
        r.appendSlash = appendSlash
        r.setCookie = setCookie
        r.clearCookie = clearCookie
        return r
    }

    mutating func returnAction(_ args: [String], _ n: Int, proxyLabel: String) -> ReturnAction? {
        func fail(_ message: String) {
            error(n, "error detected in \(proxyLabel) while parsing 'http-request return' rule : \(message).")
        }
        var r = ReturnAction()
        var i = 0
        while i < args.count {
            let word = args[i]
            guard i + 1 < args.count || word == "default-errorfiles" else {
                fail("'\(word)' expects an argument")
                return nil
            }
            switch word {
            case "status":
                guard let code = Int(args[i + 1]), (200...599).contains(code) else {
                    fail("'status' expects a valid status code between 200 and 599 but got '\(args[i + 1])'")
                    return nil
                }
                r.status = code
            case "content-type": r.contentType = args[i + 1]
            case "string": r.body = LogFormat(parts: [.literal(args[i + 1])], text: args[i + 1])
            case "lf-string": r.body = parseLogFormat(args[i + 1], n, context: "http-request return")
            case "file", "lf-file", "errorfile":
                r.file = args[i + 1]
                warn(n, "'http-request return \(word)': hadeck does not read '\(args[i + 1])'; the body is empty")
            case "errorfiles":
                warn(n, "'http-request return errorfiles' is not simulated by hadeck; the body is empty")
            case "hdr":
                guard i + 2 < args.count else {
                    fail("'hdr' expects <name> and <value> as arguments")
                    return nil
                }
                r.headers.append((args[i + 1], parseLogFormat(args[i + 2], n, context: "http-request return")))
                i += 1
            case "default-errorfiles":
                i -= 1
            default:
                fail(
                    "'http-request return' expects 'status', 'content-type', 'errorfile', 'errorfiles', 'file', 'lf-file', 'string', 'lf-string' or 'hdr' but got '\(word)'"
                )
                return nil
            }
            i += 2
        }
        return r
    }
}
