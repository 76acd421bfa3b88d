import ArgumentParser
import AttachConfig
import AttachedCluster
import BalancerCore
import ClusterCore
import ClusterModel
import Conformance
import Dispatch
import Foundation
import HadeckBase
import Lab
import RealCluster
import VRRPCore

/// `hadeck conform SCENARIO`: the scenario on the embedded cluster in virtual time and on the lab's
/// real haproxy + keepalived, with the same probe client on both; one table of real vs embedded.
struct ConformCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conform",
        abstract: "Play a scenario on the embedded cluster and on the lab's real programs; compare their timing.",
        discussion: """
            The embedded side runs in virtual time (the scenario's times after a warm-up in which lb1 \
            becomes MASTER); the real side on the lab (built or repaired first, needs root), watched through \
            its attach file with the faults driven by the lab's own actions. On both a probe client sends \
            GET /login to the VIP every 10 ms with a cookie jar and a 100 ms timeout (on the lab it runs in \
            the client host). Key events (VRRP states and priorities, the VIP's MAC, server states) are \
            paired by kind, node and order after each action; each action's client outage is measured from \
            the probe. Exit 1 naming every row out of tolerance. A lab that conform built is removed at the \
            end (--keep leaves it).
            """
    )

    @Argument(help: "A scenario (Examples/conformance/*.scenario).")
    var scenario: String

    @Option(help: "How many times to play it on the lab (the embedded run is deterministic: once).")
    var runs = 1

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Flag(help: "Leave a lab that conform built up.")
    var keep = false

    @Option(help: ArgumentHelp("The lab's id.", visibility: .hidden))
    var id = LabLayout.defaultID

    func validate() throws {
        guard (1...50).contains(runs) else { throw ValidationError("--runs \(runs) is not between 1 and 50") }
    }

    func run() throws {
        let (played, spec): (Scenario, ClusterSpec)
        switch ScenarioLoader.loadSpec(path: scenario) {
        case .success(let s): (played, spec) = s
        case .failure(let d): throw failure(d)
        }
        let timers = Self.timers(spec)
        let branches = EmbeddedConformance.branches(played, spec: spec)
        let lab: Lab
        do { lab = try Lab(id: id, hadeck: LabOptions.executablePath()) } catch { throw labFailure(error) }
        let built = !NetworkNamespace.exists(lab.layout.namespace("bridge"))
        defer {
            if built && !keep { _ = try? lab.down() }
        }
        var results: [(run: Int, load: String, healShift: TimeSpan, outcomeMatched: Bool, rows: [ConformanceRow])] = []
        for run in 1...runs {
            let real: ConformanceRun
            do { real = try RealConformance.play(played, lab: lab) } catch { throw failure("hadeck conform: \(error)") }
            let (branch, exact) = Conformance.matchingBranch(real: real, among: branches.map(\.run))
            let rows = Conformance.compare(real: real, embedded: branches[branch].run, timers: timers)
            let load =
                (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ")
                .prefix(3).joined(separator: " ") ?? "?"
            results.append((run, load, branches[branch].shift, exact, rows))
            if !json {
                var header =
                    "run \(run) of \(runs): \(played.name) (\(scenario)), lab \(lab.layout.id), load average \(load)\n"
                if branches.count > 1 {
                    header += Self.branchNote(branches[branch].shift, of: branches.count, exact: exact) + "\n"
                }
                fputsStdout(header + ConformanceTable.text(rows) + "\n\n")
            }
        }
        let problems = results.flatMap { r in
            ConformanceTable.problems(r.rows, file: scenario).map { "run \(r.run): \($0)" }
        }
        if json {
            let value = JSONValue.object([
                ("scenario", .string(scenario)), ("name", .string(played.name)),
                (
                    "runs",
                    .array(
                        results.map {
                            .object([
                                ("run", .int(Int64($0.run))), ("load", .string($0.load)),
                                ("embedded_heal_delay_ms", .int(Int64($0.healShift.micros / 1000))),
                                ("embedded_outcome_matched", .bool($0.outcomeMatched)),
                                ("rows", ConformanceTable.json($0.rows)),
                            ])
                        })
                ),
                ("out_of_tolerance", .int(Int64(problems.count))),
            ])
            fputsStdout(value.encoded + "\n")
        }
        var err = StandardError()
        for p in problems { print(p, to: &err) }
        let total = results.reduce(0) { $0 + $1.rows.count }
        print("hadeck conform: \(total) rows in \(runs) run(s), \(problems.count) out of tolerance", to: &err)
        if !problems.isEmpty { throw ExitCode(1) }
    }

    /// Which embedded branch a real run was held to, in one line.
    static func branchNote(_ shift: TimeSpan, of count: Int, exact: Bool) -> String {
        let which =
            shift == .zero
            ? "the heal as written" : "the heal \(shift.micros / 1000) ms later in the advert cycle"
        let why =
            exact
            ? "this one has the real run's events"
            : "none has all the real run's events; this one has them after the most actions"
        return
            "embedded: \(which) (of \(count) outcomes the heal can have: which master hears the other first is a race of their advert clocks; \(why))"
    }

    /// The embedded cluster's timers that bound the lawful differences (lb1's, the article's).
    static func timers(_ spec: ClusterSpec) -> ConformanceTimers {
        let keepalived = spec.hosts.first?.keepalived
        let instance = keepalived?.instances.first
        let script = instance?.trackScripts.first.flatMap { keepalived?.script(named: $0.name) }
        let check = spec.hosts.first?.haproxy.backends.flatMap(\.servers).first { $0.check }?.inter
        return ConformanceTimers(
            advert: instance?.advertInterval ?? .seconds(1), script: script?.interval, check: check ?? .seconds(2))
    }
}

