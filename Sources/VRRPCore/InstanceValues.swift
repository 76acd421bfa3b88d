import HadeckBase

// The values a VRRPInstance takes and returns: its state, the adverts and timers it asks for, its
// actions and counters.

/// A VRRP instance's state (keepalived's numbering: 0 init, 1 backup, 2 master, 3 fault).
public enum VRRPState: String, Hashable, Sendable, CustomStringConvertible {
    /// Created, not yet started.
    case initialize = "INIT"
    /// Listening for a master's adverts, master-down timer running.
    case backup = "BACKUP"
    /// Owns the virtual IPs and advertises.
    case master = "MASTER"
    /// A tracked link is down or a weight-0 script failed: VIPs removed, adverts ignored.
    case fault = "FAULT"
    /// After `stop` or `kill`.
    case stopped = "STOP"

    /// keepalived's JSON state number (stopped reports as init).
    public var keepalivedNumber: Int {
        switch self {
        case .initialize, .stopped: 0
        case .backup: 1
        case .master: 2
        case .fault: 3
        }
    }

    /// The upper-case name keepalived prints.
    public var description: String { rawValue }
}

/// An advert ready to put on the wire to one destination.
public struct VRRPOutgoingAdvert: Hashable, Sendable {
    /// The encoded VRRP message.
    public var bytes: [UInt8]
    /// Our address (`unicast_src_ip`, else the primary IP).
    public var source: String
    /// A `unicast_peer`, or 224.0.0.18 when none is configured.
    public var destination: String
    /// The priority carried (0 on graceful stop).
    public var priority: Int
}

/// A master-down or skew timer with the numbers it was computed from, so that a screen can show the
/// formula beside the value (`Master_Down_Interval = 3 x 1 s + (256 - 100)/256 s = 3.609375 s`).
public struct VRRPTimer: Hashable, Sendable, CustomStringConvertible, Codable {
    public enum Kind: String, Hashable, Sendable, Codable {
        /// down_timer_adverts x Master_Adver_Interval + Skew_Time.
        case masterDown = "Master_Down_Interval"
        /// (256 - priority) x Master_Adver_Interval / 256: after a priority-0 advert.
        case skew = "Skew_Time"
    }

    public var kind: Kind
    /// `down_timer_adverts` (3 by default).
    public var adverts: Int
    /// Master_Adver_Interval.
    public var advertInterval: TimeSpan
    /// The effective priority in the skew.
    public var priority: Int
    /// The timer's length, in keepalived's integer microseconds.
    public var value: TimeSpan
    /// When it was (last) armed: the advert that restarted it, the priority-0 advert, the start;
    /// with `value`, when it runs out. nil: not known (a source that only sees the state change).
    public var armedAt: Instant?

    public init(
        kind: Kind, adverts: Int, advertInterval: TimeSpan, priority: Int, value: TimeSpan, armedAt: Instant? = nil
    ) {
        self.kind = kind
        self.adverts = adverts
        self.advertInterval = advertInterval
        self.priority = priority
        self.value = value
        self.armedAt = armedAt
    }

    /// The formula with its numbers.
    public var description: String {
        let interval = formatSeconds(advertInterval.micros)
        let skew =
            advertInterval == .seconds(1)
            ? "(256 - \(priority))/256 s" : "(256 - \(priority)) x \(interval) s/256"
        let terms = kind == .skew ? skew : "\(adverts) x \(interval) s + \(skew)"
        return "\(kind.rawValue) = \(terms) = \(formatSeconds(value.micros)) s"
    }
}

/// Something the host must do, or be told, as a result of driving a `VRRPInstance`.
public enum VRRPAction: Hashable, Sendable {
    /// Put an advert on the wire (one action per destination).
    case sendAdvert(VRRPOutgoingAdvert)
    /// Send one gratuitous ARP for a virtual IP (the host's MAC now owns it).
    case sendGratuitousARP(vip: String)
    /// The instance changed state.
    case stateChanged(from: VRRPState, to: VRRPState, why: String)
    /// The effective priority changed (track scripts).
    case priorityChanged(from: Int, to: Int, why: String)
    /// Configure these virtual IPs on the host.
    case vipsAdded([String], why: String)
    /// Remove these virtual IPs from the host.
    case vipsRemoved([String], why: String)
    /// A received packet was thrown away.
    case advertDiscarded(from: String, reason: VRRPDiscardReason)
    /// A keepalived-style log line with no other effect.
    case log(String)
}

/// Counters like keepalived's `/tmp/keepalived.stats`.
public struct VRRPStats: Hashable, Sendable {
    /// Adverts put on the wire (each destination counts once per advert).
    public var advertsSent = 0
    /// Valid adverts received.
    public var advertsReceived = 0
    /// Times the instance became MASTER.
    public var becameMaster = 0
    /// Priority-0 adverts sent (graceful stop or leaving master for fault).
    public var priorityZeroSent = 0
    /// Priority-0 adverts received.
    public var priorityZeroReceived = 0
    /// Discarded packets by reason.
    public var discards: [VRRPDiscardReason: Int] = [:]
    /// v3 adverts whose interval differed from ours (noted, not discarded).
    public var intervalDifferencesNoted = 0

    /// Creates zeroed counters.
    public init() {}

    /// Total discarded packets.
    public var totalDiscards: Int { discards.values.reduce(0, +) }
}

/// The live status of one tracked script, for display.
public struct TrackedScriptStatus: Hashable, Sendable, Codable {
    /// The script's name.
    public var name: String
    /// What it checks.
    public var check: TrackCheck
    /// The weight in effect (the `track_script` override, else the script's).
    public var weight: Int
    /// Run interval.
    public var interval: TimeSpan
    /// `rise`.
    public var rise: Int
    /// `fall`.
    public var fall: Int
    /// Whether the script is currently considered up (succeeding). Meaningless while `initialising`.
    public var isUp = true
    /// No result yet: like keepalived's init state, the script neither adds nor subtracts its weight,
    /// and its first result (success or failure) decides its state at once.
    public var initialising = true
    /// Consecutive results contradicting `isUp` so far (towards `rise` or `fall`).
    public var pendingCount = 0
    /// Results of the last run, if it ran.
    public var lastResult: Bool? = nil
    /// When it next runs.
    public var nextRun: Instant? = nil
    /// The last time its state flipped (up to down or back), and the run that began the streak of
    /// `rise` or `fall` results that flipped it: what a failover timeline shows as detection.
    public var lastFlip: Flip? = nil
    /// The first run of the current streak of contradicting results (nil: none running).
    var streakStart: Instant? = nil

    /// A change of a script's state, and the runs that made it.
    public struct Flip: Hashable, Sendable, Codable {
        /// The first run of the streak (the flip's own run when `rise`/`fall` is 1 or it was the first run).
        public var firstRun: Instant
        /// The run that completed the streak.
        public var at: Instant
        /// Up (succeeding) after the flip.
        public var up: Bool
        /// How many consecutive results it took (`rise` or `fall`; 1 on the first run).
        public var runs: Int
    }
}
