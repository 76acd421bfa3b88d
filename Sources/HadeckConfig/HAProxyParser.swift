import BalancerCore
import HadeckBase

// The haproxy.cfg reader, split as HAProxy's own cfgparse is: this file reads lines (the tokenizer,
// `.if` blocks, `.notice`/`.warning`/`.alert`), opens sections and parses `global`;
// HAProxyParser+Proxy.swift the proxy keywords, +Server.swift `server`/`default-server`/`bind` and
// addresses, +Rules.swift ACLs and the rules that use them, +Finish.swift the checks across the file.

/// How to read a haproxy.cfg's text.
public struct HAProxyParseOptions: Sendable {
    /// Variables for `"${VAR}"`; `setenv`/`presetenv`/`unsetenv`/`resetenv` in `global` change them as they are read.
    public var environment: [String: String]
    /// HAProxy 2.6 refuses a file whose last line has no LF ("Missing LF on last line"). Text built in
    /// code (tests, the built-in cluster) is read without that rule.
    public var requireFinalNewline: Bool

    public init(environment: [String: String] = [:], requireFinalNewline: Bool = false) {
        self.environment = environment
        self.requireFinalNewline = requireFinalNewline
    }

    /// As `haproxy -f FILE` reads a file.
    public static func file(environment: [String: String]) -> HAProxyParseOptions {
        HAProxyParseOptions(environment: environment, requireFinalNewline: true)
    }
}

/// Reads a haproxy.cfg into an ``HAProxyConfig``, with HAProxy 2.6's syntax and validity rules.
///
/// What HAProxy rejects is an error (in HAProxy's words where it has them); a keyword HAProxy knows
/// that hadeck does not model is a warning naming the directive and what hadeck does instead.
/// Every diagnostic names the file and line.
public enum HAProxyConfigParser {
    /// Parses the text of a haproxy.cfg. `file` is used in diagnostics and for `${.FILE}`.
    public static func parse(text: String, file: String, options: HAProxyParseOptions = HAProxyParseOptions()) -> (
        config: HAProxyConfig, diagnostics: Diagnostics
    ) {
        var parser = HAProxyParser(file: file, environment: options.environment)
        parser.run(text: text, requireFinalNewline: options.requireFinalNewline)
        return (parser.config, parser.diagnostics)
    }
}

/// The settings a `defaults` section passes on, and that every proxy starts from.
struct ProxySettings {
    /// HAProxy's default mode is tcp when nothing says otherwise.
    var mode = ProxyMode.tcp
    var modeSet = false
    var balance = BalanceAlgorithm.roundrobin
    var cookie: CookieConfig? = nil
    var cookieLine = 0
    var httpCheck: HTTPCheckConfig? = nil
    var expectStatus: Int? = nil
    var expectStatusRanges: [ClosedRange<Int>] = []
    var disableOn404 = false
    var redispatch = false
    var persist = false
    var allbackups = false
    var forwardfor = false
    var httpKeepAlive = true
    var retries = 3
    var timeouts = Timeouts()
    var stats = StatsPageConfig()
    var defaultBackend: String? = nil
    var defaultBackendLine = 0
    /// `default-server` parameters, applied to each later `server` line before its own.
    var defaultServer: [String] = []
    var logTargets: [LogTarget] = []
    /// `log global` seen: the global targets are added at the end.
    var logGlobal = false
    var logFormat = LoggingConfig.Format.standard
    var dontLogNull = false
    var errorFiles: [Int: String] = [:]
}

enum ProxyKind: String {
    case defaults, frontend, backend, listen

    var isFrontend: Bool { self != .backend }
    var isBackend: Bool { self != .frontend }
}

struct ProxyState {
    var kind: ProxyKind
    var name: String
    var line: Int
    var settings: ProxySettings
    var binds: [HostPort] = []
    var servers: [ServerConfig] = []
    /// Line of each server name seen, valid or not, to catch duplicates.
    var serverLines: [String: Int] = [:]
    var rules = ProxyRules()
    var stickTable: StickTableInfo? = nil
    /// Lines of `use_backend` rules with a static name, checked once every backend is known.
    var staticSwitchTargets: [(name: String, line: Int)] = []

    var label: String { "\(kind.rawValue) '\(name)'" }
}

enum Section {
    case none
    case global
    case proxy
    /// A section HAProxy knows but hadeck does not model (peers, resolvers, ...), or a proxy whose
    /// opening line HAProxy refused: its lines are skipped.
    case skipped
}

/// The state of `.if` blocks, as HAProxy's `nested_cond_state`.
enum ConditionState {
    case ifTake, ifDrop, ifSkip, elifTake, elifDrop, elifSkip, elseTake, elseDrop

    var masks: Bool { [.ifDrop, .ifSkip, .elifDrop, .elifSkip, .elseDrop].contains(self) }
    var tookBranch: Bool { [.ifTake, .ifSkip, .elifTake, .elifSkip].contains(self) }
}

struct HAProxyParser {
    let file: String
    var environment: [String: String]
    var diagnostics = Diagnostics()
    var config = HAProxyConfig()

