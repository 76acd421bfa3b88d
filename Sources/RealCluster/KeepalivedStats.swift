/// keepalived's stats file (`keepalived.stats` in its TMPDIR, written on SIGUSR2 or
/// `keepalived --signum=STATS`): per VRRP instance, adverts sent and received, master changes, and
/// the packets it refused, by reason.
///
/// ```
/// VRRP Instance: VI_1
///   Advertisements:
///     Received: 20
///     Sent: 23
///   Became master: 2
///   Released master: 1
///   Packet Errors:
///     Length: 0
///     TTL: 0
///   ...
/// ```
public struct KeepalivedStats: Hashable, Sendable {
    public struct Instance: Hashable, Sendable {
        public var name: String
        /// Every counter by its path: `Advertisements/Received`, `Became master`, `Packet Errors/TTL`,
        /// `Authentication Errors/Failure`, `Priority Zero/Sent`, ...
        public var counters: [String: Int] = [:]

        public var advertsReceived: Int? { counters["Advertisements/Received"] }
        public var advertsSent: Int? { counters["Advertisements/Sent"] }

        /// The counters of refused packets (`Packet Errors/...`, `Authentication Errors/...`).
        public var errors: [String: Int] {
            counters.filter { $0.key.hasPrefix("Packet Errors/") || $0.key.hasPrefix("Authentication Errors/") }
        }
    }

    public var instances: [Instance] = []

    public func instance(_ name: String?) -> Instance? {
        name.map { n in instances.first { $0.name == n } } ?? instances.first
    }

    public static func parse(_ text: String) -> KeepalivedStats {
        var stats = KeepalivedStats()
        var section: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let indent = raw.prefix { $0 == " " }.count
            let line = raw.dropFirst(indent)
            if indent == 0, line.hasPrefix("VRRP Instance:") {
                stats.instances.append(Instance(name: line.dropFirst("VRRP Instance:".count).trimmed))
                section = nil
                continue
            }
            guard !stats.instances.isEmpty, let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmed
            if value.isEmpty {
                section = indent == 2 ? key : section
                continue
            }
            guard let number = Int(value) else { continue }
            let path = indent > 2 ? "\(section ?? "")/\(key)" : key
            if indent == 2 { section = nil }
            stats.instances[stats.instances.count - 1].counters[path] = number
        }
        return stats
    }
}

extension Substring {
    fileprivate var trimmed: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
