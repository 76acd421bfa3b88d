import BalancerCore
import ClusterModel
import HadeckBase
import WebCore

/// A command that names something the cluster does not have, or cannot do now.
public struct CommandError: Error, CustomStringConvertible, Equatable {
    public var description: String
    init(_ d: String) { description = d }
}

extension Cluster {
    /// Applies a command now. `by` says who asked ("the scenario, line 12", "key k"), for the events' why.
    public func apply(_ command: ClusterCommand, by actor: String = "the operator") throws(CommandError) {
        switch command {
        case .say(let text):
            lastCaption = text
            emit(.say(text: text), why: "narration by \(actor)")
        case .traffic(let enabled, let rate, let clients):
            if let clients { setClientCount(clients) }
            if let rate { trafficRate = rate }
            if let enabled { trafficOn = enabled }
            scheduleTraffic()
            emit(
                .traffic(on: trafficOn, rate: trafficRate, clients: browsers.count),
                why:
                    "traffic \(trafficOn ? "set to \(formatRate(trafficRate))/s from \(browsers.count) clients" : "stopped") by \(actor)"
            )
        case .kill(let target):
            try kill(target, graceful: false, by: actor)
        case .stop(let target):
            try kill(target, graceful: true, by: actor)
        case .start(let target):
            try start(target, by: actor)
        case .powerOff(let name):
            let host = try requireHost(name)
            guard host.poweredOn else { throw CommandError("\(name) is already powered off") }
            // No goodbye: processes vanish without a priority-0 advert, the VIP's ARP entry goes stale.
            if let hp = host.haproxy {
                emitProcess(host, .haproxy, .killed, pid: hp.pid, why: "\(name) lost power (\(actor))")
            }
            if let ka = host.keepalived {
                emitProcess(host, .keepalived, .killed, pid: ka.pid, why: "\(name) lost power (\(actor))")
            }
            host.haproxy = nil
            if host.keepalived != nil { host.keepalivedEnded = .killed }
            host.keepalived = nil
            host.configuredVIPs = []
            host.poweredOn = false
            emit(
                .hostPower(node: name, on: false),
                why: "\(name) was powered off by \(actor)")
        case .powerOn(let name):
            let host = try requireHost(name)
            guard !host.poweredOn else { throw CommandError("\(name) is already powered on") }
            host.poweredOn = true
            emit(
                .hostPower(node: name, on: true),
                why: "\(name) was powered on by \(actor)")
            startHAProxy(host, why: "\(name) booted")
            startKeepalived(host, why: "\(name) booted")
        case .partition(let a, let b):
            _ = try requireHost(a)
            _ = try requireHost(b)
            guard partitions.insert([a, b].sorted()).inserted else {
                throw CommandError("\(a) and \(b) are already cut off from each other")
            }
            emit(
                .link(a: a, b: b, up: false),
                why: "\(actor) cut the network between \(a) and \(b): their VRRP adverts are lost")
        case .heal(let a, let b):
            let pairs: [[String]]
            if let a, let b {
                _ = try requireHost(a)
                _ = try requireHost(b)
                pairs = [[a, b].sorted()]
            } else {
                pairs = partitions.sorted { $0.joined() < $1.joined() }
            }
            let healed = pairs.filter { partitions.remove($0) != nil }
            guard !healed.isEmpty else {
                throw CommandError(
                    a.map { "\($0) and \(b ?? "?") are not cut off from each other: nothing to heal" }
                        ?? "no partition to heal: every balancer hears the others")
            }
            for pair in healed {
                emit(
                    .link(a: pair[0], b: pair[1], up: true),
                    why: "\(actor) healed the network between \(pair[0]) and \(pair[1])")
            }
        case .link(let name, let up):
            let host = try requireHost(name)
            guard host.linkUp != up else { throw CommandError("\(name)'s link is already \(up ? "up" : "down")") }
            host.linkUp = up
            emit(
                .link(a: name, b: nil, up: up),
                why: "\(name)'s tracked interface went \(up ? "up" : "down") (\(actor))")
            if let ka = host.keepalived { handle(ka.setLink(up: up, now: now), on: host) }
        case .setServerState(let server, let balancer, let state):
            var changed = false
            let targets = try balancers(balancer)
            for host in targets {
                guard let hp = host.haproxy else { continue }
                let transitions: [BackendTransition]
                do {
                    transitions = try hp.setAdminState(server: server, state, now: now, actor: actor)
                } catch { throw CommandError(error.description) }
                for t in transitions { emitBackendState(t, host: host) }
                changed = changed || !transitions.isEmpty
            }
            guard changed else {
                let running = targets.filter { $0.haproxy != nil }.map(\.name)
                throw CommandError(
                    running.isEmpty
                        ? "no haproxy is running on \(targets.map(\.name).joined(separator: ", "))"
                        : "\(server) is already \(state.rawValue) on \(running.joined(separator: ", "))")
            }
        case .setWeight(let server, let balancer, let change):
            for host in try balancers(balancer) {
                guard let hp = host.haproxy else { continue }
                do {
                    for t in try hp.setWeight(server: server, change, now: now, actor: actor) {
                        emit(
                            .backendWeight(
                                balancer: host.name, backend: t.backend, server: t.server, from: t.from, to: t.to),
                            why: t.why)
                    }
                } catch { throw CommandError(error.description) }
            }
        case .restore(let name):
            try restore(name, by: actor)
        }
    }

