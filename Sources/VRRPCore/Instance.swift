import HadeckBase

// A little over ~500 lines on purpose: every transition reads and writes the instance's private
// state (timers, priority, the tracked scripts), which is what keeps it a value whose methods
// return actions; the values it takes and returns live in InstanceValues.swift.

/// One keepalived `vrrp_instance`: the RFC 5798 §6 state machine with keepalived 2.2.7's choices.
///
/// Pure and deterministic: time only comes in as `Instant` arguments. Drive it with `start`,
/// `advance(to:probe:)` whenever `nextDeadline` is reached, `receive` for each packet,
/// `setLink`, `stop` and `kill`; act on the returned `VRRPAction`s.
public struct VRRPInstance: Sendable {
    /// The configuration it was made from.
    public let config: VRRPInstanceConfig
    /// The `global_defs` in effect.
    public let globals: KeepalivedGlobals
    /// The host's primary IP (used when `unicast_src_ip` is absent, and for tie-breaks).
    public let primaryIP: String

    /// Current state.
    public private(set) var state: VRRPState = .initialize
    /// Priority after track-script weights (clamped 1...254; 255 stays 255).
    public private(set) var effectivePriority: Int
    /// Address of the master as last heard (ourselves while MASTER).
    public private(set) var masterIP: String? = nil
    /// Priority of the master as last heard.
    public private(set) var masterPriority: Int? = nil
    /// When the master-down timer fires, while BACKUP.
    public private(set) var masterDownDeadline: Instant? = nil
    /// The length the master-down timer was last armed with (for a countdown bar).
    public private(set) var masterDownArmedFor: TimeSpan = .zero
    /// The timer last armed, with the numbers it came from (still set after it fired: what made us MASTER).
    public private(set) var armedTimer: VRRPTimer?
    /// Master_Adver_Interval: ours, or in v3 the one a master advertised.
    public private(set) var advertIntervalInUse: TimeSpan
    /// Counters.
    public private(set) var stats = VRRPStats()
    /// Whether the virtual IPs are configured on this host (stays true after `kill`).
    public private(set) var vipsInstalled = false
    /// Track scripts and their status.
    public private(set) var trackedScripts: [TrackedScriptStatus]
    /// Whether the tracked link is up.
    public private(set) var linkUp = true
    /// When the preempt delay ends (keepalived's `preempt_time`), if running.
    public private(set) var preemptTime: Instant? = nil

    private var nextAdvert: Instant? = nil
    private var garpDelayedAt: Instant? = nil
    private var garpRefreshAt: Instant? = nil
    private var preemptEventPending = false
    private var downTimerCause = DownTimerCause.startup
    private var ignoredLowerFrom: (ip: String, priority: Int)? = nil

    private enum DownTimerCause: Sendable {
        case startup, advert
        case priorityZero(String)
        case fault
    }

    /// Creates an instance in state Initialize.
    /// - Parameters:
    ///   - scripts: the `vrrp_script`s this instance's `track_script` block names (others are ignored).
    ///   - primaryIP: the host's address on the VRRP interface.
    public init(
        config: VRRPInstanceConfig, globals: KeepalivedGlobals = KeepalivedGlobals(), scripts: [VRRPScriptConfig],
        primaryIP: String
    ) {
        self.config = config
        self.globals = globals
        self.primaryIP = primaryIP
        var tracked: [TrackedScriptStatus] = []
        for ref in config.trackScripts {
            guard let s = scripts.first(where: { $0.name == ref.name }) else { continue }
            tracked.append(
                TrackedScriptStatus(
                    name: s.name, check: s.check, weight: ref.weight ?? s.weight,
                    interval: s.interval.micros > 0 ? s.interval : .seconds(1),
                    rise: max(1, s.rise), fall: max(1, s.fall)))
        }
        trackedScripts = tracked
        advertIntervalInUse = Self.normalisedInterval(config)
        effectivePriority = config.priority
        effectivePriority = computedPriority()
    }

    // MARK: - Derived values

