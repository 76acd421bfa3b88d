import BalancerCore
import ClusterModel
import HadeckBase

/// One request of the probe client: when it left, when it ended, and whether a 200 came back in time.
public struct ProbeSample: Hashable, Sendable {
    public var start: Instant
    public var end: Instant
    public var ok: Bool
    /// The session id the probe's jar holds after it.
    public var session: String?

    public init(start: Instant, end: Instant, ok: Bool, session: String? = nil) {
        self.start = start
        self.end = end
        self.ok = ok
        self.session = session
    }
}

/// A scenario's action as one side performed it, at that side's time.
public struct PlayedAction: Hashable, Sendable {
    public var line: Int
    public var command: ClusterCommand
    public var time: Instant

    public init(line: Int, command: ClusterCommand, time: Instant) {
        self.line = line
        self.command = command
        self.time = time
    }
}

/// What one side (the lab's real programs, or the embedded cluster) did and showed during a run.
public struct ConformanceRun: Sendable {
    public var actions: [PlayedAction]
    public var events: [ClusterEvent]
    public var samples: [ProbeSample]
    /// When the run ended (the last action's window ends here).
    public var end: Instant

    public init(actions: [PlayedAction], events: [ClusterEvent], samples: [ProbeSample], end: Instant) {
        self.actions = actions
        self.events = events
        self.samples = samples
        self.end = end
    }
}

/// An event both sides can report, as the comparison pairs it: by kind, node and what it became.
public struct KeyEvent: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case state, priority, vip, backend
    }

    public var kind: Kind
    public var node: String
    /// What it became: a VRRP state, a priority, a server's status (`webA DOWN`).
    public var detail: String
    public var time: Instant

    /// `lb2 MASTER`, `lb1 priority 90`, `VIP -> lb2's MAC`, `webA DOWN on lb1`.
    public var label: String {
        switch kind {
        case .state: "\(node) \(detail)"
        case .priority: "\(node) priority \(detail)"
        case .vip: "VIP -> \(node)'s MAC"
        case .backend: "\(detail) on \(node)"
        }
    }

    /// The key event an event is, if it is one. VRRP states are keepalived's own (what its FIFO
    /// says); KILLED and OFF are what a watcher infers from a pid, not something the cluster does.
    public init?(_ e: ClusterEvent) {
        time = e.time
        switch e.kind {
        case .vrrpState(let node, let from, let to, _, _):
            guard from != to, [.backup, .master, .fault, .stopped].contains(to) else { return nil }
            (kind, self.node, detail) = (.state, node, to.rawValue)
        case .vrrpPriority(let node, let from, let to):
            guard from != to else { return nil }
            (kind, self.node, detail) = (.priority, node, String(to))
        case .arpUpdate(_, _, let node):
            (kind, self.node, detail) = (.vip, node, "")
        case .backendState(let balancer, _, let server, let from, let to, _):
            // Only the status itself: `UP 1/3` (a check failed, going down) is a step on the way.
            guard from.base != to.base else { return nil }
            (kind, self.node, detail) = (.backend, balancer, "\(server) \(to.base.rawValue)")
        default:
            return nil
        }
    }
}

/// The timers that bound how far the real programs may lawfully be from the model.
public struct ConformanceTimers: Hashable, Sendable {
    /// VRRP `advert_int`: a backup's Master_Down_Timer counts from the last advert it accepted,
    /// whose phase against the failure is anywhere in one interval.
    public var advert: TimeSpan
    /// The track script's `interval` (nil: none): its runs' phase against the failure is anywhere in one interval.
    public var script: TimeSpan?
    /// haproxy's check `inter`.
    public var check: TimeSpan
    /// The probe's timeout: an outage is measured in steps of it while requests go unanswered.
    public var probeTimeout: TimeSpan
    /// The real timers' jitter and the delay of reading them (FIFO 1-24 ms, the neighbour table, the log).
    public var jitter: TimeSpan
    /// The probe's period: a request starts every this often (the next one at once after a timeout).
    public var probeInterval: TimeSpan

