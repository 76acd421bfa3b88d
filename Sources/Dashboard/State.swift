import BalancerCore
import ClusterModel
import HadeckBase

/// The panels that can have the keyboard, in `Tab` order.
public enum Panel: String, CaseIterable, Hashable, Sendable {
    case balancers, backends, requests, events

    public var title: String {
        switch self {
        case .balancers: "Balancers"
        case .backends: "Backends"
        case .requests: "Requests"
        case .events: "Events"
        }
    }
}

/// How the backends panel lists servers.
public enum BackendsView: String, Hashable, Sendable {
    /// One row per server as one balancer (chosen with `b`) sees it; commands name that balancer.
    case perBalancer
    /// One row per server, all balancers together; commands apply to every balancer.
    case merged
}

/// What the dashboard itself remembers between frames (never the cluster's state).
public struct DashboardState: Hashable, Sendable {
    public var focus: Panel = .backends
    /// Selected row per panel (nil: nothing selected).
    public var selection: [Panel: Int] = [:]
    public var backendsView: BackendsView = .merged
    /// Which balancer the per-balancer view shows (index into `DashboardModel.balancerNames`).
    public var balancerIndex = 0
    public var showHelp = false
    /// The requests filter in force (matches client or server, case-insensitive); empty: none.
    public var filter = ""
    /// The filter being typed after `/`; nil when not typing.
    public var filterInput: String? = nil
    /// The status line: the last command's result or error.
    public var status: String? = nil
    public var statusIsError = false
    /// The theme's name, for the status/help line.
    public var themeName = "dark"

    public init() {}

    public func selected(_ panel: Panel) -> Int? { selection[panel] }
}

/// Rows the panels show, derived from a snapshot and the UI state; shared by the renderer and the keys,
/// so a selection index means the same row to both.
public enum DashboardModel {
    /// Balancer names: the hosts in order, then any balancer only the server rows mention.
    public static func balancerNames(_ s: ClusterSnapshot) -> [String] {
        var names = s.hosts.map(\.name)
        for row in s.servers where !names.contains(row.balancer) { names.append(row.balancer) }
        return names
    }

    /// The balancer the per-balancer view shows.
    public static func currentBalancer(_ s: ClusterSnapshot, _ state: DashboardState) -> String? {
        let names = balancerNames(s)
        guard !names.isEmpty else { return nil }
        return names[((state.balancerIndex % names.count) + names.count) % names.count]
    }

    /// One backends-panel row: a server, with every balancer's view of it in merged mode.
    public struct BackendRow: Hashable, Sendable {
        /// The row shown (in merged mode, the row of the balancer that holds the VIP when there is one).
        public var row: ServerRow
        /// All balancers' rows for this server (one in per-balancer mode).
        public var all: [ServerRow]
    }

    public static func backendRows(_ s: ClusterSnapshot, _ state: DashboardState) -> [BackendRow] {
        switch state.backendsView {
        case .perBalancer:
            guard let b = currentBalancer(s, state) else { return [] }
            return s.servers.filter { $0.balancer == b }.map { BackendRow(row: $0, all: [$0]) }
        case .merged:
            var order: [String] = []
            var groups: [String: [ServerRow]] = [:]
            for r in s.servers {
                let key = r.backend + "/" + r.server
                if groups[key] == nil { order.append(key) }
                groups[key, default: []].append(r)
            }
            let preferred = s.arp.owner ?? s.masters.first?.name
            return order.map { key in
                let rows = groups[key]!
                let shown = rows.first { $0.balancer == preferred } ?? rows[0]
                return BackendRow(row: shown, all: rows)
            }
        }
    }

    /// The requests the panel lists, after the `/` filter.
    public static func requests(_ s: ClusterSnapshot, _ state: DashboardState) -> [RequestRecord] {
        let f = state.filter.lowercased()
        guard !f.isEmpty else { return s.requests }
        return s.requests.filter {
            $0.client.lowercased().contains(f) || ($0.server?.lowercased().contains(f) ?? false)
        }
    }

    public static func rowCount(_ panel: Panel, _ s: ClusterSnapshot, _ state: DashboardState) -> Int {
        switch panel {
        case .balancers: s.hosts.count
        case .backends: backendRows(s, state).count
        case .requests: requests(s, state).count
        case .events: s.events.count
        }
    }

    /// The selected row of a panel, if it exists. The balancers and backends panels start on their
    /// first row, so `d`, `k` and `r` act at once; lists that scroll (requests, events) start unselected.
    public static func selectedIndex(_ panel: Panel, _ s: ClusterSnapshot, _ state: DashboardState) -> Int? {
        selectedIndex(panel, rowCount: rowCount(panel, s, state), state)
    }

    /// The same, for a caller that already knows how many rows the panel has.
    public static func selectedIndex(_ panel: Panel, rowCount: Int, _ state: DashboardState) -> Int? {
        let defaultRow: Int? = (panel == .balancers || panel == .backends) ? 0 : nil
        guard let i = state.selection[panel] ?? defaultRow, i >= 0, i < rowCount else { return nil }
        return i
    }

    /// The jvmRoutes in order of first appearance; route N gets theme role jvm(N mod 6 + 1).
    public static func routeRole(_ route: String?, _ s: ClusterSnapshot) -> ThemeRole? {
        guard let route else { return nil }
        return routeRoles(s)[route]
    }

    /// Every jvmRoute's colour role, computed in one pass (a renderer asks for it once per frame).
    public static func routeRoles(_ s: ClusterSnapshot) -> [String: ThemeRole] {
        var roles: [String: ThemeRole] = [:]
        var next = 0
        for r in s.servers {
            guard let j = r.jvmRoute, roles[j] == nil else { continue }
            roles[j] = ThemeRole.routes[next % ThemeRole.routes.count]
            next += 1
        }
        return roles
    }

    /// The route colour of a server name.
    public static func serverRole(_ server: String?, _ s: ClusterSnapshot) -> ThemeRole? {
        guard let server else { return nil }
        return routeRole(s.servers.first { $0.server == server }?.jvmRoute, s)
    }
}
