import AttachConfig
import Foundation
import RealCluster

#if canImport(Glibc)
    import Glibc
#endif

// Over ~500 lines on purpose: building, driving and removing the lab share one record of what was
// made (namespaces, processes, files) and one lock; split by MARK sections, not by files, so
// that `down` is seen to undo exactly what `up` does.

/// The article's cluster for real, in network namespaces on this machine: Debian's haproxy and
/// keepalived on lb1 and lb2, hadeck's Tomcat-like app server on webA and webB, a client, all on one
/// bridge. Everything it makes is recorded in its state directory and found again by its
/// namespaces' names, so `down` removes it all, also after a crash or a half-built `up`.
///
/// `up` and `down` take the lab's lock (a `flock`), so two hadeck processes never build or remove
/// one lab at once; the driving actions are single steps and take none. The calls block (programs,
/// waits): from Swift concurrency call them through `Blocking.run`.
public final class Lab: Sendable {
    public let layout: LabLayout
    /// The hadeck binary: it runs the app servers (`hadeck app`) and the attach file's lab commands.
    public let hadeck: String
    /// A mixed lab: `LabLayout.nodeHost` (lb2) runs `hadeck node` instead of Debian's haproxy and
    /// keepalived, beside the real ones on lb1. Kept in the lab's record, so every later command
    /// sees it.
    public let mixed: Bool
    let tools: Tools

    struct Tools: Sendable {
        var ip: String
        var haproxy: String
        var keepalived: String
        var nft: String?
    }

    /// The lab `id` (default: a person's lab, `hdk`); `mixed` makes (or keeps) it a mixed lab. Throws
    /// when the id is not acceptable or the machine lacks something the lab needs (root, iproute2,
    /// haproxy, keepalived).
    public init(id: String = LabLayout.defaultID, hadeck: String, mixed: Bool = false) throws(LabError) {
        layout = try LabLayout.validated(id: id).get()
        let caps = LabCapabilities.current()
        try caps.requireForLab()
        self.hadeck = hadeck
        tools = Tools(ip: caps.ip!, haproxy: caps.haproxy!, keepalived: caps.keepalived!, nft: caps.nft)
        self.mixed = mixed || Self.recordedMixed(layout)
    }

    // MARK: up

    /// Builds the lab, or repairs whatever is missing or broken (idempotent): namespaces, bridge,
    /// links, addresses, processes; heals a partition and powers hosts back on. Returns once lb1 is
    /// MASTER with the VIP, lb2 BACKUP, and the client gets an answer through the VIP with lb1's MAC in
    /// its neighbour table. `progress` hears one line per step. Returns the attach file's path.
    @discardableResult
    public func up(timeout: Duration = .seconds(14), progress: (String) -> Void = { _ in }) throws(LabError) -> String {
        let deadline = ContinuousClock.now + timeout
        return try withLock { () throws(LabError) -> String in
            try prepareStateDirectory()
            var fresh: Set<String> = []
            if try ensureNamespace("bridge") { progress("created namespace \(layout.namespace("bridge"))") }
            try ensureBridge()
            for host in LabLayout.attached {
                if try ensureHost(host) {
                    fresh.insert(host.name)
                    progress("connected \(host.name) (\(host.address!), \(host.mac!)) to the bridge")
                }
            }
            if try isPartitioned() {
                try heal()
                progress("healed the partition")
            }
            for host in LabLayout.apps {
                if fresh.contains(host.name) || runningApp(host.name) == nil {
                    let pid = try startApp(host.name, replacing: true)
                    progress("started \(host.name)'s app server (pid \(pid))")
                }
            }
            for host in LabLayout.balancers {
                if isNode(host.name) {
                    if fresh.contains(host.name) || runningNode(host.name) == nil {
                        progress("started \(host.name)'s hadeck node (pid \(try startNode(host.name)))")
                    }
                    continue
                }
                if runningHAProxy(host.name) == nil {
                    let pid = try startHAProxy(host.name)
                    progress("started \(host.name)'s haproxy (pid \(pid))")
                }
                // A keepalived whose interface was made anew follows an interface that is gone.
                if fresh.contains(host.name) || runningKeepalived(host.name) == nil {
                    let (pid, vrrp) = try startKeepalived(host.name, replacing: true)
                    progress("started \(host.name)'s keepalived (pids \(pid), VRRP \(vrrp))")
                }
            }
            try waitForBaseline(deadline: deadline, progress: progress)
            return layout.attachFile
        }
    }

