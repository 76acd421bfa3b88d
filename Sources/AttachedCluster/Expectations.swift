import BalancerCore
import ClusterCore
import ClusterModel
import HadeckBase

/// A scenario's `expect` lines checked against an attached cluster: against what its components
/// said (the snapshot) and the sessions its log showed, never against what hadeck assumes.
extension AttachedState {
    public func check(_ e: ScenarioExpectation, _ s: ClusterSnapshot) -> (ok: Bool, seen: String) {
        func host(_ name: String) -> HostSnapshot? { s.hosts.first { $0.name == name } }
        switch e {
        case .master(let name):
            let m = s.masters.map(\.name)
            return (m == (name.map { [$0] } ?? []), "master: \(m.isEmpty ? "none" : m.joined(separator: ", "))")
        case .splitBrain:
            let m = s.masters.map(\.name)
            return (m.count > 1, "master: \(m.isEmpty ? "none" : m.joined(separator: ", "))")
        case .vipMAC(let name):
            let owner = s.arp.owner ?? "nobody"
            return (owner == name, "the client's neighbour table: \(s.arp.ip) -> \(s.arp.mac ?? "no entry") (\(owner))")
        case .sessionsKept:
            guard !sessions.isEmpty else { return (false, "no request with a session logged since hadeck attached") }
            let changed = sessions.filter { $0.value.changes > 0 }
            return (
                changed.isEmpty,
                "\(changed.count) of \(sessions.count) clients changed session"
                    + changed.sorted { $0.key < $1.key }.map { " (\($0.key): \($0.value.first) -> \($0.value.last))" }
                    .joined()
            )
        case .clientsOn(let backend):
            guard !sessions.isEmpty else { return (false, "no request with a session logged since hadeck attached") }
            let route = routes[backend]
            let ok = sessions.values.allSatisfy { t in
                t.lastServer == backend || (route.map { t.last.hasSuffix("." + $0) } ?? false)
            }
            let seen = sessions.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.last)" }
            return (ok, "sessions: " + seen.joined(separator: ", "))
        case .serverStatus(let server, let status, let balancer):
            guard host(balancer) != nil else { return (false, "no balancer \(balancer)") }
            let row = s.servers.first { $0.balancer == balancer && $0.server == server }
            return (row?.status == status, "\(server) on \(balancer): \(row?.status.description ?? "not known now")")
        case .vrrpState(let name, let state):
            guard let h = host(name) else { return (false, "no balancer \(name)") }
            return (h.vrrpState == state, "\(name): \(h.vrrpState.rawValue)")
        case .priority(let name, let value):
            guard let t = balancers[name], let p = t.effectivePriority else {
                return (false, "\(name)'s effective priority is not known")
            }
            return (p == value, "\(name) effective priority \(p)")
        case .process(let name, let process, let running):
            guard let h = host(name) else { return (false, "no balancer \(name)") }
            let pid = process == .haproxy ? h.haproxyPID : h.keepalivedPID
            return (
                (pid != nil) == running,
                "\(name)/\(process.rawValue) \(pid.map { "running (pid \($0))" } ?? "not running")"
            )
        }
    }
}
