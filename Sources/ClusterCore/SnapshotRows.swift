import BalancerCore
import ClusterModel
import WebCore

/// The snapshot's server rows, kept from one snapshot to the next: a row is made once per haproxy
/// process, and afterwards only what moved in it is written again (sessions, a check's result, a
/// status). With thousands of servers, making every row at every frame (strings, an address
/// formatted, two dictionary look-ups) was most of a frame; comparing a few integers per server is
/// not.
///
/// What a row shows is a function of the server's `ServerRowState` and configuration, of its app
/// server (`jvmRoute`, `running`) and of the request meter; those are read again at every snapshot,
/// so the rows equal freshly made ones (`ServerRowsCacheTests`).
struct SnapshotRows {
    /// What one row was made from: the server's state, its app server, its meter slot. Entries
    /// follow the rows: hosts in order, each haproxy's backends, each backend's servers.
    struct Entry {
        var state: ServerRowState
        var web: Int?
        var meterSlot: Int
    }

    /// The haproxy each host's block was made from (nil: none was running). Held, so that a new
    /// process is never taken for it.
    private var processes: [HAProxyProcess?] = []
    private var entries: [Entry] = []
    private(set) var rows: [ServerRow] = []

    /// The rows now: all made again if a host's haproxy changed, else each updated in place.
    mutating func update(_ cluster: Cluster, rates perKey: [Int64], windowSeconds: Double) {
        let hosts = cluster.hosts
        if processes.count != hosts.count || hosts.indices.contains(where: { processes[$0] !== hosts[$0].haproxy }) {
            rebuild(cluster)
        }
        let webServers = cluster.webServers
        var k = 0
        for host in hosts {
            guard let hp = host.haproxy else { continue }
            for named in hp.backends {
                let backend = named.backend
                for i in 0..<backend.serverCount {
                    let state = backend.rowState(ofServerAt: i)
                    if state != entries[k].state {
                        apply(state, from: backend, server: i, over: entries[k].state, to: k)
                        entries[k].state = state
                    }
                    if let w = entries[k].web {
                        if rows[k].jvmRoute != webServers[w].jvmRoute { rows[k].jvmRoute = webServers[w].jvmRoute }
                        if rows[k].appRunning != webServers[w].running { rows[k].appRunning = webServers[w].running }
                    }
                    let slot = entries[k].meterSlot
                    let rps = Double(slot < perKey.count ? perKey[slot] : 0) / windowSeconds
                    if rows[k].requestsPerSecond != rps { rows[k].requestsPerSecond = rps }
                    k += 1
                }
            }
        }
    }

    /// Writes `new` into row `k` (called only when it differs from `old`, so the row is written
    /// anyway); the two derived strings are made again only when what they come from moved.
    private mutating func apply(
        _ new: ServerRowState, from backend: Backend, server i: Int, over old: ServerRowState, to k: Int
    ) {
        if new.health != old.health || new.state != old.state || new.admin != old.admin {
            rows[k].status = backend.status(ofServerAt: i)
        }
        if new.checkStatus != old.checkStatus || new.checkCode != old.checkCode {
            rows[k].checkStatus = backend.checkStatusText(ofServerAt: i)
        }
        rows[k].adminState = new.admin
        rows[k].health = new.health
        rows[k].checkDuration = new.checkDuration
        rows[k].lastChange = new.lastChange
        rows[k].weight = new.weight
        rows[k].initialWeight = new.initialWeight
        rows[k].currentSessions = new.currentSessions
        rows[k].totalSessions = new.totalSessions
    }

    /// Makes every row again, for the haproxy processes running now.
    private mutating func rebuild(_ cluster: Cluster) {
        processes = cluster.hosts.map(\.haproxy)
        entries = []
        rows = []
        for host in cluster.hosts {
            guard let hp = host.haproxy else { continue }
            for named in hp.backends {
                let backend = named.backend
                for i in 0..<backend.serverCount {
                    let config = backend.serverConfig(at: i)
                    let state = backend.rowState(ofServerAt: i)
                    let address = config.address.description
                    // The first app server with its address, else with its name (Cluster.webServerIndex).
                    let web = cluster.webServerIndex.byAddress[address] ?? cluster.webServerIndex.byName[config.name]
                    entries.append(
                        Entry(state: state, web: web, meterSlot: cluster.meterSlot(via: host.name, server: config.name))
                    )
                    rows.append(
                        ServerRow(
                            balancer: host.name, backend: named.name, server: config.name,
                            jvmRoute: web.map { cluster.webServers[$0].jvmRoute }, address: address,
                            status: backend.status(ofServerAt: i), adminState: state.admin,
                            checkStatus: backend.checkStatusText(ofServerAt: i), checkDuration: state.checkDuration,
                            lastChange: state.lastChange, weight: state.weight, initialWeight: state.initialWeight,
                            currentSessions: state.currentSessions, totalSessions: state.totalSessions,
                            requestsPerSecond: 0, health: state.health, rise: config.rise, fall: config.fall,
                            checked: config.check, backup: config.backup,
                            appRunning: web.map { cluster.webServers[$0].running }))
                }
            }
        }
    }
}
