import Foundation

/// An attach file (YAML, `version: 1`): how to reach each part of a real HAProxy + keepalived
/// cluster from outside: per balancer host its haproxy stats socket and log stream, its
/// keepalived's notify FIFO, data dump and pid files, and the commands that kill, stop, start or
/// power it; the client's neighbour table for the VIP. `hadeck lab up` writes one for the lab; the
/// README documents the format with an example for remote hosts.
///
/// What the file leaves out is unknown to hadeck, never guessed: a balancer without `keepalived`
/// shows no VRRP state, one without `power` offers no power action.
public struct AttachFile: Hashable, Sendable {
    /// The format's version; only 1 exists.
    public var version: Int
    /// The cluster's name, shown in the dashboard's header.
    public var name: String
    /// The virtual IP (IPv4) and the port its clients use.
    public var vip: String
    public var port: Int
    /// Where the clients' view of the VIP comes from.
    public var client: ClientAccess?
    /// The balancer hosts, in file order.
    public var balancers: [BalancerAccess]
    /// haproxy's servers (by their `server` name) whose application can be killed and started.
    public var servers: [ServerAccess]
    /// Cutting and healing VRRP between two balancers.
    public var partition: PartitionCommands?

    public init(
        version: Int = 1, name: String, vip: String, port: Int = 80, client: ClientAccess? = nil,
        balancers: [BalancerAccess], servers: [ServerAccess] = [], partition: PartitionCommands? = nil
    ) {
        self.version = version
        self.name = name
        self.vip = vip
        self.port = port
        self.client = client
        self.balancers = balancers
        self.servers = servers
        self.partition = partition
    }

    /// The balancer called `name`, if any.
    public func balancer(_ name: String) -> BalancerAccess? { balancers.first { $0.name == name } }
}

/// A haproxy stats socket (runtime API) as haproxy's `stats socket` line names it.
public enum StatsSocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// A unix stream socket path.
    case unix(String)
    /// `ipv4@HOST:PORT`.
    case tcp(host: String, port: Int)

    public var description: String {
        switch self {
        case .unix(let path): path
        case .tcp(let host, let port): "ipv4@\(host):\(port)"
        }
    }
}

/// Where hadeck receives a haproxy's log stream: it binds this address, haproxy's `log` line sends to it.
public enum LogSocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// A unix datagram socket path.
    case unix(String)
    /// `udp@HOST:PORT` (syslog over UDP).
    case udp(host: String, port: Int)

    public var description: String {
        switch self {
        case .unix(let path): path
        case .udp(let host, let port): "udp@\(host):\(port)"
        }
    }
}

/// Something hadeck reads: a local file, or a command whose standard output is the content
/// (`ssh lb1 cat /run/keepalived.fifo`). For a FIFO the command's output is read as a stream.
public enum Readable: Hashable, Sendable {
    case file(String)
    case command(CommandTemplate)
}

/// A command as an argument vector. Placeholders such as `{pid}` stand for whole arguments and are
/// replaced by whole arguments: no shell ever sees the values.
public struct CommandTemplate: Hashable, Sendable, CustomStringConvertible {
    public var arguments: [String]
    /// The line of the attach file it came from (0 when built in code).
    public var line: Int

    public init(_ arguments: [String], line: Int = 0) {
        self.arguments = arguments
        self.line = line
    }

    /// The placeholder names used, in order of first use.
    public var placeholders: [String] {
        var seen: [String] = []
        for a in arguments {
            if let name = Self.placeholderName(a), !seen.contains(name) { seen.append(name) }
        }
        return seen
    }

    /// `{name}` -> `name`; nil for any other argument.
    static func placeholderName(_ argument: String) -> String? {
        guard argument.count > 2, argument.first == "{", argument.last == "}" else { return nil }
        let name = argument.dropFirst().dropLast()
        guard name.allSatisfy({ $0.isLetter || $0 == "_" }) else { return nil }
        return String(name)
    }

    /// The argument vector with each placeholder argument replaced by its value.
    /// Throws `CommandTemplateError.unknownValue` naming a placeholder that has no value.
    public func render(_ values: [String: String]) throws(CommandTemplateError) -> [String] {
        var out: [String] = []
        for argument in arguments {
            guard let name = Self.placeholderName(argument) else {
                out.append(argument)
                continue
            }
            guard let value = values[name] else { throw .unknownValue(name) }
            out.append(value)
        }
        return out
    }

    public var description: String { arguments.map(shellQuotedForDisplay).joined(separator: " ") }
}

/// A placeholder without a value (e.g. `{pid}` while the process has no pid file).
public enum CommandTemplateError: Error, Hashable, Sendable, CustomStringConvertible {
    case unknownValue(String)

    public var description: String {
        switch self {
        case .unknownValue(let name): "no value for {\(name)}"
        }
    }
}

