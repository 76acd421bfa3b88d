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
    /// Sent to the source with `perform`.
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
    /// A message for the status line (e.g. "select a backend first").
    case message(String)
    case redraw

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
        case .message(let m): m
        case .redraw: "redraw"
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

/// Formats a time scale: 0.25 -> "0.25", 2 -> "2", 0.0625 -> "1/16".
public func formatScale(_ s: Double) -> String {
    if s < 1, s > 0 {
        let inv = 1 / s
        if inv == inv.rounded(), inv > 4 { return "1/\(Int(inv))" }
    }
    return formatRate(s)
}

/// Maps keys to actions. Pure: the state and snapshot are only read.
public enum KeyHandler {
    public static let minTimeScale = 1.0 / 16
    public static let maxTimeScale = 16.0
    public static let minRate = 0.5

    public static func handle(key: Key, state: DashboardState, snapshot s: ClusterSnapshot) -> [DashboardAction] {
        // Typing a filter: keys edit the input line.
        if let input = state.filterInput {
            switch key {
            case .enter: return [.applyFilter(input)]
            case .escape: return [.clearFilter]
            case .backspace: return [.editFilter(String(input.dropLast()))]
            case .char(let c) where !(c.asciiValue.map { $0 < 0x20 || $0 == 0x7f } ?? false):
                return [.editFilter(input + String(c))]
            case .resize: return [.redraw]
            default: return []
            }
        }
        if state.showHelp {
            switch key {
            case .char("q"): return [.quit]
            case .resize: return [.redraw]
            default: return [.toggleHelp]  // any key closes the help
            }
        }
        switch key {
        case .resize: return [.redraw]
        case .char("\u{0C}"): return [.redraw]
        case .char("q"): return [.quit]
        case .char("?"): return [.toggleHelp]
        case .function(1) where state.focus != .backends: return [.toggleHelp]
        case .char("T"): return [.nextTheme]
        case .tab, .right: return [.focus(next(state.focus, by: 1))]
        case .backTab, .left: return [.focus(next(state.focus, by: -1))]
        case .up: return move(state, s, by: -1)
        case .down: return move(state, s, by: 1)
        case .pageUp: return move(state, s, by: -10)
        case .pageDown: return move(state, s, by: 10)
        case .home: return moveTo(state, s, 0)
        case .end: return moveTo(state, s, DashboardModel.rowCount(state.focus, s, state) - 1)
        case .char("/"): return [.editFilter(state.filter)]
        case .escape: return state.filter.isEmpty ? [] : [.clearFilter]
        case .char("v"): return [.toggleBackendsView]
        case .char("b"): return [.nextBalancer]
        case .char(" "): return [.control(.setPaused(!s.paused))]
        case .char("<"): return [.control(.setTimeScale(max(minTimeScale, s.timeScale / 2)))]
        case .char(">"): return [.control(.setTimeScale(min(maxTimeScale, s.timeScale * 2)))]
        case .char("t"): return [.control(.cluster(.traffic(enabled: !s.traffic.on, rate: nil, clients: nil)))]
        case .char("["):
            return [.control(.cluster(.traffic(enabled: nil, rate: max(minRate, s.traffic.rate / 2), clients: nil)))]
        case .char("]"):
            return [.control(.cluster(.traffic(enabled: nil, rate: max(minRate, s.traffic.rate * 2), clients: nil)))]
        case .char("P"):
            if s.hosts.contains(where: { !$0.partitionedFrom.isEmpty }) { return [.control(.cluster(.heal(nil, nil)))] }
            guard s.hosts.count >= 2 else { return [.message("partition needs two balancers")] }
            return [.control(.cluster(.partition(s.hosts[0].name, s.hosts[1].name)))]
        default: break
        }
        switch state.focus {
        case .backends: return backendKey(key, state, s)
        case .balancers: return balancerKey(key, state, s)
        case .requests, .events:
            if isSelectionCommand(key) {
                return [.message("select a backend or a balancer first (Tab to its panel, arrows to a row)")]
            }
            return []
        }
    }

