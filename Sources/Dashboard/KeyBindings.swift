/// The one table of the dashboard's keys. The key handler, the help overlay, the key bar and the
/// README's key list all come from `KeyMap.bindings` (a test compares the README with it).
///
/// A key has one meaning per mode. In normal mode a few keys act on the selected row of the panel
/// that has the keyboard (`k` kills the selected backend's app or the selected balancer's haproxy):
/// their scope says which panel; no key is bound both anywhere and on a row.

/// Which set of keys is in force.
public enum KeyMode: String, CaseIterable, Hashable, Sendable {
    /// The panels.
    case normal
    /// Typing the requests filter after `/`.
    case filterInput
    /// A detail view (Enter on a row).
    case detail
    /// The help overlay (`?`).
    case help
    /// Instant replay (`R`): kept snapshots shown again while the live cluster runs on.
    case replay
}

/// Where in normal mode a binding acts.
public enum KeyScope: String, Hashable, Sendable, CaseIterable {
    case anywhere
    /// The selected server of the Backends panel.
    case backendRow
    /// The selected host of the Balancers panel.
    case balancerRow

    /// The panel whose selected row the binding acts on.
    public var panel: Panel? {
        switch self {
        case .anywhere: nil
        case .backendRow: .backends
        case .balancerRow: .balancers
        }
    }
}

/// What a binding does, before the state and the snapshot say to what.
public enum KeyCommand: Hashable, Sendable {
    case quit, help, redraw, nextPanel, previousPanel
    case moveUp, moveDown, pageUp, pageDown, moveHome, moveEnd
    case openDetail, exportEvents, filter, clearFilter, toggleView, nextBalancer, nextTheme
    case pause, slower, faster, traffic, lessTraffic, moreTraffic, partition
    // A backend row.
    case drain, maint, restoreServer, killApp
    case weight(Int)
    case weightReset, enableEverywhere, disableEverywhere
    // A balancer row.
    case killHAProxy, killKeepalived, stopKeepalived, power, restoreHost
    // The whole cluster back to a clean start.
    case resetCluster
    // Instant replay.
    case startReplay, endReplay, replaySlower, replayFaster, replayPause, replayBack, replayForward, replayRestart
    case liveOnly
    // Typing a filter.
    case applyFilter, cancelFilter, deleteFilterCharacter, typeFilterCharacter
    // A detail view.
    case closeDetail, scrollUp, scrollDown, scrollPageUp, scrollPageDown, scrollHome
    // The help overlay.
    case closeHelp
}

/// One binding: the keys, where they act, what they do, and how the help and the key bar name it.
public struct KeyBinding: Sendable {
    /// A binding that takes keys not listed one by one.
    public enum CatchAll: Hashable, Sendable {
        /// Any printable character (typing a filter).
        case printable
        /// Any key no other binding of the mode takes.
        case anyOther
    }

    public var mode: KeyMode
    public var scope: KeyScope
    public var keys: [Key]
    public var catchAll: CatchAll?
    public var command: KeyCommand
    /// What the help says it does.
    public var help: String
    /// Consecutive bindings with the same group show as one help line (`F5 F6 F7 F8  weight ...`).
    public var group: String?
    /// The key bar's entry (`k` `kill`), if it has one.
    public var bar: (key: String, label: String)?
    /// Only for a source with virtual time (`space`, `<`, `>`).
    public var needsVirtualTime: Bool

    init(
        _ mode: KeyMode, _ keys: [Key], catchAll: CatchAll? = nil, _ command: KeyCommand, _ help: String,
        group: String? = nil, bar: (String, String)? = nil, needsVirtualTime: Bool = false
    ) {
        self.init(
            mode, .anywhere, keys, catchAll: catchAll, command, help, group: group, bar: bar,
            needsVirtualTime: needsVirtualTime)
    }

    init(
        _ mode: KeyMode, _ scope: KeyScope, _ keys: [Key], catchAll: CatchAll? = nil, _ command: KeyCommand,
        _ help: String, group: String? = nil, bar: (String, String)? = nil, needsVirtualTime: Bool = false
    ) {
        self.mode = mode
        self.scope = scope
        self.keys = keys
        self.catchAll = catchAll
        self.command = command
        self.help = help
        self.group = group
        self.bar = bar.map { (key: $0.0, label: $0.1) }
        self.needsVirtualTime = needsVirtualTime
    }

    /// The keys as the help shows them (`Tab`, `→`, `F5`, `any other key`).
    public var keyLabels: [String] {
        var labels = keys.map(\.label)
        switch catchAll {
        case .printable: labels.append("any character")
        case .anyOther: labels.append("any other key")
        case nil: break
        }
        return labels
    }

