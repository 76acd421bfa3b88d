import BalancerCore
import HadeckBase

/// The state of one runtime API connection.
struct CLISession {
    var level: StatsSocketConfig.Level
    var timeout: TimeSpan
    var interactive = false
}

/// What a command line produced: the bytes to send, and whether to close afterwards (`quit`).
struct CLIReply {
    var text: String
    var close = false
}

/// One line of HAProxy's CLI help: usage padded to 40 columns, then the description.
private let helpEntries: [(usage: String, text: String)] = [
    ("disable server (DEPRECATED)", "disable a server for maintenance (use 'set server' instead)"),
    ("enable server  (DEPRECATED)", "enable a disabled server (use 'set server' instead)"),
    ("get weight <bk>/<srv>", "report a server's current weight"),
    ("operator", "lower the level of the current CLI session to operator"),
    ("set server <bk>/<srv> [opts]", "change a server's state or weight"),
    ("set timeout [cli] <delay>", "change a timeout setting"),
    ("set weight <bk>/<srv>  (DEPRECATED)", "change a server's weight (use 'set server' instead)"),
    ("show cli level", "display the level of the current CLI session"),
    ("show info [desc|json|typed|float]*", "report information about the running process"),
    ("show servers state [<backend>]", "dump volatile server information (all or for a single backend)"),
    ("show stat [desc|json|no-maint|typed|up]*", "report counters for each proxy and server"),
    ("user", "lower the level of the current CLI session to user"),
    ("help [<command>]", "list matching or all commands"),
    ("prompt", "toggle interactive mode with prompt"),
    ("quit", "disconnect"),
]

private func helpLine(_ e: (usage: String, text: String)) -> String {
    let pad = max(0, 40 - e.usage.count)
    return "  " + e.usage + String(repeating: " ", count: pad) + ": " + e.text + "\n"
}

/// An admin action of the runtime API or the stats page.
enum AdminAction {
    case state(AdminState)
    case enable
    case disable
    case weight(WeightSetting)
}

extension BalancerState {
    /// Runs one received line (commands separated by `;`) and returns every reply, each followed by the
    /// empty line that ends a reply, plus the `> ` prompt in interactive mode.
    func runCommandLine(_ bytes: [UInt8], session: inout CLISession) -> CLIReply {
        var raw = bytes
        if raw.last == 13 { raw.removeLast() }
        let text = String(decoding: raw, as: UTF8.self)
        var out = ""
        for command in text.split(separator: ";", omittingEmptySubsequences: false) {
            let words = command.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if words == ["quit"] { return CLIReply(text: out, close: true) }
            if words == ["prompt"] {
                session.interactive.toggle()
            } else {
                out += runCommand(words, session: &session)
            }
            out += "\n"
            if session.interactive { out += "> " }
        }
        return CLIReply(text: out)
    }

    /// One command's reply text (without the closing empty line).
    func runCommand(_ w: [String], session: inout CLISession) -> String {
        let now = clock.now()
        func word(_ i: Int) -> String { i < w.count ? w[i] : "" }
        switch (word(0), word(1)) {
        case ("help", _):
            return usage(header: "The following commands are valid at this level:\n", matching: word(1))
        case ("show", "info"):
            return infoFields(now: now).map { "\($0.0): \($0.1)\n" }.joined()
        case ("show", "stat"):
            var filter: (iid: Int, types: Int, sid: Int)? = nil
            if w.count >= 5 {
                let iid: Int
                if let n = Int(w[2]) {
                    iid = n
                } else if let p = proxies.first(where: { $0.name == w[2] }) {
                    iid = p.iid
                } else {
                    return "No such proxy.\n"
                }
                filter = (iid, Int(w[3]) ?? -1, Int(w[4]) ?? -1)
            }
            return statCSV(now: now, filter: filter)
        case ("show", "servers") where word(2) == "state":
            return serversState(backend: w.count > 3 ? w[3] : nil, now: now) ?? "Can't find backend.\n"
        case ("show", "cli") where word(2) == "level":
            return session.level.rawValue + "\n"
        case ("user", ""):
            session.level = .user
            return ""
        case ("operator", ""):
            guard session.level >= .operator else { return "Permission denied\n" }
            session.level = .operator
            return ""
        case ("set", "timeout"):
            guard word(2) == "cli" else { return "'set timeout' only supports 'cli'.\n" }
            guard w.count > 3 else { return "Expects an integer value.\n" }
            guard let seconds = Int(w[3]), seconds > 0, seconds < Int(Int32.max) / 1000 else {
                return "Invalid timeout value.\n"
            }
            session.timeout = .seconds(Int64(seconds))
            return ""
        case ("get", "weight"):
            return withServer(word(2)) { backend, server in
                do throws(BalancerError) {
                    return try backend.weight(server, now: now).description + "\n"
                } catch {
                    return reply(error)
                }
            }
        case ("set", "weight"):
            guard session.level >= .admin else { return "Permission denied\n" }
            return admin(word(2), line: w.joined(separator: " "), session: session) { () throws(BalancerError) in
                .weight(try WeightSetting.parse(word(3)))
            }
        case ("enable", "server"), ("disable", "server"):
            guard session.level >= .admin else { return "Permission denied\n" }
            let action: AdminAction = w[0] == "enable" ? .enable : .disable
            return admin(word(2), line: w.joined(separator: " "), session: session) { action }
        case ("set", "server"):
            guard session.level >= .admin else { return "Permission denied\n" }
            return admin(word(2), line: w.joined(separator: " "), session: session) { () throws(BalancerError) in
                switch word(3) {
                case "state":
                    guard let state = AdminState(rawValue: word(4)) else {
                        throw BalancerError("'set server <srv> state' expects 'ready', 'drain' and 'maint'.")
                    }
                    return .state(state)
                case "weight":
                    return .weight(try WeightSetting.parse(word(4)))
                default:
                    throw BalancerError(
                        "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight"
                    )
                }
            }
        default:
            if w.isEmpty {
                return usage(
                    header: "Unknown command. Please enter one of the following commands only:\n", matching: "")
            }
            return usage(
                header: "Unknown command, but maybe one of the following ones is a better match:\n", matching: w[0])
        }
    }

