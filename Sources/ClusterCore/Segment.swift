import HadeckBase

/// The clients' view of the LAN segment: an ARP cache that maps the VIP to a MAC.
///
/// Like a real neighbour cache it changes only when a (gratuitous) ARP arrives; it does
/// not follow VRRP state by itself. That is what makes stale entries and split brain visible.
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

    public init() {}

    public func mac(for ip: String) -> MACAddress? { entries[ip] }

    /// Applies a gratuitous ARP; returns the change if the entry moved.
    @discardableResult
    public mutating func receiveGratuitousARP(ip: String, mac: MACAddress, node: String, at time: Instant) -> Change? {
        garpsSeen += 1
        let old = entries[ip]
        guard old != mac else { return nil }
        entries[ip] = mac
        let change = Change(time: time, ip: ip, from: old, to: mac, node: node)
        history.append(change)
        return change
    }
}
