import ClusterModel
import HadeckBase
import VRRPCore

/// What a keepalived process asks its host to do, in the cluster's terms.
enum KeepalivedOutput {
    case advert(bytes: [UInt8], destination: String)
    case gratuitousARP(vip: String)
    case stateChanged(from: VRRPState, to: VRRPState, priority: Int, effective: Int, why: String, timer: VRRPTimer?)
    /// `scripts`: the instance's track scripts (those that flipped at this instant caused it).
    case priorityChanged(from: Int, to: Int, why: String, scripts: [TrackedScriptStatus])
    case discarded(from: String, reason: String)
    /// The host's virtual addresses change (keepalived adds them as MASTER, removes them otherwise).
    case addresses([String], added: Bool, why: String)
}

/// One running keepalived: its VRRP instances, driven by the cluster.
public final class KeepalivedProcess {
    public let pid: Int
    public private(set) var instances: [VRRPInstance] {
        didSet { nextDeadline = Self.earliestDeadline(instances) }
    }

    init(config: KeepalivedConfig, primaryIP: String, pid: Int, linkUp: Bool) {
        self.pid = pid
        instances = config.instances.map { instanceConfig in
            let scripts = instanceConfig.trackScripts.compactMap { config.script(named: $0.name) }
            return VRRPInstance(config: instanceConfig, globals: config.globals, scripts: scripts, primaryIP: primaryIP)
        }
        if !linkUp {
            for i in instances.indices { _ = instances[i].setLink(up: false, now: .zero) }
        }
        // didSet does not run during init.
        nextDeadline = Self.earliestDeadline(instances)
    }

    /// The instance the dashboard shows: the first one (the article's VI_1).
    public var primary: VRRPInstance? { instances.first }

    public var stateName: String { primary?.state.rawValue ?? "INIT" }
    public var isMaster: Bool { primary?.state == .master }
    public var effectivePriority: Int { primary?.effectivePriority ?? 0 }

    /// The earliest deadline of any instance. Asked at every step of the simulation (730,000 times
    /// in a simulated hour) and changed only when an instance is, so kept with them: reading it off
    /// the instances each time copied every VRRPInstance (4 % of the hour's instructions).
    private(set) var nextDeadline: Instant?

    private static func earliestDeadline(_ instances: [VRRPInstance]) -> Instant? {
        var earliest: Instant?
        for instance in instances {
            earliest.formMin(instance.nextDeadline)
        }
        return earliest
    }

    func start(now: Instant) -> [KeepalivedOutput] { forEachInstance { $0.start(now: now) } }

    func advance(to now: Instant, haproxyAlive: Bool) -> [KeepalivedOutput] {
        forEachInstance { instance in
            instance.advance(to: now) { check in
                switch check {
                case .haproxyAlive: haproxyAlive
                case .unsupported: true
                }
            }
        }
    }

    /// Delivers an advert to the instance with its VRID (byte 1), or to the first, which counts it as unknown.
    func receive(_ bytes: [UInt8], from source: String, destination: String, now: Instant) -> [KeepalivedOutput] {
        guard !instances.isEmpty else { return [] }
        let vrid = bytes.count > 1 ? Int(bytes[1]) : -1
        let i = instances.firstIndex { $0.config.virtualRouterID == vrid } ?? 0
        return translate(instances[i].receive(packet: bytes, from: source, to: destination, now: now), i)
    }

    func setLink(up: Bool, now: Instant) -> [KeepalivedOutput] { forEachInstance { $0.setLink(up: up, now: now) } }

    func stop(now: Instant) -> [KeepalivedOutput] { forEachInstance { $0.stop(now: now) } }

    /// Drives every instance in turn and collects what they ask for.
    private func forEachInstance(_ drive: (inout VRRPInstance) -> [VRRPAction]) -> [KeepalivedOutput] {
        var out: [KeepalivedOutput] = []
        for i in instances.indices { out += translate(drive(&instances[i]), i) }
        return out
    }

    private func translate(_ actions: [VRRPAction], _ index: Int) -> [KeepalivedOutput] {
        let instance = instances[index]
        return actions.compactMap { action in
            switch action {
            case .sendAdvert(let a): .advert(bytes: a.bytes, destination: a.destination)
            case .sendGratuitousARP(let vip): .gratuitousARP(vip: vip)
            case .stateChanged(let from, let to, let why):
                .stateChanged(
                    from: from, to: to, priority: instance.basePriority,
                    effective: instance.effectivePriority, why: why,
                    timer: to == .master && from == .backup ? instance.armedTimer : nil)
            case .priorityChanged(let from, let to, let why):
                .priorityChanged(from: from, to: to, why: why, scripts: instance.trackedScripts)
            case .advertDiscarded(let from, let reason): .discarded(from: from, reason: reason.description)
            case .vipsAdded(let ips, let why): .addresses(ips, added: true, why: why)
            case .vipsRemoved(let ips, let why): .addresses(ips, added: false, why: why)
            case .log: nil
            }
        }
    }
}

extension HostVRRPState {
    /// keepalived's own state, as hosts show it.
    init(_ state: VRRPState) {
        switch state {
        case .initialize: self = .initialize
        case .backup: self = .backup
        case .master: self = .master
        case .fault: self = .fault
        case .stopped: self = .stopped
        }
    }
}
