import ArgumentParser
import ClusterModel
import Foundation
import HadeckBase
import NIOConcurrencyHelpers

/// `--save-session FILE`: writes the session file as the run goes (events from any thread, a
/// keyframe whenever one is due), so that a run that is stopped keeps what it had.
final class SessionRecorder: Sendable {
    let path: String
    let header: SessionFile.Header
    private struct State {
        var handle: FileHandle?
        var lastKeyframe: Instant?
        /// Something other than a request happened since the last keyframe.
        var changed = false
        var problem: String?
    }
    private let state: NIOLockedValueBox<State>

    init(path: String, header: SessionFile.Header) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
            let handle = FileHandle(forWritingAtPath: path)
        else { throw SessionRecorderError.cannotCreate(path) }
        self.path = path
        self.header = header
        state = NIOLockedValueBox(State(handle: handle))
        write(try SessionFile.headerLine(header))
    }

    /// The first problem writing the file, if any (the recording stopped there).
    var problem: String? { state.withLockedValue { $0.problem } }

    func record(_ event: ClusterEvent) {
        guard let line = try? SessionFile.line(.event(event)) else { return }
        if event.type != .request { state.withLockedValue { $0.changed = true } }
        write(line)
    }

    /// Writes a keyframe if the last one is `keyframeInterval` old, something besides requests
    /// happened since (every panel as it was after each event), or `force`.
    func keyframe(_ source: ClusterSource, force: Bool = false) {
        let snap = source.snapshot(requestLimit: 0, eventLimit: 0)
        let due = state.withLockedValue { s -> Bool in
            guard let last = s.lastKeyframe else { return true }
            return force || s.changed || (snap.time - last).seconds >= header.keyframeInterval
        }
        guard due, let line = try? SessionFile.line(.keyframe(snap)) else { return }
        state.withLockedValue {
            $0.lastKeyframe = snap.time
            $0.changed = false
        }
        write(line)
    }

    var closed: Bool { state.withLockedValue { $0.handle == nil } }

    /// The `--save-session` file's writer with its header written; nil without a path.
    static func open(_ path: String?, cluster: String, source: String) throws -> SessionRecorder? {
        guard let path else { return nil }
        return try SessionRecorder(
            path: path,
            header: SessionFile.Header(
                cluster: cluster, source: source, writer: "hadeck \(Hadeck.configuration.version)"))
    }

    /// Writes the last keyframe (the screen as the run ends) and closes the file; a problem writing
    /// it is said on stderr. Returns the snapshot that keyframe came from, with its event and request
    /// lists (the screen the run ended on), or nil when the file was already closed.
    @discardableResult
    func finish(_ source: ClusterSource) -> ClusterSnapshot? {
        guard !closed else { return nil }
        let snap = source.snapshot(requestLimit: header.requestLimit, eventLimit: header.eventLimit)
        if let line = try? SessionFile.line(.keyframe(snap)) { write(line) }
        close()
        if let problem {
            var err = StandardError()
            print(problem, to: &err)
        }
        return snap
    }

    func close() {
        state.withLockedValue { s in
            try? s.handle?.close()
            s.handle = nil
        }
    }

    private func write(_ line: String) {
        state.withLockedValue { s in
            guard let handle = s.handle else { return }
            do { try handle.write(contentsOf: Array((line + "\n").utf8)) } catch {
                s.problem = "hadeck: the session \(path) stopped: \(error.localizedDescription)"
                try? handle.close()
                s.handle = nil
            }
        }
    }
}

enum SessionRecorderError: Error, CustomStringConvertible {
    case cannotCreate(String)

    var description: String {
        switch self {
        case .cannotCreate(let path): "hadeck: cannot create the session file \(path)"
        }
    }
}

/// The source, writing keyframes into the session as it is advanced when one is saved.
func recorded(_ source: ClusterSource, _ recorder: SessionRecorder?) -> ClusterSource {
    recorder.map { KeyframingSource(source, recorder: $0) } ?? source
}

/// A source that writes a keyframe into the session whenever one is due as the dashboard advances it.
final class KeyframingSource: ClusterSource {
    let inner: ClusterSource
    let recorder: SessionRecorder

    init(_ inner: ClusterSource, recorder: SessionRecorder) {
        self.inner = inner
        self.recorder = recorder
    }

    func advance(wallElapsed: TimeSpan) {
        inner.advance(wallElapsed: wallElapsed)
        recorder.keyframe(inner)
    }

    func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot {
        inner.snapshot(requestLimit: requestLimit, eventLimit: eventLimit)
    }

    func perform(_ command: ControlCommand, by actor: String) throws -> String {
        try inner.perform(command, by: actor)
    }

    func submit(
        _ command: ControlCommand, by actor: String,
        completion: @escaping @Sendable (Result<String, any Error>) -> Void
    ) {
        inner.submit(command, by: actor, completion: completion)
    }

    var changeSequence: Int? { inner.changeSequence }
    var changeSignal: ChangeSignal? { inner.changeSignal }
}
