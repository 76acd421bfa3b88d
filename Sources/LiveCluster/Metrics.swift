import BalancerCore
import ClusterCore
import ClusterModel
import LiveEngine
import VRRPCore

/// What the embedded cluster adds to each balancer's `/metrics`: its host's VRRP and the segment's ARP.
extension LiveClusterState {
    func metrics(host name: String) -> [MetricFamily] {
        guard let cluster, let host = cluster.host(named: name) else { return [] }
        var state = MetricFamily(
            "hadeck_vrrp_state", .gauge, "VRRP state of the host's keepalived: 1 for the current state.")
        // STOP covers a killed keepalived too: the series existed before KILLED did.
        let shown: HostVRRPState = host.vrrpState == .killed ? .stopped : host.vrrpState
        for s in [HostVRRPState.initialize, .backup, .master, .fault, .stopped, .off] {
            state.add(["node": name, "state": s.rawValue], shown == s ? 1 : 0)
        }
        let instance = host.keepalived?.primary
        func one(_ metric: String, _ kind: MetricFamily.Kind, _ help: String, _ value: Int) -> MetricFamily {
            var f = MetricFamily(metric, kind, help)
            f.add(["node": name], value)
            return f
        }
        var discards = MetricFamily("hadeck_vrrp_discards_total", .counter, "VRRP packets thrown away, by reason.")
        for (reason, count) in (instance?.stats.discards ?? [:]).sorted(by: { "\($0.key)" < "\($1.key)" }) {
            discards.add(["node": name, "reason": "\(reason)"], count)
        }
        let vip = cluster.spec.vip.host
        var arp = MetricFamily(
            "hadeck_arp_changes_total", .counter, "Times a gratuitous ARP moved the VIP's entry in the clients' cache.")
        arp.add(["ip": vip], cluster.arp.history.count)
        var owner = MetricFamily(
            "hadeck_vip_owner", .gauge, "1 on the host whose MAC the clients' ARP cache gives for the VIP.")
        owner.add(["ip": vip, "node": name, "mac": "\(host.mac)"], cluster.vipOwner === host ? 1 : 0)
        return [
            state,
            one("hadeck_vrrp_priority", .gauge, "Configured VRRP priority.", instance?.basePriority ?? 0),
            one(
                "hadeck_vrrp_effective_priority", .gauge, "VRRP priority after track scripts (0: not running).",
                instance?.effectivePriority ?? 0),
            one(
                "hadeck_vrrp_adverts_sent_total", .counter, "VRRP adverts sent by the running keepalived.",
                instance?.stats.advertsSent ?? 0),
            one(
                "hadeck_vrrp_adverts_received_total", .counter, "VRRP adverts accepted by the running keepalived.",
                instance?.stats.advertsReceived ?? 0),
            discards, arp, owner,
        ]
    }
}
