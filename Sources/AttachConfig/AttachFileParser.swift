import Foundation
import HadeckBase
import YAMLDocument
import Yams

extension AttachFile {
    /// The attach file format versions this hadeck reads.
    public static let supportedVersions = [1]

    /// Reads and parses the attach file at `path`.
    public static func load(path: String) -> (AttachFile?, Diagnostics) {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            var d = Diagnostics()
            d.error(path, 0, "cannot read the attach file: \((error as NSError).localizedDescription)")
            return (nil, d)
        }
        return parse(text, file: path)
    }

    /// Parses an attach file. Problems are `file:line` diagnostics; with any error the result is nil.
    public static func parse(_ text: String, file: String) -> (AttachFile?, Diagnostics) {
        var reader = AttachFileReader(file: file)
        let result = reader.read(text)
        return (reader.diagnostics.hasErrors ? nil : result, reader.diagnostics)
    }
}

/// Placeholders each kind of command may use.
enum Placeholders {
    static let host: Set<String> = ["host", "address", "vip", "haproxy_pid", "keepalived_pid", "vrrp_pid"]
    static let process: Set<String> = host.union(["pid"])
    static let reading: Set<String> = ["host", "address", "vip"]
    static let client: Set<String> = ["vip"]
    static let server: Set<String> = ["server", "pid", "vip"]
    static let partition: Set<String> = ["a", "b", "vip"]
}

/// One pass over the YAML tree, collecting diagnostics.
struct AttachFileReader {
    let file: String
    var diagnostics = Diagnostics()

    init(file: String) { self.file = file }

    mutating func read(_ text: String) -> AttachFile? {
        let root: Node
        switch YAMLDocument.compose(text, kind: "the attach file", needs: "an attach file needs 5") {
        case .failure(let problem):
            error(problem.line, problem.message)
            return nil
        case .success(nil):
            error(1, "the attach file is empty: it needs version, vip and balancers")
            return nil
        case .success(let node?):
            root = node
        }
        guard let top = root.mapping else {
            error(line(root), "the attach file must be a mapping with version, vip and balancers")
            return nil
        }
        var version: Int?
        var name = "cluster"
        var vip: (String, Int)?
        var client: ClientAccess?
        var balancers: [BalancerAccess] = []
        var servers: [ServerAccess] = []
        var partition: PartitionCommands?
        for (keyNode, value) in top {
            switch keyNode.string ?? "" {
            case "version":
                // Decimal digits only: Yams's `int` traps on a sexagesimal value beyond Int (`1:2:...:12`).
                guard let v = value.string.flatMap({ Int($0) }) else {
                    error(line(value), "version must be a whole number (this hadeck reads version 1)")
                    continue
                }
                if !AttachFile.supportedVersions.contains(v) {
                    error(line(value), "attach file version \(v) is not supported: this hadeck reads version 1")
                }
                version = v
            case "name":
                if let s = string(value, "name") { name = s }
            case "vip":
                if let s = string(value, "vip") {
                    if let parsed = parseHostPort(s, defaultPort: 80) {
                        vip = parsed
                    } else {
                        error(line(value), "vip '\(s)' is not an IPv4 address with an optional port (10.77.0.10:80)")
                    }
                }
            case "client": client = readClient(value)
            case "balancers":
                guard let m = value.mapping else {
                    error(line(value), "'balancers' must map host names to their haproxy and keepalived access")
                    continue
                }
                for (nameNode, host) in m {
                    if let b = readBalancer(name: nameNode.string ?? "", nameNode: nameNode, host) {
                        if balancers.contains(where: { $0.name == b.name }) {
                            error(line(nameNode), "balancer '\(b.name)' appears twice")
                        }
                        balancers.append(b)
                    }
                }
            case "servers":
                guard let m = value.mapping else {
                    error(line(value), "'servers' must map haproxy server names to {pid, kill, start}")
                    continue
                }
                for (nameNode, server) in m {
                    if let s = readServer(name: nameNode.string ?? "", nameNode: nameNode, server) { servers.append(s) }
                }
            case "partition": partition = readPartition(value)
            default: warn(line(keyNode), "unknown key '\(keyNode.string ?? "")' ignored")
            }
        }
        if version == nil {
            error(line(root), "the attach file has no 'version' (write 'version: 1' at the top)")
        }
        if vip == nil, top["vip"] == nil {
            error(line(root), "the attach file has no 'vip' (e.g. 'vip: 10.77.0.10:80')")
        }
        if balancers.isEmpty, top["balancers"] == nil { error(line(root), "the attach file has no 'balancers'") }
        guard let version, let vip else { return nil }
        return AttachFile(
            version: version, name: name, vip: vip.0, port: vip.1, client: client, balancers: balancers,
            servers: servers, partition: partition)
    }

