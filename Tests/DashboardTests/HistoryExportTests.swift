import ClusterModel
import Dashboard
import Foundation
import HadeckBase
import HadeckTestSupport
import Synchronization
import Testing

/// `e` writes, besides the events, the whole kept history as a session file that `hadeck replay`
/// reads: every frame the dashboard kept comes back as it was.
@Suite(.inTheBackground) struct HistoryExportTests {
    @Test func eSavesTheKeptHistoryAsASessionThatReplaysEveryFrameAsItWas() throws {
        let dir = NSTemporaryDirectory() + "hadeck-history-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = FailoverSource()
        let term = ScriptedTerminal(
            Array(repeating: ScriptedTerminal.Step.run { source.step() }, count: 150) + [.key(.char("e")), .idle])
        term.size = (200, 40)
        let ticks = Mutex<Int64>(0)
        var options = DashboardOptions(exportDirectory: dir)
        options.sessionWriter = "hadeck test"
        let app = DashboardApp(source: source, options: options) {
            ticks.withLock {
                $0 += 100_000
                return $0
            }
        }
        _ = try app.run(terminal: term)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        let name = try #require(files.first { $0.hasSuffix(".session") }, "\(files)")
        #expect(name.hasPrefix("hadeck-session-") && files.contains { $0.hasPrefix("hadeck-events-") })
        // The result bar says where, and how to open it.
        let status = try #require(term.frames.last?.textLines[38])
        #expect(status.contains("saved \(name) (hadeck replay \(name):"), "\(status)")

        let text = try String(contentsOfFile: dir + "/" + name, encoding: .utf8)
        let session = try SessionFile.parse(text, file: name)
        #expect(session.header.version == SessionFile.version && session.header.writer == "hadeck test")
        let kept = app.history.frames
        #expect(session.keyframes.count == kept.count && kept.count >= 150)
        // The events as they happened, each once: the three of the failover, the fixtures' three, a request.
        #expect(session.events.filter { $0.type != .request }.count == 3 + 3)
        #expect(session.events.compactMap(\.request).count == 1)
        // Every kept frame comes back as the screen showed it.
        for frame in kept {
            let replayed = try #require(session.snapshot(at: frame.time))
            #expect(
                render(replayed) == render(frame), "t=\(frame.time.seconds): \(render(replayed)) != \(render(frame))")
        }
        // The failover is in it: its timeline is the live one's.
        #expect(FailoverTimeline.all(events: session.events).last?.newMaster == "lb2")
    }

    func render(_ s: ClusterSnapshot) -> String {
        DashboardRenderer.render(snapshot: s, state: DashboardState(), width: 120, height: 40, theme: .dark).text
    }

    @Test func rowsAddedBetweenTwoFramesAreFoundWhereTheOldFrameStarts() {
        // Newest first, as the snapshots list them.
        #expect(Array(SnapshotHistory.added([5, 4, 3, 2], since: [3, 2, 1])) == [5, 4])
        #expect(Array(SnapshotHistory.added([3, 2, 1], since: [3, 2, 1])) == [])
        // A repeated row is not taken for the old newest one unless the run behind it matches.
        #expect(Array(SnapshotHistory.added([7, 7, 6], since: [7, 6, 5])) == [7])
        // No overlap (more came than a frame keeps): all of it is new.
        #expect(Array(SnapshotHistory.added([9, 8], since: [3, 2])) == [9, 8])
        #expect(Array(SnapshotHistory.added([1], since: [])) == [1])
    }
}