/// The scenario on the embedded cluster, in virtual time, with the probe as its only client.
enum EmbeddedConformance {
    /// Virtual time before the scenario's zero: lb1 is MASTER at 3.414 s and both haproxies have
    /// checked their servers. The fraction puts the scenario's whole seconds half an advert after
    /// lb1's adverts (3.414 + n s), the middle of the real runs' phase.
    static let warmUp = TimeSpan(micros: 8_914_000)

    /// The embedded cluster as conform plays it: its only client is the lab's probe, a request every
    /// 10 ms that gives up after 100 ms.
    static func probeCluster(_ spec: ClusterSpec) -> Cluster {
        var spec = spec
        spec.clients = 1
        spec.trafficRate = 100
        spec.trafficOn = true
        let cluster = Cluster(spec: spec)
        cluster.clientTimeout = .milliseconds(100)
        cluster.eventLimit = 0
        return cluster
    }

    /// The embedded runs of the scenario, one per outcome its races can have: the scenario as written
    /// first, then, for a scenario with a `heal`, the heal (and everything after it) played later
    /// in the advert cycle, 100 ms at a time up to one advert interval, keeping each run whose key
    /// events differ from those kept before. `shift` is how much later that run's heal was.
    static func branches(_ scenario: Scenario, spec: ClusterSpec) -> [(shift: TimeSpan, run: ConformanceRun)] {
        let first = play(scenario, spec: spec)
        let commands = Self.commands(scenario)
        guard let heal = commands.first(where: { if case .heal(_, _) = $0.command { true } else { false } }) else {
            return [(.zero, first)]
        }
        var kept: [(shift: TimeSpan, run: ConformanceRun)] = [(.zero, first)]
        var outcomes = [Conformance.outcome(first)]
        let advert = spec.hosts.first?.keepalived.instances.first?.advertInterval ?? .seconds(1)
        var shift = TimeSpan.milliseconds(100)
        while shift < advert {
            let run = play(scenario, spec: spec, delayingFrom: heal.at, by: shift)
            let outcome = Conformance.outcome(run)
            if !outcomes.contains(outcome) {
                kept.append((shift, run))
                outcomes.append(outcome)
            }
            shift = shift + .milliseconds(100)
        }
        return kept
    }

    /// `delayingFrom`/`by`: every action at or after that scenario time, and the end, are played
    /// that much later.
    static func play(
        _ scenario: Scenario, spec: ClusterSpec, delayingFrom delayed: Instant? = nil, by delay: TimeSpan = .zero
    ) -> ConformanceRun {
        let cluster = probeCluster(spec)
        final class Box {
            var events: [ClusterEvent] = []
            var samples: [ProbeSample] = []
        }
        let box = Box()
        cluster.onEvent = { e in
            if let r = e.request {
                box.samples.append(
                    ProbeSample(start: r.time - r.latency, end: r.time, ok: r.status == 200, session: r.session))
            } else {
                box.events.append(e)
            }
        }
        var actions: [PlayedAction] = []
        func late(_ at: Instant) -> TimeSpan { delayed.map { at >= $0 ? delay : .zero } ?? .zero }
        for (line, command, at) in Self.commands(scenario) {
            let t = at + warmUp + late(at)
            cluster.run(until: t)
            try? cluster.apply(command, by: "the conformance scenario (line \(line))")
            actions.append(PlayedAction(line: line, command: command, time: t))
        }
        let end = scenario.endTime + warmUp + late(scenario.endTime)
        cluster.run(until: end)
        return ConformanceRun(actions: actions, events: box.events, samples: box.samples, end: end)
    }

