import Foundation
import RealCluster

/// What the lab looks like now, host by host, read from the real thing (namespaces, interfaces,
/// pid files, /proc, keepalived's data dump, the client's neighbour table).
public struct LabStatus: Hashable, Sendable {
    public struct Process: Hashable, Sendable {
        /// `haproxy`, `keepalived`, `keepalived VRRP`, `app`.
        public var name: String
        /// From its pid file; nil when there is none.
        public var pid: Int32?
        public var running: Bool
    }

    public struct Host: Hashable, Sendable {
        public var host: LabHost
        public var namespace: String
        public var namespaceExists: Bool
        /// Its eth0 as it is now (addresses include the VIP while keepalived holds it).
        public var interface: InterfaceInfo?
        /// Its port on the bridge: up, or down (powered off, cable pulled); nil when missing.
        public var linkUp: Bool?
        public var processes: [Process]
        /// keepalived's data dump for the VRRP instance.
        public var vrrp: KeepalivedDataDump.Instance?
        /// The client's entry for the VIP.
        public var neighbour: NeighbourEntry?

        public var holdsVIP: Bool { interface?.addresses.contains(LabLayout.vip) ?? false }
    }

    public var id: String
    public var stateDirectory: String
    public var hosts: [Host]
    public var partitioned: Bool

    /// Nothing of the lab exists.
    public var isAbsent: Bool { hosts.allSatisfy { !$0.namespaceExists } }
}

extension Lab {
    public func status() -> LabStatus {
        let hosts = LabLayout.hosts.map { host -> LabStatus.Host in
            let name = host.name
            let ns = layout.namespace(name)
            var processes: [LabStatus.Process] = []
            func add(_ label: String, _ pidFile: String, _ command: String) {
                let pid = LinuxProcess.readPidFile(pidFile)
                let running = LinuxProcess.running(pidFile: pidFile, command: command) != nil
                processes.append(.init(name: label, pid: pid, running: running))
            }
            var vrrp: KeepalivedDataDump.Instance?
            switch host.role {
            case .balancer where isNode(name):
                add("hadeck node", layout.nodePidFile(name), "hadeck")
                vrrp = vrrpState(name)
            case .balancer:
                add("haproxy", layout.haproxyPidFile(name), "haproxy")
                add("keepalived", layout.keepalivedPidFile(name), "keepalived")
                add("keepalived VRRP", layout.vrrpPidFile(name), "keepalived")
                vrrp = vrrpState(name)
            case .app:
                add("app", layout.appPidFile(name), "hadeck")
            case .bridge, .client: break
            }
            return LabStatus.Host(
                host: host, namespace: ns, namespaceExists: NetworkNamespace.exists(ns),
                interface: host.role == .bridge ? nil : interface(name),
                linkUp: host.role == .bridge ? nil : linkIsUp(name), processes: processes, vrrp: vrrp,
                neighbour: host.role == .client ? clientNeighbour() : nil)
        }
        return LabStatus(
            id: layout.id, stateDirectory: layout.stateDirectory, hosts: hosts,
            partitioned: (try? isPartitioned()) ?? false)
    }
}

extension LabStatus {
    /// The status as `hadeck lab status` prints it.
    public var text: String {
        if isAbsent { return "lab \(id): not built (hadeck lab up builds it)\n" }
        var out = "lab \(id)  state \(stateDirectory)  VIP \(LabLayout.vip):\(LabLayout.vipPort)"
        out += partitioned ? "  PARTITIONED (VRRP dropped at the bridge)\n" : "\n"
        for h in hosts {
            let name = h.host.name.padding(toLength: 7, withPad: " ", startingAt: 0)
            guard h.namespaceExists else {
                out += "\(name) \(h.namespace): missing\n"
                continue
            }
            if h.host.role == .bridge {
                out += "\(name) \(h.namespace)  br0\n"
                continue
            }
            var line = "\(name) \(h.namespace)"
            if let i = h.interface {
                line += "  \(i.addresses.joined(separator: ","))  \(i.mac ?? "-")"
            } else {
                line += "  no eth0"
            }
            if let up = h.linkUp { line += up ? "  link up" : "  link DOWN" }
            for p in h.processes {
                let pid = p.pid.map(String.init) ?? "-"
                line += "  \(p.name) \(pid) \(p.running ? "alive" : "dead")"
            }
            if let v = h.vrrp {
                line += "  VRRP \(v.state ?? "?")"
                if let e = v.effectivePriority { line += " priority \(v.basePriority.map(String.init) ?? "?")/\(e)" }
                if let m = v.masterRouter, v.state == "BACKUP" { line += " master \(m)" }
            } else if h.host.isBalancer {
                line += "  VRRP unknown"
            }
            if h.holdsVIP { line += "  holds the VIP" }
            if h.host.role == .client {
                if let n = h.neighbour {
                    let owner = LabLayout.hosts.first { $0.mac != nil && $0.mac == n.mac }?.name
                    line +=
                        "  VIP -> \(n.mac ?? "(unresolved)")\(owner.map { " (\($0))" } ?? "") \(n.states.joined(separator: ","))"
                } else {
                    line += "  VIP -> (no neighbour entry)"
                }
            }
            out += line + "\n"
        }
        return out
    }
}