    /// The state directory and every file in it that `up` writes (configs are rewritten each time).
    func prepareStateDirectory() throws(LabError) {
        let fm = FileManager.default
        do {
            for host in LabLayout.hosts where host.isBalancer || host.isApp {
                try fm.createDirectory(atPath: layout.directory(host.name), withIntermediateDirectories: true)
            }
            for host in LabLayout.balancers {
                let name = host.name
                try fm.createDirectory(atPath: layout.keepalivedTmp(name), withIntermediateDirectories: true)
                try write(layout.haproxyConfigText(host), to: layout.haproxyConfig(name))
                try write(
                    layout.keepalivedConfigText(host, hadeckNode: isNode(name)), to: layout.keepalivedConfig(name))
                try write(layout.checkScriptText(host), to: layout.checkScript(name), mode: 0o755)
                try makeFIFO(layout.notifyFIFO(name))
            }
            let header = [
                "Attach file of the hadeck lab '\(layout.id)', written by `hadeck lab up` (format: README, Attach file).",
                "Every path and command below is this lab's; `hadeck lab down` removes them all.",
            ]
            let node = mixed ? LabLayout.nodeHost : nil
            try write(layout.attachFileValue(hadeck: hadeck, node: node).yaml(header: header), to: layout.attachFile)
        } catch let e as LabError {
            throw e
        } catch {
            throw .failed("cannot write the lab's files under \(layout.stateDirectory): \(error)")
        }
        var record = readRecord()
        record.namespaces = layout.namespaces
        record.mixed = mixed ? true : nil
        writeRecord(record)
    }

