import AttachConfig
import BalancerCore
import ClusterModel
import HadeckBase
import RealCluster

/// Why a command cannot be sent to the attached cluster, in one line for the status bar or stderr.
public struct ControlError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    /// The action ran and failed (its failure is an event already); false: nothing was sent.
    public var ran: Bool

    public init(_ d: String, ran: Bool = false) {
        description = d
        self.ran = ran
    }
}

/// Turns a command (a key, a stdin line, a scenario line) into the steps that perform it on the
/// real cluster: runtime API lines for every balancer, the attach file's command templates with
/// their values. Pure: nothing runs here, and what cannot be done is a `ControlError` naming why.
public enum Controls {
    public static func plan(_ command: ClusterCommand, state s: AttachedState) throws(ControlError) -> [ActionPart] {
        switch command {
        case .say(let text): return [ActionPart(.say(text), [])]
        case .traffic:
            throw ControlError("an attached cluster's traffic comes from its own clients: hadeck sends none")
        case .kill(.process(let host, let p)): return [try processAction(host, p, .killed, s)]
        case .stop(.process(let host, let p)): return [try processAction(host, p, .stopped, s)]
        case .start(.process(let host, let p)): return [try processAction(host, p, .start, s)]
        case .kill(.backend(let server)): return [try appAction(server, .killed, s)]
        case .stop(.backend(let server)):
            _ = try serverAccess(server, s)
            throw ControlError("the attach file has no graceful stop for \(server)'s application: kill it")
        case .start(.backend(let server)): return [try appAction(server, .start, s)]
        case .powerOff(let host): return [try power(host, on: false, s)]
        case .powerOn(let host): return [try power(host, on: true, s)]
        case .link(let host, let up): return [try link(host, up: up, s)]
        case .partition(let a, let b): return [try partition(a, b, cut: true, s)]
        case .heal(let a, let b):
            if let a, let b { return [try partition(a, b, cut: false, s)] }
            let pairs = s.partitions.sorted { $0.joined() < $1.joined() }
            guard !pairs.isEmpty else {
                guard s.order.count >= 2 else { throw ControlError("nothing to heal") }
                return [try partition(s.order[0], s.order[1], cut: false, s)]
            }
            return try pairs.map { (pair: [String]) throws(ControlError) -> ActionPart in
                try partition(pair[0], pair[1], cut: false, s)
            }
        case .setServerState(let server, let balancer, let admin):
            let steps = try runtimeSteps(server, balancer, s) { _, _ in "state \(admin.rawValue)" }
            return [ActionPart(.admin(server: server, admin), steps)]
        case .setWeight(let server, let balancer, let change):
            let steps = try runtimeSteps(server, balancer, s) { (t: BalancerTrack, key: String) throws(ControlError) in
                "weight \(try weightValue(change, t, key, server))"
            }
            return [ActionPart(.weight(server: server, change), steps)]
        case .restore(let name): return try restore(name, s)
        }
    }

    // MARK: Hosts

    static func balancer(_ host: String, _ s: AttachedState) throws(ControlError) -> BalancerTrack {
        guard let t = s.balancers[host] else {
            throw ControlError(
                "no balancer '\(host)' in the attach file (balancers: \(s.order.joined(separator: ", ")))")
        }
        return t
    }

    /// The placeholders' values for `host`'s commands: its name and address, the VIP and the pids known now.
    static func values(_ t: BalancerTrack, _ s: AttachedState) -> [String: String] {
        var v = ["host": t.access.name, "vip": s.file.vip]
        if let a = t.access.address ?? t.sourceAddress { v["address"] = a }
        if let p = t.haproxyPID { v["haproxy_pid"] = String(p) }
        if let p = t.keepalivedPID { v["keepalived_pid"] = String(p) }
        if let p = t.vrrpPID { v["vrrp_pid"] = String(p) }
        return v
    }

    static func render(
        _ template: CommandTemplate, _ values: [String: String], what: String
    ) throws(ControlError) -> ActionStep {
        do { return .program(what: what, arguments: try template.render(values)) } catch {
            throw ControlError("\(what): \(error) (is it running?)")
        }
    }

