import Foundation

/// One entry of a neighbour (ARP) table: which MAC an address resolves to.
public struct NeighbourEntry: Hashable, Sendable {
    public var address: String
    public var device: String?
    /// Lower case; nil while unresolved (INCOMPLETE, FAILED).
    public var mac: String?
    /// `REACHABLE`, `STALE`, `DELAY`, `PROBE`, `FAILED`, `PERMANENT`, ...
    public var states: [String]
    /// From `ip monitor neigh`: the entry was deleted.
    public var deleted = false

    public init(address: String, device: String?, mac: String?, states: [String], deleted: Bool = false) {
        self.address = address
        self.device = device
        self.mac = mac
        self.states = states
        self.deleted = deleted
    }

    /// Parses `ip -j neigh show` output (a JSON array).
    public static func parseJSON(_ text: String) -> [NeighbourEntry] {
        guard let data = text.data(using: .utf8),
            let array = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]]
        else { return [] }
        return array.compactMap { object in
            guard let dst = object["dst"] as? String else { return nil }
            return NeighbourEntry(
                address: dst, device: object["dev"] as? String, mac: (object["lladdr"] as? String)?.lowercased(),
                states: object["state"] as? [String] ?? [])
        }
    }

    /// Parses one line of `ip neigh show` or `ip monitor neigh`:
    /// `10.77.0.10 dev eth0 lladdr 02:77:00:00:00:12 STALE`, `Deleted 10.77.0.10 dev eth0 ...`.
    public static func parseLine(_ line: Substring) -> NeighbourEntry? {
        var words = line.split(separator: " ").map(String.init)
        var deleted = false
        if words.first == "Deleted" {
            deleted = true
            words.removeFirst()
        }
        if words.first == "[NEIGH]" { words.removeFirst() }
        guard let address = words.first, address.contains(".") || address.contains(":") else { return nil }
        var entry = NeighbourEntry(address: address, device: nil, mac: nil, states: [], deleted: deleted)
        var i = 1
        while i < words.count {
            switch words[i] {
            case "dev", "lladdr":
                guard i + 1 < words.count else { return entry }
                if words[i] == "dev" { entry.device = words[i + 1] } else { entry.mac = words[i + 1].lowercased() }
                i += 2
            case "router", "proxy", "extern_learn":
                i += 1
            default:
                if words[i].allSatisfy({ $0.isUppercase || $0 == "_" }) { entry.states.append(words[i]) }
                i += 1
            }
        }
        return entry
    }
}
