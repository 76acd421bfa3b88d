import ClusterModel
import HadeckBase

/// The snapshots the dashboard took, kept for instant replay (`R`). Bounded: at most `capacity`
/// frames and `window` of cluster time, oldest dropped first and counted; each frame keeps the
/// newest `keptRows` requests and events (more than any screen shows).
public struct SnapshotHistory: Sendable {
    public static let defaultCapacity = 600
    public static let window = TimeSpan.seconds(120)
    public static let keptRows = 100

    public let capacity: Int
    public private(set) var frames: [ClusterSnapshot] = []
    /// Frames dropped because the history was full or too old.
    public private(set) var dropped = 0

    public init(capacity: Int = SnapshotHistory.defaultCapacity) { self.capacity = max(2, capacity) }

    /// Keeps a snapshot the app took (one with the same time as the last is taken in its place).
    public mutating func record(_ snapshot: ClusterSnapshot) {
        var s = snapshot
        if s.requests.count > Self.keptRows { s.requests = Array(s.requests.prefix(Self.keptRows)) }
        if s.events.count > Self.keptRows { s.events = Array(s.events.prefix(Self.keptRows)) }
        if let last = frames.last, last.time >= s.time {
            // A paused source or a clock that did not move: the newer state replaces it.
            frames[frames.count - 1] = s
            return
        }
        frames.append(s)
        // Dropped in batches of up to `batch`, so that keeping a frame costs O(1) on average.
        let batch = max(1, min(capacity / 8, 64))
        guard frames.count >= capacity + batch || s.time - frames[0].time > Self.window + .seconds(5) else { return }
        var excess = frames.count - capacity
        if let cut = frames.firstIndex(where: { s.time - $0.time <= Self.window }) { excess = max(excess, cut) }
        if excess > 0 {
            frames.removeFirst(excess)
            dropped += excess
        }
    }

    public var count: Int { frames.count }

    /// What `R` replays: the last change of master with two seconds either side, or the last
    /// `fallback` of history when no change of master is kept.
    public func replay(fallback: TimeSpan = .seconds(15)) -> Replay? {
        guard let first = frames.first, let last = frames.last else { return nil }
        let lead = TimeSpan.seconds(2)
        if let timeline = FailoverTimeline.last(in: last), timeline.end >= first.time {
            let start = max(first.time, timeline.start - lead)
            let end = min(last.time, max(timeline.end, timeline.takeover) + lead)
            let what =
                "\(timeline.oldMaster ?? "none")→\(timeline.newMaster) at t=\(fixed(timeline.takeover.seconds, 1))s"
            return Replay(frames: frames, start: start, end: end, what: what)
        }
        let start = max(first.time, last.time - fallback)
        return Replay(
            frames: frames, start: start, end: last.time,
            what: "the last \(fixed((last.time - start).seconds, 0))s (no change of master kept)")
    }
}

/// An instant replay: kept snapshots shown again at a slower pace, while the live cluster runs on.
public struct Replay: Sendable {
    public static let defaultSpeed = 0.25
    public static let minSpeed = 1.0 / 16
    public static let maxSpeed = 4.0

    /// The frames from the one in force at `start` to `end`, oldest first.
    public let frames: [ClusterSnapshot]
    public let start: Instant
    public let end: Instant
    /// What is replayed, in words (`lb1→lb2 at t=40.0s`).
    public let what: String
    public private(set) var position: Instant
    public var speed = Replay.defaultSpeed
    public var paused = false
    /// The frame shown: the last one at or before `position`.
    public private(set) var index = 0

    init(frames all: [ClusterSnapshot], start: Instant, end: Instant, what: String) {
        let from = all.lastIndex { $0.time <= start } ?? 0
        let to = all.lastIndex { $0.time <= end } ?? (all.count - 1)
        frames = Array(all[from...max(from, to)])
        self.start = start
        self.end = end
        self.what = what
        position = start
    }

    public var frame: ClusterSnapshot { frames[index] }
    public var atEnd: Bool { position >= end }

    /// Moves the replay clock on by `wall` of real time at its speed (not while paused, nor past the end).
    public mutating func advance(wall: TimeSpan) {
        guard !paused else { return }
        seek(to: position + TimeSpan(micros: Int64((Double(wall.micros) * speed).rounded())))
    }

    /// Jumps to `t` within the replayed range.
    public mutating func seek(to t: Instant) {
        position = min(end, max(start, t))
        if index >= frames.count || frames[index].time > position { index = 0 }
        while index + 1 < frames.count && frames[index + 1].time <= position { index += 1 }
    }

    /// What the banner says, with the real clock and the live cluster beside it.
    public func status(wallClock: String, live: ClusterSnapshot) -> ReplayStatus {
        ReplayStatus(
            what: what, start: start, end: end, position: position, speed: speed, paused: paused, atEnd: atEnd,
            frames: frames.count, wallClock: wallClock, liveTime: live.time,
            liveMaster: live.masters.map(\.name).joined(separator: "+"))
    }
}

/// What the REPLAY banner shows (part of the dashboard's state, so the renderer stays pure).
public struct ReplayStatus: Hashable, Sendable {
    public var what: String
    public var start: Instant
    public var end: Instant
    public var position: Instant
    public var speed: Double
    public var paused: Bool
    public var atEnd: Bool
    public var frames: Int
    /// The real time of day (`06:21:03`).
    public var wallClock: String
    public var liveTime: Instant
    /// The live cluster's master now ("" for none).
    public var liveMaster: String
}

/// The banner over a replayed screen: what is replayed, where, how fast, and the real clock.
struct ReplayBanner: Widget {
    let status: ReplayStatus

    func render(in area: Rect, on c: inout Canvas) {
        guard area.height > 0 else { return }
        let st = c.theme[.alarm]
        c.buffer.fill(x: area.x, y: area.y, width: area.width, height: 1, " ", st)
        let r = status
        let state = r.atEnd ? "END" : (r.paused ? "PAUSED" : "▶")
        var text =
            " REPLAY \(r.what)  t=\(fixed(r.position.seconds, 2))s of \(fixed(r.start.seconds, 1))-\(fixed(r.end.seconds, 1))s"
            + "  x\(formatScale(r.speed)) \(state)"
        text += "  │ now \(r.wallClock), live t=\(fixed(r.liveTime.seconds, 1))s "
        text += r.liveMaster.isEmpty ? "NO MASTER" : "MASTER \(r.liveMaster)"
        text += "  │ R/Esc: live "
        var bold = st
        bold.bold = true
        c.buffer.text(area.x, area.y, text, bold, maxWidth: area.width)
    }
}