    static func processAction(
        _ host: String, _ p: HostProcess, _ action: ProcessAction, _ s: AttachedState
    ) throws(ControlError) -> ActionPart {
        let t = try balancer(host, s)
        let verb = action == .killed ? "kill" : action == .stopped ? "stop" : "start"
        let template: CommandTemplate?
        let pids: [Int32]
        switch p {
        case .haproxy:
            guard t.access.haproxy != nil else { throw ControlError("the attach file names no haproxy on \(host)") }
            if action == .stopped {
                throw ControlError("the attach file has no graceful stop for haproxy: kill it (k)")
            }
            template = action == .killed ? t.access.haproxy?.kill : t.access.haproxy?.start
            pids = t.haproxyPID.map { [$0] } ?? []
        case .keepalived:
            guard let k = t.access.keepalived else {
                throw ControlError("the attach file names no keepalived on \(host)")
            }
            template = action == .killed ? k.kill : action == .stopped ? k.stop : k.start
            pids = [t.keepalivedPID, t.vrrpPID].compactMap { $0 }
        }
        guard let template else {
            throw ControlError("the attach file has no \(p.rawValue) '\(verb)' command for \(host)")
        }
        if action == .start, t.poweredOff { throw ControlError("\(host) is powered off: power it on (p)") }
        if action == .start, let pid = pids.first {
            throw ControlError("\(host)'s \(p.rawValue) already runs (pid \(pid))")
        }
        if action != .start, pids.isEmpty { throw ControlError("\(host)'s \(p.rawValue) is not running (no pid)") }
        var v = values(t, s)
        if let pid = pids.first { v["pid"] = String(pid) }
        let step = try render(template, v, what: "\(host) \(p.rawValue) \(verb)")
        return ActionPart(.process(host: host, p, action, pids: action == .start ? [] : pids), [step])
    }

    static func power(_ host: String, on: Bool, _ s: AttachedState) throws(ControlError) -> ActionPart {
        let t = try balancer(host, s)
        guard let template = on ? t.access.power?.on : t.access.power?.off else {
            throw ControlError("the attach file has no 'power \(on ? "on" : "off")' command for \(host)")
        }
        if !on && t.poweredOff { throw ControlError("\(host) is already powered off") }
        let step = try render(template, values(t, s), what: "\(host) power \(on ? "on" : "off")")
        return ActionPart(.power(host: host, on: on), [step])
    }

    static func link(_ host: String, up: Bool, _ s: AttachedState) throws(ControlError) -> ActionPart {
        let t = try balancer(host, s)
        guard let template = up ? t.access.link?.up : t.access.link?.down else {
            throw ControlError("the attach file has no 'link \(up ? "up" : "down")' command for \(host)")
        }
        let step = try render(template, values(t, s), what: "\(host) link \(up ? "up" : "down")")
        return ActionPart(.link(host: host, up: up), [step])
    }

    static func partition(_ a: String, _ b: String, cut: Bool, _ s: AttachedState) throws(ControlError) -> ActionPart {
        _ = try balancer(a, s)
        _ = try balancer(b, s)
        guard a != b else { throw ControlError("a partition needs two different balancers") }
        guard let commands = s.file.partition else { throw ControlError("the attach file has no 'partition' commands") }
        let step = try render(
            cut ? commands.cut : commands.heal, ["a": a, "b": b, "vip": s.file.vip], what: cut ? "partition" : "heal")
        return ActionPart(cut ? .partition(a, b) : .heal(a, b), [step])
    }

    // MARK: Servers

    static func serverAccess(_ server: String, _ s: AttachedState) throws(ControlError) -> ServerAccess {
        guard let access = s.file.servers.first(where: { $0.name == server }) else {
            let known = s.file.servers.map(\.name).joined(separator: ", ")
            throw ControlError(
                "the attach file's 'servers' has no '\(server)'" + (known.isEmpty ? "" : " (servers: \(known))"))
        }
        return access
    }

    static func appAction(_ server: String, _ action: ProcessAction, _ s: AttachedState) throws(ControlError)
        -> ActionPart
    {
        let access = try serverAccess(server, s)
        let pid = s.apps[server]?.pid
        guard let template = action == .start ? access.start : access.kill else {
            throw ControlError("the attach file has no '\(action == .start ? "start" : "kill")' command for \(server)")
        }
        if action == .start, let pid { throw ControlError("\(server)'s application already runs (pid \(pid))") }
        if action != .start, pid == nil { throw ControlError("\(server)'s application is not running (no pid)") }
        var v = ["server": server, "vip": s.file.vip]
        if let pid { v["pid"] = String(pid) }
        let step = try render(template, v, what: "\(server) \(action == .start ? "start" : "kill")")
        return ActionPart(.app(server: server, action, pid: pid), [step])
    }

