import AttachConfig
import ClusterModel
import HadeckBase
import RealCluster

/// keepalived's side: the notify FIFO's lines, the data dump, the processes and the derived
/// Master_Down_Timer of a backup whose master went quiet.
extension AttachedState {
    static func vrrpState(_ word: String) -> HostVRRPState? {
        switch word {
        case "MASTER": .master
        case "BACKUP": .backup
        case "FAULT": .fault
        case "STOP", "DELETED": .stopped
        case "INIT": .initialize
        default: nil
        }
    }

    mutating func notify(_ b: String, _ line: NotifyLine, _ out: inout Reaction) {
        guard var t = balancers[b], line.kind == .instance else { return }
        if let wanted = t.access.keepalived?.instance, wanted != line.name { return }
        flushPendingPriority(b, &out)
        t = balancers[b]!
        let text = "INSTANCE \"\(line.name)\" \(line.event) \(line.priority)"
        guard let word = line.state, let to = Self.vrrpState(word) else {
            guard line.event.hasSuffix("_PRIORITY") else { return }
            let from = t.effectivePriority ?? t.basePriority ?? line.priority
            t.effectivePriority = line.priority
            t.pendingPriority = PendingPriority(from: from, to: line.priority, line: text, at: out.now)
            balancers[b] = t
            out.need(.dump(b))
            if t.vrrp == .master { masterPriorityChanged(b, out: &out) }
            if t.vrrp == .backup { backupPriorityChanged(b, at: out.now) }
            return
        }
        let from = t.vrrp
        t.vrrp = to
        t.effectivePriority = line.priority
        t.lastFIFOState = out.now
        if to == .stopped { t.stopSeen = true }
        var why = "keepalived on \(b) (notify FIFO): \(text)"
        if to == .master, let c = t.countdown {
            why += "; \(c.cause)"
        } else if to == .backup, from == .master,
            let (other, p) = higherAdvertiser(than: line.priority, except: b)
        {
            why += "; \(other) advertises priority \(p), above its \(line.priority)"
        }
        if to != .backup { t.countdown = nil }
        balancers[b] = t
        out.emit(
            .vrrpState(
                node: b, from: from, to: to, priority: t.basePriority ?? line.priority, effectivePriority: line.priority
            ),
            why)
        out.need(.dump(b))
        switch to {
        case .master:
            // A master advertises again: backups at or below its priority stop counting down.
            for other in order where other != b {
                if let o = balancers[other], o.countdown != nil, (o.effectivePriority ?? 0) <= line.priority {
                    update(other) { $0.countdown = nil }
                }
            }
        case .backup:
            let masterAbove = order.contains { o in
                o != b && balancers[o]?.vrrp == .master && (balancers[o]?.effectivePriority ?? 0) >= line.priority
            }
            let allKnown = order.allSatisfy { o in o == b || balancers[o]?.vrrp != .unknown }
            if !masterAbove && allKnown && from != .backup {
                armCountdown(b, since: out.now, cause: quietMaster(for: b, priority: line.priority), graceful: false)
            }
        case .stopped where from == .master:
            masterWentQuiet(b, cause: "\(b)'s keepalived stopped (a priority-0 advert)", graceful: true, &out)
        case .fault where from == .master:
            masterWentQuiet(b, cause: "\(b) went FAULT", graceful: false, &out)
        default: break
        }
    }

    /// The other host advertising above `priority`, if hadeck knows one.
    func higherAdvertiser(than priority: Int, except b: String) -> (String, Int)? {
        for o in order where o != b {
            if let t = balancers[o], let p = t.effectivePriority, p > priority, t.vrrp == .master || t.vrrp == .backup {
                return (o, p)
            }
        }
        return nil
    }

    /// The master `b`'s priority changed: backups above it now ignore its adverts (RFC 3768) and
    /// count down; backups at or below it are held again.
    mutating func masterPriorityChanged(_ b: String, out: inout Reaction) {
        guard let p = balancers[b]?.effectivePriority else { return }
        for o in order where o != b {
            guard let t = balancers[o], t.vrrp == .backup, let mine = t.effectivePriority else { continue }
            if mine > p, t.countdown == nil {
                armCountdown(
                    o, since: out.now,
                    cause: "\(b) advertises only priority \(p), below \(o)'s \(mine) (lower adverts are ignored)",
                    graceful: false)
                out.need(.dump(o))
            } else if mine <= p {
                update(o) { $0.countdown = nil }
            }
        }
    }

