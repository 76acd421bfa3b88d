import BalancerCore
import ClusterConfig
import ClusterModel
import HadeckBase

/// A condition a scenario checks at a moment of its run.
public enum ScenarioExpectation: Hashable, Sendable {
    /// `expect master lb2`: exactly that node is VRRP MASTER. `expect master none`, `expect split-brain`.
    case master(String?)
    case splitBrain
    /// `expect vip-mac lb2`: the clients' ARP cache maps the VIP to lb2's MAC.
    case vipMAC(host: String)
    /// `expect sessions-kept`: no client's session id has changed since the run started.
    case sessionsKept
    /// `expect clients-on webB`: every client's current session was made by webB (its jvmRoute).
    case clientsOn(backend: String)
    /// `expect server webA DOWN on lb1`: the status string as the stats page shows it.
    case serverStatus(server: String, status: ServerStatus, balancer: String)
    /// `expect state lb1 BACKUP`.
    case vrrpState(host: String, state: HostVRRPState)
    /// `expect priority lb1 90`: effective priority.
    case priority(host: String, value: Int)
    /// `expect process lb1/haproxy dead|running`.
    case process(host: String, HostProcess, running: Bool)

    public var text: String {
        switch self {
        case .master(let m): return "expect master \(m ?? "none")"
        case .splitBrain: return "expect split-brain"
        case .vipMAC(let h): return "expect vip-mac \(h)"
        case .sessionsKept: return "expect sessions-kept"
        case .clientsOn(let b): return "expect clients-on \(b)"
        case .serverStatus(let s, let st, let b): return "expect server \(s) \(st) on \(b)"
        case .vrrpState(let h, let s): return "expect state \(h) \(s.rawValue)"
        case .priority(let h, let v): return "expect priority \(h) \(v)"
        case .process(let h, let p, let r): return "expect process \(h)/\(p.rawValue) \(r ? "running" : "dead")"
        }
    }
}

/// One line of a scenario with its time.
public struct ScenarioStep: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case command(ClusterCommand)
        case expect(ScenarioExpectation)
    }

    /// When it happens; `nil` for an `expect` without `at`, checked when the run ends.
    public var time: Instant?
    public var kind: Kind
    public var line: Int
}

/// A parsed scenario file.
public struct Scenario: Hashable, Sendable {
    public var file: String
    public var name: String
    /// `cluster NAME|PATH`: the cluster to run it on; nil for the built-in article cluster.
    public var cluster: String?
    /// `end 60s`: when the run stops (default: 5 s after the last timed step).
    public var end: Instant?
    public var steps: [ScenarioStep]

    /// When `hadeck simulate` stops without `--until`.
    public var endTime: Instant {
        if let end { return end }
        let last = steps.compactMap(\.time).max() ?? .zero
        return last + .seconds(5)
    }
}

