import ArgumentParser
import BalancerCore
import ClusterCore
import ClusterModel
import CursesTerminal
import Dashboard
import Foundation
import HadeckBase
import LiveCluster
import LiveEngine
import Logging

/// `hadeck [dashboard]`: the cluster live on loopback (or `--simulate`d) in the dashboard, or headless.
public struct DashboardCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "The cluster in the dashboard: what 'hadeck' alone runs.",
        discussion: """
            Runs the article's cluster (or --cluster FILE) for real on loopback and opens the dashboard on \
            it. --simulate runs the same cluster in virtual time instead (slow motion, pause, any IPv4 \
            addresses). --headless prints the events as JSON lines and reads commands from stdin.
            """
    )

    @Option(help: "A cluster file (YAML); default: the built-in article cluster.")
    public var cluster: String?

    @Option(help: "Play a scenario (the simulator's language), with its 'say' lines as captions.")
    public var script: String?

    @Option(help: "Theme: dark, light, presenter, mono, or a path to a .theme file.")
    public var theme: String?

    @Option(help: "With --simulate: virtual seconds per real second at start (e.g. 0.25 for slow motion).")
    public var scale: Double = 1

    @Flag(help: "Run the cluster in virtual time (no sockets, any IPv4 addresses) instead of live on loopback.")
    public var simulate = false

    @Option(
        help:
            "The VIP's address and port (live: loopback only), e.g. 127.0.0.98:8080; the port must be one the haproxy.cfg files bind."
    )
    public var vip: String?

    @Flag(help: "No screen: print the JSON events on stdout and read commands (e.g. 'kill lb1/haproxy') from stdin.")
    public var headless = false

    @Option(help: "With --headless: stop when the cluster's clock reaches this time (e.g. 30s).")
    public var until: String?

    @OptionGroup public var capture: CaptureArguments

    @Option(
        help: ArgumentHelp(
            "Save the session (events and keyframes) for 'hadeck replay FILE'.", valueName: "file.session"))
    public var saveSession: String?

    @Option(
        help: ArgumentHelp(
            "Write hadeck's own diagnostics as HAProxy-style [NOTICE]/[WARNING]/[ALERT] lines to this file (live cluster; the screen stays clean).",
            valueName: "file"))
    public var logFile: String?

    @Option(
        help: "With --log-file: the least severe lines written (trace, debug, info, notice, warning, error, critical).")
    public var logLevel: ProxyLogLevel = .notice

    public init() {}

    public func validate() throws {
        guard scale > 0, scale <= 64 else { throw ValidationError("--scale must be between 0 and 64") }
        if until != nil && !headless { throw ValidationError("--until only applies with --headless") }
        try capture.validate(headless: headless)
        if let until, ScenarioParser.parseTime(until) == nil {
            throw ValidationError("--until '\(until)' is not a time such as 30s")
        }
        if scale != 1 && !simulate {
            throw ValidationError("--scale needs --simulate: the live cluster runs in real time")
        }
        if logFile != nil && simulate {
            throw ValidationError("--log-file is for the live cluster: the simulator's diagnostics are its events")
        }
        if let vip {
            guard let address = HostPort(ipv4: vip) else {
                throw ValidationError("--vip '\(vip)' is not IP:PORT (e.g. 127.0.0.98:8080)")
            }
            if !simulate && address.ipv4?.isLoopback != true {
                throw ValidationError(
                    "--vip \(vip) is not a loopback address: the live cluster only runs on 127.0.0.0/8 (with --simulate any IPv4 address works)"
                )
            }
        }
    }

    public func run() throws {
        let end = until.flatMap { ScenarioParser.parseTime($0) }
        var spec: ClusterSpec
        var scenario: Scenario?
        switch loadSpec() {
        case .success(let (sc, sp)): (scenario, spec) = (sc, sp)
        case .failure(let diags): throw failure(diags)
        }
        if let vip, let address = HostPort(ipv4: vip) {
            if let problem = spec.vipProblem(address) { throw failure("hadeck: --vip \(vip): \(problem)") }
            spec = spec.withVIP(address)
        }
        // Nothing starts before we know the screen can be taken.
        if !headless {
            do { try CursesTerminal.preflight() } catch { throw failure("\(error)") }
        }
        if simulate {
            try runSimulated(spec: spec, scenario: scenario, until: end)
        } else {
            try runLive(spec: spec, scenario: scenario, until: end)
        }
    }

    /// The cluster (built-in or `--cluster`) and the scenario to play, if any.
    func loadSpec() -> Result<(Scenario?, ClusterSpec), Diagnostics> {
        if let script {
            return ScenarioLoader.loadSpec(path: script, cluster: cluster).map { ($0.0, $0.1) }
        }
        return ScenarioLoader.loadCluster(cluster).map { (nil, $0) }
    }

    /// The cluster for real on loopback.
    func runLive(spec: ClusterSpec, scenario: Scenario?, until end: Instant?) throws {
        let recorder: SessionRecorder?
        do { recorder = try sessionRecorder(spec: spec, source: "live") } catch { throw failure("\(error)") }
        var options = LiveClusterOptions()
        if let logFile {
            do { options.logger = try DiagnosticsFile.logger(path: logFile, level: logLevel.level) } catch {
                throw failure("hadeck: --log-file \(logFile): \(error)")
            }
            options.logger.notice("hadeck \(headless ? "headless" : "dashboard") on the live cluster '\(spec.name)'")
        }
        let live: LiveCluster
        do { live = try LiveCluster(spec: spec, scenario: scenario, options: options) } catch {
            options.logger.error("\(error)")
            throw failure("hadeck: \(error)")
        }
        defer { options.logger.notice("stopped.") }
        let lines = EventLines()
        if headless { live.onEvent { lines.append($0) } }
        if let recorder { live.onEvent { recorder.record($0) } }
        do { try live.startAndWait() } catch {
            live.shutdownAndWait()
            throw failure("hadeck: \(error)")
        }
        let source = LiveClusterSource(live: live)
        let status: Int32
        if headless {
            // A scenario ends the run at its end, unless --until says otherwise.
            status = HeadlessRunner.run(
                source: recorded(source, recorder), lines: lines, now: { live.clock.now() },
                until: end ?? live.scenarioEnd)
            if scenario != nil {
                let problems = (try? live.finishScenario()) ?? []
                lines.drain(into: StandardOutput())
                var err = StandardError()
                for line in problems { print(line, to: &err) }
                if !problems.isEmpty {
                    finish(recorder, source)
                    live.shutdownAndWait()
                    throw ExitCode(1)
                }
            }
        } else {
            status = dashboard(recorded(source, recorder))
        }
        finish(recorder, source)
        live.shutdownAndWait()
        if status != 0 { throw ExitCode(status) }
    }

    /// The cluster in virtual time.
    func runSimulated(spec: ClusterSpec, scenario: Scenario?, until end: Instant?) throws {
        let source = SimulatedClusterSource(cluster: Cluster(spec: spec), scenario: scenario)
        _ = try? source.perform(.setTimeScale(scale), by: "the command line")
        let recorder: SessionRecorder?
        do { recorder = try sessionRecorder(spec: spec, source: "simulated") } catch { throw failure("\(error)") }
        defer { finish(recorder, source) }
        // What the cluster did as it was made (its processes starting) goes first.
        for event in source.snapshot(requestLimit: 0, eventLimit: .max).events.reversed() { recorder?.record(event) }
        let lines = EventLines()
        source.cluster.onEvent = { event in
            recorder?.record(event)
            if self.headless { lines.append(event) }
        }
        guard headless else {
            let status = dashboard(recorded(source, recorder))
            finish(recorder, source)
            if status != 0 { throw ExitCode(status) }
            return
        }
        // A scenario ends the run at its end, unless --until says otherwise.
        var status = HeadlessRunner.run(
            source: recorded(source, recorder), lines: lines, now: { source.cluster.now },
            until: end ?? source.runner?.scenario.endTime)
        if let runner = source.runner {
            source.finishScenario()
            finish(recorder, source)
            lines.drain(into: StandardOutput())
            var err = StandardError()
            let problems = runner.problemLines
            for line in problems { print(line, to: &err) }
            if !problems.isEmpty { status = 1 }
        }
        throw ExitCode(status)
    }

    /// The `--save-session` file's writer, its header written.
    func sessionRecorder(spec: ClusterSpec, source: String) throws -> SessionRecorder? {
        try SessionRecorder.open(saveSession, cluster: spec.name, source: source)
    }

    /// The last keyframe (the screen as it ends) and the file closed; a problem writing it is said.
    func finish(_ recorder: SessionRecorder?, _ source: ClusterSource) {
        recorder?.finish(source)
    }

    /// Runs the dashboard; a terminal that cannot host it is a one-line error (exit 1). A scripted
    /// run that is recorded or pictured ends at the scenario's end.
    func dashboard(_ source: ClusterSource) -> Int32 {
        var options = DashboardOptions(theme: theme, environment: ProcessInfo.processInfo.environment)
        options.actor = "key"
        options.sessionWriter = "hadeck \(Hadeck.configuration.version)"
        return capture.run(source: source, options: options, untilScenarioEnds: script != nil)
    }
}

/// Prints the diagnostics on standard error; the caller throws the exit code it returns (1).
func failure(_ diagnostics: Diagnostics) -> ExitCode {
    var err = StandardError()
    for d in diagnostics.items { print(d, to: &err) }
    return ExitCode(1)
}

/// Prints one message on standard error; the caller throws the exit code it returns (1).
func failure(_ message: String) -> ExitCode {
    var err = StandardError()
    print(message, to: &err)
    return ExitCode(1)
}