    /// The configured priority.
    public var basePriority: Int { config.priority }
    /// Our own advert interval, rounded to what the wire carries (whole s in v2, cs in v3).
    public var ownAdvertInterval: TimeSpan { Self.normalisedInterval(config) }
    /// The address adverts come from.
    public var sourceIP: String { config.unicastSourceIP ?? primaryIP }
    /// Where adverts go: each `unicast_peer`, or the multicast group.
    public var destinations: [String] { config.unicastPeers.isEmpty ? [VRRPCodec.multicastGroup] : config.unicastPeers }
    /// Whether `nopreempt` applies (keepalived honours it only with `state BACKUP`).
    public var preemptDisabled: Bool { config.nopreempt && config.initialState == .backup }
    /// Skew_Time = ((256 - effective priority) x Master_Adver_Interval) / 256, integer microseconds.
    public var skewTime: TimeSpan {
        TimeSpan(micros: Int64(256 - effectivePriority) * advertIntervalInUse.micros / 256)
    }
    /// Master_Down_Interval = down_timer_adverts x Master_Adver_Interval + Skew_Time.
    public var masterDownInterval: TimeSpan { advertIntervalInUse * Int64(max(1, config.downTimerAdverts)) + skewTime }
    /// GARP batch size on becoming master.
    public var garpRepeat: Int { config.garpMasterRepeat ?? globals.garpMasterRepeat }
    /// Delay before the second GARP batch.
    public var garpDelay: TimeSpan { config.garpMasterDelay ?? globals.garpMasterDelay }
    /// Periodic GARP refresh while master, if on.
    public var garpRefresh: TimeSpan? {
        let r = config.garpMasterRefresh ?? globals.garpMasterRefresh
        return (r?.micros ?? 0) > 0 ? r : nil
    }
    /// Time left on the master-down timer at `now` (nil unless BACKUP with a running timer).
    public func masterDownRemaining(at now: Instant) -> TimeSpan? {
        masterDownDeadline.map { max(.zero, $0 - now) }
    }

    static func normalisedInterval(_ config: VRRPInstanceConfig) -> TimeSpan {
        if config.version == 3 {
            let cs = max(1, min(0x0FFF, config.advertInterval.micros / 10_000))
            return .milliseconds(cs * 10)
        }
        return .seconds(max(1, config.advertInterval.micros / 1_000_000))
    }

    private func computedPriority() -> Int {
        let base = config.priority
        if base >= 255 { return 255 }
        var p = base
        for s in trackedScripts where !s.initialising {
            if s.weight > 0 && s.isUp { p += s.weight }
            if s.weight < 0 && !s.isUp { p += s.weight }
        }
        return min(254, max(1, p))
    }

    private var faultReasons: [String] {
        var reasons: [String] = []
        if !linkUp { reasons.append("link down") }
        for s in trackedScripts where s.weight == 0 && !s.initialising && !s.isUp {
            reasons.append("track script \(s.name) down")
        }
        return reasons
    }

    /// The earliest instant something is due: adverts, master-down timer, script runs, GARP repeats, preempt delay.
    public var nextDeadline: Instant? {
        // Asked at every step of a simulation: the earliest kept as it goes, no temporary array.
        if state == .stopped { return nil }
        var earliest = nextAdvert
        earliest.formMin(masterDownDeadline)
        earliest.formMin(garpDelayedAt)
        earliest.formMin(garpRefreshAt)
        if preemptEventPending { earliest.formMin(preemptTime) }
        for s in trackedScripts { earliest.formMin(s.nextRun) }
        return earliest
    }

    // MARK: - Driving

    /// Starts the instance: priority 255 becomes MASTER at once, anything else BACKUP waiting one
    /// Master_Down_Interval. Track scripts first run now. A down link or weight-0 failure starts in FAULT.
    public mutating func start(now: Instant) -> [VRRPAction] {
        guard state == .initialize else { return [] }
        for i in trackedScripts.indices { trackedScripts[i].nextRun = now }
        if !faultReasons.isEmpty {
            return [
                transition(to: .fault, why: "starting with \(faultReasons.joined(separator: ", ")): entering FAULT")
            ]
        }
        if effectivePriority == 255 {
            return becomeMaster(
                now: now, why: "priority 255: this router owns the virtual IPs, becoming MASTER at once")
        }
        let interval = masterDownInterval
        let why: String
        if config.initialState == .master {
            why =
                "configured state MASTER with priority \(effectivePriority) < 255: starting as BACKUP and waiting "
                + "\(formatSeconds(interval.micros)) s (Master_Down_Interval) for a master's advert"
        } else {
            why =
                "starting as BACKUP: waiting \(formatSeconds(interval.micros)) s (Master_Down_Interval) for a master's advert"
        }
        var actions = [transition(to: .backup, why: why)]
        armDownTimer(now: now, for: interval, cause: .startup)
        if config.preemptDelay.micros > 0 {
            preemptTime = now + config.preemptDelay
            preemptEventPending = true
        }
        actions.append(.log("(\(config.name)) Entering BACKUP STATE"))
        return actions
    }

