import HadeckBase

@testable import VRRPCore

/// Seconds (as written in the reference) to an Instant.
func at(_ micros: Int64) -> Instant { Instant(micros: micros) }

/// A VRRP instance config for tests: unicast between 127.0.1.x peers, one VIP.
func instanceConfig(
    priority: Int, state: VRRPInstanceConfig.InitialState = .backup, ip: String, peers: [String],
    version: Int = 2, interval: TimeSpan = .seconds(1), tracks: [TrackScriptRef] = []
) -> VRRPInstanceConfig {
    var c = VRRPInstanceConfig(name: "VI_1", virtualRouterID: 51)
    c.priority = priority
    c.initialState = state
    c.interface = "lo"
    c.version = version
    c.advertInterval = interval
    c.virtualIPAddresses = ["127.0.0.99"]
    c.unicastSourceIP = ip
    c.unicastPeers = peers
    c.authentication = version == 2 ? VRRPAuthentication(type: .pass, password: "1111") : nil
    c.trackScripts = tracks
    return c
}

/// The `chk_haproxy` script of the article's setup.
func chkHaproxy(weight: Int, interval: Int64 = 2, rise: Int = 1, fall: Int = 2) -> VRRPScriptConfig {
    var s = VRRPScriptConfig(name: "chk_haproxy", check: .haproxyAlive, script: "killall -0 haproxy")
    s.interval = .seconds(interval)
    s.weight = weight
    s.rise = rise
    s.fall = fall
    return s
}

/// Encoded advert from a fake master, as a peer would send it to `to`.
func advertBytes(
    priority: Int, from: String = "127.0.1.9", to: String, version: Int = 2, interval: TimeSpan = .seconds(1)
) -> [UInt8] {
    VRRPCodec.encode(
        VRRPAdvert(
            version: version, virtualRouterID: 51, priority: priority, advertInterval: interval,
            addresses: ["127.0.0.99"],
            authentication: version == 2 ? VRRPAuthentication(type: .pass, password: "1111") : nil),
        source: from, destination: to)
}

/// Several instances wired back to back: adverts are delivered at the instant they are sent.
struct Wire {
    var nodes: [VRRPInstance]
    var started: [Bool]
    var haproxyAlive: [Bool]
    var connected = true
    /// Everything that happened: (time, node index, action).
    var log: [(Instant, Int, VRRPAction)] = []
    var now = Instant.zero

    init(_ nodes: [VRRPInstance]) {
        self.nodes = nodes
        started = Array(repeating: false, count: nodes.count)
        haproxyAlive = Array(repeating: true, count: nodes.count)
    }

    mutating func start(_ i: Int) {
        started[i] = true
        handle(nodes[i].start(now: now), from: i)
    }

    mutating func startAll() { for i in nodes.indices { start(i) } }

    /// Runs every node's timers up to and including `end`, delivering adverts as they are sent.
    mutating func run(until end: Instant) {
        while true {
            let due = nodes.indices.filter { started[$0] }.compactMap { nodes[$0].nextDeadline }.min()
            guard let t = due, t <= end else { break }
            now = t
            // Advance all nodes to the same instant first, then deliver: simultaneous sends cross.
            var batches: [(Int, [VRRPAction])] = []
            for i in nodes.indices where started[i] {
                let alive = haproxyAlive[i]
                batches.append((i, nodes[i].advance(to: t, probe: { _ in alive })))
            }
            for (i, actions) in batches { handle(actions, from: i) }
        }
        now = end
    }

    mutating func handle(_ actions: [VRRPAction], from i: Int) {
        var queue: [(Int, VRRPAction)] = actions.map { (i, $0) }
        while !queue.isEmpty {
            let (src, action) = queue.removeFirst()
            log.append((now, src, action))
            guard connected, case .sendAdvert(let out) = action else { continue }
            for j in nodes.indices where j != src && started[j] && nodes[j].sourceIP == out.destination {
                let replies = nodes[j].receive(packet: out.bytes, from: out.source, now: now)
                queue += replies.map { (j, $0) }
            }
        }
    }

    /// When node `i` last entered `state`.
    func lastTransition(_ i: Int, to state: VRRPState) -> Instant? {
        log.last { entry in
            if entry.1 == i, case .stateChanged(_, let to, _) = entry.2 { return to == state }
            return false
        }?.0
    }

    func actions(_ i: Int, at t: Instant) -> [VRRPAction] { log.filter { $0.0 == t && $0.1 == i }.map(\.2) }

    func garpTimes(_ i: Int) -> [Instant] {
        log.filter { entry in
            if entry.1 == i, case .sendGratuitousARP = entry.2 { return true }
            return false
        }.map(\.0)
    }

    func advertTimes(_ i: Int, priority: Int? = nil) -> [Instant] {
        log.filter { entry in
            if entry.1 == i, case .sendAdvert(let out) = entry.2 { return priority == nil || out.priority == priority }
            return false
        }.map(\.0)
    }
}
