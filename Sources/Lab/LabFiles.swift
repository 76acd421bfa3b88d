import AttachConfig

/// The texts `hadeck lab up` writes: haproxy.cfg and keepalived.conf after the article's files in
/// Examples/article/ (same backends, cookies, checks, VRRP settings) on the lab's addresses, plus
/// what a watcher needs to read the cluster from outside (stats socket, log socket, notify FIFO),
/// the track script and the attach file.
extension LabLayout {
    /// The log-format: HAProxy 2.6's own `option httplog` format, spelled out so the fields a
    /// watcher parses (`%b/%s %ST %CC %tsc %ac/%fc/%bc/%sc/%rc`, the captured Cookie and Set-Cookie
    /// headers in `%hr %hs`) are fixed whatever a later haproxy's default becomes.
    public static let logFormat =
        "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"

    public func haproxyConfigText(_ host: LabHost) -> String {
        let servers = Self.apps.map { app -> String in
            guard case .app(let port, _) = app.role else { return "" }
            let cookie = app.name == "webA" ? "A" : "B"
            return "    server \(app.name) \(app.address!):\(port) cookie \(cookie) check inter 2000 rise 2 fall 3\n"
        }.joined()
        return """
            # haproxy.cfg for lab balancer \(host.name), written by `hadeck lab up`: the article's
            # Examples/article/haproxy-\(host.name).cfg on the lab's addresses, plus what a watcher reads.

            global
                nbthread 1
                maxconn 4096
                node \(host.name)
                # The runtime API, for `show stat`, `set server ... state drain` (hadeck, socat, hatop).
                stats socket \(statsSocket(host.name)) mode 600 level admin
                # Server state changes and one line per request, to a unix datagram socket that the
                # reader binds (nothing is lost by haproxy while nobody listens).
                log \(logSocket(host.name)) len 2048 format rfc3164 local0 info

            defaults
                mode http
                log global
                option httplog
                retries 3
                option redispatch
                timeout connect 5s
                timeout client 30s
                timeout server 30s

            listen web
                bind :\(Self.vipPort)
                balance roundrobin
                cookie SRV insert indirect nocache
                option httpchk GET /login
                capture cookie SRV len 32
                capture request header Cookie len 128
                capture response header Set-Cookie len 128
                log-format "\(Self.logFormat)"
                stats enable
                stats uri /haproxy-stats
                stats refresh 5s
            \(servers)
            """
    }

    /// `hadeckNode`: for `hadeck node`, whose track script `killall -0 haproxy` means its own
    /// embedded haproxy (it runs no scripts and has no haproxy process to look for).
    public func keepalivedConfigText(_ host: LabHost, hadeckNode: Bool = false) -> String {
        guard case .balancer(let state, let priority) = host.role else { return "" }
        let check =
            hadeckNode
            ? [
                "# hadeck node reads `killall -0 haproxy` as \"this host's own haproxy\": its embedded one.",
                "script \"killall -0 haproxy\"",
            ]
            : [
                "# This host's own haproxy, by its pid file: `killall -0 haproxy` would see every",
                "# haproxy of the machine, the lab's hosts sharing one pid namespace.",
                "script \"\(checkScript(host.name))\"",
            ]
        return """
            ! keepalived.conf for lab balancer \(host.name), written by `hadeck lab up`: the article's
            ! Examples/article/keepalived-\(host.name).conf on the lab's network (VRRPv2 multicast on eth0).

            global_defs {
                router_id \(host.name)
                # State and priority changes, pushed as lines: INSTANCE "\(Self.instance)" MASTER \(priority)
                vrrp_notify_fifo \(notifyFIFO(host.name))
                vrrp_notify_priority_changes true
                enable_script_security
                script_user root
            }

            vrrp_script chk_haproxy {
                \(check.joined(separator: "\n    "))
                interval 2
                weight -60
                fall 2
                rise 1
            }

            vrrp_instance \(Self.instance) {
                state \(state)
                interface eth0
                virtual_router_id \(Self.routerID)
                priority \(priority)
                advert_int 1
                authentication {
                    auth_type PASS
                    auth_pass \(Self.password)
                }
                virtual_ipaddress {
                    \(Self.vip)
                }
                track_script {
                    chk_haproxy
                }
            }

            """
    }

