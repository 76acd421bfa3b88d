import BalancerCore
import ClusterModel
import HadeckBase
import Synchronization

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

/// What a selected row is, by identity: the selection stays on it when rows reorder or new
/// requests arrive (as htop follows a pid, not a line).
public enum RowID: Hashable, Sendable {
    case balancer(String)
    case server(backend: String, server: String)
    case request(RequestRecord)
    case event(ClusterEvent)
}

/// A panel's selection: the row's identity, and where it was last seen (where the selection
/// stays when the row itself is gone, as htop does when the selected process ends).
public struct Selection: Hashable, Sendable {
    public var id: RowID
    public var index: Int
}

/// What a detail view shows. Events and requests are kept as they were when the view opened (they
/// may leave the bounded history meanwhile); servers and balancers show their current state.
public enum DetailTarget: Hashable, Sendable {
    case event(ClusterEvent)
    case request(RequestRecord)
    case server(backend: String, server: String)
    case balancer(String)
}

/// A destructive command on a real cluster, waiting for its key to be pressed again.
public struct Confirmation: Hashable, Sendable {
    public var key: Key
    public var command: ClusterCommand
    /// `kill -9 lb1's haproxy`: what the status bar asks about.
    public var consequence: String
    /// The UI clock (microseconds) after which the first press no longer counts.
    public var expires: Int64
}

/// What the dashboard itself remembers between frames (never the cluster's state).
public struct DashboardState: Hashable, Sendable {
    public var focus: Panel = .backends
    /// The selected row per panel (none: the balancers and backends panels show their first row,
    /// the lists nothing).
    public var selection: [Panel: Selection] = [:]
    public var backendsView: BackendsView = .merged
    /// Which balancer the per-balancer view shows (index into `DashboardModel.balancerNames`).
    public var balancerIndex = 0
    public var showHelp = false
    /// How far the help is scrolled (lines).
    public var helpScroll = 0
    /// The requests filter in force (matches client or server, case-insensitive); empty: none.
    public var filter = ""
    /// The filter being typed after `/`; nil when not typing.
    public var filterInput: String? = nil
    /// The detail view open, if any, and how far it is scrolled.
    public var detail: DetailTarget? = nil
    public var detailScroll = 0
    /// A destructive command waiting for its second key press.
    public var confirmation: Confirmation? = nil
    /// Commands sent and not answered yet, oldest first (their names).
    public var pending: [String] = []
    /// The status line: the last command's result or error.
    public var status: String? = nil
    public var statusIsError = false
    /// The theme's name, for the status/help line.
    public var themeName = "dark"
    /// While an instant replay runs: what its banner shows (the app keeps the frames).
    public var replay: ReplayStatus? = nil

    public init() {}

    /// Which keys are in force: typing a filter, then the help, then a detail view, then a replay,
    /// else the panels.
    public var mode: KeyMode {
        if filterInput != nil { return .filterInput }
        if showHelp { return .help }
        if detail != nil { return .detail }
        if replay != nil { return .replay }
        return .normal
    }

    /// Selects row `index` of a panel whose row has identity `id`.
    public mutating func select(_ panel: Panel, _ id: RowID?, at index: Int) {
        selection[panel] = id.map { Selection(id: $0, index: index) }
    }
}

/// Rows the panels show, derived from a snapshot and the UI state; shared by the renderer and the keys,
/// so a selection means the same row to both.
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

        public var id: RowID { .server(backend: row.backend, server: row.server) }
    }

    public static func backendRows(_ s: ClusterSnapshot, _ state: DashboardState) -> BackendRows {
        switch state.backendsView {
        case .perBalancer:
            guard let b = currentBalancer(s, state) else { return BackendRows(rows: []) }
            return BackendRows(s.servers, balancer: b)
        case .merged:
            return BackendRows(s.servers, preferred: s.arp.owner ?? s.masters.first?.name)
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
        case .requests: state.filter.isEmpty ? s.requests.count : requests(s, state).count
        case .events: s.events.count
        }
    }

    /// The selected row of a panel: where its selected row is now, or the row in its place when
    /// it is gone. The balancers and backends panels start on their first row, so `d`, `k` and `r`
    /// act at once; lists that scroll (requests, events) start unselected.
    public static func selectedIndex(_ panel: Panel, _ s: ClusterSnapshot, _ state: DashboardState) -> Int? {
        switch panel {
        case .balancers:
            return selectedIndex(panel, in: s.hosts.count, state) { id in
                s.hosts.firstIndex { .balancer($0.name) == id }
            }
        case .backends:
            let rows = backendRows(s, state)
            return selectedIndex(panel, in: rows.count, state) { id in
                guard case .server(let backend, let server) = id else { return nil }
                return rows.index(backend: backend, server: server)
            }
        case .requests:
            let list = requests(s, state)
            return selectedIndex(panel, in: list.count, state) { id in list.firstIndex { .request($0) == id } }
        case .events:
            return selectedIndex(panel, in: s.events.count, state) { id in s.events.firstIndex { .event($0) == id } }
        }
    }

    /// The same, for a caller that has the rows: `find` gives the index of an identity among them.
    public static func selectedIndex(
        _ panel: Panel, in count: Int, _ state: DashboardState, find: (RowID) -> Int?
    ) -> Int? {
        guard count > 0 else { return nil }
        guard let sel = state.selection[panel] else {
            return panel == .balancers || panel == .backends ? 0 : nil
        }
        if let i = find(sel.id) { return i }
        return min(max(0, sel.index), count - 1)
    }

    /// The colour of each jvmRoute, in order of first appearance (route N gets theme role
    /// jvm(N mod 6 + 1)), and of each server (its route's). One pass over each server once.
    ///
    /// The answer only changes when the servers' names or routes do, rarely; making its two
    /// dictionaries was a third of a frame with a thousand servers. So the last answer is kept with
    /// the names and routes it was made from, and given again while they are the same.
    public static func routeColours(_ s: ClusterSnapshot) -> (routes: [String: ThemeRole], servers: [String: ThemeRole])
    {
        let rows = BackendRows.blocks(s.servers).map { s.servers[0..<$0.0] } ?? s.servers[...]
        if let kept = RouteColours.last.withLock({ $0.flatMap { $0.madeFrom(rows) ? $0 : nil } }) {
            return (kept.routes, kept.servers)
        }
        let made = RouteColours(rows)
        RouteColours.last.withLock { $0 = made }
        return (made.routes, made.servers)
    }
}

