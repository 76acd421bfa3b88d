import ClusterModel
import HadeckBase

/// `e`'s session: the dashboard's whole kept history (`SnapshotHistory`) written in the format
/// `hadeck replay` reads. Every kept frame becomes a keyframe; the events and requests the frames
/// list (each frame the newest of them) are written once each, in the order they happened.
extension SnapshotHistory {
    /// The header and records of the kept history as a session; nil when nothing is kept.
    public func session(writer: String) -> (header: SessionFile.Header, records: [SessionFile.Record])? {
        let frames = self.frames
        guard let last = frames.last else { return nil }
        var events: [ClusterEvent] = []
        var requests: [RequestRecord] = []
        var previous: ClusterSnapshot?
        for frame in frames {
            events += Self.added(frame.events, since: previous?.events ?? []).reversed()
            requests += Self.added(frame.requests, since: previous?.requests ?? []).reversed()
            previous = frame
        }
        var records = frames.map(SessionFile.Record.keyframe)
        records += events.map(SessionFile.Record.event)
        records += requests.map { SessionFile.Record.event(ClusterEvent(time: $0.time, .request($0), why: $0.reason)) }
        let header = SessionFile.Header(
            cluster: last.clusterName, source: last.source.name,
            keyframeInterval: frames.count > 1
                ? (last.time - frames[0].time).seconds / Double(frames.count - 1) : 1,
            eventLimit: Self.keptRows, requestLimit: Self.keptRows, writer: writer)
        return (header, records)
    }

    /// The kept history as a session file's text (a header line, then one line per record).
    public func sessionText(writer: String) throws -> String? {
        guard let (header, records) = session(writer: writer) else { return nil }
        var lines = [try SessionFile.headerLine(header)]
        for r in records { lines.append(try SessionFile.line(r)) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The rows of `now` (newest first) that `before` (the previous frame's, newest first) did not
    /// have: those in front of where `before`'s newest row starts a run matching `before`. All of
    /// `now` when they do not overlap (more rows came between two frames than a frame keeps).
    public static func added<Row: Equatable>(_ now: [Row], since before: [Row]) -> ArraySlice<Row> {
        guard let newest = before.first else { return now[...] }
        for k in now.indices where now[k] == newest {
            let overlap = min(now.count - k, before.count)
            if now[k..<(k + overlap)].elementsEqual(before[0..<overlap]) { return now[..<k] }
        }
        return now[...]
    }
}