    // MARK: Sections

    mutating func readClient(_ node: Node) -> ClientAccess? {
        guard let m = node.mapping else {
            error(line(node), "'client' must be a mapping {neighbours, neighbour_events}")
            return nil
        }
        var client = ClientAccess()
        for (k, v) in m {
            switch k.string ?? "" {
            case "neighbours": client.neighbours = command(v, "client neighbours", Placeholders.client)
            case "neighbour_events": client.neighbourEvents = command(v, "client neighbour_events", Placeholders.client)
            default: warn(line(k), "unknown client key '\(k.string ?? "")' ignored")
            }
        }
        return client
    }

    mutating func readBalancer(name: String, nameNode: Node, _ node: Node) -> BalancerAccess? {
        guard !name.isEmpty else {
            error(line(nameNode), "a balancer needs a name")
            return nil
        }
        guard let fields = node.mapping else {
            error(line(node), "balancer '\(name)' must be a mapping with haproxy and keepalived")
            return nil
        }
        var b = BalancerAccess(name: name, line: line(nameNode))
        for (k, v) in fields {
            let key = k.string ?? ""
            switch key {
            case "address":
                if let s = string(v, "\(name) address") {
                    if isIPv4(s) { b.address = s } else { error(line(v), "'\(s)' is not an IPv4 address") }
                }
            case "mac":
                if let s = string(v, "\(name) mac") {
                    if isMAC(s) {
                        b.mac = s.lowercased()
                    } else {
                        error(line(v), "'\(s)' is not a MAC address like 02:77:00:00:00:11")
                    }
                }
            case "haproxy": b.haproxy = readHAProxy(host: name, v)
            case "keepalived": b.keepalived = readKeepalived(host: name, v)
            case "power":
                let (off, on) = pair(v, "\(name) power", ("off", "on"), Placeholders.host)
                b.power = PowerCommands(off: off, on: on)
            case "link":
                let (down, up) = pair(v, "\(name) link", ("down", "up"), Placeholders.host)
                b.link = LinkCommands(down: down, up: up)
            default: warn(line(k), "unknown key '\(key)' of balancer '\(name)' ignored")
            }
        }
        if b.haproxy == nil && b.keepalived == nil {
            error(b.line, "balancer '\(name)' has neither 'haproxy' nor 'keepalived': nothing to watch")
        }
        return b
    }

    mutating func readHAProxy(host: String, _ node: Node) -> HAProxyAccess? {
        guard let fields = node.mapping else {
            error(line(node), "\(host) haproxy must be a mapping {stats, log, pid, kill, start}")
            return nil
        }
        var stats: StatsSocketAddress?
        var access = HAProxyAccess(stats: .unix(""))
        for (k, v) in fields {
            let key = k.string ?? ""
            let what = "\(host) haproxy \(key)"
            switch key {
            case "stats":
                guard let s = string(v, what) else { continue }
                stats = parseStatsAddress(s)
                if stats == nil {
                    error(line(v), "\(what) '\(s)' is neither an absolute unix socket path nor ipv4@HOST:PORT")
                }
            case "log":
                guard let s = string(v, what) else { continue }
                access.log = parseLogAddress(s)
                if access.log == nil {
                    error(line(v), "\(what) '\(s)' is neither an absolute unix socket path nor udp@HOST:PORT")
                }
            case "pid": access.pid = readable(v, what)
            case "kill": access.kill = command(v, what, Placeholders.process)
            case "start": access.start = command(v, what, Placeholders.process)
            default: warn(line(k), "unknown key '\(key)' of \(host) haproxy ignored")
            }
        }
        guard let stats else {
            error(line(node), "\(host) haproxy has no 'stats' (its stats socket: a path or ipv4@HOST:PORT)")
            return nil
        }
        access.stats = stats
        return access
    }