/// `DashboardModel.routeColours`'s answer, with the server names and routes it was made from.
struct RouteColours: Sendable {
    var names: [String]
    var jvmRoutes: [String?]
    var routes: [String: ThemeRole] = [:]
    var servers: [String: ThemeRole] = [:]

    /// The last answer (frames of one dashboard ask with the same servers).
    static let last = Mutex<RouteColours?>(nil)

    init(_ rows: ArraySlice<ServerRow>) {
        names = rows.map(\.server)
        jvmRoutes = rows.map(\.jvmRoute)
        var next = 0
        for r in rows {
            guard let j = r.jvmRoute else { continue }
            if let role = routes[j] {
                if servers[r.server] == nil { servers[r.server] = role }
                continue
            }
            let role = ThemeRole.routes[next % ThemeRole.routes.count]
            routes[j] = role
            servers[r.server] = servers[r.server] ?? role
            next += 1
        }
    }

    /// Whether `rows` have the names and routes this was made from, in the same order.
    func madeFrom(_ rows: ArraySlice<ServerRow>) -> Bool {
        guard rows.count == names.count else { return false }
        var k = 0
        for i in rows.indices {
            guard rows[i].server == names[k], rows[i].jvmRoute == jvmRoutes[k] else { return false }
            k += 1
        }
        return true
    }
}

extension DashboardModel {
    /// The identity of row `i` of a panel, if there is such a row.
    public static func rowID(_ panel: Panel, _ i: Int, _ s: ClusterSnapshot, _ state: DashboardState) -> RowID? {
        guard i >= 0 else { return nil }
        switch panel {
        case .balancers: return i < s.hosts.count ? .balancer(s.hosts[i].name) : nil
        case .backends:
            let rows = backendRows(s, state)
            return i < rows.count ? rows[i].id : nil
        case .requests:
            let list = requests(s, state)
            return i < list.count ? .request(list[i]) : nil
        case .events: return i < s.events.count ? .event(s.events[i]) : nil
        }
    }
}

extension DashboardState {
    /// Applies a UI action (`control`, `quit`, `nextTheme`, `exportEvents` are the app's business;
    /// here they only end a confirmation).
    public mutating func apply(_ action: DashboardAction, snapshot s: ClusterSnapshot) {
        if case .askConfirmation(let c) = action {
            confirmation = c
            status = nil
            return
        }
        // Any other key ends a confirmation that was asked for.
        confirmation = nil
        switch action {
        case .control, .quit, .nextTheme, .redraw, .exportEvents, .askConfirmation, .startReplay, .endReplay, .replay:
            break
        case .toggleHelp:
            showHelp.toggle()
            helpScroll = 0
        case .focus(let p):
            focus = p
            if selection[p] == nil, p == .balancers || p == .backends {
                // Start on the first row, by identity: it stays selected when rows reorder.
                select(p, DashboardModel.rowID(p, 0, s, self), at: 0)
            }
        case .select(let p, let i):
            select(p, i.flatMap { DashboardModel.rowID(p, $0, s, self) }, at: i ?? 0)
        case .toggleBackendsView:
            backendsView = backendsView == .merged ? .perBalancer : .merged
        case .nextBalancer:
            balancerIndex = (balancerIndex + 1) % max(1, DashboardModel.balancerNames(s).count)
            if backendsView == .merged { backendsView = .perBalancer }
        case .editFilter(let t): filterInput = t
        case .applyFilter(let f):
            filter = f
            filterInput = nil
            selection[.requests] = nil
        case .clearFilter:
            filter = ""
            filterInput = nil
            selection[.requests] = nil
        case .openDetail(let target):
            detail = target
            detailScroll = 0
        case .closeDetail:
            detail = nil
            detailScroll = 0
        case .scroll(let d):
            func moved(_ v: Int) -> Int { d == Int.min ? 0 : max(0, v + d) }
            if showHelp { helpScroll = moved(helpScroll) } else { detailScroll = moved(detailScroll) }
        case .message(let m):
            status = m
            statusIsError = false
        }
    }
}