    private func write(_ text: String, to path: String, mode: Int = 0o644) throws {
        if (try? String(contentsOfFile: path, encoding: .utf8)) != text {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    /// A FIFO made before keepalived starts, so keepalived neither creates nor unlinks it: a reader
    /// that holds it open keeps reading across keepalived's restarts.
    private func makeFIFO(_ path: String) throws(LabError) {
        var s = stat()
        if lstat(path, &s) == 0 {
            if s.st_mode & S_IFMT == S_IFIFO { return }
            unlink(path)
        }
        guard mkfifo(path, 0o600) == 0 else {
            throw .failed("cannot make the FIFO \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Creates the namespace of `host` if it is missing (with IPv6 off, so the wire carries only
    /// the cluster's IPv4, VRRP and ARP). Returns whether it was created.
    @discardableResult
    func ensureNamespace(_ host: String) throws(LabError) -> Bool {
        let ns = layout.namespace(host)
        if NetworkNamespace.exists(ns) { return false }
        let out = try runTool([tools.ip, "netns", "add", ns])
        guard out.succeeded else {
            throw .missing(
                "hadeck lab: network namespaces are not available here: ip netns add \(ns): \(out.firstErrorLine)")
        }
        _ = try? NetworkNamespace.onThread(in: ns) {
            for key in ["all", "default"] { writeProc("/proc/sys/net/ipv6/conf/\(key)/disable_ipv6", "1") }
        }
        return true
    }

    func ensureBridge() throws(LabError) {
        let ns = layout.namespace("bridge")
        if !(try runTool([tools.ip, "-n", ns, "link", "show", "br0"]).succeeded) {
            try ip("-n", ns, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        }
        try ip("-n", ns, "link", "set", "lo", "up")
        try ip("-n", ns, "link", "set", "br0", "up")
    }

    /// Gives `host` its namespace and its `eth0` on the bridge, with its MAC and address, up.
    /// Returns whether the interface was made now (a new interface: its processes must restart).
    func ensureHost(_ host: LabHost) throws(LabError) -> Bool {
        let ns = layout.namespace(host.name)
        let bridge = layout.namespace("bridge")
        try ensureNamespace(host.name)
        var made = false
        if !(try runTool([tools.ip, "-n", ns, "link", "show", "eth0"]).succeeded) {
            // A bridge port left without its peer (cannot normally happen: a veth pair dies together).
            _ = try runTool([tools.ip, "-n", bridge, "link", "delete", host.name])
            try ip("-n", bridge, "link", "add", host.name, "type", "veth", "peer", "name", "eth0", "netns", ns)
            try ip("-n", ns, "link", "set", "eth0", "address", host.mac!)
            made = true
        }
        try ip("-n", ns, "addr", "replace", "\(host.address!)/\(LabLayout.prefixLength)", "dev", "eth0")
        try ip("-n", ns, "link", "set", "lo", "up")
        try ip("-n", ns, "link", "set", "eth0", "up")
        try ip("-n", bridge, "link", "set", host.name, "master", "br0")
        try ip("-n", bridge, "link", "set", host.name, "up")
        return made
    }

    /// Waits for the article's first state: lb1 MASTER with the VIP, lb2 without it, the client served
    /// through the VIP and its neighbour entry on lb1's MAC.
    func waitForBaseline(deadline: ContinuousClock.Instant, progress: (String) -> Void) throws(LabError) {
        let lb1 = LabLayout.host("lb1")!
        var last = ""
        var vipHeldSince: ContinuousClock.Instant?
        while true {
            last = baselineProblem(master: lb1) ?? ""
            if last.isEmpty { break }
            // Only once lb1 has held the VIP alone for two advert intervals: a takeover's own
            // gratuitous ARP must still be able to show that it is missing.
            if onlyHolder(of: LabLayout.vip) == lb1 {
                let since = vipHeldSince ?? ContinuousClock.now
                vipHeldSince = since
                if ContinuousClock.now - since >= .seconds(2), repairClientNeighbour(master: lb1) {
                    progress("deleted the client's neighbour entry for \(LabLayout.vip), left on another host's MAC")
                }
            } else {
                vipHeldSince = nil
            }
            if ContinuousClock.now > deadline {
                throw .failed(
                    "the lab is built but not ready: \(last) (logs: \(layout.keepalivedLog("lb1")), \(layout.appLog("webA")))"
                )
            }
            usleep(100_000)
        }
        progress("lb1 is MASTER with \(LabLayout.vip); the client reaches it at \(lb1.mac!)")
    }

    /// After a healed split brain in which the old master stepped down before hearing the other's
    /// lower advert, the master sends no gratuitous ARP and the client's entry keeps the MAC of a host
    /// that no longer holds the VIP, for as long as Linux keeps re-probing it (the real behaviour,
    /// which `hadeck conform partition` measures). When only `master` holds the VIP and the entry
    /// names another MAC (and has for two advert intervals, see `waitForBaseline`), the entry is
    /// deleted: the client's next packet resolves the VIP afresh and the master answers.
    /// The caller checks that `master` holds the VIP alone. True when it deleted the entry.
    func repairClientNeighbour(master: LabHost) -> Bool {
        guard let entry = clientNeighbour(), let mac = entry.mac, mac != master.mac else { return false }
        let out = try? runTool([
            tools.ip, "-n", layout.namespace("client"), "neigh", "del", LabLayout.vip, "dev", "eth0",
        ])
        return out?.succeeded == true
    }

    /// The one balancer holding `address`, or nil when none or both do.
    func onlyHolder(of address: String) -> LabHost? {
        let holders = LabLayout.balancers.filter { interface($0.name)?.addresses.contains(address) == true }
        return holders.count == 1 ? holders[0] : nil
    }

    /// What is not yet as the baseline wants it, or nil.
    func baselineProblem(master: LabHost) -> String? {
        for host in LabLayout.balancers {
            let holds = interface(host.name)?.addresses.contains(LabLayout.vip) ?? false
            if host == master && !holds { return "\(host.name) does not hold the VIP yet" }
            if host != master && holds { return "\(host.name) still holds the VIP" }
        }
        do {
            let reply = try HTTPProbe.get(
                host: LabLayout.vip, port: LabLayout.vipPort, path: "/login", namespace: layout.namespace("client"),
                timeout: .milliseconds(500))
            guard reply.status == 200 else { return "the VIP answers \(reply.status)" }
        } catch {
            return "the client gets no answer through the VIP (\(error))"
        }
        guard let entry = clientNeighbour(), entry.mac == master.mac else {
            return "the client's neighbour entry for the VIP is not \(master.name)'s MAC yet"
        }
        return nil
    }

    // MARK: down

    /// What `down` removed.
    public struct Removal: Hashable, Sendable {
        public var namespaces: [String] = []
        public var processes: [Int32] = []
        public var stateDirectory: String?

        public var isEmpty: Bool { namespaces.isEmpty && processes.isEmpty && stateDirectory == nil }
    }

    /// Removes every namespace, process and file of this lab, whatever state it is in. Safe to run
    /// again: a second `down` removes nothing.
    @discardableResult
    public func down() throws(LabError) -> Removal {
        var removal = Removal()
        let hadDirectory = FileManager.default.fileExists(atPath: layout.stateDirectory)
        let body = { () throws(LabError) -> Void in
            // Again until none is left: an `up` killed half way may have a daemon between fork and exec.
            for _ in 0..<5 {
                let pids = self.processes()
                if pids.isEmpty { break }
                LinuxProcess.killTogether(pids)
                if !LinuxProcess.waitUntilGone(pids, timeout: .seconds(5)) {
                    throw .failed("processes \(pids.filter(LinuxProcess.isRunning)) survived kill -9")
                }
                removal.processes += pids
                usleep(20_000)
            }
            for ns in self.layout.namespaces.reversed() where NetworkNamespace.exists(ns) {
                let out = try self.runTool([self.tools.ip, "netns", "delete", ns])
                guard out.succeeded else { throw .failed("ip netns delete \(ns): \(out.firstErrorLine)") }
                removal.namespaces.append(ns)
            }
        }
        if hadDirectory {
            try withLock(body)
        } else {
            try body()
        }
        if hadDirectory {
            do { try FileManager.default.removeItem(atPath: layout.stateDirectory) } catch {
                throw .failed("cannot remove \(layout.stateDirectory): \(error)")
            }
            removal.stateDirectory = layout.stateDirectory
        }
        // The parent directory goes too once no lab uses it.
        if (try? FileManager.default.contentsOfDirectory(atPath: LabLayout.root))?.isEmpty == true {
            rmdir(LabLayout.root)
        }
        return removal
    }

    /// Every process of this lab: those in its namespaces, those its record names (same start
    /// time, so a reused pid is never taken), and haproxy / keepalived / hadeck processes (or the
    /// `setsid` and `ip` that start them) whose arguments name its state directory: one whose
    /// namespace was deleted, or one not yet in its namespace.
    public func processes() -> [Int32] {
        var pids = Set<Int32>()
        for ns in layout.namespaces { pids.formUnion(NetworkNamespace.processes(in: ns)) }
        for p in readRecord().processes {
            if let s = LinuxProcess.stat(p.pid), s.isRunning, s.startTime == p.startTime { pids.insert(p.pid) }
        }
        let marker = layout.stateDirectory + "/"
        for pid in LinuxProcess.allPids() where !pids.contains(pid) {
            guard let s = LinuxProcess.stat(pid), s.isRunning,
                ["haproxy", "keepalived", "hadeck", "setsid", "ip"].contains(s.command),
                let args = LinuxProcess.arguments(pid), args.contains(where: { $0.hasPrefix(marker) })
            else { continue }
            pids.insert(pid)
        }
        pids.remove(getpid())
        return pids.sorted()
    }

    // MARK: Processes

    /// The running haproxy of `host` (by its pid file, in `host`'s namespace), if any.
    public func runningHAProxy(_ host: String) -> ProcessStat? {
        running(host, pidFile: layout.haproxyPidFile(host), command: "haproxy")
    }

    /// The running keepalived parent and VRRP child of `host`, if the parent runs.
    public func runningKeepalived(_ host: String) -> (parent: ProcessStat, vrrp: ProcessStat?)? {
        guard let parent = running(host, pidFile: layout.keepalivedPidFile(host), command: "keepalived") else {
            return nil
        }
        return (parent, running(host, pidFile: layout.vrrpPidFile(host), command: "keepalived"))
    }

    /// The running app server of `host`, if any.
    public func runningApp(_ host: String) -> ProcessStat? {
        running(host, pidFile: layout.appPidFile(host), command: "hadeck")
    }

    /// The process of a pid file if it runs `command` inside `host`'s current namespace: one left in a
    /// namespace that was deleted and made again serves nobody.
    func running(_ host: String, pidFile: String, command: String) -> ProcessStat? {
        guard let s = LinuxProcess.running(pidFile: pidFile, command: command),
            NetworkNamespace.processes(in: layout.namespace(host), among: [s.pid]) == [s.pid]
        else { return nil }
        return s
    }

    /// Starts `host`'s haproxy (`haproxy -D`) in its namespace; returns its pid.
    @discardableResult
    public func startHAProxy(_ host: String) throws(LabError) -> Int32 {
        try balancer(host)
        if isNode(host) { return try startNode(host) }
        if let running = runningHAProxy(host) { throw .failed("\(host)'s haproxy already runs (pid \(running.pid))") }
        try killOrphan([layout.haproxyPidFile(host)], "haproxy", what: "\(host)'s old haproxy")
        let out = try runTool([
            tools.ip, "netns", "exec", layout.namespace(host), tools.haproxy, "-D", "-f", layout.haproxyConfig(host),
            "-p", layout.haproxyPidFile(host),
        ])
        guard out.succeeded else { throw .failed("\(host)'s haproxy did not start: \(out.firstErrorLine)") }
        guard let s = waitFor({ self.runningHAProxy(host) }) else {
            throw .failed("\(host)'s haproxy started but wrote no pid file \(layout.haproxyPidFile(host))")
        }
        remember(host: host, program: "haproxy", s)
        return s.pid
    }

    /// `kill -9` of `host`'s haproxy, by its pid file; returns the pid it killed.
    @discardableResult
    public func killHAProxy(_ host: String) throws(LabError) -> Int32 {
        try balancer(host)
        if isNode(host) { throw .failed(nodeRefusal(host, "its haproxy")) }
        guard let s = runningHAProxy(host) else { throw .failed("\(host)'s haproxy is not running") }
        try kill9([s.pid], what: "\(host)'s haproxy")
        return s.pid
    }

    /// Starts `host`'s keepalived (VRRP only) in its namespace, with its own TMPDIR for its dumps and
    /// its log in the state directory; returns the parent's and the VRRP child's pids.
    @discardableResult
    public func startKeepalived(_ host: String, replacing: Bool = false) throws(LabError) -> (Int32, Int32) {
        try balancer(host)
        if isNode(host) {
            let pid = try startNode(host, replacing: replacing)
            return (pid, pid)
        }
        if let running = runningKeepalived(host), !replacing {
            throw .failed("\(host)'s keepalived already runs (pid \(running.parent.pid))")
        }
        try killOrphan(
            [layout.keepalivedPidFile(host), layout.vrrpPidFile(host)], "keepalived", what: "\(host)'s old keepalived")
        try makeFIFO(layout.notifyFIFO(host))
        do {
            try ProgramRunner.startDetached(
                [
                    tools.ip, "netns", "exec", layout.namespace(host), tools.keepalived, "--dont-fork", "--log-console",
                    "--log-detail", "--vrrp", "--no-syslog", "--use-file", layout.keepalivedConfig(host), "--pid",
                    layout.keepalivedPidFile(host), "--vrrp_pid", layout.vrrpPidFile(host),
                ], environment: ["TMPDIR": layout.keepalivedTmp(host)], logFile: layout.keepalivedLog(host))
        } catch {
            throw .failed("\(host)'s keepalived did not start: \(error)")
        }
        let started = waitFor { () -> (ProcessStat, ProcessStat)? in
            guard let k = self.runningKeepalived(host), let vrrp = k.vrrp else { return nil }
            return (k.parent, vrrp)
        }
        guard let started else {
            throw .failed("\(host)'s keepalived did not come up: see \(layout.keepalivedLog(host))")
        }
        let (parent, child) = started
        remember(host: host, program: "keepalived", parent)
        remember(host: host, program: "keepalived-vrrp", child)
        return (parent.pid, child.pid)
    }

    /// `kill -9` of both keepalived processes of `host`, together (see `LinuxProcess.killTogether`:
    /// neither can react to the other's death); returns their pids.
    @discardableResult
    public func killKeepalived(_ host: String) throws(LabError) -> [Int32] {
        try balancer(host)
        if isNode(host) { return [try killNode(host)] }
        guard let k = runningKeepalived(host) else { throw .failed("\(host)'s keepalived is not running") }
        let pids = [k.parent.pid] + (k.vrrp.map { [$0.pid] } ?? [])
        try kill9(pids, what: "\(host)'s keepalived")
        return pids
    }

    /// Graceful stop: SIGTERM to `host`'s keepalived parent, which sends a priority-0 advert, removes
    /// the VIP and exits. Returns the parent's pid once both processes are gone.
    @discardableResult
    public func stopKeepalived(_ host: String) throws(LabError) -> Int32 {
        try balancer(host)
        if isNode(host) { return try stopNode(host) }
        guard let k = runningKeepalived(host) else { throw .failed("\(host)'s keepalived is not running") }
        LinuxProcess.send(SIGTERM, to: k.parent.pid)
        let pids = [k.parent.pid] + (k.vrrp.map { [$0.pid] } ?? [])
        guard LinuxProcess.waitUntilGone(pids, timeout: .seconds(5)) else {
            throw .failed("\(host)'s keepalived (pid \(k.parent.pid)) did not stop within 5 s of SIGTERM")
        }
        return k.parent.pid
    }

    /// Starts `host`'s app server (`hadeck app`) in its namespace; returns its pid.
    @discardableResult
    public func startApp(_ host: String, replacing: Bool = false) throws(LabError) -> Int32 {
        guard let h = LabLayout.host(host), case .app(let port, let route) = h.role else {
            throw .failed("\(host) is not an app host (apps: \(LabLayout.apps.map(\.name).joined(separator: ", ")))")
        }
        if let running = runningApp(host), !replacing {
            throw .failed("\(host)'s app server already runs (pid \(running.pid))")
        }
        try killOrphan([layout.appPidFile(host)], "hadeck", what: "\(host)'s old app server")
        do {
            try ProgramRunner.startDetached(
                [
                    tools.ip, "netns", "exec", layout.namespace(host), hadeck, "app", "--name", host, "--listen",
                    "\(h.address!):\(port)", "--route", route, "--pid-file", layout.appPidFile(host),
                ], logFile: layout.appLog(host))
        } catch {
            throw .failed("\(host)'s app server did not start: \(error)")
        }
        guard let s = waitFor({ self.runningApp(host) }) else {
            throw .failed("\(host)'s app server did not come up: see \(layout.appLog(host))")
        }
        remember(host: host, program: "app", s)
        return s.pid
    }

    /// `kill -9` of `host`'s app server; returns its pid.
    @discardableResult
    public func killApp(_ host: String) throws(LabError) -> Int32 {
        guard let s = runningApp(host) else { throw .failed("\(host)'s app server is not running") }
        try kill9([s.pid], what: "\(host)'s app server")
        return s.pid
    }

    // MARK: Hosts and links

    /// Power off: every process in `host`'s namespace is killed (-9) and its link goes dark.
    /// Returns the pids killed.
    @discardableResult
    public func powerOff(_ host: String) throws(LabError) -> [Int32] {
        let h = try attached(host)
        let pids = NetworkNamespace.processes(in: layout.namespace(h.name))
        LinuxProcess.killTogether(pids)
        try ip("-n", layout.namespace("bridge"), "link", "set", h.name, "down")
        guard LinuxProcess.waitUntilGone(pids) else { throw .failed("\(host)'s processes survived kill -9") }
        return pids
    }

    /// Power on: `host` boots with only its own address (a VIP left behind by a killed keepalived is
    /// gone, as after a real reboot) and an empty neighbour table, its link comes up and its
    /// programs start. Returns the pids started.
    ///
    /// `keepalivedStarting` is called just before the host's keepalived (or `hadeck node`) is
    /// started, after its addresses, its link and its haproxy: `hadeck conform` times a power-on's
    /// rows from there, as the embedded host starts both programs at the same instant.
    @discardableResult
    public func powerOn(_ host: String, keepalivedStarting: () -> Void = {}) throws(LabError) -> [Int32] {
        let h = try attached(host)
        let ns = layout.namespace(h.name)
        if !NetworkNamespace.processes(in: ns).isEmpty, linkIsUp(h.name) == true {
            throw .failed("\(host) is already on")
        }
        try ip("-n", ns, "addr", "flush", "dev", "eth0")
        try ip("-n", ns, "addr", "add", "\(h.address!)/\(LabLayout.prefixLength)", "dev", "eth0")
        try ip("-n", ns, "neigh", "flush", "all")
        try ip("-n", layout.namespace("bridge"), "link", "set", h.name, "up")
        var pids: [Int32] = []
        switch h.role {
        case .app:
            if runningApp(h.name) == nil { pids.append(try startApp(h.name)) }
        case .balancer where isNode(h.name):
            if runningNode(h.name) == nil {
                keepalivedStarting()
                pids.append(try startNode(h.name))
            }
        case .balancer:
            if runningHAProxy(h.name) == nil { pids.append(try startHAProxy(h.name)) }
            if runningKeepalived(h.name) == nil {
                keepalivedStarting()
                let (parent, vrrp) = try startKeepalived(h.name)
                pids += [parent, vrrp]
            }
        case .client, .bridge: break
        }
        return pids
    }

    /// Cable pull (`up: false`) or plug: `host`'s port on the bridge goes down or up; its own processes
    /// keep running (keepalived sees its interface lose carrier and goes FAULT).
    public func setLink(_ host: String, up: Bool) throws(LabError) {
        let h = try attached(host)
        try ip("-n", layout.namespace("bridge"), "link", "set", h.name, up ? "up" : "down")
    }

    /// Whether `host`'s bridge port is up (nil when it does not exist).
    public func linkIsUp(_ host: String) -> Bool? {
        guard let out = try? runTool([tools.ip, "-j", "-n", layout.namespace("bridge"), "link", "show", host]),
            out.succeeded, let link = InterfaceInfo.parse(out.stdout).first
        else { return nil }
        return link.isUp
    }

    /// Drops VRRP between `a` and `b` at the bridge (an nftables rule in the bridge's namespace);
    /// everything else still flows. Replaces an earlier partition.
    public func partition(_ a: String, _ b: String) throws(LabError) {
        let (ha, hb) = (try attached(a), try attached(b))
        guard ha != hb else { throw .failed("a partition needs two different hosts") }
        guard let nft = tools.nft else { throw .missing("hadeck lab: nft is missing: apt-get install nftables") }
        do {
            try layout.partitionRulesText(ha.name, hb.name).write(
                toFile: layout.partitionRules, atomically: true, encoding: .utf8)
        } catch {
            throw .failed("cannot write \(layout.partitionRules): \(error)")
        }
        let out = try runTool([tools.ip, "netns", "exec", layout.namespace("bridge"), nft, "-f", layout.partitionRules])
        guard out.succeeded else { throw .failed("nft -f \(layout.partitionRules): \(out.firstErrorLine)") }
    }

    /// Removes the partition, if any.
    public func heal() throws(LabError) {
        guard try isPartitioned(), let nft = tools.nft else { return }
        let out = try runTool([
            tools.ip, "netns", "exec", layout.namespace("bridge"), nft, "delete", "table", "bridge",
            LabLayout.partitionTable,
        ])
        guard out.succeeded else { throw .failed("nft delete table: \(out.firstErrorLine)") }
        try? FileManager.default.removeItem(atPath: layout.partitionRules)
    }

    /// Whether the bridge holds the partition's nftables table.
    public func isPartitioned() throws(LabError) -> Bool {
        guard let nft = tools.nft, NetworkNamespace.exists(layout.namespace("bridge")) else { return false }
        let out = try runTool([tools.ip, "netns", "exec", layout.namespace("bridge"), nft, "list", "tables"])
        return out.stdout.contains("table bridge \(LabLayout.partitionTable)")
    }

    // MARK: Reading

    /// `host`'s eth0: MAC, addresses (the VIP among them while keepalived holds it), flags.
    public func interface(_ host: String) -> InterfaceInfo? {
        guard NetworkNamespace.exists(layout.namespace(host)),
            let out = try? runTool([tools.ip, "-j", "-n", layout.namespace(host), "addr", "show", "dev", "eth0"]),
            out.succeeded
        else { return nil }
        return InterfaceInfo.parse(out.stdout).first
    }

    /// The client's neighbour entry for the VIP (which MAC its traffic to the VIP goes to).
    public func clientNeighbour() -> NeighbourEntry? {
        guard
            let out = try? runTool([
                tools.ip, "-j", "-n", layout.namespace("client"), "neigh", "show", LabLayout.vip,
            ]), out.succeeded
        else { return nil }
        return NeighbourEntry.parseJSON(out.stdout).first
    }

    /// keepalived's own view of `host`'s VRRP instance, from a fresh data dump (SIGUSR1); nil when
    /// keepalived does not run or writes none within a second.
    public func vrrpState(_ host: String) -> KeepalivedDataDump.Instance? {
        guard let pid = keepalivedPid(host) else { return nil }
        let file = layout.dataDump(host)
        try? FileManager.default.removeItem(atPath: file)
        LinuxProcess.send(SIGUSR1, to: pid)
        let text = waitFor(timeout: .seconds(1)) { () -> String? in
            // Written with stdio: read it once its size stops changing.
            guard let a = try? String(contentsOfFile: file, encoding: .utf8), !a.isEmpty else { return nil }
            usleep(20_000)
            let b = try? String(contentsOfFile: file, encoding: .utf8)
            return a == b && a.contains("------< VRRP Topology >------") ? a : nil
        }
        return text.flatMap { KeepalivedDataDump.parse($0).instance(LabLayout.instance) }
    }

    /// Runs `command` on `host` (`ip netns exec`) on this terminal; returns its exit status.
    public func exec(_ host: String, _ command: [String]) throws(LabError) -> Int32 {
        guard LabLayout.host(host) != nil else { throw .unknownHost(host) }
        guard NetworkNamespace.exists(layout.namespace(host)) else {
            throw .failed("the lab '\(layout.id)' has no host \(host) now: run hadeck lab up")
        }
        do {
            return try ProgramRunner.runInteractive([tools.ip, "netns", "exec", layout.namespace(host)] + command)
        } catch {
            throw .failed("\(error)")
        }
    }

    // MARK: Internals

    @discardableResult
    private func balancer(_ host: String) throws(LabError) -> LabHost {
        guard let h = LabLayout.host(host) else { throw .unknownHost(host) }
        guard h.isBalancer else { throw .failed("\(host) is not a balancer (balancers: lb1, lb2)") }
        return h
    }

    private func attached(_ host: String) throws(LabError) -> LabHost {
        guard let h = LabLayout.host(host) else { throw .unknownHost(host) }
        guard h.role != .bridge else { throw .failed("the bridge has no link of its own to take down") }
        return h
    }

    /// Kills the processes pid files name, wherever they run (also in a namespace deleted since), and
    /// removes the files: a new process of that kind is about to start.
    func killOrphan(_ pidFiles: [String], _ command: String, what: String) throws(LabError) {
        let pids = pidFiles.compactMap { LinuxProcess.running(pidFile: $0, command: command)?.pid }
        if !pids.isEmpty { try kill9(pids, what: what) }
        for file in pidFiles { try? FileManager.default.removeItem(atPath: file) }
    }

    func kill9(_ pids: [Int32], what: String) throws(LabError) {
        LinuxProcess.killTogether(pids)
        guard LinuxProcess.waitUntilGone(pids) else { throw .failed("\(what) (pids \(pids)) survived kill -9") }
    }

    func runTool(_ argv: [String], timeout: Duration = .seconds(10)) throws(LabError) -> ProgramOutput {
        do { return try ProgramRunner.run(argv, timeout: timeout) } catch { throw .failed("\(error)") }
    }

    private func ip(_ args: String...) throws(LabError) {
        let out = try runTool([tools.ip] + args)
        guard out.succeeded else { throw .failed("ip \(args.joined(separator: " ")): \(out.firstErrorLine)") }
    }

    func waitFor<T>(timeout: Duration = .seconds(5), _ probe: () -> T?) -> T? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let value = probe() { return value }
            if ContinuousClock.now > deadline { return nil }
            usleep(10_000)
        }
    }

    /// Runs `body` holding the lab's lock (a `flock` on a file in its state directory).
    private func withLock<T>(_ body: () throws(LabError) -> T) throws(LabError) -> T {
        do {
            try FileManager.default.createDirectory(atPath: layout.stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw .failed("cannot create \(layout.stateDirectory): \(error)")
        }
        let fd = open(layout.lockFile, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .failed("cannot open \(layout.lockFile): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    // MARK: Record

    /// What `up` and the actions made, kept in `lab.json` so `down` finds it after a crash.
    struct Record: Codable {
        struct Started: Codable {
            var host: String
            var program: String
            var pid: Int32
            var startTime: UInt64
        }

        var id: String
        var namespaces: [String] = []
        var processes: [Started] = []
        /// Set on a mixed lab (absent on others, and in records written before mixed labs).
        var mixed: Bool? = nil
    }

    func readRecord() -> Record {
        guard let data = FileManager.default.contents(atPath: layout.stateFile),
            let record = try? JSONDecoder().decode(Record.self, from: data)
        else { return Record(id: layout.id) }
        return record
    }

    func writeRecord(_ record: Record) {
        var record = record
        record.processes.removeAll { p in
            guard let s = LinuxProcess.stat(p.pid) else { return true }
            return !s.isRunning || s.startTime != p.startTime
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if let data = try? encoder.encode(record) {
            _ = FileManager.default.createFile(atPath: layout.stateFile, contents: data)
        }
    }

    func remember(host: String, program: String, _ s: ProcessStat) {
        var record = readRecord()
        record.processes.append(.init(host: host, program: program, pid: s.pid, startTime: s.startTime))
        writeRecord(record)
    }
}

/// Writes `value` to a /proc file (a sysctl) with plain syscalls, on the calling thread.
private func writeProc(_ path: String, _ value: String) {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    _ = value.withCString { write(fd, $0, strlen($0)) }
    close(fd)
}

/// An interface as `ip -j addr show` / `ip -j link show` prints it.
public struct InterfaceInfo: Hashable, Sendable {
    public var name: String
    public var mac: String?
    public var flags: [String]
    /// IPv4 addresses without their prefix length.
    public var addresses: [String]

    public var isUp: Bool { flags.contains("UP") }

    static func parse(_ json: String) -> [InterfaceInfo] {
        guard let data = json.data(using: .utf8),
            let array = (try? JSONSerialization.jsonObject(with: data)) as? [[String: Any]]
        else { return [] }
        return array.map { object in
            let infos = object["addr_info"] as? [[String: Any]] ?? []
            return InterfaceInfo(
                name: object["ifname"] as? String ?? "", mac: (object["address"] as? String)?.lowercased(),
                flags: object["flags"] as? [String] ?? [],
                addresses: infos.filter { ($0["family"] as? String) == "inet" }.compactMap { $0["local"] as? String })
        }
    }
}
