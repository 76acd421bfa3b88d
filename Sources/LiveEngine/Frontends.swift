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

    init(config: FrontendConfig, defaultRoute: BackendRoute?, counters: RequestCounters) {
        self.config = config
        self.defaultRoute = defaultRoute
        self.counters = defaultRoute?.counters ?? counters
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

    /// The backend a request goes to. The one place that decides it: `default_backend` today;
    /// `use_backend` rules (with their `acl`s and `http-request` lines) belong here.
    @inline(__always)
    func route(for request: RequestFacts) -> BackendRoute? { defaultRoute }
}

/// What a frontend may look at to choose a backend. Today's only rule (`default_backend`) needs
/// nothing; the change that brings `use_backend` adds what its ACLs read (path, Host...) here, so the
/// hot path computes only what some rule uses.
struct RequestFacts {
    var method: String
    var clientIP: String
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
            let route = fe.defaultBackend.flatMap { name in backends.first { $0.name == name } }.map {
                BackendRoute(
                    name: $0.name, backend: $0.backend, frontend: fe, defaultConnectTimeout: defaultConnectTimeout,
                    counters: statistics.requestCounters(frontend: fe.name, backend: $0.name))
            }
            byName[fe.name] = FrontendRuntime(
                config: fe, defaultRoute: route,
                counters: statistics.requestCounters(frontend: fe.name, backend: nil))
            order.append(fe.name)
        }
    }

    subscript(_ name: String) -> FrontendRuntime? { byName[name] }
}
