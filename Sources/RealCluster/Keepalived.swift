import Foundation

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
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return nil }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, max(1, Sockets.milliseconds(left))) > 0 { fill() }
        }
    }

    /// Every whole line available now, without waiting.
    public func availableLines() -> [String] {
        var lines: [String] = []
        while let line = nextLine(timeout: .zero) { lines.append(line) }
        return lines
    }

    private func fill() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { return }
            buffer += chunk[0..<n]
        }
    }
}

/// What keepalived's data dump (`keepalived.data`, written on SIGUSR1) says about its VRRP
/// instances and track scripts: what the FIFO does not carry (master seen from a backup, base
/// priority, the script's state).
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
    }

    public struct Script: Hashable, Sendable {
        public var name: String
        /// `GOOD` or `BAD`.
        public var status: String?
    }

    public var instances: [Instance] = []
    public var scripts: [Script] = []

    public func instance(_ name: String?) -> Instance? {
        name.map { n in instances.first { $0.name == n } } ?? instances.first
    }

    /// Parses the text of `keepalived.data` (keepalived 2.2.7's layout: ` VRRP Instance = NAME`
    /// followed by `   Key = value` lines; ` VRRP Script = NAME` likewise).
    public static func parse(_ text: String) -> KeepalivedDataDump {
        var dump = KeepalivedDataDump()
        enum Block { case none, instance, script }
        var block = Block.none
        for raw in text.split(whereSeparator: \.isNewline) {
            if raw.hasPrefix("------<") {
                block = .none
                continue
            }
            guard let eq = raw.range(of: " = ") else { continue }
            let key = raw[..<eq.lowerBound].trimmingCharacters(in: .whitespaces)
            let value = raw[eq.upperBound...].trimmingCharacters(in: .whitespaces)
            let indent = raw.prefix { $0 == " " }.count
            if indent == 1 {
                switch key {
                case "VRRP Instance":
                    dump.instances.append(Instance(name: value))
                    block = .instance
                case "VRRP Script":
                    dump.scripts.append(Script(name: value))
                    block = .script
                default: block = .none
                }
                continue
            }
            guard indent == 3 else { continue }
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
                default: break
                }
            case .script:
                if key == "Status" { dump.scripts[dump.scripts.count - 1].status = value }
            case .none: break
            }
        }
        return dump
    }
}
