import BalancerCore
import ClusterModel
import HadeckBase
import VRRPCore
import WebCore

extension Cluster {
    /// The cluster as the dashboard shows it now.
    public func snapshot(requestLimit: Int = 200, eventLimit: Int = 200) -> ClusterSnapshot {
        let vip = spec.vip.host
        let arpMAC = arp.mac(for: vip)
        let history = arp.history.reversed().prefix(20).map { c in
            ARPSnapshot.Change(time: c.time, fromMAC: c.from?.description, toMAC: c.to.description, node: c.node)
        }
        let hostRows = hosts.map { h -> HostSnapshot in
            let instance = h.keepalived?.primary
            let backupTimer = instance?.state == .backup
            var heard: String? = nil
            if let ip = instance?.masterIP { heard = hosts.first { $0.address == ip }?.name ?? ip }
            return HostSnapshot(
                name: h.name, address: h.address, mac: h.mac.description, poweredOn: h.poweredOn, linkUp: h.linkUp,
                vrrpState: h.vrrpState,
                basePriority: instance?.basePriority ?? h.keepalivedConfig.instances.first?.priority ?? 0,
                effectivePriority: instance?.effectivePriority ?? 0, haproxyPID: h.haproxy?.pid,
                keepalivedPID: h.keepalived?.pid,
                advertsSent: instance?.stats.advertsSent ?? 0, advertsReceived: instance?.stats.advertsReceived ?? 0,
                masterDownDeadline: backupTimer ? instance?.masterDownDeadline : nil,
                masterDownInterval: backupTimer ? instance?.masterDownArmedFor : nil,
                partitionedFrom: partitions.compactMap { pair in
                    pair.contains(h.name) ? pair.first { $0 != h.name } : nil
                }.sorted(),
                heardMaster: heard, heardMasterPriority: instance?.masterPriority, holdsVIP: h.holds(vip))
        }
        let (requestRate, perServer) = requestMeter.rates(at: now)
        snapshotRows.update(self, rates: perServer, windowSeconds: Double(requestMeter.windowSeconds))
        let servers = snapshotRows.rows
        let nonRequest = events.reversed().prefix(eventLimit)
        return ClusterSnapshot(
            time: now, clusterName: spec.name, caption: lastCaption, vip: spec.vip,
            requestsPerSecond: requestRate,
            traffic: TrafficSnapshot(
                on: trafficOn, rate: trafficRate, clients: browsers.count,
                waitingForFirstMaster: trafficOn && !vipAnnounced), hosts: hostRows,
            arp: ARPSnapshot(ip: vip, mac: arpMAC?.description, owner: vipOwner?.name, history: Array(history)),
            servers: servers, requests: Array(recentRequests.reversed().prefix(requestLimit)),
            requestSampling: requestSampling,
            events: Array(nonRequest)
        )
    }
}