    public init(
        advert: TimeSpan, script: TimeSpan?, check: TimeSpan, probeTimeout: TimeSpan = .milliseconds(100),
        jitter: TimeSpan = .milliseconds(100), probeInterval: TimeSpan = .milliseconds(10)
    ) {
        self.advert = advert
        self.script = script
        self.check = check
        self.probeTimeout = probeTimeout
        self.jitter = jitter
        self.probeInterval = probeInterval
    }
}

/// One line of the conformance table: an event (or a client outage) after an action, real vs embedded.
public struct ConformanceRow: Hashable, Sendable {
    /// The scenario line of the action the row follows, and its text.
    public var line: Int
    public var action: String
    public var what: String
    /// Seconds after the action on each side; nil: that side did not show it.
    public var real: TimeSpan?
    public var embedded: TimeSpan?
    public var tolerance: TimeSpan
    public var reason: String
    /// For outages: how many probe requests failed on each side.
    public var failed: (real: Int, embedded: Int)?
    /// For a yes/no row ("session kept"): each side's answer; equal is within tolerance.
    public var verdicts: (real: Bool, embedded: Bool)?

    public var difference: TimeSpan? {
        guard let real, let embedded else { return nil }
        return real - embedded
    }

    public var withinTolerance: Bool {
        if let v = verdicts { return v.real == v.embedded }
        guard let d = difference else { return false }
        return abs(d.micros) <= tolerance.micros
    }

    public static func == (a: ConformanceRow, b: ConformanceRow) -> Bool {
        a.line == b.line && a.what == b.what && a.real == b.real && a.embedded == b.embedded
            && a.tolerance == b.tolerance && a.failed?.real == b.failed?.real
            && a.failed?.embedded == b.failed?.embedded && a.verdicts?.real == b.verdicts?.real
            && a.verdicts?.embedded == b.verdicts?.embedded
    }

    public func hash(into h: inout Hasher) {
        h.combine(line)
        h.combine(what)
        h.combine(real)
        h.combine(embedded)
    }
}

/// Compares a real run with an embedded one: pairs their key events by kind, node and order after
/// each action, measures each action's client outage from the probe, and says for each row what
/// difference is lawful and why. Pure.
public enum Conformance {
    public static func compare(
        real: ConformanceRun, embedded: ConformanceRun, timers: ConformanceTimers
    ) -> [ConformanceRow] {
        var rows: [ConformanceRow] = []
        for (i, action) in embedded.actions.enumerated() where i < real.actions.count {
            let r = window(real, i)
            let e = window(embedded, i)
            let text = action.command.text
            for (a, b) in pair(keyEvents(real, in: r), keyEvents(embedded, in: e)) {
                let event = a ?? b!
                let (tolerance, reason) = Self.tolerance(for: event.kind, after: action.command, timers)
                rows.append(
                    ConformanceRow(
                        line: action.line, action: text, what: event.label, real: a.map { $0.time - r.lowerBound },
                        embedded: b.map { $0.time - e.lowerBound },
                        tolerance: tolerance, reason: reason))
            }
            let ro = outage(real.samples, in: r)
            let eo = outage(embedded.samples, in: e)
            let (tolerance, reason) = outageTolerance(after: action.command, timers)
            rows.append(
                ConformanceRow(
                    line: action.line, action: text, what: "client outage", real: ro.outage, embedded: eo.outage,
                    tolerance: tolerance, reason: reason, failed: (ro.failed, eo.failed)))
        }
        if let first = embedded.actions.first, let realFirst = real.actions.first {
            var row = ConformanceRow(
                line: first.line, action: "the whole run", what: "session kept", real: nil, embedded: nil,
                tolerance: .zero, reason: "the probe's JSESSIONID before the first action and at the end")
            row.verdicts = (
                sessionKept(real.samples, from: realFirst.time), sessionKept(embedded.samples, from: first.time)
            )
            rows.append(row)
        }
        return rows
    }

