import AttachConfig
import ClusterCore
import ClusterModel
import Dispatch
import Foundation
import HadeckBase
import NIOCore
import NIOPosix
import RealCluster

/// How to attach.
public struct AttachOptions: Sendable {
    /// How often the runtime API and the processes are polled.
    public var refresh: TimeSpan
    /// Every control off: nothing is ever sent to the cluster.
    public var readOnly: Bool
    /// Where every action is recorded (not used when read-only).
    public var auditLog: String
    /// A scenario to play (its `at` times count from the moment hadeck attached).
    public var scenario: Scenario?

    public init(
        refresh: TimeSpan = .seconds(1), readOnly: Bool = false, auditLog: String = AuditLog.defaultPath(),
        scenario: Scenario? = nil
    ) {
        self.refresh = refresh
        self.readOnly = readOnly
        self.auditLog = auditLog
        self.scenario = scenario
    }
}

/// A real HAProxy + keepalived cluster as a dashboard source, read and driven as its attach file
/// says. The imperative shell around `AttachedState`: threads that poll the runtime API and the
/// pid files, read the notify FIFOs and the neighbour table, ask for data dumps, and a SwiftNIO
/// loop for the log sockets; each hands what it read to the state under one lock. Actions run on
/// a queue of their own and go to the audit log.
public final class AttachedClusterSource: ClusterSource, @unchecked Sendable {
    public let file: AttachFile
    public let options: AttachOptions
    public let capabilities: SourceCapabilities
    /// Gets every event as it is made (under the source's lock: it must not call back into the source).
    public var onEvent: (@Sendable (ClusterEvent) -> Void)?

    let lock = NSLock()
    var state: AttachedState
    private let clock = ContinuousClock()
    private let started: ContinuousClock.Instant
    private let runningFlag = NSLock()
    private var isRunningValue = false
    let threads = DispatchGroup()
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var logs: LogReceiver?
    private var feedLocks: [FeedLock] = []
    private(set) var audit: AuditLog?
    private let actions = DispatchQueue(label: "hadeck.attach.actions")
    var statsWake: [String: DispatchSemaphore] = [:]
    var dumpWake: [String: DispatchSemaphore] = [:]
    let processWake = DispatchSemaphore(value: 0)
    /// Signalled (broadcast) at shutdown: the readers' waits end at once instead of polling a flag.
    let stopping = NSCondition()
    /// Grows with every observation and every event (read under `lock`): the dashboard takes a
    /// snapshot only when it moved, or once a second for the clocks.
    private var changes = 0
    let streamsLock = NSLock()
    var streams: [ProgramStream] = []
    private var player: ScenarioPlayer?

    public init(file: AttachFile, options: AttachOptions = AttachOptions()) {
        self.file = file
        self.options = options
        capabilities = SourceCapabilities(
            name: "attached", canPause: false, acceptsCommands: !options.readOnly, confirmsDestructive: true)
        started = clock.now
        state = AttachedState(file: file, refresh: options.refresh, wallAtZero: Date().timeIntervalSince1970)
        for b in file.balancers {
            statsWake[b.name] = DispatchSemaphore(value: 0)
            dumpWake[b.name] = DispatchSemaphore(value: 0)
        }
        player = options.scenario.map { ScenarioPlayer(scenario: $0) }
    }

    deinit { shutdown() }

    /// The cluster clock: time since the source was made.
    public func now() -> Instant {
        let d = clock.now - started
        return Instant(micros: d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000)
    }

    var isRunning: Bool {
        runningFlag.lock()
        defer { runningFlag.unlock() }
        return isRunningValue
    }

    /// Takes the log sockets and FIFOs (one hadeck at a time), binds the log sockets, starts every
    /// reader, and returns after the first round of readings (at most ~2 s), so the first snapshot
    /// already shows the cluster. Throws when a socket is held by another hadeck or cannot be bound.
    public func start() throws(AttachError) {
        do {
            try takeLocks()
            if !options.readOnly { audit = try AuditLog(path: options.auditLog, cluster: file.name) }
            let receiver = LogReceiver(group: group)
            logs = receiver
            for b in file.balancers {
                guard let log = b.haproxy?.log else { continue }
                let name = b.name
                try receiver.bind(
                    log, balancer: name, deliver: { [weak self] in self?.deliver(.log(balancer: name, $0)) },
                    closed: { [weak self] in self?.deliver(.logFeed(balancer: name, open: false, $0)) })
                deliver(.logFeed(balancer: name, open: true, nil))
            }
        } catch {
            releaseResources()
            throw error
        }
        runningFlag.lock()
        isRunningValue = true
        runningFlag.unlock()
        let firstRound = DispatchGroup()
        startReaders(firstRound: firstRound)
        _ = firstRound.wait(timeout: .now() + 2.5)
    }