    static func isSelectionCommand(_ key: Key) -> Bool {
        switch key {
        case .char(let c): return "dkrmK+-sp".contains(c)
        case .function(let n): return [1, 2, 4, 5, 6, 7, 8].contains(n)
        default: return false
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

    static func backendKey(_ key: Key, _ state: DashboardState, _ s: ClusterSnapshot) -> [DashboardAction] {
        guard isSelectionCommand(key) else { return [] }
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
        switch key {
        case .char("d"): return admin(.drain, on: balancer)
        case .char("m"): return admin(.maint, on: balancer)
        case .char("r"): return [.control(.cluster(.restore(server)))]
        case .char("k"): return [.control(.cluster(.kill(.backend(server))))]
        case .char("+"): return weight(.relative(1))
        case .char("-"): return weight(.relative(-1))
        case .function(1): return admin(.ready, on: nil)
        case .function(2): return admin(.maint, on: nil)
        case .function(4): return weight(.reset)
        case .function(5): return weight(.relative(-10))
        case .function(6): return weight(.relative(-1))
        case .function(7): return weight(.relative(1))
        case .function(8): return weight(.relative(10))
        default: return [.message("that key acts on a balancer row (Tab to Balancers)")]
        }
    }

    static func balancerKey(_ key: Key, _ state: DashboardState, _ s: ClusterSnapshot) -> [DashboardAction] {
        guard isSelectionCommand(key) else { return [] }
        guard let i = DashboardModel.selectedIndex(.balancers, s, state) else {
            return [.message("select a balancer first (arrows)")]
        }
        let h = s.hosts[i]
        switch key {
        case .char("k"): return [.control(.cluster(.kill(.process(host: h.name, .haproxy))))]
        case .char("K"): return [.control(.cluster(.kill(.process(host: h.name, .keepalived))))]
        case .char("s"): return [.control(.cluster(.stop(.process(host: h.name, .keepalived))))]
        case .char("p"): return [.control(.cluster(h.poweredOn ? .powerOff(host: h.name) : .powerOn(host: h.name)))]
        case .char("r"): return [.control(.cluster(.restore(h.name)))]
        default: return [.message("that key acts on a backend row (Tab to Backends)")]
        }
    }
}

extension DashboardState {
    /// Applies a UI action (`control` and `quit` are the app's business and change nothing here).
    public mutating func apply(_ action: DashboardAction, snapshot s: ClusterSnapshot) {
        switch action {
        case .control, .quit, .nextTheme, .redraw: break
        case .toggleHelp: showHelp.toggle()
        case .focus(let p):
            focus = p
            if selection[p] == nil, DashboardModel.rowCount(p, s, self) > 0, p == .balancers || p == .backends {
                selection[p] = 0
            }
        case .select(let p, let i): selection[p] = i
        case .toggleBackendsView:
            backendsView = backendsView == .merged ? .perBalancer : .merged
            clampSelection(.backends, s)
        case .nextBalancer:
            balancerIndex = (balancerIndex + 1) % max(1, DashboardModel.balancerNames(s).count)
            if backendsView == .merged { backendsView = .perBalancer }
            clampSelection(.backends, s)
        case .editFilter(let t): filterInput = t
        case .applyFilter(let f):
            filter = f
            filterInput = nil
            selection[.requests] = nil
        case .clearFilter:
            filter = ""
            filterInput = nil
            selection[.requests] = nil
        case .message(let m):
            status = m
            statusIsError = false
        }
    }

    mutating func clampSelection(_ p: Panel, _ s: ClusterSnapshot) {
        let n = DashboardModel.rowCount(p, s, self)
        if let i = selection[p] { selection[p] = n == 0 ? nil : min(i, n - 1) }
    }
}
