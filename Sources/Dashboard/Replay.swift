import ClusterModel
import HadeckBase

/// The snapshots the dashboard took, kept for instant replay (`R`). Bounded: at most `capacity`
/// frames and `window` of cluster time, oldest dropped first and counted; each frame keeps the
/// newest `keptRows` requests and events (more than any screen shows).
///
/// A frame's requests and events are mostly its predecessor's, shifted by what came since: each
/// row is kept once, in a log per kind, and a frame keeps the stretch of the log it lists (at one
/// frame a second and a request a second, 100 rows of each a frame were ~22 KB a frame, 2.6 MB
/// for the window; now a frame costs its new rows). `frames` gives back exactly what was recorded.
public struct SnapshotHistory: Sendable {
    public static let defaultCapacity = 600
    public static let window = TimeSpan.seconds(120)
    public static let keptRows = 100

    public let capacity: Int
    /// The frames without their requests and events, with where those are in the logs.
    private var kept: [Kept] = []
    private var requestLog = RowLog<RequestRecord>()
    private var eventLog = RowLog<ClusterEvent>()
    /// Frames dropped because the history was full or too old.
    public private(set) var dropped = 0

    private struct Kept: Sendable {
        var snapshot: ClusterSnapshot
        var requests: Range<Int>
        var events: Range<Int>
    }

    public init(capacity: Int = SnapshotHistory.defaultCapacity) { self.capacity = max(2, capacity) }

    /// Keeps a snapshot the app took (one with the same time as the last is taken in its place).
    public mutating func record(_ snapshot: ClusterSnapshot) {
        var s = snapshot
        let requests = requestLog.keep(s.requests.prefix(Self.keptRows), after: kept.last?.requests)
        let events = eventLog.keep(s.events.prefix(Self.keptRows), after: kept.last?.events)
        s.requests = []
        s.events = []
        let frame = Kept(snapshot: s, requests: requests, events: events)
        if let last = kept.last, last.snapshot.time >= s.time {
            // A paused source or a clock that did not move: the newer state replaces it.
            kept[kept.count - 1] = frame
            return
        }
        kept.append(frame)
        // Dropped in batches of up to `batch`, so that keeping a frame costs O(1) on average.
        let batch = max(1, min(capacity / 8, 64))
        guard kept.count >= capacity + batch || s.time - kept[0].snapshot.time > Self.window + .seconds(5) else {
            return
        }
        var excess = kept.count - capacity
        if let cut = kept.firstIndex(where: { s.time - $0.snapshot.time <= Self.window }) { excess = max(excess, cut) }
        if excess > 0 {
            kept.removeFirst(excess)
            dropped += excess
            // A later frame's stretch never starts before an earlier one's.
            requestLog.drop(before: kept[0].requests.lowerBound)
            eventLog.drop(before: kept[0].events.lowerBound)
        }
    }

    public var count: Int { kept.count }

    /// The kept frames, oldest first, each as it was recorded.
    public var frames: [ClusterSnapshot] { kept.indices.map(frame) }

    /// The oldest kept frame.
    public var first: ClusterSnapshot? { kept.isEmpty ? nil : frame(0) }

    /// The newest kept frame.
    public var last: ClusterSnapshot? { kept.isEmpty ? nil : frame(kept.count - 1) }

    /// The rows the logs hold for the kept frames (each row once): what the history costs.
    public var rowsKept: Int { requestLog.count + eventLog.count }

    private func frame(_ i: Int) -> ClusterSnapshot {
        var s = kept[i].snapshot
        s.requests = requestLog.newestFirst(kept[i].requests)
        s.events = eventLog.newestFirst(kept[i].events)
        return s
    }

    /// What `R` replays: the last change of master with two seconds either side, or the last
    /// `fallback` of history when no change of master is kept.
    public func replay(fallback: TimeSpan = .seconds(15)) -> Replay? {
        guard let first = kept.first?.snapshot, let last else { return nil }
        let lead = TimeSpan.seconds(2)
        if let timeline = FailoverTimeline.last(in: last), timeline.end >= first.time {
            let start = max(first.time, timeline.start - lead)
            let end = min(last.time, max(timeline.end, timeline.takeover) + lead)
            let what =
                "\(timeline.oldMaster ?? "none")→\(timeline.newMaster) at t=\(fixed(timeline.takeover.seconds, 1))s"
            return Replay(frames: frames(from: start, to: end), start: start, end: end, what: what)
        }
        let start = max(first.time, last.time - fallback)
        return Replay(
            frames: frames(from: start, to: last.time), start: start, end: last.time,
            what: "the last \(fixed((last.time - start).seconds, 0))s (no change of master kept)")
    }

    /// The frames from the one in force at `start` to the last one at or before `end`.
    private func frames(from start: Instant, to end: Instant) -> [ClusterSnapshot] {
        let from = kept.lastIndex { $0.snapshot.time <= start } ?? 0
        let to = kept.lastIndex { $0.snapshot.time <= end } ?? (kept.count - 1)
        return (from...max(from, to)).map(frame)
    }
}

/// Rows (requests or events) kept once each, oldest first, numbered from the first ever kept: a
/// frame's newest-first list is a stretch of them.
struct RowLog<Row: Equatable & Sendable>: Sendable {
    /// The number of the first row in `rows`.
    private var base = 0
    private var rows: [Row] = []

    var count: Int { rows.count }
    private var end: Int { base + rows.count }

    /// Keeps a frame's rows (newest first) and returns their stretch. `previous` is the stretch of
    /// the frame before, which ends the log: the rows in front of where its newest row starts a
    /// matching run are the new ones. When the older rows are not all the previous frame's (more
    /// came than a frame keeps, or the list was cut differently), the whole list is kept anew.
    mutating func keep(_ list: ArraySlice<Row>, after previous: Range<Int>?) -> Range<Int> {
        if let previous, previous.upperBound == end {
            let before = newestFirst(previous)
            let new = SnapshotHistory.added(Array(list), since: before)
            let old = list.count - new.count
            if old <= before.count && list.dropFirst(new.count).elementsEqual(before.prefix(old)) {
                rows += new.reversed()
                return (end - list.count)..<end
            }
        }
        rows += list.reversed()
        return (end - list.count)..<end
    }

    /// A stretch's rows, newest first.
    func newestFirst(_ stretch: Range<Int>) -> [Row] {
        rows[(stretch.lowerBound - base)..<(stretch.upperBound - base)].reversed()
    }

    /// Forgets the rows before row number `first` (no kept frame lists them any more).
    mutating func drop(before first: Int) {
        let n = min(rows.count, max(0, first - base))
        guard n > 0 else { return }
        rows.removeFirst(n)
        base += n
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

    /// `frames`: the one in force at `start` to the last at or before `end`, oldest first.
    init(frames: [ClusterSnapshot], start: Instant, end: Instant, what: String) {
        self.frames = frames
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
