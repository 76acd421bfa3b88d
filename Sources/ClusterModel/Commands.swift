import BalancerCore
import HadeckBase

/// A process on a balancer host that a scenario can kill, stop or start.
public enum HostProcess: String, Hashable, Sendable, CaseIterable, Codable {
    case haproxy, keepalived
}

/// What a scenario action applies to.
public enum ScenarioTarget: Hashable, Sendable, CustomStringConvertible {
    /// A web backend (Tomcat-like server) by name, e.g. `webA`.
    case backend(String)
    /// A process on a balancer host, e.g. `lb1/haproxy`.
    case process(host: String, HostProcess)

    public var description: String {
        switch self {
        case .backend(let name): name
        case .process(let host, let p): "\(host)/\(p.rawValue)"
        }
    }
}

/// How a runtime weight change is expressed (`weight webA 50`, `weight webA 50%`, `weight webA +10`).
public enum WeightChange: Hashable, Sendable {
    case absolute(Int)
    case percent(Int)
    case relative(Int)
    case reset
}

/// One thing a scenario (or the dashboard, or a line on stdin) does to the cluster.
public enum ClusterCommand: Hashable, Sendable {
    case say(String)
    /// `traffic on|off`, `traffic 20/s`, `traffic 20/s clients 5`.
    case traffic(enabled: Bool?, rate: Double?, clients: Int?)
    case kill(ScenarioTarget)
    case stop(ScenarioTarget)
    case start(ScenarioTarget)
    case powerOff(host: String)
    case powerOn(host: String)
    case partition(String, String)
    /// `heal` (everything) or `heal lb1 lb2`.
    case heal(String?, String?)
    /// `link lb1 down|up`: the host's tracked interface.
    case link(host: String, up: Bool)
    /// `drain|maint|ready SERVER [on BALANCER]`; no balancer means every balancer.
    case setServerState(server: String, balancer: String?, AdminState)
    case setWeight(server: String, balancer: String?, WeightChange)
    /// `restore HOST|BACKEND`: bring back whatever is down.
    case restore(String)

    /// The command as a scenario line would write it.
    public var text: String {
        switch self {
        case .say(let s): return "say \"\(s)\""
        case .traffic(let enabled, let rate, let clients):
            var parts = ["traffic"]
            if let enabled { parts.append(enabled ? "on" : "off") }
            if let rate { parts.append("\(formatRate(rate))/s") }
            if let clients { parts.append("clients \(clients)") }
            return parts.joined(separator: " ")
        case .kill(let t): return "kill \(t)"
        case .stop(let t): return "stop \(t)"
        case .start(let t): return "start \(t)"
        case .powerOff(let h): return "poweroff \(h)"
        case .powerOn(let h): return "poweron \(h)"
        case .partition(let a, let b): return "partition \(a) \(b)"
        case .heal(let a, let b): return ["heal", a, b].compactMap { $0 }.joined(separator: " ")
        case .link(let h, let up): return "link \(h) \(up ? "up" : "down")"
        case .setServerState(let s, let b, let st):
            return "\(st.rawValue) \(s)" + (b.map { " on \($0)" } ?? "")
        case .setWeight(let s, let b, let w):
            let value: String
            switch w {
            case .absolute(let n): value = "\(n)"
            case .percent(let p): value = "\(p)%"
            case .relative(let d): value = d >= 0 ? "+\(d)" : "\(d)"
            case .reset: value = "reset"
            }
            return "weight \(s) \(value)" + (b.map { " on \($0)" } ?? "")
        case .restore(let x): return "restore \(x)"
        }
    }
}

public func formatRate(_ r: Double) -> String {
    r == r.rounded() ? String(Int(r)) : String(r)
}