    /// Runs everything due at or before `now`, in time order. Script runs call `probe` to learn
    /// whether the check succeeds (`unsupported` scripts always succeed without calling it).
    public mutating func advance(to now: Instant, probe: (TrackCheck) -> Bool) -> [VRRPAction] {
        var actions: [VRRPAction] = []
        var guardCount = 0
        while let t = nextDeadline, t <= now, guardCount < 100_000 {
            guardCount += 1
            // Scripts first so an advert sent at the same instant carries the new priority.
            if let i = trackedScripts.indices.first(where: { trackedScripts[$0].nextRun == t }) {
                actions += runScript(i, at: t, probe: probe)
            } else if masterDownDeadline == t {
                actions += masterDownFired(at: t)
            } else if nextAdvert == t {
                nextAdvert = t + ownAdvertInterval
                actions += sendAdverts(priority: effectivePriority)
            } else if garpDelayedAt == t {
                garpDelayedAt = nil
                actions += garps(count: garpRepeat)
            } else if garpRefreshAt == t {
                garpRefreshAt = garpRefresh.map { t + $0 }
                actions += garps(count: max(1, globals.garpMasterRefreshRepeat))
            } else if preemptEventPending, preemptTime == t {
                preemptEventPending = false
                actions.append(
                    .log("(\(config.name)) preempt delay of \(formatSeconds(config.preemptDelay.micros)) s has expired")
                )
            } else {
                break
            }
        }
        return actions
    }

    /// Handles one received packet from `sourceIP`. `destination` is the address it was sent to (for the
    /// v3 pseudo-header checksum); by default our own address with unicast peers, else 224.0.0.18.
    public mutating func receive(
        packet bytes: [UInt8], from sourceIP: String, to destination: String? = nil, now: Instant
    ) -> [VRRPAction] {
        guard state != .stopped, state != .initialize else { return [] }
        let dst = destination ?? (config.unicastPeers.isEmpty ? VRRPCodec.multicastGroup : self.sourceIP)
        let expectation = VRRPExpectation(
            version: config.version, virtualRouterID: config.virtualRouterID,
            advertInterval: ownAdvertInterval, authentication: config.version == 2 ? config.authentication : nil)
        let advert: VRRPAdvert
        switch VRRPCodec.decode(bytes, source: sourceIP, destination: dst, expecting: expectation) {
        case .failure(let reason):
            stats.discards[reason, default: 0] += 1
            return [.advertDiscarded(from: sourceIP, reason: reason)]
        case .success(let a):
            advert = a
        }
        stats.advertsReceived += 1
        if advert.priority == 0 { stats.priorityZeroReceived += 1 }
        var actions: [VRRPAction] = []
        if config.version == 3, advert.advertInterval != ownAdvertInterval {
            stats.intervalDifferencesNoted += 1
            if state != .backup {
                actions.append(
                    .log(
                        "(\(config.name)) advert from \(sourceIP) has interval \(formatSeconds(advert.advertInterval.micros)) s, ours is \(formatSeconds(ownAdvertInterval.micros)) s"
                    ))
            }
        }
        switch state {
        case .backup: actions += backupReceived(advert, from: sourceIP, now: now)
        case .master: actions += masterReceived(advert, from: sourceIP, now: now)
        default: break
        }
        return actions
    }

    /// The tracked interface's link went down (-> FAULT, VIPs removed) or came back up (-> BACKUP).
    public mutating func setLink(up: Bool, now: Instant) -> [VRRPAction] {
        guard state != .stopped, linkUp != up else {
            linkUp = up
            return []
        }
        linkUp = up
        guard state != .initialize else { return [] }
        if !up {
            return enterFault(now: now, why: "link on \(config.interface ?? "the interface") went down: entering FAULT")
        }
        return leaveFaultIfClear(now: now, why: "link on \(config.interface ?? "the interface") is up again")
    }

