import BalancerCore
import HadeckBase

/// A backend as one frontend's requests reach it: the core's `Backend`, the settings that come
/// from the frontend and the backend together, and the counters those requests feed.
final class BackendRoute {
    let name: String
    let backend: Backend
    let config: BackendConfig
    /// `option forwardfor` on either side; keep-alive unless either side closes (`option httpclose`...).
    let forwardfor: Bool
    let keepAlive: Bool
    let serverTimeout: TimeSpan?
    let connectTimeout: TimeSpan
    let counters: RequestCounters

    init(
        name: String, backend: Backend, frontend fe: FrontendConfig, defaultConnectTimeout: TimeSpan,
        counters: RequestCounters
    ) {
        self.name = name
        self.backend = backend
        self.config = backend.config
        self.forwardfor = fe.forwardfor || config.forwardfor
        self.keepAlive = fe.httpKeepAlive && config.httpKeepAlive
        self.serverTimeout = config.timeouts.server
        self.connectTimeout = config.timeouts.connect ?? defaultConnectTimeout
        self.counters = counters
    }
}

/// One frontend as its client connections see it: its timeouts, stats page and where its requests go.
final class FrontendRuntime {
    let config: FrontendConfig
    var name: String { config.name }
    /// `timeout http-request`: for the first request of a connection.
    let httpRequestTimeout: TimeSpan?
    /// Between two requests of a keep-alive connection (`timeout http-keep-alive`, else http-request).
    let keepAliveTimeout: TimeSpan?
    let clientTimeout: TimeSpan?
    /// The counters of requests that reach no backend (bad requests, the stats page).
    let counters: RequestCounters
    /// The stats page this frontend answers itself (its own `stats enable`, or its default backend's).
    let statsPage: StatsPageConfig?
    /// `default_backend` (or the `listen` section itself).
    let defaultRoute: BackendRoute?
    /// The stats page's URI when there is one (what the hot path reads: no copy of the whole page configuration).
    let localURI: String?
    /// The frontend's routing rules (`acl`, `use_backend`, `http-request`, `redirect`,
    /// `http-response`, and the chosen backend's own `http-request` and `http-response` rules),
    /// compiled once. Nil when every request goes to `default_backend` as it came: the hot path then
    /// builds no request facts and evaluates nothing.
    let router: RequestRouter?
    /// The backends the rules may choose, by name (dynamic `use_backend` names included).
    let routes: [String: BackendRoute]
    /// Some `http-response` rule may apply (the frontend's or a backend's): response heads are read for it.
    let hasResponseRules: Bool

    init(
        config: FrontendConfig, defaultRoute: BackendRoute?, counters: RequestCounters, router: RequestRouter? = nil,
        routes: [String: BackendRoute] = [:], hasResponseRules: Bool = false
    ) {
        self.config = config
        self.defaultRoute = defaultRoute
        self.counters = defaultRoute?.counters ?? counters
        self.router = router
        self.routes = routes
        self.hasResponseRules = hasResponseRules
        httpRequestTimeout = config.timeouts.httpRequest
        keepAliveTimeout = config.timeouts.httpKeepAlive ?? config.timeouts.httpRequest
        clientTimeout = config.timeouts.client
        if config.stats.enabled {
            statsPage = config.stats
        } else if let stats = defaultRoute?.config.stats, stats.enabled {
            statsPage = stats
        } else {
            statsPage = nil
        }
        localURI = statsPage?.uri
    }

    /// Whether the frontend keeps client connections open between requests, before a backend is chosen.
    var keepAlive: Bool { config.httpKeepAlive && (defaultRoute?.keepAlive ?? true) }
}

/// Every frontend of a balancer, in configuration order.
struct FrontendTable {
    private(set) var byName: [String: FrontendRuntime] = [:]
    private(set) var order: [String] = []

    init(
        config: HAProxyConfig, backends: [(name: String, backend: Backend)], statistics: BalancerStatistics,
        defaultConnectTimeout: TimeSpan
    ) {
        for fe in config.frontends where byName[fe.name] == nil {
            func route(_ b: (name: String, backend: Backend)) -> BackendRoute {
                BackendRoute(
                    name: b.name, backend: b.backend, frontend: fe, defaultConnectTimeout: defaultConnectTimeout,
                    counters: statistics.requestCounters(frontend: fe.name, backend: b.name))
            }
            let defaultRoute = fe.defaultBackend.flatMap { name in backends.first { $0.name == name } }.map(route)
            // Rules matter when the frontend has some, or when a backend it reaches has its own.
            let reachable: [BackendConfig] =
                fe.rules.switching.isEmpty
                ? config.backends.filter { $0.name == fe.defaultBackend && $0.name != fe.name } : config.backends
            let backendRules = reachable.contains { !$0.rules.isEmpty && $0.name != fe.name }
            guard !fe.rules.isEmpty || backendRules else {
                byName[fe.name] = FrontendRuntime(
                    config: fe, defaultRoute: defaultRoute,
                    counters: statistics.requestCounters(frontend: fe.name, backend: nil))
                order.append(fe.name)
                continue
            }
            var routes: [String: BackendRoute] = [:]
            for b in backends where routes[b.name] == nil {
                routes[b.name] = b.name == defaultRoute?.name ? defaultRoute : route(b)
            }
            let hasResponseRules =
                !fe.rules.httpResponse.isEmpty
                || reachable.contains { !$0.rules.httpResponse.isEmpty && $0.name != fe.name }
            byName[fe.name] = FrontendRuntime(
                config: fe, defaultRoute: defaultRoute,
                counters: statistics.requestCounters(frontend: fe.name, backend: nil),
                router: RequestRouter(frontend: fe, backends: config.backends), routes: routes,
                hasResponseRules: hasResponseRules)
            order.append(fe.name)
        }
    }

    subscript(_ name: String) -> FrontendRuntime? { byName[name] }
}