    /// The track script: succeeds only while this host's haproxy (its pid file) runs. `/proc/PID/stat`
    /// rather than `kill -0`, which succeeds on a zombie; the command name guards against a reused pid.
    public func checkScriptText(_ host: LabHost) -> String {
        """
        #!/bin/sh
        # chk_haproxy for lab host \(host.name), written by `hadeck lab up`.
        read -r pid 2>/dev/null < \(haproxyPidFile(host.name)) || exit 1
        read -r _ comm state _ 2>/dev/null < "/proc/$pid/stat" || exit 1
        [ "$comm" = "(haproxy)" ] && [ "$state" != Z ] && [ "$state" != X ]

        """
    }

    /// nftables rules for the bridge's namespace: VRRP (IP protocol 112) between `a` and `b` is
    /// dropped at the bridge, everything else still flows. Loading it again replaces it.
    public func partitionRulesText(_ a: String, _ b: String) -> String {
        """
        # Partition between \(a) and \(b), written by `hadeck lab partition`.
        table bridge \(Self.partitionTable)
        delete table bridge \(Self.partitionTable)
        table bridge \(Self.partitionTable) {
            chain forward {
                type filter hook forward priority 0; policy accept;
                iifname "\(a)" oifname "\(b)" ip protocol vrrp drop
                iifname "\(b)" oifname "\(a)" ip protocol vrrp drop
            }
        }

        """
    }

    static let partitionTable = "hadeck_partition"

    /// The attach file for this lab. `hadeck` is the binary whose `lab` subcommands the start and
    /// power commands call (they need the lab's own sequences: private TMPDIR, logs, a boot). Killing
    /// keepalived goes through `hadeck lab kill` too: `kill -9 PARENT CHILD` lets the child see its
    /// parent die and stop gracefully (see `LinuxProcess.killTogether`).
    ///
    /// `node`: the host that runs `hadeck node` (a mixed lab): its haproxy and keepalived are that one
    /// process, so both pids are the node's.
    public func attachFileValue(hadeck: String, node: String? = nil) -> AttachFile {
        func lab(_ words: String...) -> CommandTemplate {
            CommandTemplate([hadeck, "lab"] + words + (id == Self.defaultID ? [] : ["--id", id]))
        }
        let balancers = Self.balancers.map { host in
            let name = host.name
            let haproxyPid = name == node ? nodePidFile(name) : haproxyPidFile(name)
            let keepalivedPid = name == node ? nodePidFile(name) : keepalivedPidFile(name)
            return BalancerAccess(
                name: name, address: host.address, mac: host.mac,
                haproxy: HAProxyAccess(
                    stats: .unix(statsSocket(name)), log: .unix(logSocket(name)), pid: .file(haproxyPid),
                    kill: CommandTemplate(["kill", "-9", "{pid}"]), start: lab("start", "\(name)/haproxy")),
                keepalived: KeepalivedAccess(
                    instance: Self.instance, fifo: .file(notifyFIFO(name)), data: .file(dataDump(name)),
                    dump: CommandTemplate(["kill", "-USR1", "{pid}"]), pid: .file(keepalivedPid),
                    vrrpPid: name == node ? nil : .file(vrrpPidFile(name)), kill: lab("kill", "\(name)/keepalived"),
                    stop: CommandTemplate(["kill", "-TERM", "{pid}"]), start: lab("start", "\(name)/keepalived")),
                power: PowerCommands(off: lab("poweroff", name), on: lab("poweron", name)),
                link: LinkCommands(down: lab("link", name, "down"), up: lab("link", name, "up")))
        }
        let servers = Self.apps.map { host in
            ServerAccess(
                name: host.name, pid: .file(appPidFile(host.name)), kill: CommandTemplate(["kill", "-9", "{pid}"]),
                start: lab("start", host.name))
        }
        let ip = ["ip"]
        return AttachFile(
            name: id == Self.defaultID ? "lab" : "lab \(id)", vip: Self.vip, port: Self.vipPort,
            client: ClientAccess(
                neighbours: CommandTemplate(ip + ["-j", "-n", namespace("client"), "neigh", "show", "{vip}"]),
                neighbourEvents: CommandTemplate(ip + ["-n", namespace("client"), "monitor", "neigh"])),
            balancers: balancers, servers: servers,
            partition: PartitionCommands(cut: lab("partition", "{a}", "{b}"), heal: lab("heal")))
    }
}