    /// Graceful shutdown (SIGTERM): a MASTER sends a priority-0 advert and removes its VIPs.
    public mutating func stop(now: Instant) -> [VRRPAction] {
        guard state != .stopped else { return [] }
        var actions: [VRRPAction] = []
        let wasMaster = state == .master
        if wasMaster {
            actions += sendAdverts(priority: 0)
        }
        if vipsInstalled {
            vipsInstalled = false
            actions.append(.vipsRemoved(config.virtualIPAddresses, why: "keepalived is stopping"))
        }
        let why =
            wasMaster
            ? "keepalived stopped: sent a priority 0 advert so a backup takes over after its Skew_Time"
            : "keepalived stopped"
        actions.insert(transition(to: .stopped, why: why), at: 0)
        clearTimers()
        return actions
    }

    /// kill -9: silence. No advert, timers stop, the VIPs stay configured on the host.
    public mutating func kill() {
        state = .stopped
        clearTimers()
    }

    // MARK: - State machine internals

    private mutating func clearTimers() {
        nextAdvert = nil
        masterDownDeadline = nil
        garpDelayedAt = nil
        garpRefreshAt = nil
        preemptEventPending = false
        for i in trackedScripts.indices { trackedScripts[i].nextRun = nil }
    }

    private mutating func transition(to new: VRRPState, why: String) -> VRRPAction {
        let old = state
        state = new
        return .stateChanged(from: old, to: new, why: why)
    }

    private mutating func armDownTimer(now: Instant, for span: TimeSpan, cause: DownTimerCause) {
        masterDownDeadline = now + span
        masterDownArmedFor = span
        downTimerCause = cause
        let kind: VRRPTimer.Kind
        if case .priorityZero = cause { kind = .skew } else { kind = .masterDown }
        armedTimer = VRRPTimer(
            kind: kind, adverts: max(1, config.downTimerAdverts), advertInterval: advertIntervalInUse,
            priority: effectivePriority, value: span, armedAt: now)
    }

    private mutating func sendAdverts(priority: Int) -> [VRRPAction] {
        let advert = VRRPAdvert(
            version: config.version, virtualRouterID: config.virtualRouterID, priority: priority,
            advertInterval: ownAdvertInterval, addresses: config.virtualIPAddresses,
            authentication: config.version == 2 ? config.authentication : nil)
        var actions: [VRRPAction] = []
        for dst in destinations {
            let bytes = VRRPCodec.encode(advert, source: sourceIP, destination: dst)
            actions.append(
                .sendAdvert(VRRPOutgoingAdvert(bytes: bytes, source: sourceIP, destination: dst, priority: priority)))
            stats.advertsSent += 1
            if priority == 0 { stats.priorityZeroSent += 1 }
        }
        return actions
    }

    private func garps(count: Int) -> [VRRPAction] {
        var actions: [VRRPAction] = []
        for _ in 0..<max(0, count) {
            for vip in config.virtualIPAddresses { actions.append(.sendGratuitousARP(vip: vip)) }
        }
        return actions
    }

    private mutating func becomeMaster(now: Instant, why: String) -> [VRRPAction] {
        var actions = [transition(to: .master, why: why)]
        stats.becameMaster += 1
        masterDownDeadline = nil
        preemptEventPending = false
        preemptTime = nil
        ignoredLowerFrom = nil
        advertIntervalInUse = ownAdvertInterval
        masterIP = sourceIP
        masterPriority = effectivePriority
        actions += sendAdverts(priority: effectivePriority)
        nextAdvert = now + ownAdvertInterval
        if !vipsInstalled {
            vipsInstalled = true
            actions.append(.vipsAdded(config.virtualIPAddresses, why: "\(config.name) is MASTER"))
        }
        actions += garps(count: garpRepeat)
        garpDelayedAt = garpDelay.micros > 0 ? now + garpDelay : nil
        garpRefreshAt = garpRefresh.map { now + $0 }
        return actions
    }

    private mutating func leaveMaster(now: Instant, to new: VRRPState, why: String) -> [VRRPAction] {
        var actions = [transition(to: new, why: why)]
        nextAdvert = nil
        garpDelayedAt = nil
        garpRefreshAt = nil
        if vipsInstalled {
            vipsInstalled = false
            actions.append(.vipsRemoved(config.virtualIPAddresses, why: "\(config.name) left MASTER"))
        }
        return actions
    }