/// An argument as a person would type it in a shell (for messages and audit logs only; never executed).
func shellQuotedForDisplay(_ argument: String) -> String {
    let plain =
        !argument.isEmpty
        && argument.unicodeScalars.allSatisfy {
            ($0.properties.isAlphabetic && $0.isASCII) || "0123456789/._-@:=+,{}%".unicodeScalars.contains($0)
        }
    return plain ? argument : "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// How the clients' neighbour table (VIP -> MAC) is read.
public struct ClientAccess: Hashable, Sendable {
    /// A command printing the neighbour entry as `ip -j neigh show` does (JSON), polled.
    public var neighbours: CommandTemplate?
    /// A command printing neighbour changes as `ip monitor neigh` does, one per line, as they happen.
    public var neighbourEvents: CommandTemplate?

    public init(neighbours: CommandTemplate? = nil, neighbourEvents: CommandTemplate? = nil) {
        self.neighbours = neighbours
        self.neighbourEvents = neighbourEvents
    }
}

/// One balancer host: haproxy + keepalived.
public struct BalancerAccess: Hashable, Sendable {
    public var name: String
    /// The host's own address (not the VIP), if known.
    public var address: String?
    /// Its interface's MAC, so the VIP's neighbour entry can be named (lower case).
    public var mac: String?
    public var haproxy: HAProxyAccess?
    public var keepalived: KeepalivedAccess?
    public var power: PowerCommands?
    public var link: LinkCommands?
    public var line: Int

    public init(
        name: String, address: String? = nil, mac: String? = nil, haproxy: HAProxyAccess? = nil,
        keepalived: KeepalivedAccess? = nil, power: PowerCommands? = nil, link: LinkCommands? = nil, line: Int = 0
    ) {
        self.name = name
        self.address = address
        self.mac = mac
        self.haproxy = haproxy
        self.keepalived = keepalived
        self.power = power
        self.link = link
        self.line = line
    }
}

/// How one haproxy is read and driven.
public struct HAProxyAccess: Hashable, Sendable {
    /// The runtime API (`show stat`, `show servers state`, `set server ...`); needs `level admin` for controls.
    public var stats: StatsSocketAddress
    /// Where its log stream (requests and server state changes) arrives.
    public var log: LogSocketAddress?
    /// Its pid (a pid file, or a command printing it); `show info` gives it too while the socket answers.
    public var pid: Readable?
    /// `kill -9` of the haproxy (placeholders: `{pid}`).
    public var kill: CommandTemplate?
    /// Starts it again.
    public var start: CommandTemplate?

    public init(
        stats: StatsSocketAddress, log: LogSocketAddress? = nil, pid: Readable? = nil, kill: CommandTemplate? = nil,
        start: CommandTemplate? = nil
    ) {
        self.stats = stats
        self.log = log
        self.pid = pid
        self.kill = kill
        self.start = start
    }
}

/// How one keepalived is read and driven.
public struct KeepalivedAccess: Hashable, Sendable {
    /// The VRRP instance to follow (its `vrrp_instance` name); nil: the first one seen.
    public var instance: String?
    /// The `vrrp_notify_fifo` stream (with `vrrp_notify_priority_changes true`).
    public var fifo: Readable?
    /// The data dump keepalived writes on SIGUSR1 (`keepalived.data` in its TMPDIR, /tmp by default).
    public var data: Readable?
    /// Makes it write the data dump (placeholders: `{pid}`).
    public var dump: CommandTemplate?
    /// The parent process's pid.
    public var pid: Readable?
    /// The VRRP child's pid.
    public var vrrpPid: Readable?
    /// `kill -9` of keepalived (placeholders: `{pid}`, `{vrrp_pid}`).
    public var kill: CommandTemplate?
    /// Graceful stop: SIGTERM to the parent, which sends a priority-0 advert.
    public var stop: CommandTemplate?
    public var start: CommandTemplate?

    public init(
        instance: String? = nil, fifo: Readable? = nil, data: Readable? = nil, dump: CommandTemplate? = nil,
        pid: Readable? = nil, vrrpPid: Readable? = nil, kill: CommandTemplate? = nil, stop: CommandTemplate? = nil,
        start: CommandTemplate? = nil
    ) {
        self.instance = instance
        self.fifo = fifo
        self.data = data
        self.dump = dump
        self.pid = pid
        self.vrrpPid = vrrpPid
        self.kill = kill
        self.stop = stop
        self.start = start
    }
}

/// Powering a host off (every process gone, link dark) and on again (it boots: processes start).
public struct PowerCommands: Hashable, Sendable {
    public var off: CommandTemplate?
    public var on: CommandTemplate?

    public init(off: CommandTemplate? = nil, on: CommandTemplate? = nil) {
        self.off = off
        self.on = on
    }
}

/// Pulling a host's cable (link down, processes keep running) and plugging it back.
public struct LinkCommands: Hashable, Sendable {
    public var down: CommandTemplate?
    public var up: CommandTemplate?

    public init(down: CommandTemplate? = nil, up: CommandTemplate? = nil) {
        self.down = down
        self.up = up
    }
}

/// One haproxy server's application (the backend host behind it).
public struct ServerAccess: Hashable, Sendable {
    /// haproxy's `server` name (e.g. `webA`).
    public var name: String
    public var pid: Readable?
    public var kill: CommandTemplate?
    public var start: CommandTemplate?
    public var line: Int

    public init(
        name: String, pid: Readable? = nil, kill: CommandTemplate? = nil, start: CommandTemplate? = nil, line: Int = 0
    ) {
        self.name = name
        self.pid = pid
        self.kill = kill
        self.start = start
        self.line = line
    }
}

/// Cutting VRRP between two balancers and healing it (placeholders: `{a}`, `{b}`).
public struct PartitionCommands: Hashable, Sendable {
    public var cut: CommandTemplate
    public var heal: CommandTemplate

    public init(cut: CommandTemplate, heal: CommandTemplate) {
        self.cut = cut
        self.heal = heal
    }
}