    /// A live check (or runtime API) changed a server of `balancer`'s haproxy.
    public func recordServerChange(
        balancer: String, backend: String, server: String, from: ServerStatus, to: ServerStatus, check: String,
        why: String
    ) {
        guard let host = host(named: balancer) else { return }
        emitBackendState(
            BackendTransition(backend: backend, server: server, from: from, to: to, check: check, why: why), host: host)
    }

    /// An event of the live shell (a socket error, a listener that could not open...).
    public func recordEvent(_ kind: EventKind, why: String) {
        emit(kind, why: why)
    }

    private func requireHost(_ name: String) throws(CommandError) -> BalancerHost {
        guard let host = host(named: name) else {
            throw CommandError("no balancer host named '\(name)' (hosts: \(hosts.map(\.name).joined(separator: ", ")))")
        }
        return host
    }

    private func balancers(_ name: String?) throws(CommandError) -> [BalancerHost] {
        guard let name else { return hosts }
        return [try requireHost(name)]
    }

    private func webIndex(_ name: String) throws(CommandError) -> Int {
        guard let i = webServers.firstIndex(where: { $0.name == name }) else {
            throw CommandError(
                "no backend named '\(name)' (backends: \(webServers.map(\.name).joined(separator: ", ")))")
        }
        return i
    }

    private func kill(_ target: ScenarioTarget, graceful: Bool, by actor: String) throws(CommandError) {
        switch target {
        case .backend(let name):
            let i = try webIndex(name)
            guard webServers[i].running else { throw CommandError("\(name) is not running") }
            webServers[i].kill()
            emit(
                .backendProcess(server: name, action: graceful ? .stopped : .killed),
                why:
                    "\(actor) \(graceful ? "stopped" : "killed") \(name)'s Tomcat: it refuses connections and its sessions are gone"
            )
        case .process(let hostName, .haproxy):
            let host = try requireHost(hostName)
            guard host.poweredOn, let hp = host.haproxy else {
                throw CommandError("\(hostName)'s haproxy is not running")
            }
            host.haproxy = nil
            emitProcess(
                host, .haproxy, graceful ? .stopped : .killed, pid: hp.pid,
                why: graceful
                    ? "\(actor) stopped \(hostName)'s haproxy (pid \(hp.pid))"
                    : "\(actor) ran kill -9 \(hp.pid) on \(hostName)'s haproxy")
        case .process(let hostName, .keepalived):
            let host = try requireHost(hostName)
            guard host.poweredOn, let ka = host.keepalived else {
                throw CommandError("\(hostName)'s keepalived is not running")
            }
            if graceful {
                emitProcess(
                    host, .keepalived, .stopped, pid: ka.pid,
                    why: "\(actor) stopped \(hostName)'s keepalived gracefully: it sends a priority-0 advert")
                handle(ka.stop(now: now), on: host)
            } else {
                emitProcess(
                    host, .keepalived, .killed, pid: ka.pid,
                    why: "\(actor) ran kill -9 on \(hostName)'s keepalived: its adverts stop, the VIP stays configured")
            }
            host.keepalivedEnded = graceful ? .stopped : .killed
            host.keepalived = nil
        }
    }