    /// The help list, or the entries starting with `word` when there are any.
    private func usage(header: String, matching word: String) -> String {
        let tail = helpEntries.suffix(3)
        let body = helpEntries.dropLast(3)
        let matches = word.isEmpty ? Array(body) : body.filter { $0.usage.hasPrefix(word) }
        return header + (matches.isEmpty ? Array(body) : matches).map(helpLine).joined() + tail.map(helpLine).joined()
    }

    /// HAProxy's reply for an error: its text and a newline, except the two weight parser messages
    /// HAProxy prints without one.
    private func reply(_ error: BalancerError) -> String {
        if error.message == "Empty weight string empty or preceded by garbage"
            || error.message == "Trailing garbage in weight string"
        {
            return error.message
        }
        return error.message + "\n"
    }

    /// Looks up `backend/server` with HAProxy's messages for a bad argument.
    private func withServer(_ arg: String, _ body: (Backend, String) -> String) -> String {
        guard let slash = arg.firstIndex(of: "/") else { return "Require 'backend/server'.\n" }
        let be = String(arg[..<slash])
        let server = String(arg[arg.index(after: slash)...])
        guard let backend = backends.first(where: { $0.name == be })?.backend else { return "No such backend.\n" }
        guard backend.status(of: server) != nil else { return "No such server.\n" }
        return body(backend, server)
    }

    /// Parses the action (after the server is found, as HAProxy checks in that order) and applies it.
    private func admin(
        _ arg: String, line: String, session: CLISession, _ action: () throws(BalancerError) -> AdminAction
    ) -> String {
        withServer(arg) { backend, server in
            do throws(BalancerError) {
                let be = String(arg.prefix { $0 != "/" })
                try applyAdmin(
                    backend: be, server: server, action: try action(), source: .statsSocket, level: session.level,
                    command: line)
                return ""
            } catch {
                return reply(error)
            }
        }
    }

    /// Performs an admin action on the loop and reports it: `onAdminChange` with who and why,
    /// `onTransition` when the status text changed. Shared by the stats socket and the stats page.
    @discardableResult
    func applyAdmin(
        backend name: String, server: String, action: AdminAction, source: AdminChangeRecord.Source,
        level: StatsSocketConfig.Level, command: String
    ) throws(BalancerError) -> [ServerTransition] {
        guard let backend = backends.first(where: { $0.name == name })?.backend else {
            throw BalancerError("No such backend.")
        }
        let now = clock.now()
        let adminBefore = try backend.adminState(of: server)
        let weightBefore = try backend.weight(server, now: now).current
        let transitions: [ServerTransition]
        switch action {
        case .state(let s): transitions = try backend.setAdminState(server: server, s, now: now)
        case .enable: transitions = try backend.enableServer(server, now: now)
        case .disable: transitions = try backend.disableServer(server, now: now)
        case .weight(let w): transitions = try backend.setWeight(server: server, w, now: now)
        }
        let adminAfter = try backend.adminState(of: server)
        let weightAfter = try backend.weight(server, now: now).current
        refreshBackendHealth(name, now: now)
        scheduleChecks()
        let who = source == .statsSocket ? "stats socket (\(level.rawValue))" : "stats page"
        for t in transitions {
            let change: AdminChangeRecord.Change
            let what: String
            if adminAfter != adminBefore {
                change = .adminState(from: adminBefore, to: adminAfter)
                what = "set \(server) to \(adminAfter.rawValue.uppercased())"
            } else {
                change = .weight(from: weightBefore, to: weightAfter)
                what = "set \(server) weight \(weightBefore) -> \(weightAfter)"
            }
            onAdminChange?(
                AdminChangeRecord(
                    balancer: self.name, backend: name, server: server, change: change, transition: t,
                    source: source, level: level, command: command, why: "\(who) \(what): \(t.why)", time: now))
            if t.from != t.to {
                var record = CheckTransition(balancer: self.name, backend: name, transition: t)
                record.byAdmin = true
                onTransition?(record)
            }
        }
        return transitions
    }
}
