import AttachConfig
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// haproxy's runtime API on its stats socket, one command per connection (non-interactive mode:
/// haproxy answers the line and closes).
public enum RuntimeAPI {
    /// Sends `command` (one line; several commands may be joined with `;`) and returns the reply.
    public static func send(
        _ command: String, to address: StatsSocketAddress, timeout: Duration = .seconds(3)
    ) throws(SocketError) -> String {
        let fd: Int32
        switch address {
        case .unix(let path): fd = try Sockets.connectUnix(path: path, timeout: timeout)
        case .tcp(let host, let port): fd = try Sockets.connectTCP(host: host, port: port, timeout: timeout)
        }
        defer { close(fd) }
        try Sockets.send(fd, Array((command + "\n").utf8))
        return String(decoding: try Sockets.receive(fd, timeout: timeout), as: UTF8.self)
    }

    /// `show stat` as rows.
    public static func showStat(_ address: StatsSocketAddress, timeout: Duration = .seconds(3)) throws(SocketError)
        -> [ShowStatRow]
    {
        ShowStatRow.parse(try send("show stat", to: address, timeout: timeout))
    }
}

/// One line of `show stat` (CSV), by column name.
public struct ShowStatRow: Hashable, Sendable {
    public var fields: [String: String]

    /// `pxname`: the proxy (frontend, backend or listen section).
    public var proxy: String { fields["pxname"] ?? "" }
    /// `svname`: the server, or FRONTEND / BACKEND.
    public var server: String { fields["svname"] ?? "" }
    /// `status`: UP, DOWN, DRAIN, MAINT, `UP 1/3`, OPEN, ...
    public var status: String { fields["status"] ?? "" }

    public subscript(_ column: String) -> String? { fields[column] }

    /// Parses the CSV `show stat` prints: a `# pxname,svname,...` header, then one row per line.
    public static func parse(_ text: String) -> [ShowStatRow] {
        var header: [String]?
        var rows: [ShowStatRow] = []
        for line in text.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("# ") {
                header = line.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                continue
            }
            guard let header, !line.isEmpty else { continue }
            let values = line.split(separator: ",", omittingEmptySubsequences: false)
            var fields: [String: String] = [:]
            for (name, value) in zip(header, values) where !name.isEmpty { fields[name] = String(value) }
            rows.append(ShowStatRow(fields: fields))
        }
        return rows
    }
}

extension RuntimeAPI {
    /// The one line hadeck polls with: three commands in one connection.
    public static let statusCommand = "show info;show stat;show servers state"

    /// `show info`, `show stat` and `show servers state` in one round trip.
    public static func status(_ address: StatsSocketAddress, timeout: Duration = .seconds(3)) throws(SocketError)
        -> HAProxyStatus
    {
        HAProxyStatus.parse(try send(statusCommand, to: address, timeout: timeout))
    }
}

/// What one poll of a haproxy's runtime API says: its process (`show info`), its proxies and
/// servers with their counters and checks (`show stat`), and the servers' admin state and weights
/// as numbers (`show servers state`).
public struct HAProxyStatus: Hashable, Sendable {
    public var info: ShowInfo
    public var stat: [ShowStatRow]
    public var servers: [ServerStateRow]

    /// Splits the reply to `RuntimeAPI.statusCommand`: each command's answer ends with an empty
    /// line. Sections are told apart by their content, so an answer haproxy refuses (a socket
    /// without `level admin` or `operator`) leaves that part empty rather than misread.
    public static func parse(_ text: String) -> HAProxyStatus {
        var info = ShowInfo(fields: [:])
        var stat: [ShowStatRow] = []
        var servers: [ServerStateRow] = []
        for section in blankLineSections(text) {
            let trimmed = section.drop { $0 == "\n" }
            if trimmed.hasPrefix("# pxname") {
                stat = ShowStatRow.parse(String(trimmed))
            } else if trimmed.hasPrefix("1\n# be_id") {
                servers = ServerStateRow.parse(String(trimmed))
            } else if trimmed.hasPrefix("Name: ") || trimmed.contains("\nPid: ") {
                info = ShowInfo.parse(String(trimmed))
            }
        }
        return HAProxyStatus(info: info, stat: stat, servers: servers)
    }
}