    mutating func readKeepalived(host: String, _ node: Node) -> KeepalivedAccess? {
        guard let fields = node.mapping else {
            error(
                line(node), "\(host) keepalived must be a mapping {fifo, data, dump, pid, vrrp_pid, kill, stop, start}")
            return nil
        }
        var k = KeepalivedAccess()
        for (keyNode, v) in fields {
            let key = keyNode.string ?? ""
            let what = "\(host) keepalived \(key)"
            switch key {
            case "instance": k.instance = string(v, what)
            case "fifo": k.fifo = readable(v, what)
            case "data": k.data = readable(v, what)
            case "dump": k.dump = command(v, what, Placeholders.process)
            case "pid": k.pid = readable(v, what)
            case "vrrp_pid": k.vrrpPid = readable(v, what)
            case "kill": k.kill = command(v, what, Placeholders.process)
            case "stop": k.stop = command(v, what, Placeholders.process)
            case "start": k.start = command(v, what, Placeholders.process)
            default: warn(line(keyNode), "unknown key '\(key)' of \(host) keepalived ignored")
            }
        }
        return k
    }

    mutating func readServer(name: String, nameNode: Node, _ node: Node) -> ServerAccess? {
        guard let fields = node.mapping, !name.isEmpty else {
            error(line(node), "server '\(name)' must be a mapping {pid, kill, start}")
            return nil
        }
        var s = ServerAccess(name: name, line: line(nameNode))
        for (k, v) in fields {
            let key = k.string ?? ""
            let what = "server \(name) \(key)"
            switch key {
            case "pid": s.pid = readable(v, what)
            case "kill": s.kill = command(v, what, Placeholders.server)
            case "start": s.start = command(v, what, Placeholders.server)
            default: warn(line(k), "unknown key '\(key)' of server '\(name)' ignored")
            }
        }
        return s
    }

    mutating func readPartition(_ node: Node) -> PartitionCommands? {
        let (cut, heal) = pair(node, "partition", ("cut", "heal"), Placeholders.partition)
        guard let cut, let heal else {
            if node.mapping != nil { error(line(node), "partition needs both 'cut' and 'heal'") }
            return nil
        }
        return PartitionCommands(cut: cut, heal: heal)
    }

    // MARK: Values

    /// A mapping of two optional commands, e.g. power {off, on}.
    mutating func pair(
        _ node: Node, _ what: String, _ keys: (String, String), _ allowed: Set<String>
    ) -> (CommandTemplate?, CommandTemplate?) {
        guard let m = node.mapping else {
            error(line(node), "\(what) must be a mapping {\(keys.0), \(keys.1)} of commands")
            return (nil, nil)
        }
        var first: CommandTemplate?
        var second: CommandTemplate?
        for (k, v) in m {
            switch k.string ?? "" {
            case keys.0: first = command(v, "\(what) \(keys.0)", allowed)
            case keys.1: second = command(v, "\(what) \(keys.1)", allowed)
            default: warn(line(k), "unknown key '\(k.string ?? "")' of \(what) ignored")
            }
        }
        return (first, second)
    }

    /// A file path (a plain string or `{file: PATH}`) or `{command: [ARGV...]}`.
    mutating func readable(_ node: Node, _ what: String) -> Readable? {
        if node.scalar != nil {
            guard let path = string(node, what) else { return nil }
            return filePath(path, node, what).map(Readable.file)
        }
        guard let m = node.mapping, m.count == 1, let entry = m.first, let key = entry.key.string,
            key == "file" || key == "command"
        else {
            error(line(node), "\(what) must be a path, {file: PATH} or {command: [PROGRAM, ARG...]}")
            return nil
        }
        if key == "file" {
            guard let path = string(entry.value, what) else { return nil }
            return filePath(path, entry.value, what).map(Readable.file)
        }
        return command(entry.value, what, Placeholders.reading).map(Readable.command)
    }

    mutating func filePath(_ path: String, _ node: Node, _ what: String) -> String? {
        guard path.hasPrefix("/") else {
            error(line(node), "\(what) '\(path)' must be an absolute path")
            return nil
        }
        return path
    }

