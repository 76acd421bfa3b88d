import ArgumentParser
import AttachConfig
import AttachedCluster
import ClusterCore
import ClusterModel
import CursesTerminal
import Dashboard
import Foundation
import HadeckBase

/// `hadeck attach FILE`: the dashboard (or `--headless`) over a real HAProxy + keepalived cluster.
public struct AttachCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "attach",
        abstract: "The dashboard over a real HAProxy + keepalived cluster described by an attach file.",
        discussion: """
            Reads each haproxy's runtime API (show info, show stat, show servers state, every --refresh) \
            and its log stream (a unix datagram socket or UDP port hadeck binds), each keepalived's notify \
            FIFO and data dump, the processes' pid files and the client's neighbour table, as the attach \
            file (README: Attach file) says. Keys act on the real cluster: drain, maint, ready and weight \
            through the runtime API of every balancer; kill, stop, start, power and link through the \
            file's commands (argument vectors, never a shell). Destructive keys ask for a second press; \
            every action goes to the audit log. --read-only sends nothing.
            """
    )

    @Argument(help: "The attach file (YAML), e.g. the lab's /run/hadeck-lab/hdk/attach.yaml.")
    public var file: String

    @Option(help: "How often the runtime API and the processes are polled (e.g. 1s, 500ms).")
    public var refresh = "1s"

    @Flag(help: "Watch only: every control is off and nothing is sent to the cluster.")
    public var readOnly = false

    @Option(help: "Where every action is recorded (default: ~/.local/state/hadeck/audit.log).")
    public var auditLog: String?

    @Option(help: "Play a scenario (its 'at' times count from attaching), with its 'say' lines as captions.")
    public var script: String?

    @Option(help: "Theme: dark, light, presenter, mono, or a path to a .theme file.")
    public var theme: String?

    @Flag(help: "No screen: print the JSON events on stdout and read commands (e.g. 'drain webA') from stdin.")
    public var headless = false

    @Option(help: "With --headless: stop this long after attaching (e.g. 30s).")
    public var until: String?

    @Option(
        help: ArgumentHelp(
            "Save the session (events and keyframes) for 'hadeck replay FILE'.", valueName: "file.session"))
    public var saveSession: String?

    public init() {}

    public func validate() throws {
        guard let r = ScenarioParser.parseTime(refresh), r.micros >= 100_000, r.micros <= 60_000_000 else {
            throw ValidationError("--refresh '\(refresh)' is not a time between 100ms and 60s")
        }
        if until != nil && !headless { throw ValidationError("--until only applies with --headless") }
        if let until, ScenarioParser.parseTime(until) == nil {
            throw ValidationError("--until '\(until)' is not a time such as 30s")
        }
    }

    public func run() throws {
        ResidentMemory.shareOneMallocArena()
        let attach = try Self.load(file)
        let scenario = try script.map { try Self.loadScenario($0, for: attach) }
        if !headless {
            do { try CursesTerminal.preflight() } catch { throw failure("\(error)") }
        }
        let options = AttachOptions(
            refresh: TimeSpan(micros: ScenarioParser.parseTime(refresh)!.micros), readOnly: readOnly,
            auditLog: auditLog ?? AuditLog.defaultPath(), scenario: scenario)
        let status = try Self.attach(
            attach, options: options, headless: headless, until: until.flatMap { ScenarioParser.parseTime($0) },
            theme: theme, saveSession: saveSession, releaseStartUpCode: true)
        if status != 0 { throw ExitCode(status) }
    }

    /// The attach file, or its diagnostics on stderr and exit 1. Warnings are printed and kept going.
    static func load(_ path: String) throws -> AttachFile {
        let (file, diags) = AttachFile.load(path: path)
        var err = StandardError()
        for d in diags.items { print(d, to: &err) }
        guard let file else { throw ExitCode(1) }
        return file
    }

    /// A scenario for an attached cluster: the balancers it names must be the attach file's.
    static func loadScenario(_ path: String, for attach: AttachFile) throws -> Scenario {
        let text: String
        switch ScenarioLoader.readWhole(path) {
        case .success(let t): text = t
        case .failure(let d): throw failure(d)
        }
        let (parsed, diags) = ScenarioParser.parse(text, file: path)
        var all = diags
        if let scenario = parsed {
            if scenario.cluster != nil {
                all.warn(path, 0, "the scenario's 'cluster' line is ignored: it plays on the attached cluster")
            }
            let names = Set(attach.balancers.map(\.name))
            for step in scenario.steps {
                if let host = Self.balancerNamed(by: step), !names.contains(host) {
                    all.error(
                        path, step.line,
                        "no balancer '\(host)' in the attach file (balancers: \(attach.balancers.map(\.name).joined(separator: ", ")))"
                    )
                }
            }
        }
        var err = StandardError()
        for d in all.items { print(d, to: &err) }
        guard let scenario = parsed, !all.hasErrors else { throw ExitCode(1) }
        return scenario
    }

    /// The balancer a scenario line names, if it names one.
    static func balancerNamed(by step: ScenarioStep) -> String? {
        switch step.kind {
        case .command(let c):
            switch c {
            case .kill(.process(let h, _)), .stop(.process(let h, _)), .start(.process(let h, _)): return h
            case .powerOff(let h), .powerOn(let h), .link(let h, _): return h
            case .setServerState(_, let b?, _), .setWeight(_, let b?, _): return b
            default: return nil
            }
        case .expect(let e):
            switch e {
            case .vrrpState(let h, _), .priority(let h, _), .process(let h, _, _), .vipMAC(let h): return h
            case .master(let h?), .serverStatus(_, _, let h): return h
            default: return nil
            }
        }
    }

    /// Attaches, runs the dashboard or the headless loop, and detaches; returns the exit status.
    /// `saveSession`: the session file (`source` names what it recorded: `attached`, `lab`);
    /// `ended` gets the screen's snapshot the session ends on (nil without one);
    /// `releaseStartUpCode`: a command of its own (not a test in-process) hands back its start-up code.
    static func attach(
        _ attach: AttachFile, options: AttachOptions, headless: Bool, until: Instant?, theme: String?,
        saveSession: String? = nil, sessionSource: String = "attached", releaseStartUpCode: Bool = false,
        started: (AttachedClusterSource) -> Void = { _ in }, ended: (ClusterSnapshot?) -> Void = { _ in }
    ) throws -> Int32 {
        let recorder: SessionRecorder?
        do { recorder = try SessionRecorder.open(saveSession, cluster: attach.name, source: sessionSource) } catch {
            throw failure("\(error)")
        }
        let source = AttachedClusterSource(file: attach, options: options)
        let lines = EventLines()
        source.onEvent = { event in
            recorder?.record(event)
            if headless { lines.append(event) }
        }
        do { try source.start() } catch {
            recorder?.close()
            throw failure("hadeck attach: \(error)")
        }
        // The session's last keyframe once nothing reads the cluster any more: no event after it.
        defer {
            source.shutdown()
            ended(recorder?.finish(source))
        }
        started(source)
        if releaseStartUpCode { ResidentMemory.releaseStartUpCode(after: .seconds(5)) }
        var err = StandardError()
        let watched = recorded(source, recorder)
        if headless {
            let audit = options.readOnly ? "read-only: nothing is sent" : "audit log \(options.auditLog)"
            print("hadeck: attached to \(attach.name) (\(attach.balancers.count) balancers); \(audit)", to: &err)
            var status = HeadlessRunner.run(
                source: watched, lines: lines, now: { source.now() }, until: until ?? source.scenarioEnd)
            let problems = source.finishScenario()
            lines.drain(into: StandardOutput())
            for line in problems { print(line, to: &err) }
            if !problems.isEmpty { status = 1 }
            return status
        }
        var dashboard = DashboardOptions(theme: theme, environment: ProcessInfo.processInfo.environment)
        dashboard.actor = "key"
        dashboard.sessionWriter = "hadeck \(Hadeck.configuration.version)"
        do { return try runDashboard(source: watched, options: dashboard) } catch {
            print("\(error)", to: &err)
            return 1
        }
    }
}
