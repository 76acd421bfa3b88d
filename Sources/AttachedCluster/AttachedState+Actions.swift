import AttachConfig
import BalancerCore
import ClusterModel
import HadeckBase

/// Actions hadeck ran on the cluster: the events they are, and what their effects will be called
/// when they are seen (a pid hadeck killed is not a crash; a drain's log line names who drained).
extension AttachedState {
    /// Before an action runs: the processes it ends are expected to end, and the changes its runtime
    /// API lines cause name who sent them (haproxy logs a change within a millisecond, before the
    /// action's outcome is back).
    mutating func actionStarting(_ part: ActionPart, actor: String, at now: Instant) {
        for step in part.steps {
            if case .runtime(let b, _, let line) = step, let key = Self.serverKey(ofRuntimeLine: line) {
                update(b) { $0.pendingAdmin[key] = ("\(actor) sent `\(line)`", now) }
            }
        }
        switch part.intent {
        case .process(let host, _, let action, let pids) where action != .start:
            update(host) { $0.expectedExits.formUnion(pids) }
        case .app(let server, let action, let pid?) where action != .start:
            apps[server]?.expectedExits.insert(pid)
        case .power(let host, false):
            update(host) { $0.poweredOff = true }
        default: break
        }
    }

    mutating func action(_ o: ActionOutcome, _ out: inout Reaction) {
        let ran = "\(o.actor) ran \(o.summary)"
        // A runtime API line that failed causes nothing; one that worked is polled at once.
        for r in o.results {
            guard case .runtime(let b, _, let line) = r.step, let key = Self.serverKey(ofRuntimeLine: line) else {
                continue
            }
            if r.ok { out.need(.poll(b)) } else { update(b) { $0.pendingAdmin[key] = nil } }
        }
        guard o.ok else {
            switch o.intent {
            case .process(let host, _, _, let pids): update(host) { $0.expectedExits.subtract(pids) }
            case .app(let server, _, let pid?): apps[server]?.expectedExits.remove(pid)
            case .power(let host, false): update(host) { $0.poweredOff = false }
            default: break
            }
            out.emit(.error(line: o.scenarioLine ?? 0), "\(o.actor): \(Self.describe(o.intent)) failed: \(o.summary)")
            out.need(.processes)
            return
        }
        switch o.intent {
        case .process(let host, let p, let action, let pids):
            if action == .start {
                update(host) { $0.startRequested[p] = ran }
            } else {
                out.emit(.process(node: host, process: p, action: action, pid: Int(pids.first ?? 0)), ran)
                if p == .keepalived, action == .killed, var t = balancers[host] {
                    killedKeepalived(&t, cause: "\(o.actor) killed \(host)'s keepalived", &out)
                    balancers[host] = t
                }
            }
            out.need(.processes)
        case .app(let server, let action, _):
            if action == .start {
                apps[server]?.startRequested = ran
            } else {
                out.emit(.backendProcess(server: server, action: action), ran)
            }
            out.need(.processes)
        case .power(let host, let on):
            out.emit(.hostPower(node: host, on: on), ran)
            guard var t = balancers[host] else { break }
            t.poweredOff = !on
            if on {
                t.linkDown = false
            } else {
                let was = t.vrrp
                t.vrrp = .off
                t.countdown = nil
                out.emit(
                    .vrrpState(
                        node: host, from: was, to: .off, priority: t.basePriority ?? 0,
                        effectivePriority: t.effectivePriority ?? 0), "\(host) lost power (\(o.actor))")
                balancers[host] = t
                if was == .master { masterWentQuiet(host, cause: "\(host) was powered off", graceful: false, &out) }
                t = balancers[host]!
            }
            balancers[host] = t
            out.need(.processes)
        case .link(let host, let up):
            out.emit(.link(a: host, b: nil, up: up), ran)
            update(host) { $0.linkDown = !up }
            if !up, balancers[host]?.vrrp == .master {
                masterWentQuiet(host, cause: "\(host)'s link went down", graceful: false, &out)
            }
        case .partition(let a, let b):
            out.emit(.link(a: a, b: b, up: false), ran)
            partitions.insert([a, b].sorted())
            for (m, o) in [(a, b), (b, a)] where balancers[m]?.vrrp == .master && balancers[o]?.vrrp == .backup {
                armCountdown(
                    o, since: out.now, cause: "\(m)'s adverts no longer reach \(o) (partition)", graceful: false)
                out.need(.dump(o))
            }
        case .heal(let a, let b):
            out.emit(.link(a: a, b: b, up: true), ran)
            partitions.remove([a, b].sorted())
        case .admin, .weight: break
        case .say(let text):
            caption = text
            out.emit(.say(text: text), "narration by \(o.actor)")
        }
    }

    /// `set server web/webA state drain` -> `web/webA`.
    static func serverKey(ofRuntimeLine line: String) -> String? {
        let words = line.split(separator: " ")
        guard words.count >= 3, words[0] == "set", words[1] == "server" else { return nil }
        return String(words[2])
    }

    /// The action in a few words, for error events and the audit log.
    public static func describe(_ intent: ActionIntent) -> String {
        switch intent {
        case .process(let host, let p, let action, _):
            let verb = action == .killed ? "kill" : action == .stopped ? "stop" : "start"
            return "\(verb) \(host)/\(p.rawValue)"
        case .app(let server, let action, _):
            return "\(action == .killed ? "kill" : action == .stopped ? "stop" : "start") \(server)"
        case .power(let host, let on): return "power \(on ? "on" : "off") \(host)"
        case .link(let host, let up): return "link \(host) \(up ? "up" : "down")"
        case .partition(let a, let b): return "partition \(a) \(b)"
        case .heal(let a, let b): return "heal \(a) \(b)"
        case .admin(let server, let state): return "\(state.rawValue) \(server)"
        case .weight(let server, let change):
            return ClusterCommand.setWeight(server: server, balancer: nil, change).text
        case .say(let text): return "say \"\(text)\""
        }
    }
}
