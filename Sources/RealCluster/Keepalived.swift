import Foundation
import HadeckBase

#if canImport(Glibc)
    import Glibc
#endif

/// One line of keepalived's notify FIFO (`vrrp_notify_fifo`): `INSTANCE "VI_1" MASTER 150`.
/// With `vrrp_notify_priority_changes true` it also carries `MASTER_PRIORITY` / `BACKUP_PRIORITY`
/// lines when the effective priority changes without a state change.
public struct NotifyLine: Hashable, Sendable {
    public enum Kind: String, Sendable {
        case instance = "INSTANCE"
        case group = "GROUP"
    }

    public var kind: Kind
    /// The `vrrp_instance` (or `vrrp_sync_group`) name.
    public var name: String
    /// `MASTER`, `BACKUP`, `FAULT`, `STOP`, `DELETED`, `MASTER_RX_LOWER_PRI`, `MASTER_PRIORITY`,
    /// `BACKUP_PRIORITY` (keepalived 2.2.7's words).
    public var event: String
    /// The effective priority at that moment (0 for groups).
    public var priority: Int

    /// The state this line reports, if it is a state change (not a priority change).
    public var state: String? {
        ["MASTER", "BACKUP", "FAULT", "STOP", "DELETED"].contains(event) ? event : nil
    }

    public static func parse(_ line: Substring) -> NotifyLine? {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count >= 4, let kind = Kind(rawValue: String(parts[0])), let priority = Int(parts.last!) else {
            return nil
        }
        // The name is quoted and may contain spaces: everything between the first and last quote.
        guard let open = line.firstIndex(of: "\""), let close = line.lastIndex(of: "\""), open < close else {
            return nil
        }
        let name = String(line[line.index(after: open)..<close])
        let after = line[line.index(after: close)...].split(separator: " ")
        guard after.count == 2 else { return nil }
        return NotifyLine(kind: kind, name: name, event: String(after[0]), priority: priority)
    }
}

/// Reads a keepalived notify FIFO line by line. It opens the FIFO read-write, so it never sees an
/// end of file while keepalived restarts, and keeps the FIFO's buffer alive meanwhile. One reader
/// per FIFO: two would share its lines between them.
public final class NotifyFIFOReader: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var buffer: [UInt8] = []

    public init(path: String) throws(SocketError) {
        self.path = path
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw SocketError("open \(path)") }
    }

    deinit { close(fd) }

    /// The next line (without its newline), waiting up to `timeout`; nil when none came.
    public func nextLine(timeout: Duration) -> String? {
        lock.lock()
        defer { lock.unlock() }
        let deadline = ContinuousClock.now + timeout
        while true {
            if let line = buffer.removeFirstLine() { return line }
            let left = deadline - ContinuousClock.now
            if Sockets.isReadable(fd, within: left) && fill() { continue }
            if left <= .zero { return nil }
        }
    }

    /// Every whole line available now, without waiting.
    public func availableLines() -> [String] {
        var lines: [String] = []
        while let line = nextLine(timeout: .zero) { lines.append(line) }
        return lines
    }

    /// Reads what is there; whether anything was.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        var any = false
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return any }
            buffer += chunk[0..<n]
            any = true
        }
    }
}

/// What keepalived's data dump (`keepalived.data`, written on SIGUSR1) says about its VRRP
/// instances, track scripts and interfaces: what the FIFO does not carry (master seen from a
/// backup, base priority, the script's state, the Master_Down_Timer's deadline).
public struct KeepalivedDataDump: Hashable, Sendable {
    public struct Instance: Hashable, Sendable {
        public var name: String
        /// `MASTER`, `BACKUP`, `FAULT`, `STOP`, `INIT`.
        public var state: String?
        /// The master's address as a backup last heard it.
        public var masterRouter: String?
        public var masterPriority: Int?
        /// The configured priority.
        public var basePriority: Int?
        public var effectivePriority: Int?
        public var wantState: String?
        /// When it last changed state (seconds since the epoch, keepalived's clock).
        public var lastTransition: Double?
        /// When its current timer fires (epoch seconds): for a backup, the Master_Down_Timer (reset
        /// by every advert it accepts); for a master, its next advert.
        public var readTimeout: Double?
        /// Master_Down_Interval in microseconds (3 x advert interval + skew).
        public var masterDownTimer: Int64?
        /// The advert interval in microseconds.
        public var advertInterval: Int64?
        /// The interface it runs on and the address it sends from.
        public var interface: String?
        public var sourceAddress: String?
        /// `Tracked scripts`: name and weight.
        public var trackedScripts: [TrackedScript] = []
        /// `Virtual IP`: the addresses (without `dev ...`).
        public var virtualAddresses: [String] = []

        public init(name: String) { self.name = name }
    }

    public struct TrackedScript: Hashable, Sendable {
        public var name: String
        public var weight: Int?
    }

    public struct Script: Hashable, Sendable {
        public var name: String
        /// `GOOD` or `BAD`.
        public var status: String?
        public var weight: Int?
        public var rise: Int?
        public var fall: Int?

        public init(name: String, status: String? = nil, weight: Int? = nil, rise: Int? = nil, fall: Int? = nil) {
            self.name = name
            self.status = status
            self.weight = weight
            self.rise = rise
            self.fall = fall
        }
    }

    public struct Interface: Hashable, Sendable {
        public var name: String
        public var mac: String?
        public var address: String?
    }