    /// A command: a YAML sequence of strings, the first the program. Placeholders must be whole
    /// arguments and among `allowed`.
    mutating func command(_ node: Node, _ what: String, _ allowed: Set<String>) -> CommandTemplate? {
        guard let seq = node.sequence, !seq.isEmpty else {
            error(
                line(node),
                "\(what) must be a command as a list of arguments, e.g. [kill, -9, \"{pid}\"] (no shell is involved)")
            return nil
        }
        var arguments: [String] = []
        var ok = true
        for item in seq {
            guard let s = item.scalar?.string else {
                error(line(item), "\(what): every argument must be a string (quote \"{pid}\": braces are YAML syntax)")
                ok = false
                continue
            }
            if let name = CommandTemplate.placeholderName(s) {
                if !allowed.contains(name) {
                    let list = allowed.sorted().map { "{\($0)}" }.joined(separator: ", ")
                    error(line(item), "\(what): unknown placeholder {\(name)} (here: \(list))")
                    ok = false
                }
            } else if containsPlaceholder(s) {
                error(
                    line(item),
                    "\(what): '\(s)': a placeholder must be a whole argument (values are never spliced into text)")
                ok = false
            }
            arguments.append(s)
        }
        if let first = arguments.first, first.isEmpty || CommandTemplate.placeholderName(first) != nil {
            error(line(node), "\(what): the first argument must name the program")
            ok = false
        }
        return ok ? CommandTemplate(arguments, line: line(node)) : nil
    }

    mutating func string(_ node: Node, _ what: String) -> String? {
        guard let s = node.scalar?.string, !s.isEmpty else {
            error(line(node), "\(what) must be a non-empty string")
            return nil
        }
        return s
    }

    mutating func error(_ line: Int, _ message: String) { diagnostics.error(file, line, message) }
    mutating func warn(_ line: Int, _ message: String) { diagnostics.warn(file, line, message) }
}

/// `{name}` somewhere inside a longer argument.
private func containsPlaceholder(_ s: String) -> Bool {
    var rest = s[...]
    while let open = rest.firstIndex(of: "{") {
        let after = rest[rest.index(after: open)...]
        guard let close = after.firstIndex(of: "}") else { return false }
        let name = after[..<close]
        if !name.isEmpty && name.allSatisfy({ $0.isLetter || $0 == "_" }) { return true }
        rest = after
    }
    return false
}

func isIPv4(_ s: String) -> Bool {
    let parts = s.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && UInt8($0) != nil }
}

func isMAC(_ s: String) -> Bool {
    let parts = s.split(separator: ":", omittingEmptySubsequences: false)
    return parts.count == 6 && parts.allSatisfy { $0.count == 2 && UInt8($0, radix: 16) != nil }
}

/// `HOST[:PORT]` with an IPv4 host.
func parseHostPort(_ s: String, defaultPort: Int?) -> (String, Int)? {
    var host = s
    var port = defaultPort
    if let colon = s.lastIndex(of: ":") {
        host = String(s[..<colon])
        guard let p = Int(s[s.index(after: colon)...]), (1...65535).contains(p) else { return nil }
        port = p
    }
    guard isIPv4(host), let port else { return nil }
    return (host, port)
}

/// An absolute path (optionally `unix@PATH`) or `ipv4@HOST:PORT` (`HOST:PORT` alone too).
func parseStatsAddress(_ s: String) -> StatsSocketAddress? {
    if s.hasPrefix("unix@") { return parseStatsAddress(String(s.dropFirst(5))) }
    if s.hasPrefix("/") { return .unix(s) }
    let rest = s.hasPrefix("ipv4@") ? String(s.dropFirst(5)) : s
    return parseHostPort(rest, defaultPort: nil).map { .tcp(host: $0.0, port: $0.1) }
}

/// An absolute path (optionally `unix@PATH`) or `udp@HOST:PORT` (`HOST:PORT` alone too).
func parseLogAddress(_ s: String) -> LogSocketAddress? {
    if s.hasPrefix("unix@") { return parseLogAddress(String(s.dropFirst(5))) }
    if s.hasPrefix("/") { return .unix(s) }
    var rest = s
    for prefix in ["udp@", "udp4@", "ipv4@"] where s.hasPrefix(prefix) { rest = String(s.dropFirst(prefix.count)) }
    return parseHostPort(rest, defaultPort: nil).map { .udp(host: $0.0, port: $0.1) }
}

private func line(_ node: Node) -> Int { YAMLDocument.line(node) }
