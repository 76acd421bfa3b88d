import HadeckBase

/// The clients' view of the LAN segment: an ARP cache that maps the VIP to a MAC.
///
/// Like a real neighbour cache it changes when a (gratuitous) ARP arrives, and otherwise only when
/// an entry whose MAC stopped answering goes stale and the clients ask again (Linux: REACHABLE for
/// `base_reachable_time` 30 s after the last confirmation, then DELAY 5 s, then 3 unicast probes 1 s
/// apart, then a broadcast request that whoever holds the address answers). It does not follow
/// VRRP state by itself. That is what makes stale entries and split brain visible.
public struct ARPCache: Sendable {
    /// One change of the VIP's entry.
    public struct Change: Hashable, Sendable {
        public var time: Instant
        public var ip: String
        public var from: MACAddress?
        public var to: MACAddress
        public var node: String
    }

    public private(set) var entries: [String: MACAddress] = [:]
    public private(set) var history: [Change] = []
    /// Gratuitous ARPs seen, changing the entry or not.
    public private(set) var garpsSeen = 0
    /// When each entry was last confirmed: set by an ARP, renewed by answered traffic.
    public private(set) var confirmed: [String: Instant] = [:]
    /// Linux's `base_reachable_time` (its random 0.5-1.5 spread is left out: runs stay deterministic).
    public var reachableTime = TimeSpan.seconds(30)
    /// `delay_first_probe_time` plus 3 unicast probes at `retrans_time` 1 s.
    public var probeTime = TimeSpan.seconds(8)

    public init() {}

    /// Traffic to the entry's MAC was answered: the entry stays reachable.
    public mutating func confirm(_ ip: String, at time: Instant) {
        if entries[ip] != nil { confirmed[ip] = time }
    }

    /// Whether the entry has gone unconfirmed long enough that the clients ask for the address again.
    public func isDueForResolution(_ ip: String, at time: Instant) -> Bool {
        guard entries[ip] != nil, let last = confirmed[ip] else { return false }
        return time - last >= reachableTime + probeTime
    }

    /// A broadcast ARP request for `ip` answered by `mac`; returns the change if the entry moved.
    @discardableResult
    public mutating func resolved(ip: String, mac: MACAddress, node: String, at time: Instant) -> Change? {
        confirmed[ip] = time
        let old = entries[ip]
        guard old != mac else { return nil }
        entries[ip] = mac
        let change = Change(time: time, ip: ip, from: old, to: mac, node: node)
        history.append(change)
        return change
    }

    public func mac(for ip: String) -> MACAddress? { entries[ip] }

    /// Applies a gratuitous ARP; returns the change if the entry moved.
    @discardableResult
    public mutating func receiveGratuitousARP(ip: String, mac: MACAddress, node: String, at time: Instant) -> Change? {
        garpsSeen += 1
        confirmed[ip] = time
        let old = entries[ip]
        guard old != mac else { return nil }
        entries[ip] = mac
        let change = Change(time: time, ip: ip, from: old, to: mac, node: node)
        history.append(change)
        return change
    }
}