    /// Why a backup at `priority` hears no advert it accepts: the master's are lower, or there is none.
    func quietMaster(for b: String, priority: Int) -> String {
        for o in order where o != b {
            if let t = balancers[o], t.vrrp == .master, let p = t.effectivePriority, p < priority {
                return "\(o) advertises only priority \(p), below \(b)'s \(priority) (lower adverts are ignored)"
            }
        }
        return "no master advertised since it entered BACKUP"
    }

    /// A backup's own priority changed: above the master's, it stops accepting the master's adverts
    /// and will take over (preemption); at or below, it is held again.
    mutating func backupPriorityChanged(_ b: String, at now: Instant) {
        guard let mine = balancers[b]?.effectivePriority else { return }
        let master = order.first { $0 != b && balancers[$0]?.vrrp == .master }
        guard let master, let theirs = balancers[master]?.effectivePriority else { return }
        if mine > theirs {
            if balancers[b]?.countdown == nil {
                armCountdown(b, since: now, cause: quietMaster(for: b, priority: mine), graceful: false)
            }
        } else {
            update(b) { $0.countdown = nil }
        }
    }

    /// The master `b` stopped advertising (killed, stopped, powered off, cut off): every backup's
    /// Master_Down_Timer runs out from now (Skew_Time after a priority-0 advert).
    mutating func masterWentQuiet(_ b: String, cause: String, graceful: Bool, _ out: inout Reaction) {
        for o in order where o != b && balancers[o]?.vrrp == .backup {
            armCountdown(o, since: out.now, cause: cause, graceful: graceful)
            out.need(.dump(o))
        }
    }

    /// Starts a backup's countdown, estimated from its last data dump until a new dump says exactly.
    mutating func armCountdown(_ b: String, since: Instant, cause: String, graceful: Bool) {
        guard let t = balancers[b], let mdi = t.masterDownInterval(priority: t.effectivePriority) else { return }
        var interval = mdi
        if graceful, let advert = t.advertInterval { interval = mdi - advert * 3 }
        update(b) {
            $0.countdown = Countdown(
                since: since, deadline: since + interval, interval: interval, exact: false, cause: cause,
                graceful: graceful)
        }
    }

    mutating func dump(_ b: String, _ dump: KeepalivedDataDump, requested: Instant, _ out: inout Reaction) {
        guard var t = balancers[b] else { return }
        guard let vi = dump.instance(t.access.keepalived?.instance) else {
            let name = t.access.keepalived?.instance ?? "any VRRP instance"
            t.dumpError = (out.now, "the data dump has no \(name)")
            balancers[b] = t
            flushPendingPriority(b, &out)
            return
        }
        t.dumpAt = out.now
        t.dumpError = nil
        t.basePriority = vi.basePriority ?? t.basePriority
        t.masterRouter = vi.state == "MASTER" ? nil : vi.masterRouter
        t.masterPriority = vi.state == "MASTER" ? nil : vi.masterPriority
        t.advertInterval = vi.advertInterval.map { TimeSpan(micros: $0) } ?? t.advertInterval
        t.dumpedMasterDown = vi.masterDownTimer.map { TimeSpan(micros: $0) } ?? t.dumpedMasterDown
        t.trackedScripts = vi.trackedScripts
        t.scripts = dump.scripts.filter { s in vi.trackedScripts.contains { $0.name == s.name } }
        t.interfaceMAC = dump.interface(vi.interface)?.mac ?? t.interfaceMAC
        t.sourceAddress = vi.sourceAddress ?? t.sourceAddress
        // A FIFO line newer than the request says more than the dump does.
        let fresh = (t.lastFIFOState ?? .zero) < requested
        if fresh { t.effectivePriority = vi.effectivePriority ?? t.effectivePriority }
        let said = vi.state.flatMap(Self.vrrpState)
        let priorities =
            "priority \(vi.basePriority.map(String.init) ?? "?"), effective \(vi.effectivePriority.map(String.init) ?? "?")"
        if let said, t.vrrp == .unknown {
            out.emit(
                .vrrpState(
                    node: b, from: .unknown, to: said, priority: vi.basePriority ?? 0,
                    effectivePriority: vi.effectivePriority ?? 0),
                "keepalived's data dump on \(b): State = \(vi.state!), \(priorities)"
                    + (vi.masterRouter.map { " (master \($0)" + (vi.masterPriority.map { " at \($0))" } ?? ")") } ?? "")
            )
            t.vrrp = said
        } else if let said, fresh, said != t.vrrp, ![.killed, .off].contains(t.vrrp) {
            out.emit(
                .vrrpState(
                    node: b, from: t.vrrp, to: said, priority: vi.basePriority ?? 0,
                    effectivePriority: vi.effectivePriority ?? 0),
                "keepalived's data dump on \(b) says State = \(vi.state!) (\(priorities)); its notify FIFO did not")
            t.vrrp = said
        }
        if t.vrrp == .backup, var c = t.countdown, requested >= c.since, let rt = vi.readTimeout {
            c.deadline = instant(epoch: rt)
            c.exact = true
            t.countdown = c
        } else if t.vrrp != .backup {
            t.countdown = nil
        }
        balancers[b] = t
        if let pending = t.pendingPriority, requested >= pending.at { flushPendingPriority(b, &out) }
    }

