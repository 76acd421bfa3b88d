import ArgumentParser
import ClusterCore
import ClusterModel
import CursesTerminal
import Dashboard
import Foundation
import HadeckBase

/// The `hadeck` command: the dashboard by default, and its subcommands.
public struct Hadeck: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hadeck",
        abstract: "A whole high-availability web cluster in one terminal.",
        discussion: """
            Without a subcommand hadeck opens the dashboard on the article's cluster (two balancers with \
            haproxy + keepalived in front of webA and webB) with traffic running. Press ? for every key.
            """,
        version: "0.1.0",
        subcommands: [CheckCommand.self, SimulateCommand.self, ProxyCommand.self, BenchCommand.self]
    )

    @Option(help: "A cluster file (YAML); default: the built-in article cluster.")
    public var cluster: String?

    @Option(help: "Play a scenario (the simulator's language) live, with its 'say' lines as captions.")
    public var script: String?

    @Option(help: "Theme: dark, light, presenter, mono, or a path to a .theme file.")
    public var theme: String?

    @Option(help: "Virtual seconds per real second at start (e.g. 0.25 for slow motion).")
    public var scale: Double = 1

    @Flag(help: "No screen: print the JSON events on stdout and read commands (e.g. 'kill lb1/haproxy') from stdin.")
    public var headless = false

    @Option(help: "With --headless: stop when the cluster's clock reaches this time (e.g. 30s).")
    public var until: String?

    public init() {}

    public func validate() throws {
        guard scale > 0, scale <= 64 else { throw ValidationError("--scale must be between 0 and 64") }
        if until != nil && !headless { throw ValidationError("--until only applies with --headless") }
    }

    public func run() throws {
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
            var end: Instant?
            if let until {
                guard let t = ScenarioParser.parseTime(until) else {
                    throw ValidationError("--until '\(until)' is not a time such as 30s")
                }
                end = t
            }
            throw ExitCode(HeadlessRunner.run(source: source, until: end))
        }
        var options = DashboardOptions(theme: theme, environment: ProcessInfo.processInfo.environment)
        options.actor = "key"
        do {
            let status = try runDashboard(source: source, options: options)
            if status != 0 { throw ExitCode(status) }
        } catch let error as CursesError {
            print("\(error)", to: &err)
            throw ExitCode(1)
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