    /// Whether `key` is one of this binding's keys (catch-alls not counted).
    public func matches(_ key: Key) -> Bool { keys.contains(key) }
}

extension Key {
    /// How the help and the key bar write the key.
    public var label: String {
        switch self {
        case .char(" "): "space"
        case .char("\u{0C}"): "Ctrl-L"
        case .char(let c): String(c)
        case .up: "↑"
        case .down: "↓"
        case .left: "←"
        case .right: "→"
        case .pageUp: "PgUp"
        case .pageDown: "PgDn"
        case .home: "Home"
        case .end: "End"
        case .tab: "Tab"
        case .backTab: "Shift-Tab"
        case .enter: "Enter"
        case .escape: "Esc"
        case .backspace: "Backspace"
        case .function(let n): "F\(n)"
        case .resize: "(resize)"
        }
    }
}

public enum KeyMap {
    /// Every key of the dashboard, in the order the help lists them.
    public static let bindings: [KeyBinding] = [
        // Normal mode, anywhere.
        KeyBinding(
            .normal, [.tab, .right], .nextPanel, "next panel", group: "next / previous panel", bar: ("Tab", "panel")),
        KeyBinding(.normal, [.backTab, .left], .previousPanel, "previous panel", group: "next / previous panel"),
        KeyBinding(.normal, [.up], .moveUp, "select the row above", group: "select a row"),
        KeyBinding(.normal, [.down], .moveDown, "select the row below", group: "select a row"),
        KeyBinding(.normal, [.pageUp], .pageUp, "ten rows up", group: "select a row"),
        KeyBinding(.normal, [.pageDown], .pageDown, "ten rows down", group: "select a row"),
        KeyBinding(.normal, [.home], .moveHome, "the first row", group: "select a row"),
        KeyBinding(.normal, [.end], .moveEnd, "the last row", group: "select a row"),
        KeyBinding(
            .normal, [.enter], .openDetail, "details of the selected row (the whole why)", bar: ("Enter", "details")),
        KeyBinding(.normal, [.char("P")], .partition, "partition / heal the balancers", bar: ("P", "partition")),
        KeyBinding(.normal, [.char("t")], .traffic, "traffic on / off", bar: ("t", "traffic")),
        KeyBinding(.normal, [.char("[")], .lessTraffic, "halve the traffic rate", group: "traffic rate halve / double"),
        KeyBinding(
            .normal, [.char("]")], .moreTraffic, "double the traffic rate", group: "traffic rate halve / double"),
        KeyBinding(
            .normal, [.char(" ")], .pause, "pause / resume (--simulate)", bar: ("spc", "pause"), needsVirtualTime: true),
        KeyBinding(
            .normal, [.char("<")], .slower, "halve the time scale", group: "time scale halve / double (--simulate)",
            bar: ("<>", "speed"), needsVirtualTime: true),
        KeyBinding(
            .normal, [.char(">")], .faster, "double the time scale", group: "time scale halve / double (--simulate)",
            needsVirtualTime: true),
        KeyBinding(.normal, [.char("/")], .filter, "filter the requests by client or server", bar: ("/", "filter")),
        KeyBinding(.normal, [.escape], .clearFilter, "clear the requests filter"),
        KeyBinding(
            .normal, [.char("e")], .exportEvents,
            "save events (.jsonl) and history (.session)"),
        KeyBinding(
            .normal, [.char("R")], .startReplay, "instant replay of the last failover at 0.25x",
            bar: ("R", "replay")),
        KeyBinding(
            .normal, [.char("X")], .resetCluster, "reset the cluster: all restored, traffic on"),
        KeyBinding(.normal, [.char("v")], .toggleView, "backends per balancer / merged", bar: ("v", "view")),
        KeyBinding(.normal, [.char("b")], .nextBalancer, "the next balancer's view of the backends"),
        KeyBinding(.normal, [.char("T")], .nextTheme, "next theme", bar: ("T", "theme")),
        KeyBinding(.normal, [.char("?")], .help, "every key (this help)", bar: ("?", "help")),
        KeyBinding(.normal, [.char("\u{0C}")], .redraw, "redraw the screen"),
        KeyBinding(.normal, [.char("q")], .quit, "quit", bar: ("q", "quit")),
        // Normal mode, a backend row.
        KeyBinding(.normal, .backendRow, [.char("d")], .drain, "drain", bar: ("d", "drain")),
        KeyBinding(.normal, .backendRow, [.char("k")], .killApp, "kill its app", bar: ("k", "kill")),
        KeyBinding(
            .normal, .backendRow, [.char("r")], .restoreServer, "restore (restart its app, ready)",
            bar: ("r", "restore")),
        KeyBinding(.normal, .backendRow, [.char("m")], .maint, "maintenance", bar: ("m", "maint")),
        KeyBinding(
            .normal, .backendRow, [.char("+")], .weight(1), "weight +1", group: "weight +1 / -1", bar: ("+-", "weight")),
        KeyBinding(.normal, .backendRow, [.char("-")], .weight(-1), "weight -1", group: "weight +1 / -1"),
        KeyBinding(.normal, .backendRow, [.function(4)], .weightReset, "weight back to its configured value"),
        KeyBinding(
            .normal, .backendRow, [.function(1)], .enableEverywhere, "ready on every balancer",
            group: "ready / maintenance on every balancer"),
        KeyBinding(
            .normal, .backendRow, [.function(2)], .disableEverywhere, "maintenance on every balancer",
            group: "ready / maintenance on every balancer"),
        KeyBinding(.normal, .backendRow, [.function(5)], .weight(-10), "weight -10", group: "weight -10 -1 +1 +10"),
        KeyBinding(.normal, .backendRow, [.function(6)], .weight(-1), "weight -1", group: "weight -10 -1 +1 +10"),
        KeyBinding(.normal, .backendRow, [.function(7)], .weight(1), "weight +1", group: "weight -10 -1 +1 +10"),
        KeyBinding(.normal, .backendRow, [.function(8)], .weight(10), "weight +10", group: "weight -10 -1 +1 +10"),
        // Normal mode, a balancer row.
        KeyBinding(
            .normal, .balancerRow, [.char("k")], .killHAProxy, "kill -9 its haproxy", bar: ("k", "kill haproxy")),
        KeyBinding(
            .normal, .balancerRow, [.char("K")], .killKeepalived, "kill -9 its keepalived (sends nothing)",
            bar: ("K", "kill keepalived")),
        KeyBinding(
            .normal, .balancerRow, [.char("s")], .stopKeepalived, "stop its keepalived (priority-0 advert)",
            bar: ("s", "stop kad")),
        KeyBinding(.normal, .balancerRow, [.char("p")], .power, "power off / on", bar: ("p", "power")),
        KeyBinding(
            .normal, .balancerRow, [.char("r")], .restoreHost, "restore whatever is down", bar: ("r", "restore")),
        // Typing a filter.
        KeyBinding(.filterInput, [.enter], .applyFilter, "apply the filter", bar: ("Enter", "apply")),
        KeyBinding(.filterInput, [.escape], .cancelFilter, "clear the filter", bar: ("Esc", "clear")),
        KeyBinding(.filterInput, [.backspace], .deleteFilterCharacter, "delete the last character"),
        KeyBinding(.filterInput, [], catchAll: .printable, .typeFilterCharacter, "typed into the filter"),
        // A detail view.
        KeyBinding(.detail, [.escape, .enter], .closeDetail, "close the detail view", bar: ("Esc", "close")),
        KeyBinding(.detail, [.up], .scrollUp, "scroll up", group: "scroll", bar: ("↑↓", "scroll")),
        KeyBinding(.detail, [.down], .scrollDown, "scroll down", group: "scroll"),
        KeyBinding(.detail, [.pageUp], .scrollPageUp, "scroll a page up", group: "scroll"),
        KeyBinding(.detail, [.pageDown], .scrollPageDown, "scroll a page down", group: "scroll"),
        KeyBinding(.detail, [.home], .scrollHome, "back to the top", group: "scroll"),
        KeyBinding(.detail, [.char("e")], .exportEvents, "save events (.jsonl) and history (.session)"),
        KeyBinding(.detail, [.char("?")], .help, "every key (this help)", bar: ("?", "help")),
        KeyBinding(.detail, [.char("q")], .quit, "quit", bar: ("q", "quit")),
        // Instant replay.
        KeyBinding(.replay, [.char("R"), .escape], .endReplay, "back to the live cluster", bar: ("R/Esc", "live")),
        KeyBinding(.replay, [.char(" ")], .replayPause, "pause / resume the replay", bar: ("spc", "pause")),
        KeyBinding(
            .replay, [.char("<")], .replaySlower, "half as fast", group: "replay speed halve / double (1/16x to 4x)",
            bar: ("<>", "speed")),
        KeyBinding(
            .replay, [.char(">")], .replayFaster, "twice as fast", group: "replay speed halve / double (1/16x to 4x)"),
        KeyBinding(.replay, [.left], .replayBack, "one second back", group: "one second back / forward"),
        KeyBinding(.replay, [.right], .replayForward, "one second forward", group: "one second back / forward"),
        KeyBinding(.replay, [.home], .replayRestart, "from the beginning again"),
        KeyBinding(.replay, [.tab], .nextPanel, "next panel", group: "next / previous panel", bar: ("Tab", "panel")),
        KeyBinding(.replay, [.backTab], .previousPanel, "previous panel", group: "next / previous panel"),
        KeyBinding(.replay, [.up], .moveUp, "select the row above", group: "select a row"),
        KeyBinding(.replay, [.down], .moveDown, "select the row below", group: "select a row"),
        KeyBinding(.replay, [.enter], .openDetail, "details of the selected row, as it was", bar: ("Enter", "details")),
        KeyBinding(.replay, [.char("?")], .help, "every key (this help)", bar: ("?", "help")),
        KeyBinding(.replay, [.char("q")], .quit, "quit", bar: ("q", "quit")),
        KeyBinding(
            .replay, [], catchAll: .anyOther, .liveOnly, "commands act on the live cluster: R or Esc first"),
        // The help overlay.
        KeyBinding(.help, [.up], .scrollUp, "scroll up", group: "scroll"),
        KeyBinding(.help, [.down], .scrollDown, "scroll down", group: "scroll"),
        KeyBinding(.help, [.pageUp], .scrollPageUp, "scroll a page up", group: "scroll"),
        KeyBinding(.help, [.pageDown], .scrollPageDown, "scroll a page down", group: "scroll"),
        KeyBinding(.help, [.char("q")], .quit, "quit", bar: ("q", "quit")),
        KeyBinding(.help, [], catchAll: .anyOther, .closeHelp, "close this help", bar: ("any key", "closes")),
    ]