/// Reads the scenario language. Every error names `file:line`.
public enum ScenarioParser {
    public static func parse(_ text: String, file: String) -> (Scenario?, Diagnostics) {
        var diags = Diagnostics()
        var scenario = Scenario(file: file, name: file, cluster: nil, end: nil, steps: [])
        var previous = Instant.zero
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNo = index + 1
            let words: [String]
            do {
                words = try tokenize(String(rawLine))
            } catch {
                diags.error(file, lineNo, "\(error)")
                continue
            }
            guard let first = words.first else { continue }
            var rest = Array(words.dropFirst())
            switch first {
            case "name":
                guard rest.count == 1 else {
                    diags.error(file, lineNo, "'name' takes one quoted string")
                    continue
                }
                scenario.name = rest[0]
            case "cluster":
                guard rest.count == 1 else {
                    diags.error(file, lineNo, "'cluster' takes a name or a path")
                    continue
                }
                scenario.cluster = rest[0]
            case "end":
                guard rest.count == 1, let t = parseTime(rest[0], relativeTo: previous) else {
                    diags.error(file, lineNo, rest.first.flatMap(outOfRange) ?? "'end' needs a time such as 60s")
                    continue
                }
                scenario.end = t
            default:
                var time: Instant? = nil
                if first == "at" {
                    guard let spec = rest.first, let t = parseTime(spec, relativeTo: previous),
                        t.micros <= longestTime.micros
                    else {
                        diags.error(
                            file, lineNo,
                            rest.first.flatMap(outOfRange) ?? "'at' needs a time such as 12s, 1.5s, 800ms or +2s")
                        continue
                    }
                    time = t
                    previous = t
                    rest.removeFirst()
                } else {
                    rest = words
                }
                guard !rest.isEmpty else {
                    diags.error(file, lineNo, "nothing to do after the time")
                    continue
                }
                if rest[0] == "expect" {
                    switch parseExpectation(Array(rest.dropFirst())) {
                    case .success(let e):
                        scenario.steps.append(ScenarioStep(time: time, kind: .expect(e), line: lineNo))
                    case .failure(let message): diags.error(file, lineNo, message.text)
                    }
                } else {
                    switch parseCommand(rest) {
                    case .success(let c):
                        // A `say` or command without `at` happens at the time of the line before it.
                        scenario.steps.append(ScenarioStep(time: time ?? previous, kind: .command(c), line: lineNo))
                    case .failure(let message): diags.error(file, lineNo, message.text)
                    }
                }
            }
        }
        if diags.hasErrors { return (nil, diags) }
        return (scenario, diags)
    }

    /// A parse failure message.
    public struct Message: Error, CustomStringConvertible {
        public var text: String
        public var description: String { text }
        init(_ text: String) { self.text = text }
    }

    /// Parses one command (a scenario line without `at`, a line on stdin, a dashboard action).
    public static func parseCommand(_ words: [String]) -> Result<ClusterCommand, Message> {
        guard let verb = words.first else { return .failure(Message("empty command")) }
        let args = Array(words.dropFirst())
        func target(_ s: String) -> ScenarioTarget? {
            let parts = s.split(separator: "/").map(String.init)
            if parts.count == 1 { return .backend(parts[0]) }
            if parts.count == 2, let p = HostProcess(rawValue: parts[1]) { return .process(host: parts[0], p) }
            return nil
        }
        func oneTarget(_ verb: String) -> Result<ScenarioTarget, Message> {
            guard args.count == 1, let t = target(args[0]) else {
                return .failure(
                    Message("'\(verb)' needs one target: a backend (webA) or HOST/haproxy or HOST/keepalived"))
            }
            return .success(t)
        }
        func balancerSuffix(_ rest: ArraySlice<String>) -> Result<String?, Message> {
            if rest.isEmpty { return .success(nil) }
            if rest.count == 2, rest.first == "on" { return .success(rest.last) }
            return .failure(Message("expected 'on BALANCER' after the server, got '\(rest.joined(separator: " "))'"))
        }
        switch verb {
        case "say":
            guard args.count == 1 else { return .failure(Message("'say' takes one quoted string")) }
            return .success(.say(args[0]))
        case "traffic":
            var enabled: Bool? = nil
            var rate: Double? = nil
            var clients: Int? = nil
            var i = 0
            while i < args.count {
                let a = args[i]
                if a == "on" || a == "off" {
                    enabled = a == "on"
                } else if a == "clients", i + 1 < args.count, let n = Int(args[i + 1]), n >= 1, n <= 100_000 {
                    clients = n
                    i += 1
                } else if a.hasSuffix("/s"), let r = Double(a.dropLast(2)), r >= 0, r <= maximumRate {
                    rate = r
                } else {
                    if a.hasSuffix("/s"), let r = Double(a.dropLast(2)), r > maximumRate {
                        return .failure(
                            Message(
                                "'traffic' rate \(a) is above the \(formatRate(maximumRate))/s the built-in browsers send at most"
                            ))
                    }
                    return .failure(Message("'traffic' expects on, off, RATE/s and/or 'clients N', got '\(a)'"))
                }
                i += 1
            }
            if enabled == nil && rate == nil && clients == nil {
                return .failure(Message("'traffic' expects on, off, RATE/s and/or 'clients N'"))
            }
            return .success(.traffic(enabled: enabled ?? (rate.map { $0 > 0 }), rate: rate, clients: clients))
        case "kill": return oneTarget(verb).map { .kill($0) }
        case "stop": return oneTarget(verb).map { .stop($0) }
        case "start", "restart": return oneTarget(verb).map { .start($0) }
        case "restore":
            guard args.count == 1 else { return .failure(Message("'restore' takes a host or backend name")) }
            return .success(.restore(args[0]))
        case "poweroff", "poweron":
            guard args.count == 1 else { return .failure(Message("'\(verb)' takes a host name")) }
            return .success(verb == "poweroff" ? .powerOff(host: args[0]) : .powerOn(host: args[0]))
        case "partition":
            guard args.count == 2, args[0] != args[1] else {
                return .failure(Message("'partition' takes two different host names"))
            }
            return .success(.partition(args[0], args[1]))
        case "heal":
            if args.isEmpty { return .success(.heal(nil, nil)) }
            guard args.count == 2 else { return .failure(Message("'heal' takes no argument or two host names")) }
            return .success(.heal(args[0], args[1]))
        case "link":
            guard args.count == 2, args[1] == "up" || args[1] == "down" else {
                return .failure(Message("'link' takes a host and up|down"))
            }
            return .success(.link(host: args[0], up: args[1] == "up"))
        case "drain", "maint", "ready", "enable", "disable":
            guard let server = args.first else { return .failure(Message("'\(verb)' needs a server name")) }
            let state: AdminState =
                switch verb {
                case "drain": .drain
                case "maint", "disable": .maint
                default: .ready
                }
            return balancerSuffix(args.dropFirst()).map { .setServerState(server: server, balancer: $0, state) }
        case "weight":
            guard args.count >= 2 else {
                return .failure(Message("'weight' needs a server and a value (N, N%, +N, -N, reset)"))
            }
            let v = args[1]
            let change: ClusterModel.WeightChange
            if v == "reset" {
                change = .reset
            } else if v.hasSuffix("%"), let p = Int(v.dropLast()), p >= 0 {
                change = .percent(p)
            } else if v.hasPrefix("+") || v.hasPrefix("-"), let d = Int(v) {
                change = .relative(d)
            } else if let n = Int(v), n >= 0 {
                change = .absolute(n)
            } else {
                return .failure(Message("weight value '\(v)' is not N, N%, +N, -N or reset"))
            }
            return balancerSuffix(args.dropFirst(2)).map { .setWeight(server: args[0], balancer: $0, change) }
        default:
            return .failure(Message("unknown command '\(verb)'"))
        }
    }

    static func parseExpectation(_ w: [String]) -> Result<ScenarioExpectation, Message> {
        guard let what = w.first else { return .failure(Message("'expect' needs a condition")) }
        switch (what, w.count) {
        case ("master", 2): return .success(.master(w[1] == "none" ? nil : w[1]))
        case ("split-brain", 1): return .success(.splitBrain)
        case ("vip-mac", 2): return .success(.vipMAC(host: w[1]))
        case ("sessions-kept", 1): return .success(.sessionsKept)
        case ("clients-on", 2): return .success(.clientsOn(backend: w[1]))
        case ("server", 5) where w[3] == "on":
            return .success(.serverStatus(server: w[1], status: ServerStatus(parsing: w[2]), balancer: w[4]))
        case ("server", 6) where w[4] == "on":
            // Status strings with a space, e.g. `expect server webA UP 1/3 on lb1`.
            return .success(
                .serverStatus(server: w[1], status: ServerStatus(parsing: w[2] + " " + w[3]), balancer: w[5]))
        case ("state", 3):
            let states: [HostVRRPState] = [.master, .backup, .fault, .initialize, .stopped, .killed, .off]
            guard let s = HostVRRPState(rawValue: w[2].uppercased()), states.contains(s) else {
                return .failure(
                    Message(
                        "unknown VRRP state '\(w[2])' (\(states.map(\.rawValue).joined(separator: ", ")))"))
            }
            return .success(.vrrpState(host: w[1], state: s))
        case ("priority", 3):
            guard let v = Int(w[2]) else { return .failure(Message("priority '\(w[2])' is not a number")) }
            return .success(.priority(host: w[1], value: v))
        case ("process", 3):
            let parts = w[1].split(separator: "/").map(String.init)
            guard parts.count == 2, let p = HostProcess(rawValue: parts[1]), w[2] == "running" || w[2] == "dead" else {
                return .failure(Message("'expect process' takes HOST/haproxy|keepalived running|dead"))
            }
            return .success(.process(host: parts[0], p, running: w[2] == "running"))
        default:
            return .failure(
                Message(
                    "unknown expectation '\(w.joined(separator: " "))' (master, split-brain, vip-mac, sessions-kept, clients-on, server, state, priority, process)"
                ))
        }
    }

    /// `12s`, `1.5s`, `800ms`, `2m`, `12` (seconds), or `+2s` after `previous`.
    public static func parseTime(_ s: String, relativeTo previous: Instant = .zero) -> Instant? {
        var text = Substring(s)
        var base = Instant.zero
        if text.hasPrefix("+") {
            base = previous
            text = text.dropFirst()
        }
        guard let span = parseDuration(String(text)) else { return nil }
        return base + span
    }

    /// The most requests per second the built-in browsers send (cluster file, scenario, keys).
    public static let maximumRate = ClusterFile.maximumTrafficRate

    /// The longest time a scenario, `--until` or a duration may name: a week of cluster time.
    public static let longestTime = TimeSpan.seconds(7 * 24 * 3600)

    /// Why `s` is not a time hadeck takes, when it is a number of the right form that is too large.
    public static func outOfRange(_ s: String) -> String? {
        let text = s.hasPrefix("+") ? String(s.dropFirst()) : s
        guard let micros = durationMicros(text), micros > Double(longestTime.micros) else { return nil }
        return
            "'\(s)' is beyond the longest time hadeck runs a cluster for (\(formatSeconds(longestTime.micros))s, a week)"
    }

    /// `12s`, `1.5s`, `800ms`, `250us`, `2m`, `1h`, or a bare number of seconds; nil beyond `longestTime`.
    public static func parseDuration(_ s: String) -> TimeSpan? {
        // Bounded before converting: a Double beyond Int64 traps.
        guard let micros = durationMicros(s), micros <= Double(longestTime.micros) else { return nil }
        return TimeSpan(micros: Int64(micros.rounded()))
    }

    /// The duration's microseconds as written, however large.
    static func durationMicros(_ s: String) -> Double? {
        let units: [(String, Double)] = [
            ("us", 1), ("ms", 1_000), ("s", 1_000_000), ("m", 60_000_000), ("h", 3_600_000_000),
        ]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            // "ms" also ends in "s": only accept when the rest is a number.
            guard let v = Double(s.dropLast(suffix.count)), v >= 0, v.isFinite else { continue }
            return v * scale
        }
        guard let v = Double(s), v >= 0, v.isFinite else { return nil }
        return v * 1_000_000
    }

    public struct TokenizeError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Splits on blanks; `"..."` keeps spaces (with `\"` and `\\` escapes); `#` starts a comment.
    public static func tokenize(_ line: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var chars = line.makeIterator()
        while let c = chars.next() {
            if c == "\"" {
                var quoted = ""
                var closed = false
                while let q = chars.next() {
                    if q == "\\", let n = chars.next() {
                        quoted.append(n)
                    } else if q == "\"" {
                        closed = true
                        break
                    } else {
                        quoted.append(q)
                    }
                }
                guard closed else { throw TokenizeError(description: "unterminated quoted string") }
                current += quoted
                inWord = true
            } else if c == "#" && !inWord {
                break
            } else if c == " " || c == "\t" || c == "\r" {
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            } else {
                current.append(c)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }
}

extension Scenario {
    /// Lines that name a host, balancer or backend the cluster does not have, as errors: what
    /// `hadeck check` reports before anything runs (a run would fail those lines one by one).
    public func unknownNames(in spec: ClusterSpec) -> Diagnostics {
        let hosts = Set(spec.hosts.map(\.name))
        let servers = Set(spec.backends.map(\.name))
        var diags = Diagnostics()
        for step in steps {
            var named: [(what: String, name: String, known: Set<String>)] = []
            func host(_ h: String) { named.append(("balancer", h, hosts)) }
            func server(_ s: String) { named.append(("backend", s, servers)) }
            func target(_ t: ScenarioTarget) {
                switch t {
                case .backend(let s): server(s)
                case .process(let h, _): host(h)
                }
            }
            switch step.kind {
            case .command(let command):
                switch command {
                case .say, .traffic: break
                case .kill(let t), .stop(let t), .start(let t): target(t)
                case .powerOff(let h), .powerOn(let h), .link(let h, _): host(h)
                case .partition(let a, let b): [a, b].forEach(host)
                case .heal(let a, let b): [a, b].compactMap { $0 }.forEach(host)
                case .setServerState(let s, let b, _), .setWeight(let s, let b, _):
                    server(s)
                    b.map(host)
                case .restore(let x):
                    if !hosts.contains(x) && !servers.contains(x) {
                        named.append(("balancer or backend", x, []))
                    }
                }
            case .expect(let e):
                switch e {
                case .master(let m): m.map(host)
                case .splitBrain, .sessionsKept: break
                case .vipMAC(let h), .vrrpState(let h, _), .priority(let h, _), .process(let h, _, _): host(h)
                case .clientsOn(let b): server(b)
                case .serverStatus(let s, _, let b):
                    server(s)
                    host(b)
                }
            }
            for (what, name, known) in named where !known.contains(name) {
                let choices = what == "backend" ? servers : what == "balancer" ? hosts : hosts.union(servers)
                diags.error(
                    file, step.line,
                    "the cluster '\(spec.name)' has no \(what) '\(name)' (it has \(choices.sorted().joined(separator: ", ")))"
                )
            }
        }
        return diags
    }
}