    var section = Section.none
    var sectionName = ""
    var current: ProxyState? = nil
    /// The settings of the most recent `defaults` section; new proxies start from these.
    var lastDefaults = ProxySettings()
    var namedDefaults: [String: ProxySettings] = [:]
    var proxies: [ProxyState] = []
    var conditions: [ConditionState] = []
    var stopped = false
    /// `peers` sections seen, for `stick-table ... peers NAME`.
    var peersSections: [String: Int] = [:]

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    mutating func warn(_ line: Int, _ message: String) { diagnostics.warn(file, line, message) }
    mutating func error(_ line: Int, _ message: String) { diagnostics.error(file, line, message) }

    // MARK: sections

    mutating func handle(_ line: HAProxyLine) {
        var words = line.words
        var negated = false
        if words[0] == "no" || words[0] == "default" {
            negated = words[0] == "no"
            let keyword = words.count > 1 ? words[1] : ""
            let allowed = [
                "option", "log", "busy-polling", "set-dumpable", "strict-limits", "insecure-fork-wanted",
                "numa-cpu-mapping",
            ]
            guard allowed.contains(keyword) else {
                return error(
                    line.number,
                    "negation/default currently supported only for options, log, busy-polling, set-dumpable, strict-limits, insecure-fork-wanted and numa-cpu-mapping."
                )
            }
            words.removeFirst()
        }
        let keyword = words[0]
        let n = line.number
        if keyword == "global" {
            closeProxy()
            section = .global
            sectionName = "global"
            if words.count > 1 { error(n, "'global' cannot handle unexpected argument '\(words[1])'.") }
            return
        }
        if proxySectionKeywords.contains(keyword) {
            closeProxy()
            sectionName = words.count > 1 ? words[1] : keyword
            openProxy(ProxyKind(rawValue: keyword)!, HAProxyLine(number: n, words: words, indented: line.indented))
            return
        }
        if otherSectionKeywords.contains(keyword) {
            closeProxy()
            section = .skipped
            sectionName = words.count > 1 ? words[1] : keyword
            if keyword == "peers", words.count > 1 { peersSections[words[1]] = n }
            warn(n, "section '\(keyword)' is not simulated by hadeck; its content is ignored")
            return
        }
        let body = HAProxyLine(number: n, words: words, indented: line.indented)
        switch section {
        case .none:
            error(
                n,
                "unknown keyword '\(keyword)' out of section (expected 'global', 'defaults', 'frontend', 'backend' or 'listen')"
            )
        case .skipped:
            break
        case .global:
            handleGlobal(body, negated: negated)
        case .proxy:
            guard var proxy = current else { return }
            handleProxyDirective(body, negated: negated, &proxy)
            current = proxy
        }
    }

    mutating func openProxy(_ kind: ProxyKind, _ line: HAProxyLine) {
        let w = line.words
        let n = line.number
        section = .proxy
        var base = lastDefaults
        var name = w.count > 1 ? w[1] : ""
        var parentIndex: Int? = nil
        if kind == .defaults {
            if name == "from" {
                name = ""
                parentIndex = 2
            } else if w.count > 2, w[2] == "from" {
                parentIndex = 3
            } else if w.count > 2 {
                error(n, "'defaults' cannot handle unexpected argument '\(w[2])'.")
            }
            if parentIndex == nil { base = ProxySettings() }
        } else {
            guard !name.isEmpty else {
                error(n, "'\(kind.rawValue)' expects an <id> argument")
                section = .skipped
                return
            }
            if let bad = name.utf8.first(where: { !isNameByte($0) }) {
                error(
                    n,
                    "character '\(Character(UnicodeScalar(bad)))' is not permitted in '\(kind.rawValue)' name '\(name)'."
                )
            }
            if w.count > 2 {
                if w[2] == "from", w.count == 4 {
                    parentIndex = 3
                } else {
                    // HAProxy refuses the section (and then every line of it: "'listen' or 'defaults' expected").
                    if kind.isFrontend {
                        error(n, "please use the 'bind' keyword for listening addresses.")
                    } else {
                        error(
                            n,
                            "'\(kind.rawValue) \(name)' cannot handle unexpected argument '\(w[2])'; HAProxy rejects the whole section"
                        )
                    }
                    section = .skipped
                    return
                }
            }
        }
        if let parentIndex {
            guard parentIndex < w.count else {
                return error(n, "'from' expects the name of a defaults section")
            }
            let parent = w[parentIndex]
            guard let settings = namedDefaults[parent] else {
                error(n, "\(kind.rawValue) section refers to unknown defaults section '\(parent)'")
                section = .skipped
                return
            }
            base = settings
        }
        current = ProxyState(kind: kind, name: name, line: n, settings: base)
    }

    mutating func closeProxy() {
        guard let proxy = current else { return }
        current = nil
        if proxy.kind == .defaults {
            lastDefaults = proxy.settings
            if !proxy.name.isEmpty { namedDefaults[proxy.name] = proxy.settings }
            return
        }
        proxies.append(proxy)
    }

    // MARK: global