    /// The binding `key` has in `mode` on the focused panel: the focused panel's row bindings first,
    /// then the mode's others, then its catch-all.
    public static func binding(for key: Key, mode: KeyMode, focus: Panel) -> KeyBinding? {
        var catchAll: KeyBinding?
        var anywhere: KeyBinding?
        for b in bindings where b.mode == mode {
            if b.matches(key) {
                if b.scope == .anywhere {
                    anywhere = anywhere ?? b
                } else if b.scope.panel == focus {
                    return b
                }
            } else if let c = b.catchAll, catchAll == nil {
                switch c {
                case .anyOther: catchAll = b
                case .printable:
                    if case .char(let ch) = key, !(ch.asciiValue.map { $0 < 0x20 || $0 == 0x7f } ?? false) {
                        catchAll = b
                    }
                }
            }
        }
        return anywhere ?? catchAll
    }

    /// The row scopes (other than the focused panel's) in which `key` means something, for a message
    /// that says where to go.
    public static func otherRowScopes(for key: Key, focus: Panel) -> [KeyScope] {
        var out: [KeyScope] = []
        for b in bindings where b.mode == .normal && b.scope != .anywhere && b.scope.panel != focus && b.matches(key) {
            if !out.contains(b.scope) { out.append(b.scope) }
        }
        return out
    }