/// The parts of `text` between empty lines (each runtime API answer ends with one). Byte-wise:
/// Foundation's `components(separatedBy:)` was a fifth of an attached dashboard's CPU.
func blankLineSections(_ text: String) -> [Substring] {
    var sections: [Substring] = []
    var start = text.startIndex
    var previousWasNewline = false
    var i = text.utf8.startIndex
    while i != text.utf8.endIndex {
        let byte = text.utf8[i]
        let next = text.utf8.index(after: i)
        if byte == UInt8(ascii: "\n") {
            if previousWasNewline {
                // `i` is the second newline: the section ends before the first.
                let end = text.utf8.index(before: i)
                sections.append(text[start..<end])
                start = next
                previousWasNewline = false
                i = next
                continue
            }
            previousWasNewline = true
        } else {
            previousWasNewline = false
        }
        i = next
    }
    sections.append(text[start...])
    return sections
}

/// `text` without the spaces and tabs around it.
func trimmingBlanks(_ text: Substring) -> Substring {
    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
    guard let first = text.firstIndex(where: { !blank($0) }), let last = text.lastIndex(where: { !blank($0) }) else {
        return text[text.endIndex...]
    }
    return text[first...last]
}

/// `show info`: `Key: value` lines.
public struct ShowInfo: Hashable, Sendable {
    public var fields: [String: String]

    public init(fields: [String: String]) { self.fields = fields }

    public subscript(_ key: String) -> String? { fields[key] }

    /// The haproxy process answering.
    public var pid: Int32? { fields["Pid"].flatMap { Int32($0) } }
    /// Its `node` name (global `node`, else the host name).
    public var node: String? { fields["node"] }
    public var version: String? { fields["Version"] }
    public var uptimeSeconds: Int? { fields["Uptime_sec"].flatMap { Int($0) } }

    public static func parse(_ text: String) -> ShowInfo {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            fields[key] = String(trimmingBlanks(line[line.index(after: colon)...]))
        }
        return ShowInfo(fields: fields)
    }
}

/// One line of `show servers state` (format version 1): numeric states that `show stat` only shows
/// as words.
public struct ServerStateRow: Hashable, Sendable {
    /// `srv_admin_state` bits (HAProxy's `enum srv_admin`).
    public struct AdminBits: OptionSet, Hashable, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// `set server ... state maint` (or `disable server`).
        public static let forcedMaint = AdminBits(rawValue: 0x01)
        /// Inherited from a tracked server.
        public static let inheritedMaint = AdminBits(rawValue: 0x02)
        /// `disabled` in the configuration.
        public static let configMaint = AdminBits(rawValue: 0x04)
        /// `set server ... state drain`.
        public static let forcedDrain = AdminBits(rawValue: 0x08)
        public static let inheritedDrain = AdminBits(rawValue: 0x10)
        /// DNS resolution failed.
        public static let resolutionMaint = AdminBits(rawValue: 0x20)
        /// The address is not set.
        public static let hostnameMaint = AdminBits(rawValue: 0x40)
    }

    public var backend: String
    public var server: String
    public var address: String
    public var port: Int?
    /// `srv_op_state`: 0 stopped, 1 starting, 2 running, 3 stopping.
    public var operationalState: Int
    public var admin: AdminBits
    /// The weight in force and the configured one.
    public var weight: Int
    public var initialWeight: Int
    public var secondsSinceChange: Int
    /// HAProxy's health counter (0 ... rise + fall - 1).
    public var checkHealth: Int

    public static func parse(_ text: String) -> [ServerStateRow] {
        var header: [String]?
        var rows: [ServerStateRow] = []
        for line in text.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("# ") {
                header = line.dropFirst(2).split(separator: " ").map(String.init)
                continue
            }
            guard let header else { continue }
            let values = line.split(separator: " ").map(String.init)
            guard values.count >= header.count - 1 else { continue }
            var f: [String: String] = [:]
            for (name, value) in zip(header, values) { f[name] = value }
            guard let backend = f["be_name"], let server = f["srv_name"] else { continue }
            rows.append(
                ServerStateRow(
                    backend: backend, server: server, address: f["srv_addr"] ?? "",
                    port: f["srv_port"].flatMap { Int($0) },
                    operationalState: f["srv_op_state"].flatMap { Int($0) } ?? 0,
                    admin: AdminBits(rawValue: f["srv_admin_state"].flatMap { Int($0) } ?? 0),
                    weight: f["srv_uweight"].flatMap { Int($0) } ?? 0,
                    initialWeight: f["srv_iweight"].flatMap { Int($0) } ?? 0,
                    secondsSinceChange: f["srv_time_since_last_change"].flatMap { Int($0) } ?? 0,
                    checkHealth: f["srv_check_health"].flatMap { Int($0) } ?? 0))
        }
        return rows
    }
}