    /// Emits the priority change the FIFO reported, with the track scripts' states from the last
    /// data dump when it came after the change.
    mutating func flushPendingPriority(_ b: String, _ out: inout Reaction) {
        guard var t = balancers[b], let p = t.pendingPriority else { return }
        t.pendingPriority = nil
        var why = "keepalived on \(b) (notify FIFO): \(p.line)"
        if let at = t.dumpAt, at >= p.at, !t.trackedScripts.isEmpty {
            let parts = t.trackedScripts.map { ts -> String in
                let status = t.scripts.first { $0.name == ts.name }?.status ?? "?"
                return "\(ts.name) \(status)" + (ts.weight.map { " (weight \($0))" } ?? "")
            }
            why += "; data dump: track script " + parts.joined(separator: ", ")
            if let base = t.basePriority, base != p.to {
                why += ": \(base) \(p.to > base ? "+" : "-") \(abs(p.to - base)) = \(p.to)"
            }
        }
        balancers[b] = t
        out.emit(.vrrpPriority(node: b, from: p.from, to: p.to), why)
    }

    mutating func flushPendingPriorities(before cutoff: Instant, _ out: inout Reaction) {
        for b in order where (balancers[b]?.pendingPriority?.at).map({ $0 < cutoff }) == true {
            flushPendingPriority(b, &out)
        }
    }

    // MARK: Processes

    mutating func processes(_ b: String, _ r: ProcessReadings, _ out: inout Reaction) {
        guard var t = balancers[b] else { return }
        t.processesAt = out.now
        t.processesError = nil
        for reading in [r.haproxy, r.keepalived, r.vrrp] {
            if case .unknown(let why)? = reading { t.processesError = (out.now, why) }
        }
        if let h = r.haproxy { haproxyReading(&t, h, source: "its pid file", &out) }
        if let k = r.keepalived { keepalivedReading(&t, k, &out) }
        switch r.vrrp {
        case .running(let pid)?: t.vrrpPID = pid
        case .notRunning?: t.vrrpPID = nil
        case .unknown?, nil: break
        }
        balancers[b] = t
    }

    mutating func haproxyReading(_ t: inout BalancerTrack, _ reading: PIDReading, source: String, _ out: inout Reaction)
    {
        let b = t.access.name
        if case .unknown = reading { return }
        let now = reading.pid
        defer {
            t.haproxyPID = now
            t.haproxyKnown = true
        }
        guard t.haproxyKnown, now != t.haproxyPID else { return }
        if let old = t.haproxyPID {
            if !t.expectedExits.contains(old) {
                let how: ProcessAction = t.haproxyStopLogged && !t.poweredOff ? .stopped : .killed
                let why =
                    t.poweredOff
                    ? "\(b) lost power: its haproxy (pid \(old)) is gone"
                    : t.haproxyStopLogged
                        ? "\(b)'s haproxy (pid \(old)) is gone after logging that its proxies stopped: a graceful stop"
                        : "\(b)'s haproxy (pid \(old)) is gone without a word in its log: killed (kill -9) or crashed"
                out.emit(.process(node: b, process: .haproxy, action: how, pid: Int(old)), why)
            }
            t.expectedExits.remove(old)
        }
        if let new = now {
            let after = t.startRequested.removeValue(forKey: .haproxy).map { ", after \($0)" } ?? ""
            out.emit(
                .process(node: b, process: .haproxy, action: .start, pid: Int(new)),
                "\(b)'s haproxy runs as pid \(new) (\(source))\(after)")
            t.haproxyStopLogged = false
            out.need(.poll(b))
        }
    }

