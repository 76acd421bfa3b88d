import BalancerCore
import ClusterConfig
import HadeckConfig

extension ClusterSpec {
    /// The article's cluster with `backends` web servers instead of two (for benchmarks): `web1`...,
    /// each with a cookie, checks every 2 s, on loopback addresses 127.0.(10 + i/250).(i%250 + 1).
    public static func synthetic(backends count: Int, rate: Double, clients: Int) -> ClusterSpec {
        var spec = ClusterSpec.article
        let defs = (0..<count).map { i in
            BackendServerDefinition(
                name: "web\(i + 1)", address: HostPort(host: "127.0.\(10 + i / 250).\(i % 250 + 1)", port: 8080),
                jvmRoute: "jvm\(i + 1)", line: 0)
        }
        spec.backends = defs
        for h in spec.hosts.indices {
            for b in spec.hosts[h].haproxy.backends.indices {
                let template = spec.hosts[h].haproxy.backends[b].servers[0]
                spec.hosts[h].haproxy.backends[b].servers = defs.enumerated().map { i, d in
                    var s = template
                    s.name = d.name
                    s.address = d.address
                    s.cookie = "S\(i + 1)"
                    return s
                }
            }
        }
        spec.trafficRate = rate
        spec.clients = clients
        spec.trafficOn = true
        return spec
    }
}
