import BalancerCore
import HadeckBase
import VRRPCore

/// A host's VRRP state as a screen shows it: keepalived's own states, and what the host is when
/// keepalived is not there to have one.
public enum HostVRRPState: String, Hashable, Sendable, CaseIterable, Codable {
    case initialize = "INIT"
    case backup = "BACKUP"
    case master = "MASTER"
    case fault = "FAULT"
    /// keepalived was stopped gracefully (it sent a priority-0 advert on its way out).
    case stopped = "STOP"
    /// keepalived was killed (kill -9): it sent nothing and left the VIP configured.
    case killed = "KILLED"
    /// The host is powered off.
    case off = "OFF"
    /// An attached source cannot tell (its keepalived does not say, or is unreachable).
    case unknown = "?"
}

/// What happened to a process.
public enum ProcessAction: String, Hashable, Sendable, Codable {
    case start, killed, stopped
}

/// Every kind of event, with its own fields. The JSON lines, the timeline and the events panel are
/// all derived from these values; nothing downstream reads meaning back out of text.
public enum EventKind: Hashable, Sendable, Codable {
    case backendState(
        balancer: String, backend: String, server: String, from: ServerStatus, to: ServerStatus, check: String)
    case backendWeight(balancer: String, backend: String, server: String, from: Int, to: Int)
    case backendProcess(server: String, action: ProcessAction)
    case vrrpState(node: String, from: HostVRRPState, to: HostVRRPState, priority: Int, effectivePriority: Int)
    case vrrpPriority(node: String, from: Int, to: Int)
    case vrrpDiscard(node: String, from: String, reason: String)
    case arpUpdate(ip: String, mac: String, node: String)
    /// A host's keepalived configured (`added`) or removed a virtual address.
    case vipAddress(node: String, ip: String, added: Bool)
    case process(node: String, process: HostProcess, action: ProcessAction, pid: Int)
    case hostPower(node: String, on: Bool)
    /// `b` nil: the host's own interface (`segment` in JSON).
    case link(a: String, b: String?, up: Bool)
    case request(RequestRecord)
    case traffic(on: Bool, rate: Double, clients: Int)
    case control(timeScale: Double, paused: Bool)
    case say(text: String)
    case expect(line: Int, check: String, ok: Bool, seen: String)
    /// A scenario line that could not run.
    case error(line: Int)
}

/// The `type` of an event in its JSON line.
public enum EventType: String, Hashable, Sendable, CaseIterable {
    case backendState = "backend.state"
    case backendWeight = "backend.weight"
    case backendProcess = "backend.process"
    case vrrpState = "vrrp.state"
    case vrrpPriority = "vrrp.priority"
    case vrrpDiscard = "vrrp.discard"
    case arpUpdate = "arp.update"
    case vipAddress = "vip.address"
    case process
    case hostPower = "host.power"
    case link
    case request
    case traffic
    case control
    case say
    case expect
    case error
}

/// One thing that happened in the cluster, with the plain sentence saying why.
///
/// Serialised as one JSON object per line: `{"t":12.5,"type":"backend.state",...,"why":"..."}`.
/// `t` and `type` come first, `why` last, the type's own fields in between in a fixed order.
public struct ClusterEvent: Hashable, Sendable, Codable {
    public var time: Instant
    public var kind: EventKind
    public var why: String
    /// The VRRP timer that caused a state change, with its numbers (not part of the JSON line).
    public var timer: VRRPTimer?
    /// For a priority change: the track scripts whose state flipped and caused it, with the runs that
    /// did (not part of the JSON line).
    public var scripts: [TrackedScriptStatus]

    public init(
        time: Instant, _ kind: EventKind, why: String, timer: VRRPTimer? = nil, scripts: [TrackedScriptStatus] = []
    ) {
        self.time = time
        self.kind = kind
        self.why = why
        self.timer = timer
        self.scripts = scripts
    }

    public var type: EventType {
        switch kind {
        case .backendState: .backendState
        case .backendWeight: .backendWeight
        case .backendProcess: .backendProcess
        case .vrrpState: .vrrpState
        case .vrrpPriority: .vrrpPriority
        case .vrrpDiscard: .vrrpDiscard
        case .arpUpdate: .arpUpdate
        case .vipAddress: .vipAddress
        case .process: .process
        case .hostPower: .hostPower
        case .link: .link
        case .request: .request
        case .traffic: .traffic
        case .control: .control
        case .say: .say
        case .expect: .expect
        case .error: .error
        }
    }