    private func takeLocks() throws(AttachError) {
        for b in file.balancers {
            switch b.haproxy?.log {
            case .unix(let path)?:
                feedLocks.append(try FeedLock(FeedLock.lockPath(forFile: path), what: "\(b.name)'s log socket \(path)"))
            case .udp(let host, let port)?:
                feedLocks.append(
                    try FeedLock(
                        FeedLock.lockPath(udpHost: host, port: port), what: "\(b.name)'s log port udp@\(host):\(port)"))
            case nil: break
            }
            if case .file(let path)? = b.keepalived?.fifo {
                feedLocks.append(
                    try FeedLock(FeedLock.lockPath(forFile: path), what: "\(b.name)'s keepalived notify FIFO \(path)"))
            }
        }
    }

    /// Stops every reader, closes the sockets (removing their files) and lets go of the locks.
    public func shutdown() {
        runningFlag.lock()
        let was = isRunningValue
        isRunningValue = false
        runningFlag.unlock()
        if was {
            stopping.lock()
            stopping.broadcast()
            stopping.unlock()
            for s in statsWake.values { s.signal() }
            for s in dumpWake.values { s.signal() }
            processWake.signal()
            streamsLock.lock()
            let all = streams
            streamsLock.unlock()
            for s in all { s.terminate(grace: .milliseconds(300)) }
            _ = threads.wait(timeout: .now() + 4)
        }
        releaseResources()
    }

    private func releaseResources() {
        logs?.close()
        logs = nil
        for l in feedLocks { l.release() }
        feedLocks = []
        try? group.syncShutdownGracefully()
    }

    /// Hands one observation to the state; events go to `onEvent`, needs wake the readers.
    func deliver(_ o: Observation) {
        lock.lock()
        let (events, needs) = state.observe(o, at: now())
        changes += 1
        if let onEvent { for e in events { onEvent(e) } }
        lock.unlock()
        for n in needs {
            switch n {
            case .dump(let b): dumpWake[b]?.signal()
            case .poll(let b): statsWake[b]?.signal()
            case .processes: processWake.signal()
            }
        }
    }

    func withState<T>(_ body: (inout AttachedState) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&state)
    }

    // MARK: ClusterSource

    public func advance(wallElapsed: TimeSpan) {
        let t = now()
        lock.lock()
        let events = state.tick(at: t)
        if !events.isEmpty { changes += 1 }
        if let onEvent { for e in events { onEvent(e) } }
        lock.unlock()
        if let player { player.advance(to: t, source: self) }
    }

    public var changeSequence: Int? {
        lock.lock()
        defer { lock.unlock() }
        return changes
    }

    public func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot {
        let t = now()
        return withState {
            $0.snapshot(
                at: t, requestLimit: requestLimit, eventLimit: eventLimit, source: capabilities,
                scenarioName: player?.scenario.name)
        }
    }

    public func perform(_ command: ControlCommand, by actor: String) throws -> String {
        try perform(command, by: actor, scenarioLine: nil)
    }

    /// How long `perform` waits for an action before it returns and lets it finish on its own.
    static let actionWait = 2.0

    func perform(_ command: ControlCommand, by actor: String, scenarioLine: Int?) throws(ControlError) -> String {
        let text = DashboardText.describe(command)
        guard case .cluster(let c) = command else {
            throw ControlError("an attached cluster runs in real time: it cannot be paused or slowed down")
        }
        guard capabilities.acceptsCommands else {
            throw ControlError("attached with --read-only: no command is sent to the cluster")
        }
        lock.lock()
        let planned = Result { () throws(ControlError) in try Controls.plan(c, state: state) }
        lock.unlock()
        let parts: [ActionPart]
        switch planned {
        case .success(let p): parts = p
        case .failure(let error):
            audit?.record(actor: actor, action: text, results: [], refused: error.description)
            throw error
        }
        let done = DispatchSemaphore(value: 0)
        let box = OutcomeBox()
        actions.async { [self] in
            var outcomes: [ActionOutcome] = []
            for part in parts {
                deliver(.actionStarting(part, actor: actor))
                let results = part.steps.map(run)
                let outcome = ActionOutcome(
                    actor: actor, intent: part.intent, results: results, scenarioLine: scenarioLine)
                audit?.record(actor: actor, action: AttachedState.describe(part.intent), results: results)
                deliver(.action(outcome))
                outcomes.append(outcome)
                if !outcome.ok { break }
            }
            box.set(outcomes)
            done.signal()
        }
        guard done.wait(timeout: .now() + Self.actionWait) == .success else {
            return "\(text): still running (its result goes to the events and the audit log)"
        }
        let outcomes = box.get()
        if let failed = outcomes.first(where: { !$0.ok }) {
            throw ControlError("\(AttachedState.describe(failed.intent)) failed: \(failed.summary)", ran: true)
        }
        let summary = outcomes.map(\.summary).filter { !$0.isEmpty }.joined(separator: "; ")
        return summary.isEmpty ? text : "\(text): \(summary)"
    }

    /// Runs one step; never throws (a failure is its result).
    func run(_ step: ActionStep) -> StepResult {
        switch step {
        case .runtime(_, let socket, let line):
            do {
                let reply = try RuntimeAPI.send(line, to: socket).trimmingCharacters(in: .whitespacesAndNewlines)
                return StepResult(step: step, ok: reply.isEmpty, result: reply.isEmpty ? "done" : "haproxy: \(reply)")
            } catch {
                return StepResult(step: step, ok: false, result: "\(error)")
            }
        case .program(_, let argv):
            do {
                let out = try ProgramRunner.run(argv, timeout: .seconds(30))
                let detail = out.firstErrorLine
                let status = out.timedOut ? "still running after 30 s, killed" : "exit \(out.status)"
                return StepResult(
                    step: step, ok: out.succeeded, result: detail.isEmpty ? status : "\(status): \(detail)")
            } catch {
                return StepResult(step: step, ok: false, result: "\(error)")
            }
        }
    }

    // MARK: Scenario

    /// Ends the scenario: checks its untimed expectations; returns `FILE:LINE: error: ...` for every
    /// command that could not run and every expectation that failed.
    public func finishScenario() -> [String] {
        guard let player else { return [] }
        player.finish(at: now(), source: self)
        return player.problems
    }

    /// When the scenario ends (its `end` line, or 5 s after its last timed line).
    public var scenarioEnd: Instant? { player?.scenario.endTime }

    /// Records a scenario's `expect` or `error` event.
    func record(_ event: ClusterEvent) {
        lock.lock()
        state.record(event)
        onEvent?(event)
        lock.unlock()
    }
}

