extension AttachFile {
    /// The file as YAML that `parse` reads back to the same value, in the README's layout. `header`
    /// lines become `#` comments at the top.
    public func yaml(header: [String] = []) -> String {
        var out = header.map { "# \($0)\n" }.joined()
        out += "version: \(version)\n"
        out += "name: \(yamlScalar(name))\n"
        out += "vip: \(vip):\(port)\n"
        if let client {
            out += "client:\n"
            if let c = client.neighbours { out += "  neighbours: \(flow(c))\n" }
            if let c = client.neighbourEvents { out += "  neighbour_events: \(flow(c))\n" }
        }
        out += "balancers:\n"
        for b in balancers {
            out += "  \(yamlScalar(b.name)):\n"
            if let a = b.address { out += "    address: \(a)\n" }
            if let m = b.mac { out += "    mac: \"\(m)\"\n" }
            if let h = b.haproxy {
                out += "    haproxy:\n"
                out += "      stats: \(yamlScalar(h.stats.description))\n"
                if let l = h.log { out += "      log: \(yamlScalar(l.description))\n" }
                out += entry("pid", h.pid, indent: 6)
                out += entry("kill", h.kill, indent: 6)
                out += entry("start", h.start, indent: 6)
            }
            if let k = b.keepalived {
                out += "    keepalived:\n"
                if let i = k.instance { out += "      instance: \(yamlScalar(i))\n" }
                out += entry("fifo", k.fifo, indent: 6)
                out += entry("data", k.data, indent: 6)
                out += entry("dump", k.dump, indent: 6)
                out += entry("pid", k.pid, indent: 6)
                out += entry("vrrp_pid", k.vrrpPid, indent: 6)
                out += entry("kill", k.kill, indent: 6)
                out += entry("stop", k.stop, indent: 6)
                out += entry("start", k.start, indent: 6)
            }
            if let p = b.power {
                out += "    power:\n" + entry("off", p.off, indent: 6) + entry("on", p.on, indent: 6)
            }
            if let l = b.link {
                out += "    link:\n" + entry("down", l.down, indent: 6) + entry("up", l.up, indent: 6)
            }
        }
        if !servers.isEmpty {
            out += "servers:\n"
            for s in servers {
                out += "  \(yamlScalar(s.name)):\n"
                out += entry("pid", s.pid, indent: 4) + entry("kill", s.kill, indent: 4)
                out += entry("start", s.start, indent: 4)
            }
        }
        if let p = partition {
            out += "partition:\n" + entry("cut", p.cut, indent: 2) + entry("heal", p.heal, indent: 2)
        }
        return out
    }
}

private func entry(_ key: String, _ command: CommandTemplate?, indent: Int) -> String {
    guard let command else { return "" }
    return String(repeating: " ", count: indent) + "\(key): \(flow(command))\n"
}

private func entry(_ key: String, _ readable: Readable?, indent: Int) -> String {
    guard let readable else { return "" }
    let value =
        switch readable {
        case .file(let path): "{file: \(yamlScalar(path))}"
        case .command(let c): "{command: \(flow(c))}"
        }
    return String(repeating: " ", count: indent) + "\(key): \(value)\n"
}

/// `[a, b, "{pid}"]`.
private func flow(_ command: CommandTemplate) -> String {
    "[" + command.arguments.map(yamlScalar).joined(separator: ", ") + "]"
}

/// A YAML scalar that reads back as the same string: plain when it is unambiguous, else double-quoted.
func yamlScalar(_ s: String) -> String {
    let safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-@+=:"
    let plain =
        !s.isEmpty && s.allSatisfy { safe.contains($0) } && s.first != "@" && s.first != ":" && s.last != ":"
        && s != "-" && !["true", "false", "yes", "no", "on", "off", "null", "~"].contains(s.lowercased())
    if plain { return s }
    var out = "\""
    for c in s.unicodeScalars {
        switch c {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        default: out.unicodeScalars.append(c)
        }
    }
    return out + "\""
}