    /// The scenario's timed commands in time order (file order at the same time); `say` lines are not actions.
    static func commands(_ scenario: Scenario) -> [(line: Int, command: ClusterCommand, at: Instant)] {
        scenario.steps.enumerated().compactMap { i, step -> (Int, Int, ClusterCommand, Instant)? in
            guard let t = step.time, case .command(let c) = step.kind else { return nil }
            if case .say = c { return nil }
            return (i, step.line, c, t)
        }.sorted { ($0.3, $0.0) < ($1.3, $1.0) }.map { ($0.1, $0.2, $0.3) }
    }
}

/// The scenario on the lab: its actions through the lab's own calls, what happened through the
/// attach source, the probe in the client host.
enum RealConformance {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func play(_ scenario: Scenario, lab: Lab) throws -> ConformanceRun {
        let path: String
        do { path = try lab.up() } catch { throw Failure(description: "\(error)") }
        let (loaded, diags) = AttachFile.load(path: path)
        guard let file = loaded else { throw Failure(description: "\(path): \(diags.items.map(\.description))") }
        let vip = HostPort(host: file.vip, port: file.port)
        let audit = NSTemporaryDirectory() + "hadeck-conform-\(getpid()).audit"
        defer { try? FileManager.default.removeItem(atPath: audit) }
        let source = AttachedClusterSource(file: file, options: AttachOptions(auditLog: audit))
        let events = Locked<[ClusterEvent]>([])
        source.onEvent = { e in events.mutate { $0.append(e) } }
        do { try source.start() } catch { throw Failure(description: "\(error)") }
        defer { source.shutdown() }
        let probe = ProbeThread(namespace: lab.layout.namespace("client"), vip: vip, clock: { source.now() })
        defer { probe.stop() }
        // Steady: lb1 MASTER, lb2 BACKUP, every server UP on both, the probe answered for a second.
        let settled = wait(source, upTo: .seconds(30)) { snap in
            snap.masters.map(\.name) == ["lb1"] && snap.hosts.allSatisfy { $0.name == "lb1" || $0.vrrpState == .backup }
                && !snap.servers.isEmpty && snap.servers.allSatisfy { $0.status.base == .up }
                && probe.answeredFor(.seconds(1))
        }
        guard settled else { throw Failure(description: "the lab did not settle (lb1 MASTER, servers UP) within 30 s") }
        let zero = source.now()
        var actions: [PlayedAction] = []
        for (line, command, at) in EmbeddedConformance.commands(scenario) {
            _ = wait(source, until: zero + (at - .zero))
            let t = source.now()
            let keepalivedStart: Instant?
            do { keepalivedStart = try perform(command, lab: lab, source: source) } catch {
                throw Failure(description: "\(scenario.file):\(line): \(command.text): \(error)")
            }
            actions.append(PlayedAction(line: line, command: command, time: keepalivedStart ?? t))
        }
        let end = zero + (scenario.endTime - .zero)
        _ = wait(source, until: end)
        probe.stop()
        return ConformanceRun(actions: actions, events: events.value, samples: probe.samples, end: end)
    }

    /// Keeps the source's clock-driven work going (countdowns, staleness) until `deadline`.
    static func wait(_ source: AttachedClusterSource, until deadline: Instant) -> Bool {
        while source.now() < deadline {
            source.advance(wallElapsed: .milliseconds(20))
            usleep(UInt32(min(20_000, max(1_000, (deadline - source.now()).micros))))
        }
        return true
    }

    /// Waits until `ready` holds for the source's snapshot, at most `limit`.
    static func wait(
        _ source: AttachedClusterSource, upTo limit: TimeSpan, _ ready: (ClusterSnapshot) -> Bool
    ) -> Bool {
        let deadline = source.now() + limit
        while source.now() < deadline {
            source.advance(wallElapsed: .milliseconds(100))
            if ready(source.snapshot(requestLimit: 0, eventLimit: 0)) { return true }
            usleep(100_000)
        }
        return false
    }

