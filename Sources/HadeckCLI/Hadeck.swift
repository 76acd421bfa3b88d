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

/// The `hadeck` command: the dashboard by default, and its subcommands.
public struct Hadeck: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hadeck",
        abstract: "A whole high-availability web cluster in one terminal.",
        discussion: """
            Without a subcommand hadeck runs the article's cluster for real on loopback (two balancers with \
            haproxy + keepalived in front of webA and webB, the VIP 127.0.0.99:8080 that curl or a browser \
            can use) and opens the dashboard on it with traffic running. Press ? for every key. \
            --simulate runs the same cluster in virtual time instead (slow motion, pause).
            """,
        version: "0.1.0",
        subcommands: [
            CheckCommand.self, SimulateCommand.self, ProxyCommand.self, BenchCommand.self, LabCommand.self,
            AppCommand.self,
        ]
    )

    @Option(help: "A cluster file (YAML); default: the built-in article cluster.")
    public var cluster: String?

    @Option(help: "Play a scenario (the simulator's language) live, with its 'say' lines as captions.")
    public var script: String?

    @Option(help: "Theme: dark, light, presenter, mono, or a path to a .theme file.")
    public var theme: String?

    @Option(help: "With --simulate: virtual seconds per real second at start (e.g. 0.25 for slow motion).")
    public var scale: Double = 1

    @Flag(help: "Run the cluster in virtual time (no sockets) instead of live on loopback.")
    public var simulate = false

    @Option(help: "The VIP's address and port for the live cluster (loopback only), e.g. 127.0.0.98:8080.")
    public var vip: String?

    @Flag(help: "No screen: print the JSON events on stdout and read commands (e.g. 'kill lb1/haproxy') from stdin.")
    public var headless = false

    @Option(help: "With --headless: stop when the cluster's clock reaches this time (e.g. 30s).")
    public var until: String?

    public init() {}

    public func validate() throws {
        guard scale > 0, scale <= 64 else { throw ValidationError("--scale must be between 0 and 64") }
        if until != nil && !headless { throw ValidationError("--until only applies with --headless") }
        if scale != 1 && !simulate {
            throw ValidationError("--scale needs --simulate: the live cluster runs in real time")
        }
        if vip != nil && simulate { throw ValidationError("--vip applies to the live cluster, not --simulate") }
        if let vip, Self.parseVIP(vip) == nil {
            throw ValidationError("--vip '\(vip)' is not IP:PORT (e.g. 127.0.0.98:8080)")
        }
    }

    static func parseVIP(_ text: String) -> BalancerCore.SocketAddress? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        let host = String(text[..<colon])
        let parts = host.split(separator: ".")
        guard parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) else { return nil }
        return .init(host: host, port: port)
    }

    public func run() throws {
        var end: Instant?
        if let until {
            guard let t = ScenarioParser.parseTime(until) else {
                throw ValidationError("--until '\(until)' is not a time such as 30s")
            }
            end = t
        }
        if simulate { return try runSimulated(until: end) }
        try runLive(until: end)
    }

    /// The cluster for real on loopback.
    func runLive(until end: Instant?) throws {
        var err = StandardError()
        let spec: ClusterSpec
        var scenario: Scenario?
        if let script {
            switch ScenarioLoader.loadSpec(path: script, cluster: cluster) {
            case .success(let (sc, sp)): (scenario, spec) = (sc, sp)
            case .failure(let diags):
                for d in diags.items { print(d, to: &err) }
                throw ExitCode(1)
            }
        } else {
            switch ScenarioLoader.loadCluster(cluster) {
            case .success(let sp): spec = sp
            case .failure(let diags):
                for d in diags.items { print(d, to: &err) }
                throw ExitCode(1)
            }
        }
        var options = LiveClusterOptions()
        options.vip = vip.flatMap(Self.parseVIP)
        let live: LiveCluster
        do { live = try LiveCluster(spec: spec, scenario: scenario, options: options) } catch {
            print("hadeck: \(error)", to: &err)
            throw ExitCode(1)
        }
        let lines = EventLines()
        if headless { live.onEvent { lines.append($0) } }
        do { try live.startAndWait() } catch {
            print("hadeck: \(error)", to: &err)
            live.shutdownAndWait()
            throw ExitCode(1)
        }
        let source = LiveClusterSource(live: live)
        let status: Int32
        if headless {
            // A scenario ends the run at its end, unless --until says otherwise.
            status = HeadlessRunner.run(
                source: source, lines: lines, now: { live.clock.now() }, until: end ?? live.scenarioEnd)
            if scenario != nil {
                let problems = (try? live.finishScenario()) ?? []
                lines.drain(into: StandardOutput())
                for line in problems { print(line, to: &err) }
                if !problems.isEmpty {
                    live.shutdownAndWait()
                    throw ExitCode(1)
                }
            }
        } else {
            status = dashboard(source)
        }
        live.shutdownAndWait()
        if status != 0 { throw ExitCode(status) }
    }

    /// The cluster in virtual time.
    func runSimulated(until end: Instant?) throws {
        var err = StandardError()
        let source: SimulatedClusterSource
        switch makeSource() {
        case .success(let s): source = s
        case .failure(let diags):
            for d in diags.items { print(d, to: &err) }
            throw ExitCode(1)
        }
        _ = try? source.perform(.setTimeScale(scale), by: "the command line")
        if headless {
            let lines = EventLines()
            source.cluster.onEvent = { lines.append($0) }
            // A scenario ends the run at its end, unless --until says otherwise.
            var status = HeadlessRunner.run(
                source: source, lines: lines, now: { source.cluster.now },
                until: end ?? source.runner?.scenario.endTime)
            if let runner = source.runner {
                runner.runToEnd(source.cluster.now)
                lines.drain(into: StandardOutput())
                let file = runner.scenario.file
                for (step, error) in runner.commandErrors { print("\(file):\(step.line): error: \(error)", to: &err) }
                for f in runner.failures {
                    print(
                        "\(file):\(f.step.line): error: expectation failed at \(f.time): \(f.expectation.text) (seen: \(f.seen))",
                        to: &err)
                }
                if !runner.failures.isEmpty || !runner.commandErrors.isEmpty { status = 1 }
            }
            throw ExitCode(status)
        }
        let status = dashboard(source)
        if status != 0 { throw ExitCode(status) }
    }

    /// Runs the dashboard; a terminal that cannot host it is a one-line error (exit 1).
    func dashboard(_ source: ClusterSource) -> Int32 {
        var err = StandardError()
        var options = DashboardOptions(theme: theme, environment: ProcessInfo.processInfo.environment)
        options.actor = "key"
        do {
            return try runDashboard(source: source, options: options)
        } catch {
            print("\(error)", to: &err)
            return 1
        }
    }

    /// The cluster (built-in or `--cluster`), optionally with a scenario to play.
    func makeSource() -> Result<SimulatedClusterSource, Diagnostics> {
        if let script {
            switch ScenarioLoader.load(path: script, cluster: cluster) {
            case .success(let (scenario, cluster)):
                return .success(SimulatedClusterSource(cluster: cluster, scenario: scenario))
            case .failure(let d): return .failure(d)
            }
        }
        switch ScenarioLoader.loadCluster(cluster) {
        case .success(let spec): return .success(SimulatedClusterSource(cluster: Cluster(spec: spec)))
        case .failure(let d): return .failure(d)
        }
    }
}
