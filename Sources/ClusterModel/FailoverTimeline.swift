import HadeckBase
import VRRPCore

/// Where the seconds of one change of master went: the phases from the fault to the first request
/// answered through the new master, on one time axis, each with its measured duration and, where
/// keepalived's rules give one, the formula's value beside it.
///
/// Built from the typed events alone (a pure function), so the simulator, the live cluster, an
/// attached one and a replayed session all show the same strip. Phases may overlap: the new
/// master's Master_Down_Timer was armed by the last advert it accepted, which can be before the
/// fault was detected.
public struct FailoverTimeline: Hashable, Sendable {
    /// What a phase is.
    public enum PhaseKind: String, Hashable, Sendable, CaseIterable {
        /// What set it off: a key, kill -9, a graceful stop, a power off, a cable pulled, a restart.
        case fault
        /// From the fault until a track script's verdict changed the priority (`fall` x `interval`).
        case detection
        /// The effective priorities cross: the other node now has the higher one.
        case priorityCrossing = "crossing"
        /// The new master's Master_Down_Timer (or Skew_Time, after a priority-0 advert) running out.
        case timer
        /// From becoming MASTER to its gratuitous ARP moving the VIP to its MAC.
        case garp
        /// From the gratuitous ARP to the first request answered through the new master.
        case firstAnswer = "first-answer"
        /// From the first request that failed to the next one answered: what the browsers saw.
        case outage
    }

    /// A formula from keepalived's rules and its value, e.g. `Skew_Time = (256 - 100)/256 s = 0.609375 s`.
    public struct Formula: Hashable, Sendable {
        public var text: String
        public var value: TimeSpan
    }

    public struct Phase: Hashable, Sendable {
        public var kind: PhaseKind
        public var start: Instant
        public var end: Instant
        /// In a few words, e.g. `lb1 haproxy killed (pid 1234)`, `chk_haproxy failed 2 x 2 s`.
        public var label: String
        public var formula: Formula?

        /// The measured duration.
        public var duration: TimeSpan { end - start }
    }

    /// The master before (nil: none known) and after.
    public var oldMaster: String?
    public var newMaster: String
    /// When the new master entered MASTER.
    public var takeover: Instant
    /// In time order of their start (the fault first when it is known).
    public var phases: [Phase]

    public func phase(_ kind: PhaseKind) -> Phase? { phases.first { $0.kind == kind } }

    /// The whole axis: from the earliest phase's start to the latest one's end.
    public var start: Instant { phases.map(\.start).min() ?? takeover }
    public var end: Instant { phases.map(\.end).max() ?? takeover }

    /// From the fault to the first request answered through the new master, when both are known.
    public var faultToService: TimeSpan? {
        guard let fault = phase(.fault), let answer = phase(.firstAnswer) else { return nil }
        return answer.end - fault.start
    }

    /// The phases from the fault to the first answer one after the other, each starting where the one
    /// before ended (a timer armed before the fault counts from the fault): their durations add up to
    /// `faultToService`. The instants (fault, crossing) and the outage are left out.
    public var consecutivePhases: [Phase] {
        guard let fault = phase(.fault) else { return [] }
        var out: [Phase] = []
        var at = fault.start
        for kind in [PhaseKind.detection, .timer, .garp, .firstAnswer] {
            guard var p = phase(kind), p.end >= at else { continue }
            p.start = max(p.start, at)
            at = p.end
            out.append(p)
        }
        return out
    }
}

extension FailoverTimeline {
    /// The timeline of every change of master in `events` (any order; request events are used for
    /// the first answer and the outage, together with `requests`). A node becoming MASTER with no
    /// master before it (the first election) is not a change of master.
    public static func all(events: [ClusterEvent], requests: [RequestRecord] = []) -> [FailoverTimeline] {
        let sorted = events.filter { $0.type != .request }.sorted { $0.time < $1.time }
        var answered = requests + events.compactMap(\.request)
        answered.sort { $0.time < $1.time }
        var result: [FailoverTimeline] = []
        // The node last seen as MASTER, and since when.
        var master: (node: String, since: Instant)?
        for (index, event) in sorted.enumerated() {
            guard case .vrrpState(let node, _, let to, _, _) = event.kind else { continue }
            if to == .master {
                if let previous = master, previous.node != node {
                    result.append(
                        build(
                            takeover: event, index: index, in: sorted, oldMaster: previous.node,
                            windowStart: previous.since, requests: answered))
                }
                master = (node, event.time)
            }
        }
        return result
    }

    /// The last change of master in a snapshot's history, if any.
    public static func last(in snapshot: ClusterSnapshot) -> FailoverTimeline? {
        all(events: snapshot.events, requests: snapshot.requests).last
    }

