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
