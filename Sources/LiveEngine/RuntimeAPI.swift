import BalancerCore
import HadeckBase

/// What the runtime API and the stats page's admin form need of a balancer: its statistics now,
/// and a way to change a server. The interpreter below is pure over this; `BalancerState`
/// implements it on the balancer's loop, tests with a value.
protocol BalancerAdministration: AnyObject {
    /// Every figure now (read again after each command: `set weight ...; get weight ...`).
    func statsSnapshot() -> StatsSnapshot
    /// Performs an admin action and reports it (`onAdminChange`, `onTransition`).
    func apply(_ request: AdminRequest) throws(BalancerError)
}

/// An admin action of the runtime API or the stats page.
enum AdminAction: Hashable, Sendable {
    case state(AdminState)
    case enable
    case disable
    case weight(WeightSetting)
}

/// An admin action on one server, with who asked and how.
struct AdminRequest: Hashable, Sendable {
    var backend: String
    var server: String
    var action: AdminAction
    var source: AdminChangeRecord.Source
    var level: StatsSocketConfig.Level
    /// The command as received, e.g. `disable server web/webA`.
    var command: String
}

/// The state of one runtime API connection.
struct CLISession: Hashable, Sendable {
    var level: StatsSocketConfig.Level
    var timeout: TimeSpan
    var interactive = false
}

/// What a command line produced: the bytes to send, and whether to close afterwards (`quit`).
struct CLIReply: Hashable, Sendable {
    var text: String
    var close = false
}

/// HAProxy 2.6's CLI (the stats socket's command interpreter), for the commands hadeck supports,
/// with HAProxy's replies byte for byte.
enum RuntimeAPI {
    /// Runs one received line (commands separated by `;`) and returns every reply, each followed by the
    /// empty line that ends a reply, plus the `> ` prompt in interactive mode.
    static func run(_ bytes: [UInt8], session: inout CLISession, on host: BalancerAdministration) -> CLIReply {
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
                out += reply(to: words, session: &session, on: host)
            }
            out += "\n"
            if session.interactive { out += "> " }
        }
        return CLIReply(text: out)
    }

    /// One command's reply text (without the closing empty line).
    static func reply(to w: [String], session: inout CLISession, on host: BalancerAdministration) -> String {
        func word(_ i: Int) -> String { i < w.count ? w[i] : "" }
        switch (word(0), word(1)) {
        case ("help", _):
            return usage(header: "The following commands are valid at this level:\n", matching: word(1))
        case ("show", "info"):
            return ShowInfo.text(host.statsSnapshot().process)
        case ("show", "stat"):
            let snapshot = host.statsSnapshot()
            var filter: ShowStat.Filter? = nil
            if w.count >= 5 {
                let iid: Int
                if let n = Int(w[2]) {
                    iid = n
                } else if let p = snapshot.proxies.first(where: { $0.name == w[2] }) {
                    iid = p.iid
                } else {
                    return "No such proxy.\n"
                }
                filter = ShowStat.Filter(iid: iid, types: Int(w[3]) ?? -1, sid: Int(w[4]) ?? -1)
            }
            return ShowStat.csv(snapshot, filter: filter)
        case ("show", "servers") where word(2) == "state":
            return ServersState.text(host.statsSnapshot(), backend: w.count > 3 ? w[3] : nil) ?? "Can't find backend.\n"
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
            return withServer(word(2), host) { _, server in server.weight.description + "\n" }
        case ("set", "weight"):
            guard session.level >= .admin else { return "Permission denied\n" }
            return admin(word(2), command: w, session: session, host) { () throws(BalancerError) in
                .weight(try WeightSetting.parse(word(3)))
            }
        case ("enable", "server"), ("disable", "server"):
            guard session.level >= .admin else { return "Permission denied\n" }
            let action: AdminAction = w[0] == "enable" ? .enable : .disable
            return admin(word(2), command: w, session: session, host) { action }
        case ("set", "server"):
            guard session.level >= .admin else { return "Permission denied\n" }
            return admin(word(2), command: w, session: session, host) { () throws(BalancerError) in
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

    /// One line of HAProxy's CLI help: usage padded to 40 columns, then the description.
    private static let helpEntries: [(usage: String, text: String)] = [
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

    private static func helpLine(_ e: (usage: String, text: String)) -> String {
        let pad = max(0, 40 - e.usage.count)
        return "  " + e.usage + String(repeating: " ", count: pad) + ": " + e.text + "\n"
    }

    /// The help list, or the entries starting with `word` when there are any.
    private static func usage(header: String, matching word: String) -> String {
        let tail = helpEntries.suffix(3)
        let body = helpEntries.dropLast(3)
        let matches = word.isEmpty ? Array(body) : body.filter { $0.usage.hasPrefix(word) }
        return header + (matches.isEmpty ? Array(body) : matches).map(helpLine).joined() + tail.map(helpLine).joined()
    }

    /// HAProxy's reply for an error: its text and a newline, except the two weight parser messages
    /// HAProxy prints without one.
    private static func reply(_ error: BalancerError) -> String {
        if error.message == "Empty weight string empty or preceded by garbage"
            || error.message == "Trailing garbage in weight string"
        {
            return error.message
        }
        return error.message + "\n"
    }

    /// Looks up `backend/server` with HAProxy's messages for a bad argument.
    private static func withServer(
        _ arg: String, _ host: BalancerAdministration, _ body: (BackendStats, ServerSnapshot) -> String
    ) -> String {
        guard let slash = arg.firstIndex(of: "/") else { return "Require 'backend/server'.\n" }
        let be = String(arg[..<slash])
        let name = String(arg[arg.index(after: slash)...])
        guard let backend = host.statsSnapshot().backends.first(where: { $0.backend.name == be })?.backend else {
            return "No such backend.\n"
        }
        guard let server = backend.servers.first(where: { $0.snapshot.name == name }) else {
            return "No such server.\n"
        }
        return body(backend, server.snapshot)
    }

    /// Parses the action (after the server is found, as HAProxy checks in that order) and applies it.
    private static func admin(
        _ arg: String, command: [String], session: CLISession, _ host: BalancerAdministration,
        _ action: () throws(BalancerError) -> AdminAction
    ) -> String {
        withServer(arg, host) { backend, server in
            do throws(BalancerError) {
                try host.apply(
                    AdminRequest(
                        backend: backend.name, server: server.name, action: try action(), source: .statsSocket,
                        level: session.level, command: command.joined(separator: " ")))
                return ""
            } catch {
                return reply(error)
            }
        }
    }
}
