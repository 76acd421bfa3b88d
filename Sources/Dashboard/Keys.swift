import BalancerCore
import ClusterModel
import HadeckBase

/// A key press, as the terminal backend decodes it.
public enum Key: Hashable, Sendable {
    case char(Character)
    case up, down, left, right
    case pageUp, pageDown, home, end
    case tab, backTab, enter, escape, backspace
    case function(Int)
    case resize
}

/// What a key asks for: a command for the cluster source, or a change of the dashboard itself.
public enum DashboardAction: Hashable, Sendable {
    /// Sent to the source with `submit`.
    case control(ControlCommand)
    case quit
    case nextTheme
    case toggleHelp
    case focus(Panel)
    case select(Panel, Int?)
    case toggleBackendsView
    case nextBalancer
    /// Starts, edits (new text) and ends the `/` filter input.
    case editFilter(String)
    case applyFilter(String)
    case clearFilter
    case openDetail(DetailTarget)
    case closeDetail
    /// Scrolls the detail view or the help by lines (`Int.min`: back to the top).
    case scroll(Int)
    /// Writes the events panel's history as JSON lines to a file.
    case exportEvents
    /// A destructive command on a real cluster waits for its key again.
    case askConfirmation(Confirmation)
    /// A message for the status line (e.g. "select a backend first").
    case message(String)
    case redraw
    /// `R`: replays the kept history (the app has it); `endReplay` goes back to live.
    case startReplay
    case endReplay
    case replay(ReplayChange)

    /// The action's name for the status line.
    public var name: String {
        switch self {
        case .control(let c): DashboardAction.describe(c)
        case .quit: "quit"
        case .nextTheme: "next theme"
        case .toggleHelp: "help"
        case .focus(let p): "focus \(p.title.lowercased())"
        case .select(let p, let i): "select \(p.rawValue) row \(i.map { String($0 + 1) } ?? "none")"
        case .toggleBackendsView: "toggle per-balancer / merged view"
        case .nextBalancer: "next balancer"
        case .editFilter: "filter"
        case .applyFilter(let f): f.isEmpty ? "filter cleared" : "filter \(f)"
        case .clearFilter: "filter cleared"
        case .openDetail: "details"
        case .closeDetail: "details closed"
        case .scroll: "scroll"
        case .exportEvents: "save events"
        case .askConfirmation(let c): "confirm \(c.consequence)"
        case .message(let m): m
        case .redraw: "redraw"
        case .startReplay: "replay"
        case .endReplay: "live"
        case .replay(let c): "replay \(c)"
        }
    }

    public static func describe(_ c: ControlCommand) -> String {
        switch c {
        case .cluster(let cmd): cmd.text
        case .setTimeScale(let s): "time scale x\(formatScale(s))"
        case .setPaused(let p): p ? "pause" : "resume"
        }
    }
}

/// A change to a running replay.
public enum ReplayChange: Hashable, Sendable {
    case speed(Double)
    case togglePause
    /// Relative to the replay's position.
    case seek(TimeSpan)
    case restart
}

/// Formats a time scale: 0.25 -> "0.25", 2 -> "2", 0.0625 -> "1/16".
public func formatScale(_ s: Double) -> String {
    if s < 1, s > 0 {
        let inv = 1 / s
        if inv == inv.rounded(), inv > 4 { return "1/\(Int(inv))" }
    }
    return formatRate(s)
}

/// Maps keys to actions through `KeyMap`. Pure: the state and snapshot are only read; `now` is the
/// UI clock in microseconds (for a confirmation's 3 s).
public enum KeyHandler {
    public static let minTimeScale = 1.0 / 16
    public static let maxTimeScale = 16.0
    public static let minRate = 0.5
    /// How long a destructive command waits for its key to be pressed again.
    public static let confirmationWindow: Int64 = 3_000_000

