import BalancerCore
import Foundation
import HadeckBase

/// A recorded session (`--save-session FILE`): JSON lines, a header first, then every event as it
/// happened and, periodically, a keyframe (the whole `ClusterSnapshot` but for its event and
/// request lists, which the events rebuild). `hadeck replay` shows every panel as it was from it.
///
///     {"format":"hadeck-session","version":1,"cluster":"article","source":"live",...}
///     {"t":12,"event":{...}}
///     {"t":15,"keyframe":{...}}
public enum SessionFile {
    public static let format = "hadeck-session"
    /// Bumped when a line changes meaning; a reader refuses versions it does not know.
    public static let version = 1

    public struct Header: Codable, Hashable, Sendable {
        public var format: String
        public var version: Int
        public var cluster: String
        /// What was recorded: `simulated`, `live`, `attached`, `lab`.
        public var source: String
        /// Seconds between keyframes.
        public var keyframeInterval: Double
        /// The event and request list lengths the keyframes' snapshots were taken with.
        public var eventLimit: Int
        public var requestLimit: Int
        /// hadeck's version.
        public var writer: String

        public init(
            cluster: String, source: String, keyframeInterval: Double = 1, eventLimit: Int = 200,
            requestLimit: Int = 200, writer: String
        ) {
            format = SessionFile.format
            version = SessionFile.version
            self.cluster = cluster
            self.source = source
            self.keyframeInterval = keyframeInterval
            self.eventLimit = eventLimit
            self.requestLimit = requestLimit
            self.writer = writer
        }
    }

    /// One line after the header.
    public enum Record: Sendable {
        case event(ClusterEvent)
        case keyframe(ClusterSnapshot)

        public var time: Instant {
            switch self {
            case .event(let e): e.time
            case .keyframe(let s): s.time
            }
        }
    }

    struct Line: Codable {
        var t: Double
        var event: ClusterEvent?
        var keyframe: ClusterSnapshot?
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    public static func headerLine(_ header: Header) throws -> String {
        String(decoding: try encoder().encode(header), as: UTF8.self)
    }

    /// One record as one line (no newline). A keyframe drops its event and request lists.
    public static func line(_ record: Record) throws -> String {
        var line: Line
        switch record {
        case .event(let e): line = Line(t: e.time.seconds, event: e)
        case .keyframe(var s):
            s.events = []
            s.requests = []
            line = Line(t: s.time.seconds, keyframe: s)
        }
        return String(decoding: try encoder().encode(line), as: UTF8.self)
    }

    /// A file that is not a session, or a line that cannot be read: `file:line: error: message`.
    public typealias ReadError = Diagnostic

    /// Reads a whole session. A last line cut short (a recording that was killed) is left out; any
    /// other unreadable line is an error naming it.
    public static func parse(_ text: String, file: String) throws(ReadError) -> RecordedSession {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let decoder = JSONDecoder()
        guard let first = lines.first, !first.isEmpty else {
            throw ReadError(.error, file: file, line: 1, "empty: not a hadeck session")
        }
        guard let header = try? decoder.decode(Header.self, from: Data(first.utf8)), header.format == format else {
            throw ReadError(.error, file: file, line: 1, "not a hadeck session (no \"format\":\"\(format)\" header)")
        }
        guard header.version <= version else {
            throw ReadError(
                .error, file: file, line: 1,
                "session version \(header.version) is newer than this hadeck reads (\(version)); update hadeck"
            )
        }
        var records: [Record] = []
        let last = lines.lastIndex { !$0.isEmpty } ?? 0
        for (i, raw) in lines.enumerated().dropFirst() where !raw.isEmpty {
            do {
                let line = try decoder.decode(Line.self, from: Data(raw.utf8))
                if let e = line.event {
                    records.append(.event(e))
                } else if let s = line.keyframe {
                    records.append(.keyframe(s))
                } else {
                    throw ReadError(.error, file: file, line: i + 1, "neither an event nor a keyframe")
                }
            } catch let error as ReadError {
                throw error
            } catch {
                if i == last { break }  // cut short as the recorder was stopped
                throw ReadError(.error, file: file, line: i + 1, "unreadable line: \(error)")
            }
        }
        return RecordedSession(header: header, records: records)
    }
}

/// A session read back: its events and keyframes in time order, and the screen's snapshot at any time.
public struct RecordedSession: Sendable {
    public var header: SessionFile.Header
    /// Every event, in time order.
    public private(set) var events: [ClusterEvent]
    public private(set) var keyframes: [ClusterSnapshot]