    /// `set server BACKEND/SERVER ...` on each balancer (or the one named), for every backend of
    /// its last `show stat` that has the server. Runtime changes are per haproxy process.
    static func runtimeSteps(
        _ server: String, _ balancer: String?, _ s: AttachedState,
        _ argument: (BalancerTrack, String) throws(ControlError) -> String
    ) throws(ControlError) -> [ActionStep] {
        let names =
            try balancer.map { (b: String) throws(ControlError) -> [String] in
                _ = try Controls.balancer(b, s)
                return [b]
            } ?? s.order
        var steps: [ActionStep] = []
        var known = Set<String>()
        for name in names {
            guard let t = s.balancers[name], let haproxy = t.access.haproxy, let status = t.status else { continue }
            for row in status.stat where row["type"] == "2" {
                known.insert(row.server)
                guard row.server == server else { continue }
                let key = "\(row.proxy)/\(row.server)"
                steps.append(
                    .runtime(
                        balancer: name, socket: haproxy.stats, line: "set server \(key) \(try argument(t, key))"))
            }
        }
        guard !steps.isEmpty else {
            let whose = balancer.map { "\($0)'s haproxy has no server" } ?? "no balancer's haproxy has a server"
            let list = known.sorted().joined(separator: ", ")
            throw ControlError(
                "\(whose) '\(server)'"
                    + (list.isEmpty ? " (no stats socket answered yet)" : " (servers: \(list))"))
        }
        return steps
    }

    static func weightValue(_ change: WeightChange, _ t: BalancerTrack, _ key: String, _ server: String)
        throws(ControlError) -> String
    {
        let state = t.status?.servers.first { "\($0.backend)/\($0.server)" == key }
        switch change {
        case .absolute(let n):
            guard (0...256).contains(n) else { throw ControlError("a weight is between 0 and 256") }
            return String(n)
        case .percent(let p): return "\(p)%"
        case .relative(let d):
            guard let w = state?.weight ?? t.reported[key]?.weight else {
                throw ControlError("\(t.access.name) has not said \(server)'s weight yet")
            }
            return String(min(256, max(0, w + d)))
        case .reset:
            guard let w = state?.initialWeight else {
                throw ControlError("\(t.access.name) has not said \(server)'s initial weight yet")
            }
            return String(w)
        }
    }

    // MARK: restore

    /// `restore HOST`: power on what hadeck powered off, plug its link, start what is not running.
    /// `restore SERVER`: start its application if it is down, `ready` it wherever it is drained or
    /// in maintenance.
    static func restore(_ name: String, _ s: AttachedState) throws(ControlError) -> [ActionPart] {
        if let t = s.balancers[name] {
            if t.poweredOff { return [try power(name, on: true, s)] }
            var parts: [ActionPart] = []
            if t.linkDown { parts.append(try link(name, up: true, s)) }
            if t.access.haproxy?.start != nil, t.haproxyKnown, t.haproxyPID == nil {
                parts.append(try processAction(name, .haproxy, .start, s))
            }
            if t.access.keepalived?.start != nil, t.keepalivedKnown, t.keepalivedPID == nil {
                parts.append(try processAction(name, .keepalived, .start, s))
            }
            guard !parts.isEmpty else { throw ControlError("\(name): nothing to restore (everything runs)") }
            return parts
        }
        var parts: [ActionPart] = []
        if let app = s.apps[name], app.known, app.pid == nil,
            s.file.servers.first(where: { $0.name == name })?.start != nil
        {
            parts.append(try appAction(name, .start, s))
        }
        let notReady = s.order.filter { b in
            s.balancers[b]?.status?.servers.contains {
                $0.server == name && !$0.admin.intersection([.forcedMaint, .forcedDrain]).isEmpty
            } == true
        }
        for b in notReady {
            let steps = try runtimeSteps(name, b, s) { _, _ in "state ready" }
            parts.append(ActionPart(.admin(server: name, .ready), steps))
        }
        if parts.isEmpty {
            let known = s.balancers.values.contains { $0.status?.stat.contains { $0.server == name } == true }
            guard known || s.apps[name] != nil else {
                throw ControlError("no balancer or server named '\(name)'")
            }
            throw ControlError("\(name): nothing to restore (it runs and is ready everywhere)")
        }
        return parts
    }
}