    /// Which of the embedded runs to compare a real run with: the first whose key events after each
    /// action are the real run's (the same kinds, nodes and details, whatever their times), with
    /// `exact` true; when none is, the first of those that agree after the most actions, with
    /// `exact` false (its rows then show where the real run differs).
    ///
    /// Some outcomes are races the real programs run afresh each time: after a partition heals, the
    /// two masters' advert clocks decide which node hears the other first, and so whether lb1 sends a
    /// gratuitous ARP or the clients stay on lb2's MAC. The embedded cluster plays the scenario once
    /// per branch (`EmbeddedConformance.branches`), and the real run is held to the branch it took.
    public static func matchingBranch(
        real: ConformanceRun, among candidates: [ConformanceRun]
    ) -> (index: Int, exact: Bool) {
        let wanted = outcome(real)
        let outcomes = candidates.map(outcome)
        if let exact = outcomes.firstIndex(of: wanted) { return (exact, true) }
        let agreeing = outcomes.map { zip($0, wanted).filter { $0 == $1 }.count }
        return (agreeing.firstIndex(of: agreeing.max() ?? 0) ?? 0, false)
    }

    /// The key events after each action, without their times: what tells one branch of a race from
    /// another.
    public static func outcome(_ run: ConformanceRun) -> [[String]] {
        run.actions.indices.map { i in keyEvents(run, in: window(run, i)).map(\.label).sorted() }
    }

    /// Whether the probe's last session before `time` is the one it holds at the end.
    static func sessionKept(_ samples: [ProbeSample], from time: Instant) -> Bool {
        let before = samples.last { $0.ok && $0.end <= time }?.session
        let after = samples.last { $0.ok }?.session
        return before != nil && before == after
    }

    /// The i-th action's window on a side: from it to the next action (or the run's end).
    public static func window(_ run: ConformanceRun, _ i: Int) -> Range<Instant> {
        let start = run.actions[i].time
        let end = i + 1 < run.actions.count ? run.actions[i + 1].time : run.end
        return start..<max(start, end)
    }

    static func keyEvents(_ run: ConformanceRun, in window: Range<Instant>) -> [KeyEvent] {
        run.events.compactMap(KeyEvent.init).filter { window.contains($0.time) }.sorted { $0.time < $1.time }
    }

    /// Pairs the n-th event of each (kind, node, detail) on one side with the n-th on the other; an
    /// event with no partner is paired with nil. In time order.
    static func pair(_ real: [KeyEvent], _ embedded: [KeyEvent]) -> [(KeyEvent?, KeyEvent?)] {
        struct Key: Hashable {
            var kind: KeyEvent.Kind
            var node: String
            var detail: String
        }
        var waiting: [Key: [KeyEvent]] = [:]
        for e in embedded { waiting[Key(kind: e.kind, node: e.node, detail: e.detail), default: []].append(e) }
        var pairs: [(KeyEvent?, KeyEvent?)] = []
        for r in real {
            let key = Key(kind: r.kind, node: r.node, detail: r.detail)
            if var list = waiting[key], !list.isEmpty {
                pairs.append((r, list.removeFirst()))
                waiting[key] = list
            } else {
                pairs.append((r, nil))
            }
        }
        for e in embedded where waiting[Key(kind: e.kind, node: e.node, detail: e.detail)]?.contains(e) == true {
            pairs.append((nil, e))
        }
        return pairs.sorted { ($0.0 ?? $0.1!).time < ($1.0 ?? $1.1!).time }
    }

    /// The probe's outage in a window: from the start of the first request that failed (one still
    /// in flight when the window opened counts) to the end of the first answered one after it;
    /// zero when none failed. With how many failed in the window.
    public static func outage(_ samples: [ProbeSample], in window: Range<Instant>) -> (outage: TimeSpan, failed: Int) {
        let inside = samples.filter { $0.end > window.lowerBound && $0.start < window.upperBound }
        let failed = inside.filter { !$0.ok }
        guard let first = failed.first else { return (.zero, 0) }
        let recovered = inside.first { $0.ok && $0.start >= first.end }
        return ((recovered?.end ?? window.upperBound) - first.start, failed.count)
    }

