// The theme role of each state and status: what colour a thing is, from what it is (never from its text).
import BalancerCore
import ClusterModel

func vrrpRole(_ state: HostVRRPState) -> ThemeRole {
    switch state {
    case .master: .master
    case .backup: .backup
    case .fault, .killed: .fault
    case .initialize, .stopped, .off, .unknown: .dim
    }
}

func statusRole(_ status: ServerStatus) -> ThemeRole {
    if status.isTransition && status.base != .drain { return .transition }  // UP 1/3, DOWN 2/2
    switch status.base {
    case .maint: return .maint
    case .drain, .nolb: return .drain
    case .up: return .up
    case .down: return .down
    case .noCheck: return .dim
    }
}

func checkRole(_ check: String?) -> ThemeRole {
    guard let check else { return .dim }
    return check.hasPrefix("L7OK") || check.hasPrefix("L4OK") || check.hasPrefix("L6OK") ? .up : .down
}

/// The colour of an event's type, from what it is (never from searching its text).
func eventRole(_ e: ClusterEvent) -> ThemeRole? {
    switch e.kind {
    case .vrrpState(_, _, let to, _, _): return vrrpRole(to) == .dim ? .title : vrrpRole(to)
    case .backendState(_, _, _, _, let to, _): return statusRole(to)
    case .process(_, _, .killed, _), .backendProcess(_, .killed), .hostPower(_, false), .link(_, _, false):
        return .down
    case .request(let r) where r.status == 0 || r.status >= 500: return .down
    case .expect(_, _, false, _), .error: return .alarm
    default: return .title
    }
}