    mutating func handleGlobal(_ line: HAProxyLine, negated: Bool) {
        let w = line.words
        let n = line.number
        switch w[0] {
        case "nbthread":
            guard tooManyArguments(w, 1, n) else { return }
            if let v = integer(w, 1, n, "nbthread", range: 1...64) { config.global.nbthread = v }
        case "maxconn":
            guard tooManyArguments(w, 1, n) else { return }
            guard w.count > 1 else { return error(n, "'maxconn' expects an integer argument.") }
            let value = atol(w[1])
            if value > 0 { config.global.maxconn = value }
        case "node":
            guard tooManyArguments(w, 1, n) else { return }
            guard w.count > 1, !w[1].isEmpty,
                w[1].utf8.allSatisfy({ isAlnumByte($0) || $0 == 0x2E || $0 == 0x2D || $0 == 0x5F })
            else {
                return error(
                    n,
                    "'node' requires valid node name - non-empty string with digits(0-9), letters(A-Z, a-z), dot(.), hyphen(-) or underscode(_)."
                )
            }
            config.global.node = w[1]
        case "stats" where w.count >= 2 && w[1] == "socket":
            parseStatsSocket(w, n)
        case "log":
            parseLog(w, n, negated: negated, global: true)
        case "setenv", "presetenv":
            guard w.count >= 3 else { return error(n, "'\(w[0])' expects a name and a value.") }
            guard tooManyArguments(w, 2, n) else { return }
            if w[0] == "setenv" || environment[w[1]] == nil { environment[w[1]] = w[2] }
        case "unsetenv":
            guard w.count >= 2 else { return error(n, "'unsetenv' expects at least one variable name.") }
            for name in w.dropFirst() { environment[name] = nil }
        case "resetenv":
            let keep = Set(w.dropFirst())
            environment = environment.filter { keep.contains($0.key) }
        default:
            if let message = removedGlobalKeywords[w[0]] {
                error(n, message)
            } else if globalKeywords.contains(w[0]) {
                warn(n, "'\(w[0])' is not simulated by hadeck; ignored")
            } else {
                error(n, "unknown keyword '\(w[0])' in 'global' section")
            }
        }
    }

    mutating func parseStatsSocket(_ w: [String], _ n: Int) {
        guard w.count >= 3 else {
            return error(n, "'stats socket' in global section expects an address or a path to a UNIX socket")
        }
        var socket = StatsSocketConfig(path: w[2])
        var i = 3
        while i < w.count {
            let key = w[i]
            switch key {
            case "mode":
                guard i + 1 < w.count, let mode = Int(w[i + 1], radix: 8), mode >= 0, mode <= 0o7777 else {
                    error(n, "'stats socket': 'mode' expects an octal file mode")
                    return
                }
                socket.mode = mode
                i += 2
            case "level":
                guard i + 1 < w.count, let level = StatsSocketConfig.Level(rawValue: w[i + 1]) else {
                    error(n, "'stats socket': 'level' only supports 'user', 'operator', and 'admin'")
                    return
                }
                socket.level = level
                i += 2
            default:
                guard let count = bindKeywords[key] else {
                    error(n, "'stats socket' unknown keyword '\(key)'.")
                    return
                }
                warn(n, "'stats socket': '\(key)' is not simulated by hadeck; ignored")
                i += 1 + count
            }
        }
        config.global.statsSockets.append(socket)
    }

    // MARK: helpers

    /// HAProxy's `alertif_too_many_args`: false (after the error) when `w` has more than `max` arguments.
    mutating func tooManyArguments(_ w: [String], _ max: Int, _ n: Int) -> Bool {
        guard w.count > max + 1 else { return true }
        error(n, "'\(w[0])' cannot handle unexpected argument '\(w[max + 1])'.")
        return false
    }

    mutating func integer(_ w: [String], _ index: Int, _ n: Int, _ keyword: String, range: ClosedRange<Int>) -> Int? {
        guard index < w.count else {
            error(n, "'\(keyword)' expects an integer argument.")
            return nil
        }
        guard let v = Int(w[index]), range.contains(v) else {
            if range.upperBound >= Int(Int32.max) {
                error(n, "'\(keyword)' expects an integer >= \(range.lowerBound) (got '\(w[index])')")
            } else {
                error(n, "'\(keyword)' must be between \(range.lowerBound) and \(range.upperBound) (got '\(w[index])')")
            }
            return nil
        }
        return v
    }
}

/// C's `atol()`: leading blanks, a sign, digits; whatever follows is ignored (HAProxy reads many numbers so).
func atol(_ text: String) -> Int {
    var s = Substring(text)
    while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
    var sign = 1
    if let f = s.first, f == "-" || f == "+" {
        sign = f == "-" ? -1 : 1
        s = s.dropFirst()
    }
    var value = 0
    for c in s {
        guard let d = c.wholeNumberValue, c.isASCII else { break }
        value = value &* 10 &+ d
    }
    return sign &* value
}

/// HAProxy's `invalid_char()`: names may use ASCII letters, digits, `.`, `-`, `_` and `:`.
func isNameByte(_ c: UInt8) -> Bool { isAlnumByte(c) || c == 0x2E || c == 0x2D || c == 0x5F || c == 0x3A }

func isAlnumByte(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A) }
