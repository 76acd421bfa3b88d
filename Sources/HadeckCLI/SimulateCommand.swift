import ArgumentParser
import ClusterCore
import ClusterModel
import HadeckBase

/// `hadeck simulate FILE [--json] [--until T]`: runs a scenario in virtual time.
public struct SimulateCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a scenario in virtual time and print its timeline.",
        discussion: """
            Runs as fast as the machine allows. Prints the timeline as readable text, or the JSON \
            events (one per line) with --json. Exits 1 naming the first failed 'expect' line.
            """
    )

    @Argument(help: "Scenario file (see Examples/scenarios/ and the scenario language in the README).")
    public var file: String

    @Flag(help: "Print the events as JSON lines instead of text.")
    public var json = false

    @Option(help: "Stop at this virtual time (e.g. 90s, 1h) instead of the scenario's end.")
    public var until: String?

    @Flag(help: "Leave request events out of the text timeline.")
    public var noRequests = false

    public init() {}

    public func validate() throws {
        if let until, ScenarioParser.parseTime(until) == nil {
            throw ValidationError("--until '\(until)' is not a time such as 90s, 1500ms or 1h")
        }
    }

    public func run() throws {
        var out = StandardOutput()
        var err = StandardError()
        let code = execute(out: &out, err: &err)
        out.flush()
        if code != 0 { throw ExitCode(code) }
    }

    /// The command as parsed, with its output streams injected (tests).
    public func execute(out: inout some TextOutputStream, err: inout some TextOutputStream) -> Int32 {
        SimulateCommand.simulate(file: file, json: json, until: until, requests: !noRequests, out: &out, err: &err)
    }

    /// The whole command, with its output streams injected so tests can call it.
    public static func simulate(
        file: String, json: Bool, until: String?, requests: Bool = true,
        out: inout some TextOutputStream, err: inout some TextOutputStream
    ) -> Int32 {
        let loaded: (Scenario, Cluster)
        switch ScenarioLoader.load(path: file) {
        case .success(let pair): loaded = pair
        case .failure(let diags):
            for d in diags.items { print(d, to: &err) }
            return 1
        }
        let (scenario, cluster) = loaded
        var end = scenario.endTime
        if let until {
            guard let t = ScenarioParser.parseTime(until) else {
                print("hadeck: --until '\(until)' is not a time such as 90s, 1500ms or 1h", to: &err)
                return 2
            }
            end = t
        }
        let runner = ScenarioRunner(scenario: scenario, cluster: cluster)
        var lines: [String] = []
        cluster.onEvent = { e in
            if json {
                lines.append(e.jsonLine)
            } else if requests || e.type != .request {
                lines.append(Timeline.line(e))
            }
        }
        if !json {
            print("# \(scenario.name) (\(scenario.file)), cluster \(cluster.spec.name), until \(end)", to: &out)
        }
        // Stream output in chunks so a long run does not hold everything in memory.
        var t = Instant.zero
        let chunk = TimeSpan.seconds(10)
        while t < end {
            t = min(end, t + chunk)
            if t == end { runner.runToEnd(end) } else { runner.advance(to: t) }
            for l in lines {
                out.write(l)
                out.write("\n")
            }
            lines.removeAll(keepingCapacity: true)
        }
        if end == .zero { runner.runToEnd(end) }
        for l in lines { print(l, to: &out) }
        for line in runner.problemLines { print(line, to: &err) }
        let failures = runner.failures
        if !json {
            let passed = runner.results.count - failures.count
            print(
                "# \(passed) of \(runner.results.count) expectations held; \(cluster.requestsSent) requests, \(cluster.requestsFailed) failed",
                to: &out)
        }
        return failures.isEmpty && runner.commandErrors.isEmpty ? 0 : 1
    }
}

/// Writes to the process's standard output, buffered (call `flush()` before exiting).
public final class StandardOutput: TextOutputStream {
    private var buffer: [UInt8] = []

    public init() { buffer.reserveCapacity(1 << 16) }
    deinit { flush() }

    public func write(_ string: String) {
        buffer.append(contentsOf: string.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    public func flush() {
        writeAll(1, buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Writes to the process's standard error.
public struct StandardError: TextOutputStream {
    public init() {}
    public mutating func write(_ string: String) { fputsStderr(string) }
}