/// The outcomes of an action, handed from the action queue to the waiting caller.
private final class OutcomeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: [ActionOutcome] = []
    func set(_ v: [ActionOutcome]) {
        lock.lock()
        value = v
        lock.unlock()
    }
    func get() -> [ActionOutcome] {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}

/// A command as the status line names it.
enum DashboardText {
    static func describe(_ c: ControlCommand) -> String {
        switch c {
        case .cluster(let cmd): cmd.text
        case .setTimeScale(let s): "time scale x\(formatRate(s))"
        case .setPaused(let p): p ? "pause" : "resume"
        }
    }
}

/// Plays a scenario on an attached cluster: its commands at their times (from attach), its
/// expectations checked against what the cluster's components said.
final class ScenarioPlayer: @unchecked Sendable {
    let scenario: Scenario
    private var timed: [ScenarioStep]
    private var next = 0
    private(set) var problems: [String] = []
    private var finished = false

    init(scenario: Scenario) {
        self.scenario = scenario
        timed = scenario.steps.enumerated().filter { $0.element.time != nil }
            .sorted { ($0.element.time!, $0.offset) < ($1.element.time!, $1.offset) }.map(\.element)
    }

    func advance(to now: Instant, source: AttachedClusterSource) {
        while next < timed.count, let t = timed[next].time, t <= now {
            let step = timed[next]
            next += 1
            run(step, at: now, source: source)
        }
    }

    func finish(at now: Instant, source: AttachedClusterSource) {
        guard !finished else { return }
        finished = true
        advance(to: now, source: source)
        for step in scenario.steps where step.time == nil { run(step, at: now, source: source) }
    }

    private func run(_ step: ScenarioStep, at now: Instant, source: AttachedClusterSource) {
        switch step.kind {
        case .command(let c):
            do {
                _ = try source.perform(.cluster(c), by: "the scenario (line \(step.line))", scenarioLine: step.line)
            } catch {
                problems.append("\(scenario.file):\(step.line): error: \(error)")
                // A step that ran and failed is an error event already.
                if !error.ran {
                    source.record(ClusterEvent(time: now, .error(line: step.line), why: "\(c.text): \(error)"))
                }
            }
        case .expect(let e):
            let snap = source.snapshot(requestLimit: 0, eventLimit: 0)
            let (ok, seen) = source.withState { $0.check(e, snap) }
            if !ok {
                problems.append(
                    "\(scenario.file):\(step.line): error: expectation failed at \(now): \(e.text) (seen: \(seen))")
            }
            source.record(
                ClusterEvent(
                    time: now, .expect(line: step.line, check: e.text, ok: ok, seen: seen),
                    why: ok ? "the scenario's expectation holds" : "the scenario's expectation failed"))
        }
    }
}