    /// How far a key event may lawfully differ after `command`, and why.
    static func tolerance(
        for kind: KeyEvent.Kind, after command: ClusterCommand, _ t: ConformanceTimers
    ) -> (TimeSpan, String) {
        var total = t.jitter
        var reasons = ["timer jitter and reading delay \(ms(t.jitter))"]
        func add(_ span: TimeSpan, _ why: String) {
            total = total + span
            reasons.append("\(why) \(ms(span))")
        }
        let vrrp = kind == .state || kind == .vip
        switch command {
        case .kill(.process(_, .haproxy)), .start(.process(_, .haproxy)):
            if let s = t.script, kind != .backend { add(s, "track script phase (one interval)") }
            if vrrp { add(t.advert, "advert phase (one advert_int)") }
        case .kill(.process(_, .keepalived)), .powerOff, .link(_, false), .partition, .heal:
            if vrrp { add(t.advert, "advert phase (one advert_int)") }
        case .start(.process(_, .keepalived)), .powerOn, .link(_, true):
            // A keepalived that starts (or gets its link back) counts its own Master_Down_Interval
            // from that moment and ignores lower adverts: no phase. haproxy's checks after a boot have one.
            if kind == .backend { add(t.check, "check phase (one inter)") }
        case .restore:
            if let s = t.script, kind != .backend { add(s, "track script phase (one interval)") }
            if vrrp { add(t.advert, "advert phase (one advert_int)") }
            if kind == .backend { add(t.check, "check phase (one inter)") }
        case .kill(.backend), .start(.backend), .stop(.backend):
            if kind == .backend { add(t.check, "check phase (one inter)") }
        default:
            break
        }
        return (total, reasons.joined(separator: " + "))
    }

    /// How far a client outage may lawfully differ: the takeover's own tolerance plus one probe
    /// timeout (an outage of unanswered requests is measured in steps of it). The graceful stop
    /// has no phase in it: Skew_Time after the priority-0 advert.
    static func outageTolerance(after command: ClusterCommand, _ t: ConformanceTimers) -> (TimeSpan, String) {
        let (takeover, why) = tolerance(for: .state, after: command, t)
        switch command {
        case .start(.process(_, .keepalived)), .powerOn, .link(_, true):
            // The failback: lb1 preempts, its advert makes lb2 drop the VIP at once, and its
            // gratuitous ARP follows 1.7 ms later (captures/session-vrrp-arp.pcap); a request sent
            // to lb2's MAC in between is dropped. The real cluster loses 0 or 1 request there
            // (real-cluster.md), the model none; one lost request reads as one probe timeout plus
            // the request after it (less than one probe period).
            return (
                t.probeTimeout + t.probeInterval,
                "one request lost to the failback's advert-to-GARP race: one probe timeout "
                    + "\(ms(t.probeTimeout)) + one probe period \(ms(t.probeInterval))"
            )
        case .kill(.backend), .stop(.backend):
            // A client sent to the failed server by its cookie waits out haproxy's retries until the
            // checks mark the server DOWN: the outage ends with that event, whose phase is one inter.
            let (down, why) = tolerance(for: .backend, after: command, t)
            return (down + t.probeTimeout, why + " + one probe timeout \(ms(t.probeTimeout))")
        default:
            break
        }
        guard takeover != t.jitter else {
            return (t.probeTimeout, "one probe timeout \(ms(t.probeTimeout)) (no timer phase in it)")
        }
        return (takeover + t.probeTimeout, why + " + one probe timeout \(ms(t.probeTimeout))")
    }

    static func ms(_ t: TimeSpan) -> String { "\(t.micros / 1000) ms" }
}
