import BalancerCore
import ClusterCore
import ClusterModel
import Foundation
import VRRPCore

/// What the embedded cluster adds to each balancer's `/metrics`: its host's VRRP and the segment's ARP.
extension LiveClusterState {
    func metrics(host name: String) -> String {
        guard let cluster, let host = cluster.host(named: name) else { return "" }
        let node = "node=\"\(escape(name))\""
        var out = ""
        func family(_ metric: String, _ type: String, _ help: String) {
            out += "# HELP \(metric) \(help)\n# TYPE \(metric) \(type)\n"
        }
        family("hadeck_vrrp_state", "gauge", "VRRP state of the host's keepalived: 1 for the current state.")
        // STOP covers a killed keepalived too: the series existed before KILLED did.
        let shown: HostVRRPState = host.vrrpState == .killed ? .stopped : host.vrrpState
        for state in [HostVRRPState.initialize, .backup, .master, .fault, .stopped, .off] {
            out += "hadeck_vrrp_state{\(node),state=\"\(state.rawValue)\"} \(shown == state ? 1 : 0)\n"
        }
        let instance = host.keepalived?.primary
        family("hadeck_vrrp_priority", "gauge", "Configured VRRP priority.")
        out += "hadeck_vrrp_priority{\(node)} \(instance?.basePriority ?? 0)\n"
        family("hadeck_vrrp_effective_priority", "gauge", "VRRP priority after track scripts (0: not running).")
        out += "hadeck_vrrp_effective_priority{\(node)} \(instance?.effectivePriority ?? 0)\n"
        family("hadeck_vrrp_adverts_sent_total", "counter", "VRRP adverts sent by the running keepalived.")
        out += "hadeck_vrrp_adverts_sent_total{\(node)} \(instance?.stats.advertsSent ?? 0)\n"
        family("hadeck_vrrp_adverts_received_total", "counter", "VRRP adverts accepted by the running keepalived.")
        out += "hadeck_vrrp_adverts_received_total{\(node)} \(instance?.stats.advertsReceived ?? 0)\n"
        family("hadeck_vrrp_discards_total", "counter", "VRRP packets thrown away, by reason.")
        for (reason, count) in (instance?.stats.discards ?? [:]).sorted(by: { "\($0.key)" < "\($1.key)" }) {
            out += "hadeck_vrrp_discards_total{\(node),reason=\"\(escape("\(reason)"))\"} \(count)\n"
        }
        let vip = cluster.spec.vip.host
        family(
            "hadeck_arp_changes_total", "counter", "Times a gratuitous ARP moved the VIP's entry in the clients' cache."
        )
        out += "hadeck_arp_changes_total{ip=\"\(vip)\"} \(cluster.arp.history.count)\n"
        family("hadeck_vip_owner", "gauge", "1 on the host whose MAC the clients' ARP cache gives for the VIP.")
        out += "hadeck_vip_owner{ip=\"\(vip)\",\(node),mac=\"\(host.mac)\"} \(cluster.vipOwner === host ? 1 : 0)\n"
        return out
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