    public static func handle(key: Key, state: DashboardState, snapshot s: ClusterSnapshot, now: Int64 = 0)
        -> [DashboardAction]
    {
        if key == .resize { return [.redraw] }
        let mode = state.mode
        guard let binding = KeyMap.binding(for: key, mode: mode, focus: state.focus) else {
            guard mode == .normal else { return [] }
            switch KeyMap.otherRowScopes(for: key, focus: state.focus).first {
            case .backendRow?: return [.message("that key acts on a backend row (Tab to Backends)")]
            case .balancerRow?: return [.message("that key acts on a balancer row (Tab to Balancers)")]
            default: return []
            }
        }
        if binding.needsVirtualTime && !s.source.canPause {
            return [
                .message(
                    "the \(s.source.name) cluster runs in real time (hadeck --simulate slows it down or pauses it)")
            ]
        }
        let actions = actions(for: binding.command, key: key, state: state, s)
        return actions.map { gate($0, key: key, state: state, s, now: now) }
    }

    /// What a command means now.
    static func actions(for command: KeyCommand, key: Key, state: DashboardState, _ s: ClusterSnapshot)
        -> [DashboardAction]
    {
        func cluster(_ c: ClusterCommand) -> [DashboardAction] { [.control(.cluster(c))] }
        switch command {
        case .quit: return [.quit]
        case .help, .closeHelp: return [.toggleHelp]
        case .redraw: return [.redraw]
        case .nextPanel: return [.focus(next(state.focus, by: 1))]
        case .previousPanel: return [.focus(next(state.focus, by: -1))]
        case .moveUp: return move(state, s, by: -1)
        case .moveDown: return move(state, s, by: 1)
        case .pageUp: return move(state, s, by: -10)
        case .pageDown: return move(state, s, by: 10)
        case .moveHome: return moveTo(state, s, 0)
        case .moveEnd: return moveTo(state, s, DashboardModel.rowCount(state.focus, s, state) - 1)
        case .openDetail: return openDetail(state, s)
        case .exportEvents: return [.exportEvents]
        case .filter: return [.editFilter(state.filter)]
        case .clearFilter: return state.filter.isEmpty ? [] : [.clearFilter]
        case .toggleView: return [.toggleBackendsView]
        case .nextBalancer: return [.nextBalancer]
        case .nextTheme: return [.nextTheme]
        case .pause: return [.control(.setPaused(!s.paused))]
        case .slower: return [.control(.setTimeScale(max(minTimeScale, s.timeScale / 2)))]
        case .faster: return [.control(.setTimeScale(min(maxTimeScale, s.timeScale * 2)))]
        case .traffic: return cluster(.traffic(enabled: !s.traffic.on, rate: nil, clients: nil))
        case .lessTraffic: return cluster(.traffic(enabled: nil, rate: max(minRate, s.traffic.rate / 2), clients: nil))
        case .moreTraffic: return cluster(.traffic(enabled: nil, rate: max(minRate, s.traffic.rate * 2), clients: nil))
        case .partition:
            if s.hosts.contains(where: { !$0.partitionedFrom.isEmpty }) { return cluster(.heal(nil, nil)) }
            guard s.hosts.count >= 2 else { return [.message("partition needs two balancers")] }
            return cluster(.partition(s.hosts[0].name, s.hosts[1].name))
        case .drain, .maint, .restoreServer, .killApp, .weight, .weightReset, .enableEverywhere, .disableEverywhere:
            return backendCommand(command, state, s)
        case .killHAProxy, .killKeepalived, .stopKeepalived, .power, .restoreHost:
            return balancerCommand(command, state, s)
        case .resetCluster: return reset(s)
        case .startReplay: return [.startReplay]
        case .endReplay: return [.endReplay]
        case .replaySlower:
            return [.replay(.speed(max(Replay.minSpeed, (state.replay?.speed ?? Replay.defaultSpeed) / 2)))]
        case .replayFaster:
            return [.replay(.speed(min(Replay.maxSpeed, (state.replay?.speed ?? Replay.defaultSpeed) * 2)))]
        case .replayPause: return [.replay(.togglePause)]
        case .replayBack: return [.replay(.seek(.seconds(-1)))]
        case .replayForward: return [.replay(.seek(.seconds(1)))]
        case .replayRestart: return [.replay(.restart)]
        case .liveOnly: return [.message("replay: commands act on the live cluster (R or Esc back to live first)")]
        case .applyFilter: return [.applyFilter(state.filterInput ?? "")]
        case .cancelFilter: return [.clearFilter]
        case .deleteFilterCharacter: return [.editFilter(String((state.filterInput ?? "").dropLast()))]
        case .typeFilterCharacter:
            guard case .char(let c) = key else { return [] }
            return [.editFilter((state.filterInput ?? "") + String(c))]
        case .closeDetail: return [.closeDetail]
        case .scrollUp: return [.scroll(-1)]
        case .scrollDown: return [.scroll(1)]
        case .scrollPageUp: return [.scroll(-10)]
        case .scrollPageDown: return [.scroll(10)]
        case .scrollHome: return [.scroll(Int.min)]
        }
    }