    /// One scenario command on the lab: processes, power, links and partitions through the lab's own
    /// calls (timed here, not through a child process), server states through the attach source
    /// (the runtime API of every haproxy).
    ///
    /// Returns, for a power-on, when the host's keepalived was started: its rows are timed from there.
    /// The embedded host starts haproxy and keepalived at the command's instant; the lab first sets
    /// the host's addresses and link and starts its haproxy, which took 0.07-0.29 s depending on the
    /// load, and every row after a power-on was late by that much (keepalived's own timers after its
    /// start were exact: 3.412 s against 3.414 s).
    @discardableResult
    static func perform(_ c: ClusterCommand, lab: Lab, source: AttachedClusterSource) throws -> Instant? {
        var keepalivedStart: Instant?
        let starting = { keepalivedStart = source.now() }
        switch c {
        case .kill(.process(let h, .haproxy)): try lab.killHAProxy(h)
        case .kill(.process(let h, .keepalived)): try lab.killKeepalived(h)
        case .stop(.process(let h, .keepalived)): try lab.stopKeepalived(h)
        case .start(.process(let h, .haproxy)): try lab.startHAProxy(h)
        case .start(.process(let h, .keepalived)): try lab.startKeepalived(h)
        case .kill(.backend(let s)): try lab.killApp(s)
        case .start(.backend(let s)): try lab.startApp(s)
        case .powerOff(let h): try lab.powerOff(h)
        case .powerOn(let h): try lab.powerOn(h, keepalivedStarting: starting)
        case .link(let h, let up): try lab.setLink(h, up: up)
        case .partition(let a, let b): try lab.partition(a, b)
        case .heal: try lab.heal()
        case .restore(let name): try restore(name, lab: lab, keepalivedStarting: starting)
        case .setServerState, .setWeight: _ = try source.perform(.cluster(c), by: "hadeck conform")
        default: throw Failure(description: "not a conformance action on the lab")
        }
        return keepalivedStart
    }

    /// `restore NAME` as the embedded cluster does it: whatever of the host or app is off or dead comes back.
    static func restore(_ name: String, lab: Lab, keepalivedStarting: () -> Void = {}) throws {
        guard let host = LabLayout.host(name) else { throw Failure(description: "no lab host \(name)") }
        if case .app = host.role {
            if lab.runningApp(name) == nil { try lab.startApp(name) }
            return
        }
        if try lab.isPartitioned() { try lab.heal() }
        if NetworkNamespace.processes(in: lab.layout.namespace(name)).isEmpty {
            try lab.powerOn(name, keepalivedStarting: keepalivedStarting)
            return
        }
        if lab.linkIsUp(name) == false { try lab.setLink(name, up: true) }
        if lab.runningHAProxy(name) == nil { try lab.startHAProxy(name) }
        if lab.runningKeepalived(name) == nil {
            keepalivedStarting()
            try lab.startKeepalived(name)
        }
    }
}

/// A value shared between threads under a lock.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
    func mutate(_ body: (inout T) -> Void) {
        lock.lock()
        body(&stored)
        lock.unlock()
    }
}

/// The probe client in a network namespace of its own: `GET /login` to the VIP every 10 ms with a
/// cookie jar and a 100 ms timeout (`Probe`), on a thread that joined the namespace.
final class ProbeThread: @unchecked Sendable {
    private let recorded = Locked<(samples: [ProbeSample], stopped: Bool)>(([], false))
    private let finished = DispatchSemaphore(value: 0)

    init(namespace: String, vip: HostPort, clock: @escaping @Sendable () -> Instant) {
        let recorded = self.recorded
        let finished = self.finished
        DispatchQueue.global().async {
            _ = try? NetworkNamespace.onThread(in: namespace) {
                // SRV=A: on webA from the start, as the embedded probe (roundrobin's first server of a
                // fresh cluster), so that killing webA hits both probes alike.
                let probe = Probe(host: vip.host, port: vip.port, clock: clock, cookies: ["SRV": "A"])
                while !recorded.value.stopped {
                    let s = probe.request()
                    let session = probe.session
                    recorded.mutate {
                        $0.samples.append(ProbeSample(start: s.start, end: s.end, ok: s.ok, session: session))
                    }
                    let wait = s.start + .milliseconds(10) - clock()
                    if wait.micros > 0 { usleep(UInt32(wait.micros)) }
                }
            }
            finished.signal()
        }
    }

    var samples: [ProbeSample] { recorded.value.samples }

    /// Whether every request of the last `span` was answered (and there were some).
    func answeredFor(_ span: TimeSpan) -> Bool {
        let all = samples
        guard let last = all.last, let first = all.first, last.end - first.start >= span else { return false }
        return all.filter { $0.start >= last.end - span }.allSatisfy(\.ok)
    }

    func stop() {
        var was = false
        recorded.mutate {
            was = $0.stopped
            $0.stopped = true
        }
        if !was { finished.wait() }
    }
}