    mutating func keepalivedReading(_ t: inout BalancerTrack, _ reading: PIDReading, _ out: inout Reaction) {
        let b = t.access.name
        if case .unknown = reading { return }
        let now = reading.pid
        defer {
            t.keepalivedPID = now
            t.keepalivedKnown = true
        }
        guard t.keepalivedKnown, now != t.keepalivedPID else { return }
        if let old = t.keepalivedPID {
            if !t.expectedExits.contains(old) {
                if t.poweredOff {
                    out.emit(
                        .process(node: b, process: .keepalived, action: .killed, pid: Int(old)),
                        "\(b) lost power: its keepalived (pid \(old)) is gone")
                } else if t.stopSeen {
                    out.emit(
                        .process(node: b, process: .keepalived, action: .stopped, pid: Int(old)),
                        "\(b)'s keepalived (pid \(old)) exited after its STOP line: a graceful stop")
                } else {
                    out.emit(
                        .process(node: b, process: .keepalived, action: .killed, pid: Int(old)),
                        "\(b)'s keepalived (pid \(old)) is gone and its notify FIFO said nothing: killed (kill -9) or crashed"
                    )
                    killedKeepalived(&t, cause: "\(b)'s keepalived was killed (pid \(old) gone, no STOP line)", &out)
                }
            }
            t.expectedExits.remove(old)
        }
        if let new = now {
            let after = t.startRequested.removeValue(forKey: .keepalived).map { ", after \($0)" } ?? ""
            out.emit(
                .process(node: b, process: .keepalived, action: .start, pid: Int(new)),
                "\(b)'s keepalived runs as pid \(new) (its pid file)\(after)")
            t.stopSeen = false
            out.need(.dump(b))
        }
    }

    /// keepalived on `t` died without a word: it holds no state any more, and if it was the master
    /// every backup's timer runs out.
    mutating func killedKeepalived(_ t: inout BalancerTrack, cause: String, _ out: inout Reaction) {
        let b = t.access.name
        let was = t.vrrp
        guard was != .killed, was != .off else { return }
        t.vrrp = .killed
        t.countdown = nil
        out.emit(
            .vrrpState(
                node: b, from: was, to: .killed, priority: t.basePriority ?? 0,
                effectivePriority: t.effectivePriority ?? 0),
            cause + ": a killed keepalived sends no advert and leaves its addresses configured")
        if was == .master {
            balancers[b] = t
            masterWentQuiet(b, cause: cause, graceful: false, &out)
            t = balancers[b]!
        }
    }

    mutating func app(_ server: String, _ reading: PIDReading, _ out: inout Reaction) {
        guard var a = apps[server] else { return }
        if case .unknown(let why) = reading {
            a.error = why
            apps[server] = a
            return
        }
        a.error = nil
        let now = reading.pid
        if a.known, now != a.pid {
            if let old = a.pid, !a.expectedExits.contains(old) {
                out.emit(
                    .backendProcess(server: server, action: .killed),
                    "\(server)'s application (pid \(old)) is gone: killed or crashed (not by hadeck)")
            }
            if let old = a.pid { a.expectedExits.remove(old) }
            if let new = now {
                let after = a.startRequested.map { ", after \($0)" } ?? ""
                a.startRequested = nil
                out.emit(
                    .backendProcess(server: server, action: .start),
                    "\(server)'s application runs as pid \(new)\(after)")
            }
        }
        a.pid = now
        a.known = true
        apps[server] = a
    }

    // MARK: The client's view of the VIP

    mutating func neighbour(_ entry: NeighbourEntry?, source: String, _ out: inout Reaction) {
        neighbour.at = out.now
        neighbour.error = nil
        let entry = entry?.deleted == true ? nil : entry
        neighbour.entry = entry
        let mac = entry?.mac
        defer {
            neighbour.mac = mac
            neighbour.seen = true
        }
        guard let mac, mac != neighbour.mac else { return }
        let owner = balancerName(mac: mac)
        let node = owner ?? "?"
        neighbour.history.insert(
            ARPSnapshot.Change(time: out.now, fromMAC: neighbour.mac, toMAC: mac, node: node), at: 0)
        if neighbour.history.count > 50 { neighbour.history.removeLast() }
        let states = entry?.states.joined(separator: " ") ?? ""
        let whose = owner.map { "\($0)'s MAC" } ?? "a MAC no balancer of the attach file has"
        let when = neighbour.seen ? "" : " when hadeck attached"
        out.emit(
            .arpUpdate(ip: file.vip, mac: mac, node: node),
            "the client's neighbour table (\(source))\(when): \(file.vip) lladdr \(mac) \(states): \(whose)")
    }
}