    public var instances: [Instance] = []
    public var scripts: [Script] = []
    public var interfaces: [Interface] = []

    public func instance(_ name: String?) -> Instance? {
        name.map { n in instances.first { $0.name == n } } ?? instances.first
    }

    public func script(_ name: String) -> Script? { scripts.first { $0.name == name } }
    public func interface(_ name: String?) -> Interface? { interfaces.first { $0.name == name } }

    /// Whether the text is a whole dump: keepalived writes it with stdio, so a reader can see it half
    /// written. The interfaces come last.
    public static func isComplete(_ text: String) -> Bool {
        text.contains("------< VRRP Topology >------") && text.contains("------< Interfaces >------")
            && text.hasSuffix("\n")
    }

    /// Parses the text of `keepalived.data` (keepalived 2.2.7's layout: ` VRRP Instance = NAME`
    /// followed by `   Key = value` lines, lists below `   Key :` at five spaces; ` VRRP Script =
    /// NAME` and ` Name = IFACE` likewise).
    public static func parse(_ text: String) -> KeepalivedDataDump {
        var dump = KeepalivedDataDump()
        enum Block { case none, instance, script, interface }
        enum List { case none, trackedScripts, virtualAddresses }
        var block = Block.none
        var list = List.none
        var section = ""
        for raw in text.split(whereSeparator: \.isNewline) {
            if raw.hasPrefix("------<") {
                section = raw.dropFirst(7).prefix { $0 != ">" }.trimmingCharacters(in: .whitespaces)
                block = .none
                continue
            }
            let indent = raw.prefix { $0 == " " }.count
            let content = raw.trimmingCharacters(in: .whitespaces)
            if indent == 3, block == .instance, !content.contains(" = ") {
                // `   Tracked scripts :`, `   Virtual IP (1):`: a list follows at five spaces.
                if content.hasPrefix("Tracked scripts") {
                    list = .trackedScripts
                } else if content.hasPrefix("Virtual IP") {
                    list = .virtualAddresses
                } else {
                    list = .none
                }
                continue
            }
            if indent == 5, block == .instance {
                let words = content.split(separator: " ").map(String.init)
                let i = dump.instances.count - 1
                switch list {
                case .trackedScripts where !words.isEmpty:
                    let weight = words.count >= 3 && words[1] == "weight" ? Int(words[2]) : nil
                    dump.instances[i].trackedScripts.append(TrackedScript(name: words[0], weight: weight))
                case .virtualAddresses where !words.isEmpty:
                    dump.instances[i].virtualAddresses.append(words[0].split(separator: "/").first.map(String.init)!)
                default: break
                }
                continue
            }
            guard let eq = raw.range(of: " = ") else { continue }
            let key = raw[..<eq.lowerBound].trimmingCharacters(in: .whitespaces)
            let value = raw[eq.upperBound...].trimmingCharacters(in: .whitespaces)
            if indent == 1 {
                list = .none
                switch key {
                case "VRRP Instance":
                    dump.instances.append(Instance(name: value))
                    block = .instance
                case "VRRP Script":
                    dump.scripts.append(Script(name: value))
                    block = .script
                case "Name" where section == "Interfaces":
                    dump.interfaces.append(Interface(name: value))
                    block = .interface
                default: block = .none
                }
                continue
            }
            guard indent == 3 else { continue }
            list = .none
            let number = value.split(separator: " ").first.map(String.init) ?? ""
            switch block {
            case .instance:
                let i = dump.instances.count - 1
                switch key {
                case "State": dump.instances[i].state = value
                case "Master router": dump.instances[i].masterRouter = value
                case "Master priority": dump.instances[i].masterPriority = Int(value)
                case "Priority": dump.instances[i].basePriority = Int(value)
                case "Effective priority": dump.instances[i].effectivePriority = Int(value)
                case "Wantstate": dump.instances[i].wantState = value
                case "Last transition": dump.instances[i].lastTransition = Double(number)
                case "Read timeout": dump.instances[i].readTimeout = Double(number)
                case "Master down timer": dump.instances[i].masterDownTimer = Int64(number)
                case "Advert interval": dump.instances[i].advertInterval = microseconds(value)
                case "Interface": dump.instances[i].interface = value
                case "Using src_ip": dump.instances[i].sourceAddress = value
                default: break
                }
            case .script:
                let i = dump.scripts.count - 1
                switch key {
                case "Status": dump.scripts[i].status = value
                case "Weight": dump.scripts[i].weight = Int(value)
                case "Rise": dump.scripts[i].rise = Int(value)
                case "Fall": dump.scripts[i].fall = Int(value)
                default: break
                }
            case .interface:
                let i = dump.interfaces.count - 1
                switch key {
                case "MAC": dump.interfaces[i].mac = value.lowercased()
                case "IPv4 address": dump.interfaces[i].address = value
                default: break
                }
            case .none: break
            }
        }
        return dump
    }

    /// `1 sec`, `100 centi-sec`, `500 milli-sec` in microseconds.
    static func microseconds(_ text: String) -> Int64? {
        let words = text.split(separator: " ")
        guard let first = words.first, let n = Double(first) else { return nil }
        let unit = words.count > 1 ? String(words[1]) : "sec"
        let scale: Double =
            switch unit {
            case "centi-sec": 10_000
            case "milli-sec", "msec": 1_000
            case "usec": 1
            default: 1_000_000
            }
        return Int64((n * scale).rounded())
    }
}