    public init(header: SessionFile.Header, records: [SessionFile.Record]) {
        self.header = header
        var events: [ClusterEvent] = []
        var keyframes: [ClusterSnapshot] = []
        for r in records {
            switch r {
            case .event(let e): events.append(e)
            case .keyframe(let s): keyframes.append(s)
            }
        }
        // Stable: events of one instant keep the order they happened in.
        self.events = events.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(
            \.element)
        self.keyframes = keyframes.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }
            .map(\.element)
    }

    public var start: Instant { min(keyframes.first?.time ?? .zero, events.first?.time ?? .zero) }
    public var end: Instant { max(keyframes.last?.time ?? .zero, events.last?.time ?? .zero) }

    /// The times of the events a replay can seek to (not requests).
    public var eventTimes: [Instant] { events.filter { $0.type != .request }.map(\.time) }

    /// The cluster as the screen saw it at `time`: the last keyframe at or before it, its clock at
    /// `time`, the event and request lists rebuilt from the events up to `time` (newest first, as
    /// long as the recording's were). nil before the first keyframe.
    public func snapshot(at time: Instant, requestLimit: Int? = nil, eventLimit: Int? = nil) -> ClusterSnapshot? {
        guard let index = keyframes.lastIndex(where: { $0.time <= time }) else { return nil }
        var s = keyframes[index]
        s.time = max(s.time, min(time, end))
        let upTo = events.prefix { $0.time <= s.time }
        s.events = Array(
            upTo.lazy.reversed().filter { $0.type != .request }.prefix(eventLimit ?? header.eventLimit))
        s.requests = Array(upTo.lazy.reversed().compactMap(\.request).prefix(requestLimit ?? header.requestLimit))
        return s
    }
}

/// Plays a recorded session as a cluster source: its clock moves with the wall clock times the time
/// scale (pause and slow motion as in the simulator), every panel shows what the keyframes and
/// events say. It takes no cluster commands.
public final class ReplaySource: ClusterSource {
    public let session: RecordedSession
    public private(set) var now: Instant
    public private(set) var timeScale: Double = 1
    public private(set) var paused = false

    public init(session: RecordedSession, from start: Instant? = nil) {
        self.session = session
        now = start ?? session.keyframes.first?.time ?? session.start
    }

    /// True once the clock reached the recording's end.
    public var finished: Bool { now >= session.end }

    public func advance(wallElapsed: TimeSpan) {
        guard !paused else { return }
        now = min(session.end, now + TimeSpan(micros: Int64(Double(wallElapsed.micros) * timeScale)))
    }

    public func seek(to time: Instant) { now = min(max(time, session.start), session.end) }

    public func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot {
        var s =
            session.snapshot(at: now, requestLimit: requestLimit, eventLimit: eventLimit)
            ?? ClusterSnapshot(
                time: now, clusterName: session.header.cluster, vip: HostPort(host: "0.0.0.0", port: 0),
                arp: ARPSnapshot(ip: "0.0.0.0"))
        s.source = SourceCapabilities(name: "replay", canPause: true, acceptsCommands: false)
        s.timeScale = timeScale
        s.paused = paused
        return s
    }

    public func perform(_ command: ControlCommand, by actor: String) throws -> String {
        switch command {
        case .setTimeScale(let scale):
            timeScale = scale
            return "replay at x\(scale)"
        case .setPaused(let p):
            paused = p
            return p ? "replay paused" : "replay resumed"
        case .cluster:
            throw ReplayError.noCommands
        }
    }
}

public enum ReplayError: Error, CustomStringConvertible, Hashable, Sendable {
    case noCommands

    public var description: String { "a replay shows what happened: it takes no commands" }
}
