import HadeckBase

@testable import BalancerCore

func server(
    _ name: String, cookie: String? = nil, weight: Int = 1, check: Bool = false, backup: Bool = false,
    rise: Int = 2, fall: Int = 3, maxconn: Int = 0
) -> ServerConfig {
    var s = ServerConfig(name: name, address: HostPort(host: "127.0.1.\(name.count)", port: 8080))
    s.cookie = cookie
    s.weight = weight
    s.check = check
    s.backup = backup
    s.rise = rise
    s.fall = fall
    s.maxconn = maxconn
    return s
}

func backend(
    _ balance: BalanceAlgorithm = .roundrobin, _ servers: [ServerConfig], cookie: CookieConfig? = nil,
    configure: (inout BackendConfig) -> Void = { _ in }
) -> Backend {
    var c = BackendConfig(name: "web")
    c.balance = balance
    c.servers = servers
    c.cookie = cookie
    configure(&c)
    return Backend(config: c, start: .zero)
}

func at(_ ms: Int64) -> Instant { Instant.zero + .milliseconds(ms) }

func picks(_ b: Backend, _ n: Int, client: String = "10.0.0.1", now: Instant = .zero) -> [String] {
    (0..<n).map { _ in b.route(request: RoutedRequest(clientAddress: client), now: now).server ?? "-" }
}