    static func build(
        takeover: ClusterEvent, index: Int, in events: [ClusterEvent], oldMaster: String, windowStart: Instant,
        requests: [RequestRecord]
    ) -> FailoverTimeline {
        guard case .vrrpState(let newMaster, _, _, _, _) = takeover.kind else {
            preconditionFailure("build(takeover:) takes a vrrp.state event")
        }
        let t = takeover.time
        let before = events[..<index].filter { $0.time >= windowStart }
        var phases: [Phase] = []

        // The fault: the last thing done to a process, a host or a link before the takeover.
        let fault = before.last { isFault($0) }
        if let fault {
            phases.append(Phase(kind: .fault, start: fault.time, end: fault.time, label: fault.summary()))
        }
        let from = fault?.time ?? windowStart

        // The priority crossing, and the track script verdict that caused it.
        let crossing = before.last { e in
            guard e.time >= from, case .vrrpPriority(let node, _, _) = e.kind else { return false }
            return node == oldMaster || node == newMaster
        }
        if let crossing {
            if let fault {
                phases.append(
                    Phase(
                        kind: .detection, start: fault.time, end: crossing.time,
                        label: detectionLabel(crossing), formula: detectionFormula(crossing, fault: fault.time)))
            }
            phases.append(
                Phase(kind: .priorityCrossing, start: crossing.time, end: crossing.time, label: crossing.summary()))
        }

        // The timer that made the new master, from when it was armed to when it ran out.
        if let timer = takeover.timer {
            let armed = timer.armedAt ?? (t - timer.value)
            phases.append(
                Phase(
                    kind: .timer, start: armed, end: t, label: "\(newMaster) \(timer.kind.rawValue) ran out",
                    formula: Formula(text: timer.description, value: timer.value)))
        }

        // The new master's gratuitous ARP: keepalived sends it as it enters MASTER.
        let garp = events[index...].first { e in
            if case .arpUpdate(_, _, let node) = e.kind { return node == newMaster }
            return false
        }
        if let garp {
            phases.append(
                Phase(
                    kind: .garp, start: t, end: garp.time, label: "gratuitous ARP from \(newMaster)",
                    formula: Formula(text: "sent on entering MASTER = 0 s", value: .zero)))
        }

        // The first request answered through the new master, once the VIP moved.
        let serviceFrom = garp?.time ?? t
        let firstAnswer = requests.first { $0.time >= serviceFrom && $0.via == newMaster && answeredOK($0) }
        if let firstAnswer {
            phases.append(
                Phase(
                    kind: .firstAnswer, start: serviceFrom, end: firstAnswer.time,
                    label: "\(firstAnswer.client) answered via \(newMaster) (\(firstAnswer.status))"))
        }

        // The outage as the browsers saw it: the first request that failed after the fault, to the
        // next one answered.
        if let firstFailed = requests.first(where: { $0.time >= from && $0.time <= serviceFrom && !answeredOK($0) }),
            let back = requests.first(where: { $0.time > firstFailed.time && answeredOK($0) })
        {
            let failed = requests.filter { $0.time >= firstFailed.time && $0.time < back.time && !answeredOK($0) }
            phases.append(
                Phase(
                    kind: .outage, start: firstFailed.time, end: back.time,
                    label: "\(failed.count) request\(failed.count == 1 ? "" : "s") failed"))
        }
        phases.sort { ($0.start, order($0.kind)) < ($1.start, order($1.kind)) }
        return FailoverTimeline(oldMaster: oldMaster, newMaster: newMaster, takeover: t, phases: phases)
    }

    static func order(_ kind: PhaseKind) -> Int { PhaseKind.allCases.firstIndex(of: kind) ?? 0 }

    /// Something done to a process, a host or a link: what sets a change of master off.
    static func isFault(_ e: ClusterEvent) -> Bool {
        switch e.kind {
        case .process, .hostPower, .link: true
        default: false
        }
    }

    /// An answer the browser could use (a 5xx is the balancer saying it could not serve).
    static func answeredOK(_ r: RequestRecord) -> Bool { r.status > 0 && r.status < 500 }

    static func detectionLabel(_ crossing: ClusterEvent) -> String {
        guard let script = crossing.scripts.first, let flip = script.lastFlip else {
            return "until the priority changed"
        }
        let verdict = flip.up ? "succeeded" : "failed"
        let every = formatSeconds(script.interval.micros)
        return flip.runs == 1
            ? "\(script.name) \(verdict) at its next run (every \(every) s)"
            : "\(script.name) \(verdict) \(flip.runs) x \(every) s"
    }

    /// The script's schedule: its first run of the streak after the fault, then `fall` - 1 (or
    /// `rise` - 1) more runs `interval` apart.
    static func detectionFormula(_ crossing: ClusterEvent, fault: Instant) -> Formula? {
        guard let script = crossing.scripts.first, let flip = script.lastFlip, flip.firstRun >= fault else {
            return nil
        }
        let wait = flip.firstRun - fault
        let runs = Int64(flip.runs - 1)
        let value = wait + TimeSpan(micros: script.interval.micros * runs)
        let text =
            "next run of \(script.name) after \(formatSeconds(wait.micros)) s + (\(flip.runs) - 1) x "
            + "\(formatSeconds(script.interval.micros)) s = \(formatSeconds(value.micros)) s"
        return Formula(text: text, value: value)
    }
}

extension FailoverTimeline {
    /// The timeline as plain lines, one per phase: start, measured duration, the formula's value
    /// beside it where there is one (the `simulate` timeline, the event detail, tests).
    public var textLines: [String] {
        var lines = ["change of master \(oldMaster ?? "none") -> \(newMaster) at \(formatSeconds(takeover.micros)) s"]
        for p in phases {
            let at = formatSeconds(p.start.micros).padding(toLength: 10)
            let name = p.kind.rawValue.padding(toLength: 12)
            let measured = formatSeconds(p.duration.micros) + " s"
            var line = "  \(at) \(name) \(measured.padding(toLength: 11)) \(p.label)"
            if let f = p.formula { line += " [formula \(formatSeconds(f.value.micros)) s: \(f.text)]" }
            lines.append(line)
        }
        return lines
    }
}

extension String {
    fileprivate func padding(toLength n: Int) -> String {
        count >= n ? self : self + String(repeating: " ", count: n - count)
    }
}