    /// The type's own fields, in the JSON line's order (README: "Events (JSON lines)").
    public var fields: [(String, JSONValue)] {
        func s(_ v: String?) -> JSONValue { v.map { .string($0) } ?? .null }
        func i(_ v: Int) -> JSONValue { .int(Int64(v)) }
        switch kind {
        case .backendState(let balancer, let backend, let server, let from, let to, let check):
            return [
                ("balancer", s(balancer)), ("backend", s(backend)), ("server", s(server)),
                ("from", s(from.description)), ("to", s(to.description)), ("check", s(check)),
            ]
        case .backendWeight(let balancer, let backend, let server, let from, let to):
            return [
                ("balancer", s(balancer)), ("backend", s(backend)), ("server", s(server)), ("from", i(from)),
                ("to", i(to)),
            ]
        case .backendProcess(let server, let action): return [("server", s(server)), ("action", s(action.rawValue))]
        case .vrrpState(let node, let from, let to, let priority, let effective):
            return [
                ("node", s(node)), ("from", s(from.rawValue)), ("to", s(to.rawValue)), ("priority", i(priority)),
                ("effective_priority", i(effective)),
            ]
        case .vrrpPriority(let node, let from, let to): return [("node", s(node)), ("from", i(from)), ("to", i(to))]
        case .vrrpDiscard(let node, let from, let reason):
            return [("node", s(node)), ("from", s(from)), ("reason", s(reason))]
        case .arpUpdate(let ip, let mac, let node): return [("ip", s(ip)), ("mac", s(mac)), ("node", s(node))]
        case .vipAddress(let node, let ip, let added):
            return [("node", s(node)), ("ip", s(ip)), ("state", s(added ? "added" : "removed"))]
        case .process(let node, let process, let action, let pid):
            return [
                ("node", s(node)), ("process", s(process.rawValue)), ("action", s(action.rawValue)), ("pid", i(pid)),
            ]
        case .hostPower(let node, let on): return [("node", s(node)), ("state", s(on ? "on" : "off"))]
        case .link(let a, let b, let up):
            return [("a", s(a)), ("b", s(b ?? "segment")), ("state", s(up ? "up" : "down"))]
        case .request(let r):
            var f: [(String, JSONValue)] = [
                ("client", s(r.client)), ("via", s(r.via)), ("server", s(r.server)), ("status", i(r.status)),
                ("session", s(r.session)), ("reason", s(r.reason)),
                ("latency_ms", .double(Double(r.latency.micros) / 1000)),
            ]
            if let line = r.requestLine { f.append(("request", s(line))) }
            return f
        case .traffic(let on, let rate, let clients):
            return [("on", .bool(on)), ("rate", .double(rate)), ("clients", i(clients))]
        case .control(let scale, let paused): return [("time_scale", .double(scale)), ("paused", .bool(paused))]
        case .say(let text): return [("text", s(text))]
        case .expect(let line, let check, let ok, let seen):
            return [("line", i(line)), ("check", s(check)), ("ok", .bool(ok)), ("seen", s(seen))]
        case .error(let line): return [("line", i(line))]
        }
    }

    /// The value of a field by name, if present (generic views: the detail view, tests).
    public subscript(field: String) -> JSONValue? {
        fields.first(where: { $0.0 == field })?.1
    }

    /// The string value of a field, if it is a string.
    public func string(_ field: String) -> String? {
        if case .string(let s)? = self[field] { return s }
        return nil
    }

    /// The event as one line of JSON (no trailing newline).
    public var jsonLine: String {
        // The same text as `JSONValue.object([("t", ...), ("type", ...)] + fields + [("why", ...)])`,
        // written straight into one byte buffer (`hadeck simulate --json` writes one per event).
        var out: [UInt8] = []
        out.reserveCapacity(192 + why.utf8.count)
        out += #"{"t":"#.utf8
        JSONValue.double(time.seconds).encode(into: &out)
        out += #","type":"#.utf8
        JSONValue.string(type.rawValue).encode(into: &out)
        for (key, value) in fields {
            out.append(UInt8(ascii: ","))
            JSONValue.string(key).encode(into: &out)
            out.append(UInt8(ascii: ":"))
            value.encode(into: &out)
        }
        out += #","why":"#.utf8
        JSONValue.string(why).encode(into: &out)
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    /// The request, for `request` events.
    public var request: RequestRecord? {
        if case .request(let r) = kind { return r }
        return nil
    }

    /// The event's fields in a few words: the one summary the timeline and the events panel share.
    /// `arrow` joins a from/to pair (`" -> "` in the timeline, `"→"` in the narrow panel).
    public func summary(arrow: String = " -> ") -> String {
        switch kind {
        case .request(let r):
            return
                "\(r.client) via \(r.via ?? "-")\(arrow)\(r.server ?? "-") \(r.status) session \(r.session ?? "-") (\(r.reason))"
        case .backendState(let balancer, let backend, let server, let from, let to, let check):
            return "\(balancer) \(backend)/\(server) \(from)\(arrow)\(to)" + (check.isEmpty ? "" : " [\(check)]")
        case .backendWeight(let balancer, let backend, let server, let from, let to):
            return "\(balancer) \(backend)/\(server) weight \(from)\(arrow)\(to)"
        case .backendProcess(let server, let action): return "\(server) \(action.rawValue)"
        case .vrrpState(let node, let from, let to, let priority, let effective):
            return "\(node) \(from.rawValue)\(arrow)\(to.rawValue) (priority \(priority), effective \(effective))"
        case .vrrpPriority(let node, let from, let to): return "\(node) effective priority \(from)\(arrow)\(to)"
        case .vrrpDiscard(let node, let from, let reason): return "\(node) from \(from): \(reason)"
        case .arpUpdate(let ip, let mac, let node): return "\(ip)\(arrow)\(mac) (\(node))"
        case .vipAddress(let node, let ip, let added): return "\(node) \(added ? "adds" : "removes") \(ip)"
        case .process(let node, let process, let action, let pid):
            return "\(node) \(process.rawValue) \(action.rawValue) pid \(pid)"
        case .hostPower(let node, let on): return "\(node) \(on ? "on" : "off")"
        case .link(let a, let b, let up): return "\(a) - \(b ?? "segment") \(up ? "up" : "down")"
        case .traffic(let on, let rate, let clients):
            return on ? "on \(formatRate(rate))/s from \(clients) clients" : "off"
        case .control(let scale, let paused): return "time scale x\(formatRate(scale))" + (paused ? ", paused" : "")
        case .say(let text): return "\"\(text)\""
        case .expect(let line, let check, let ok, let seen):
            return "line \(line): \(check): \(ok ? "ok" : "FAILED") (seen: \(seen))"
        case .error(let line): return "line \(line)"
        }
    }
}