    /// One line of the help: keys and what they do, consecutive bindings of a group together.
    public struct HelpEntry: Hashable, Sendable {
        public var keys: [String]
        public var text: String
    }

    /// A titled part of the help.
    public struct HelpSection: Hashable, Sendable {
        public var title: String
        public var entries: [HelpEntry]
    }

    /// The help, section by section, in table order.
    public static var helpSections: [HelpSection] {
        let parts: [(String, KeyMode, KeyScope)] = [
            ("Anywhere", .normal, .anywhere),
            ("On a backend row (per-balancer view: that balancer; merged: every one)", .normal, .backendRow),
            ("On a balancer row (Balancers panel)", .normal, .balancerRow),
            ("Typing a filter (after /)", .filterInput, .anywhere),
            ("In a detail view (after Enter)", .detail, .anywhere),
            ("In instant replay (after R)", .replay, .anywhere),
            ("In this help", .help, .anywhere),
        ]
        return parts.map { title, mode, scope in
            var entries: [HelpEntry] = []
            var lastGroup: String?
            for b in bindings where b.mode == mode && b.scope == scope {
                if let g = b.group, g == lastGroup {
                    entries[entries.count - 1].keys += b.keyLabels
                } else {
                    entries.append(HelpEntry(keys: b.keyLabels, text: b.group ?? b.help))
                }
                lastGroup = b.group
            }
            return HelpSection(title: title, entries: entries)
        }
    }

    /// The README's key list (between its `keys` markers): one table, generated here.
    public static var markdown: String {
        var lines = ["| where | keys | what |", "|---|---|---|"]
        for section in helpSections {
            for e in section.entries {
                let keys = e.keys.map { $0.hasPrefix("any ") ? $0 : "`\($0)`" }.joined(separator: " ")
                let title = section.title.split(separator: "(").first.map { String($0) } ?? section.title
                lines.append("| \(title.trimmingSpaces) | \(keys) | \(e.text) |")
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