    static func next(_ p: Panel, by d: Int) -> Panel {
        let all = Panel.allCases
        let i = all.firstIndex(of: p)!
        return all[((i + d) % all.count + all.count) % all.count]
    }

    static func move(_ state: DashboardState, _ s: ClusterSnapshot, by d: Int) -> [DashboardAction] {
        let n = DashboardModel.rowCount(state.focus, s, state)
        guard n > 0 else { return [.select(state.focus, nil)] }
        guard let cur = DashboardModel.selectedIndex(state.focus, s, state) else {
            return [.select(state.focus, d > 0 ? 0 : n - 1)]
        }
        return [.select(state.focus, min(n - 1, max(0, cur + d)))]
    }

    static func moveTo(_ state: DashboardState, _ s: ClusterSnapshot, _ i: Int) -> [DashboardAction] {
        let n = DashboardModel.rowCount(state.focus, s, state)
        return [.select(state.focus, n > 0 ? min(n - 1, max(0, i)) : nil)]
    }

    static func openDetail(_ state: DashboardState, _ s: ClusterSnapshot) -> [DashboardAction] {
        guard let i = DashboardModel.selectedIndex(state.focus, s, state) else {
            return [.message("select a row first (arrows), then Enter")]
        }
        switch state.focus {
        case .balancers: return [.openDetail(.balancer(s.hosts[i].name))]
        case .backends:
            let r = DashboardModel.backendRows(s, state)[i].row
            return [.openDetail(.server(backend: r.backend, server: r.server))]
        case .requests: return [.openDetail(.request(DashboardModel.requests(s, state)[i]))]
        case .events: return [.openDetail(.event(s.events[i]))]
        }
    }

    static func backendCommand(_ command: KeyCommand, _ state: DashboardState, _ s: ClusterSnapshot)
        -> [DashboardAction]
    {
        let rows = DashboardModel.backendRows(s, state)
        guard let i = DashboardModel.selectedIndex(.backends, s, state) else {
            return [.message("select a backend first (arrows)")]
        }
        let server = rows[i].row.server
        let balancer = state.backendsView == .perBalancer ? rows[i].row.balancer : nil
        func weight(_ w: WeightChange) -> [DashboardAction] {
            [.control(.cluster(.setWeight(server: server, balancer: balancer, w)))]
        }
        func admin(_ a: AdminState, on b: String?) -> [DashboardAction] {
            [.control(.cluster(.setServerState(server: server, balancer: b, a)))]
        }
        switch command {
        case .drain: return admin(.drain, on: balancer)
        case .maint: return admin(.maint, on: balancer)
        case .restoreServer: return [.control(.cluster(.restore(server)))]
        case .killApp: return [.control(.cluster(.kill(.backend(server))))]
        case .weight(let d): return weight(.relative(d))
        case .weightReset: return weight(.reset)
        case .enableEverywhere: return admin(.ready, on: nil)
        case .disableEverywhere: return admin(.maint, on: nil)
        default: return []
        }
    }