/// The backends panel's rows. Sources list each balancer's servers as a block, in the same order:
/// then a row is made only when asked for (the panel asks for the rows on screen alone, which
/// matters with thousands of servers); otherwise the rows are built once, grouped by server.
public struct BackendRows: RandomAccessCollection, Sendable {
    enum Storage: Sendable {
        /// `blocks` balancers' rows of `width` servers each, in the same server order. `shown` is the
        /// block whose row a merged row shows; `only` restricts to one block (per-balancer view).
        case blocks(servers: [ServerRow], width: Int, blocks: Int, shown: Int, only: Int?)
        case rows([DashboardModel.BackendRow])
    }

    let storage: Storage
    public let endIndex: Int
    public var startIndex: Int { 0 }

    private init(_ storage: Storage, count: Int) {
        self.storage = storage
        endIndex = count
    }

    init(rows: [DashboardModel.BackendRow]) { self.init(.rows(rows), count: rows.count) }

    /// Merged: one row per (backend, server), showing `preferred`'s row where it has one.
    init(_ servers: [ServerRow], preferred: String?) {
        if let (width, names) = Self.blocks(servers) {
            let shown = preferred.flatMap { names.firstIndex(of: $0) } ?? 0
            self.init(
                .blocks(servers: servers, width: width, blocks: names.count, shown: shown, only: nil), count: width)
            return
        }
        var rows: [DashboardModel.BackendRow] = []
        var index: [String: Int] = [:]
        for r in servers {
            let key = r.backend + "/" + r.server
            if let k = index[key] {
                rows[k].all.append(r)
            } else {
                index[key] = rows.count
                rows.append(DashboardModel.BackendRow(row: r, all: [r]))
            }
        }
        if let preferred {
            for k in rows.indices where rows[k].row.balancer != preferred {
                if let shown = rows[k].all.first(where: { $0.balancer == preferred }) { rows[k].row = shown }
            }
        }
        self.init(rows: rows)
    }

    /// Per balancer: that balancer's rows.
    init(_ servers: [ServerRow], balancer: String) {
        if let (width, names) = Self.blocks(servers), let k = names.firstIndex(of: balancer) {
            self.init(.blocks(servers: servers, width: width, blocks: names.count, shown: k, only: k), count: width)
            return
        }
        self.init(
            rows: servers.filter { $0.balancer == balancer }.map { DashboardModel.BackendRow(row: $0, all: [$0]) })
    }

    /// The block width and the balancers in order, when the servers come in equal blocks, one per
    /// balancer, listing the same servers in the same order.
    static func blocks(_ servers: [ServerRow]) -> (Int, [String])? {
        guard let first = servers.first?.balancer else { return nil }
        var width = 0
        while width < servers.count && servers[width].balancer == first { width += 1 }
        guard servers.count % width == 0 else { return nil }
        var names = [first]
        var start = width
        while start < servers.count {
            let name = servers[start].balancer
            guard !names.contains(name) else { return nil }
            for i in 0..<width {
                let r = servers[start + i]
                let f = servers[i]
                guard r.balancer == name, r.server == f.server, r.backend == f.backend else { return nil }
            }
            names.append(name)
            start += width
        }
        return (width, names)
    }

    public subscript(i: Int) -> DashboardModel.BackendRow {
        switch storage {
        case .rows(let rows): return rows[i]
        case .blocks(let servers, let width, let blocks, let shown, let only):
            if let only {
                let r = servers[only * width + i]
                return DashboardModel.BackendRow(row: r, all: [r])
            }
            return DashboardModel.BackendRow(
                row: servers[shown * width + i], all: (0..<blocks).map { servers[$0 * width + i] })
        }
    }

    /// Where the row of (backend, server) is, without making the rows.
    public func index(backend: String, server: String) -> Int? {
        switch storage {
        case .rows(let rows): return rows.firstIndex { $0.row.server == server && $0.row.backend == backend }
        case .blocks(let servers, let width, _, _, _):
            return (0..<width).first { servers[$0].server == server && servers[$0].backend == backend }
        }
    }

    /// Each server once (its first balancer's row): what is the same on every balancer, its route.
    var distinctServers: [ServerRow] {
        switch storage {
        case .rows(let rows): return rows.map(\.row)
        case .blocks(let servers, let width, _, _, _): return Array(servers[0..<width])
        }
    }
}