    private mutating func masterDownFired(at t: Instant) -> [VRRPAction] {
        let armed = formatSeconds(masterDownArmedFor.micros)
        let why: String
        switch downTimerCause {
        case .priorityZero(let ip):
            why =
                "master \(ip) is shutting down (priority 0 advert) and nobody else claimed the role within "
                + "\(armed) s (Skew_Time): taking over"
        case .startup, .fault:
            let since: String
            if case .fault = downTimerCause { since = "since leaving FAULT" } else { since = "since starting" }
            if let lower = ignoredLowerFrom {
                // Adverts did come, from a master below our priority: ignored as RFC 3768 says, not missed.
                why =
                    "no advert at or above our priority \(effectivePriority) for \(armed) s (Master_Down_Interval) \(since); "
                    + "\(lower.ip) advertises only \(lower.priority): preempting"
            } else {
                why = "no advert heard for \(armed) s (Master_Down_Interval) \(since): taking over"
            }
        case .advert:
            if let lower = ignoredLowerFrom {
                why =
                    "no advert at or above our priority \(effectivePriority) for \(armed) s (Master_Down_Interval); "
                    + "\(lower.ip) now advertises only \(lower.priority): preempting"
            } else {
                why = "no advert from the master for \(armed) s (Master_Down_Interval): taking over"
            }
        }
        return becomeMaster(now: t, why: why)
    }

    private mutating func adoptInterval(_ advert: VRRPAdvert, from ip: String) -> [VRRPAction] {
        guard config.version == 3, advert.advertInterval != advertIntervalInUse else { return [] }
        let old = advertIntervalInUse
        advertIntervalInUse = advert.advertInterval
        return [
            .log(
                "(\(config.name)) advertisement interval updated to \(formatSeconds(advert.advertInterval.micros)) s from \(formatSeconds(old.micros)) s by master \(ip)"
            )
        ]
    }

    private mutating func backupReceived(_ advert: VRRPAdvert, from ip: String, now: Instant) -> [VRRPAction] {
        var actions: [VRRPAction] = []
        if advert.priority == 0 {
            masterIP = ip
            masterPriority = 0
            armDownTimer(now: now, for: skewTime, cause: .priorityZero(ip))
            actions.append(
                .log(
                    "(\(config.name)) priority 0 advert from \(ip): master is shutting down, taking over in \(formatSeconds(skewTime.micros)) s (Skew_Time) unless another router claims it"
                ))
            return actions
        }
        let preemptDelayRunning = config.preemptDelay.micros > 0 && (preemptTime.map { $0 > now } ?? true)
        if preemptDisabled || advert.priority >= effectivePriority || preemptDelayRunning {
            actions += adoptInterval(advert, from: ip)
            masterIP = ip
            masterPriority = advert.priority
            ignoredLowerFrom = nil
            if config.preemptDelay.micros > 0 {
                if advert.priority >= effectivePriority {
                    if preemptTime != nil {
                        preemptTime = nil
                        preemptEventPending = false
                        actions.append(.log("(\(config.name)) stop preempt delay"))
                    }
                } else if preemptTime == nil {
                    preemptTime = now + config.preemptDelay
                    preemptEventPending = true
                    actions.append(
                        .log(
                            "(\(config.name)) start preempt delay (\(formatSeconds(config.preemptDelay.micros)) s): \(ip) has lower priority \(advert.priority), ours is \(effectivePriority)"
                        ))
                }
            }
            armDownTimer(now: now, for: masterDownInterval, cause: .advert)
        } else {
            masterIP = ip
            ignoredLowerFrom = (ip, advert.priority)
            actions.append(
                .log("(\(config.name)) received lower priority (\(advert.priority)) advert from \(ip) - discarding"))
        }
        return actions
    }

    private mutating func masterReceived(_ advert: VRRPAdvert, from ip: String, now: Instant) -> [VRRPAction] {
        if advert.priority == 0 {
            return [.log("(\(config.name)) priority 0 advert from \(ip): answering with an advert at once")]
                + sendAdverts(priority: effectivePriority)
        }
        let theirs = IPv4.value(ip) ?? 0
        let ours = IPv4.value(sourceIP) ?? 0
        if advert.priority > effectivePriority || (advert.priority == effectivePriority && theirs > ours) {
            let why =
                advert.priority > effectivePriority
                ? "advert from \(ip) with higher priority \(advert.priority) (ours \(effectivePriority)): becoming BACKUP"
                : "advert from \(ip) with equal priority \(advert.priority) and a higher IP than ours (\(sourceIP)): becoming BACKUP"
            var actions = leaveMaster(now: now, to: .backup, why: why)
            actions += adoptInterval(advert, from: ip)
            masterIP = ip
            masterPriority = advert.priority
            ignoredLowerFrom = nil
            armDownTimer(now: now, for: masterDownInterval, cause: .advert)
            return actions
        }
        var actions: [VRRPAction] = [
            .log(
                "(\(config.name)) received advert from \(ip) with lower priority \(advert.priority), ours \(effectivePriority), forcing new election"
            )
        ]
        actions += sendAdverts(priority: effectivePriority)
        actions += garps(count: garpRepeat)
        if garpDelay.micros > 0 { garpDelayedAt = now + garpDelay }
        return actions
    }