    static func balancerCommand(_ command: KeyCommand, _ state: DashboardState, _ s: ClusterSnapshot)
        -> [DashboardAction]
    {
        guard let i = DashboardModel.selectedIndex(.balancers, s, state) else {
            return [.message("select a balancer first (arrows)")]
        }
        let h = s.hosts[i]
        switch command {
        case .killHAProxy: return [.control(.cluster(.kill(.process(host: h.name, .haproxy))))]
        case .killKeepalived: return [.control(.cluster(.kill(.process(host: h.name, .keepalived))))]
        case .stopKeepalived: return [.control(.cluster(.stop(.process(host: h.name, .keepalived))))]
        case .power: return [.control(.cluster(h.poweredOn ? .powerOff(host: h.name) : .powerOn(host: h.name)))]
        case .restoreHost: return [.control(.cluster(.restore(h.name)))]
        default: return []
        }
    }

    /// `X`: what brings the cluster back to a clean start, from what the snapshot shows is not: each
    /// balancer with something down restored (power, processes, link, partitions), each server whose
    /// app is down or that is not ready on some balancer restored, changed weights reset, traffic on.
    static func reset(_ s: ClusterSnapshot) -> [DashboardAction] {
        var commands: [ClusterCommand] = []
        for h in s.hosts
        where !h.poweredOn || h.haproxyPID == nil || h.keepalivedPID == nil || !h.linkUp || !h.partitionedFrom.isEmpty {
            commands.append(.restore(h.name))
        }
        // Each server once, in order; any balancer's row can say it is not clean.
        var servers: [String] = []
        var seen: Set<String> = []
        var down: Set<String> = []
        var weighted: Set<String> = []
        for r in s.servers {
            if seen.insert(r.server).inserted { servers.append(r.server) }
            if r.appRunning == false || r.adminState != .ready { down.insert(r.server) }
            if r.weight != r.initialWeight { weighted.insert(r.server) }
        }
        commands += servers.filter(down.contains).map { .restore($0) }
        commands += servers.filter(weighted.contains).map { .setWeight(server: $0, balancer: nil, .reset) }
        if !s.traffic.on { commands.append(.traffic(enabled: true, rate: nil, clients: nil)) }
        guard !commands.isEmpty else {
            return [.message("nothing to reset: every balancer and server runs, traffic is on")]
        }
        return commands.map { .control(.cluster($0)) }
    }

    /// A cluster command on a source that takes none is a message; a destructive one on a source
    /// that wants confirmation is sent only on the second press of its key within 3 s.
    static func gate(_ action: DashboardAction, key: Key, state: DashboardState, _ s: ClusterSnapshot, now: Int64)
        -> DashboardAction
    {
        guard case .control(.cluster(let command)) = action else { return action }
        if !s.source.acceptsCommands {
            return .message("read-only: the \(s.source.name) cluster takes no commands ('\(command.text)' not sent)")
        }
        guard s.source.confirmsDestructive, let consequence = consequence(of: command) else { return action }
        if let asked = state.confirmation, asked.key == key, asked.command == command, now <= asked.expires {
            return action
        }
        return .askConfirmation(
            Confirmation(key: key, command: command, consequence: consequence, expires: now + confirmationWindow))
    }

    /// What a destructive command does, in words (nil for one that is not destructive).
    public static func consequence(of command: ClusterCommand) -> String? {
        switch command {
        case .kill(.process(let host, let p)): "kill -9 \(host)'s \(p.rawValue)"
        case .kill(.backend(let server)): "kill \(server)'s app"
        case .stop(.process(let host, let p)): "stop \(host)'s \(p.rawValue)"
        case .stop(.backend(let server)): "stop \(server)'s app"
        case .powerOff(let host): "power off \(host)"
        case .setServerState(let server, let balancer, .maint):
            "put \(server) in maintenance on \(balancer ?? "every balancer")"
        default: nil
        }
    }
}