    private func start(_ target: ScenarioTarget, by actor: String) throws(CommandError) {
        switch target {
        case .backend(let name):
            let i = try webIndex(name)
            guard !webServers[i].running else { throw CommandError("\(name) is already running") }
            webServers[i].start()
            emit(
                .backendProcess(server: name, action: .start),
                why: "\(actor) started \(name)'s Tomcat again (with no sessions)")
        case .process(let hostName, let process):
            let host = try requireHost(hostName)
            guard host.poweredOn else { throw CommandError("\(hostName) is powered off") }
            switch process {
            case .haproxy:
                guard host.haproxy == nil else { throw CommandError("\(hostName)'s haproxy is already running") }
                startHAProxy(host, why: "\(actor) started \(hostName)'s haproxy")
            case .keepalived:
                guard host.keepalived == nil else { throw CommandError("\(hostName)'s keepalived is already running") }
                startKeepalived(host, why: "\(actor) started \(hostName)'s keepalived")
            }
        }
    }

    /// Brings back whatever is down on a host or backend.
    private func restore(_ name: String, by actor: String) throws(CommandError) {
        if let host = host(named: name) {
            var did = false
            if !host.poweredOn {
                try apply(.powerOn(host: name), by: actor)
                did = true
            }
            if host.haproxy == nil {
                startHAProxy(host, why: "\(actor) restored \(name)'s haproxy")
                did = true
            }
            if host.keepalived == nil {
                startKeepalived(host, why: "\(actor) restored \(name)'s keepalived")
                did = true
            }
            if !host.linkUp {
                try apply(.link(host: name, up: true), by: actor)
                did = true
            }
            for pair in partitions where pair.contains(name) {
                try apply(.heal(pair[0], pair[1]), by: actor)
                did = true
            }
            if !did { throw CommandError("nothing to restore on \(name): it is powered on and both processes run") }
            return
        }
        let i = try webIndex(name)
        var did = false
        if !webServers[i].running {
            try start(.backend(name), by: actor)
            did = true
        }
        for host in hosts {
            if let hp = host.haproxy, hp.isAdminChanged(server: name) {
                try apply(.setServerState(server: name, balancer: host.name, .ready), by: actor)
                did = true
            }
        }
        if !did { throw CommandError("nothing to restore on \(name): it runs and is ready on every balancer") }
    }

    // MARK: - Expectations

    /// Checks a scenario expectation against the cluster now; the detail says what was seen.
    public func check(_ e: ScenarioExpectation) -> (ok: Bool, seen: String) {
        switch e {
        case .master(let name):
            let m = masters.map(\.name)
            return (m == (name.map { [$0] } ?? []), "master: \(m.isEmpty ? "none" : m.joined(separator: ", "))")
        case .splitBrain:
            let m = masters.map(\.name)
            return (m.count > 1, "master: \(m.isEmpty ? "none" : m.joined(separator: ", "))")
        case .vipMAC(let hostName):
            let mac = arp.mac(for: spec.vip.host)
            let owner = vipOwner?.name ?? "nobody"
            return (owner == hostName, "ARP cache: \(spec.vip.host) -> \(mac?.description ?? "no entry") (\(owner))")
        case .sessionsKept:
            return (sessionChanges == 0, "\(sessionChanges) session id change(s) across \(browsers.count) clients")
        case .clientsOn(let backend):
            guard let web = webServer(named: backend) else { return (false, "no backend named \(backend)") }
            let sessions = browsers.map { $0.session ?? "none" }
            let ok = !browsers.isEmpty && sessions.allSatisfy { $0.hasSuffix("." + web.jvmRoute) }
            return (ok, "sessions: " + sessions.joined(separator: ", "))
        case .serverStatus(let server, let status, let balancer):
            guard let host = host(named: balancer) else { return (false, "no balancer \(balancer)") }
            guard let hp = host.haproxy else { return (false, "\(balancer)'s haproxy is not running") }
            let seen = hp.status(server: server)
            return (seen == status, "\(server) on \(balancer): \(seen?.description ?? "no such server")")
        case .vrrpState(let hostName, let state):
            guard let host = host(named: hostName) else { return (false, "no host \(hostName)") }
            return (host.vrrpState == state, "\(hostName): \(host.vrrpState.rawValue)")
        case .priority(let hostName, let value):
            guard let host = host(named: hostName), let ka = host.keepalived else {
                return (false, "\(hostName) has no keepalived running")
            }
            return (ka.effectivePriority == value, "\(hostName) effective priority \(ka.effectivePriority)")
        case .process(let hostName, let process, let running):
            guard let host = host(named: hostName) else { return (false, "no host \(hostName)") }
            let alive = process == .haproxy ? host.haproxy != nil : host.keepalived != nil
            return (alive == running, "\(hostName)/\(process.rawValue) \(alive ? "running" : "dead")")
        }
    }
}