    private mutating func enterFault(now: Instant, why: String) -> [VRRPAction] {
        guard state != .fault else { return [] }
        if state == .master {
            // keepalived tries a priority 0 advert on leaving master; with the link down it cannot go out.
            var actions: [VRRPAction] = []
            if linkUp { actions += sendAdverts(priority: 0) }
            return leaveMaster(now: now, to: .fault, why: why) + actions
        }
        masterDownDeadline = nil
        preemptEventPending = false
        return [transition(to: .fault, why: why)]
    }

    private mutating func leaveFaultIfClear(now: Instant, why: String) -> [VRRPAction] {
        guard state == .fault, faultReasons.isEmpty else { return [] }
        if effectivePriority == 255 {
            return becomeMaster(now: now, why: "\(why): priority 255, back to MASTER at once")
        }
        advertIntervalInUse = ownAdvertInterval
        let interval = masterDownInterval
        armDownTimer(now: now, for: interval, cause: .fault)
        if config.preemptDelay.micros > 0 {
            preemptTime = now + config.preemptDelay
            preemptEventPending = true
        }
        return [
            transition(
                to: .backup,
                why:
                    "\(why): leaving FAULT as BACKUP, waiting \(formatSeconds(interval.micros)) s (Master_Down_Interval)"
            )
        ]
    }

    private mutating func runScript(_ i: Int, at t: Instant, probe: (TrackCheck) -> Bool) -> [VRRPAction] {
        var s = trackedScripts[i]
        s.nextRun = t + s.interval
        let ok: Bool
        if case .unsupported = s.check { ok = true } else { ok = probe(s.check) }
        s.lastResult = ok
        var flipped = false
        let first = s.initialising
        if first {
            s.initialising = false
            s.isUp = ok
            s.pendingCount = 0
            s.lastFlip = TrackedScriptStatus.Flip(firstRun: t, at: t, up: ok, runs: 1)
            flipped = true
        } else if ok == s.isUp {
            s.pendingCount = 0
            s.streakStart = nil
        } else {
            if s.pendingCount == 0 { s.streakStart = t }
            s.pendingCount += 1
            if s.pendingCount >= (ok ? s.rise : s.fall) {
                s.lastFlip = TrackedScriptStatus.Flip(
                    firstRun: s.streakStart ?? t, at: t, up: ok, runs: s.pendingCount)
                s.isUp = ok
                s.pendingCount = 0
                s.streakStart = nil
                flipped = true
            }
        }
        trackedScripts[i] = s
        guard flipped else { return [] }
        let count = ok ? s.rise : s.fall
        let what: String
        if first {
            what = "track script \(s.name) \(ok ? "succeeded" : "failed") on its first run"
        } else {
            what =
                ok
                ? "track script \(s.name) succeeded \(count) time\(count == 1 ? "" : "s")"
                : "track script \(s.name) failed \(count) time\(count == 1 ? "" : "s")"
        }
        var actions: [VRRPAction] = []
        if first && ok && s.weight <= 0 { return [] }
        if s.weight == 0 {
            if ok {
                actions += leaveFaultIfClear(now: t, why: what)
            } else {
                actions += enterFault(now: t, why: "\(what) (weight 0): entering FAULT")
            }
            return actions
        }
        let old = effectivePriority
        let new = computedPriority()
        if new != old {
            effectivePriority = new
            if state == .master { masterPriority = new }
            actions.append(.priorityChanged(from: old, to: new, why: "\(what): priority \(old) -> \(new)"))
        } else {
            actions.append(.log("(\(config.name)) \(what); effective priority stays \(old)"))
        }
        return actions
    }
}
