import ClusterModel
import HadeckBase

/// The embedded cluster as a dashboard source: the core simulator driven by the wall clock,
/// optionally playing a scenario. Time scale and pause apply to virtual time only.
public final class SimulatedClusterSource: ClusterSource {
    public let cluster: Cluster
    public let runner: ScenarioRunner?
    public private(set) var timeScale: Double = 1
    public private(set) var paused = false
    /// The scenario reached its end and its expectations were all checked; the cluster runs on.
    public private(set) var scenarioFinished = false
    /// Virtual time owed but not yet run, in microseconds (keeps fractional scaling exact over time).
    private var carry: Double = 0

    public init(cluster: Cluster, scenario: Scenario? = nil) {
        self.cluster = cluster
        runner = scenario.map { ScenarioRunner(scenario: $0, cluster: cluster) }
    }

    public func advance(wallElapsed: TimeSpan) {
        guard !paused else { return }
        carry += Double(wallElapsed.micros) * timeScale
        let step = Int64(carry)
        guard step > 0 else { return }
        carry -= Double(step)
        let target = cluster.now + TimeSpan(micros: step)
        guard let runner else { return cluster.run(until: target) }
        // At the scenario's end its expectations without a time are checked, once; then the
        // cluster keeps running.
        let end = runner.scenario.endTime
        if !scenarioFinished && target >= end {
            runner.runToEnd(end)
            scenarioFinished = true
        }
        runner.advance(to: target)
    }

    /// Ends the scenario now if its end has not come yet (checks its untimed expectations); does
    /// nothing the second time.
    public func finishScenario() {
        guard let runner, !scenarioFinished else { return }
        runner.runToEnd(cluster.now)
        scenarioFinished = true
    }

    public func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot {
        var s = cluster.snapshot(requestLimit: requestLimit, eventLimit: eventLimit)
        s.scenarioName = runner?.scenario.name
        s.scenario = runner?.status(finished: scenarioFinished)
        s.timeScale = timeScale
        s.paused = paused
        s.source = .simulated
        // Every simulated request is sent to the VIP.
        for i in s.requests.indices { s.requests[i].entry = .vip }
        return s
    }

    public func perform(_ command: ControlCommand, by actor: String) throws -> String {
        switch command {
        case .cluster(let c):
            try cluster.apply(c, by: actor)
            return c.text
        case .setTimeScale(let scale):
            timeScale = min(64, max(1.0 / 64, scale))
            cluster.emit(
                .control(timeScale: timeScale, paused: paused),
                why: "\(actor) set the time scale to x\(formatRate(timeScale)) (virtual seconds per real second)")
            return "time scale x\(formatRate(timeScale))"
        case .setPaused(let p):
            paused = p
            cluster.emit(
                .control(timeScale: timeScale, paused: paused),
                why: p ? "\(actor) paused the cluster's clock" : "\(actor) resumed the cluster's clock")
            return p ? "paused" : "running"
        }
    }
}

extension ScenarioRunner {
    /// The scenario and its results so far, for a screen.
    public func status(finished: Bool) -> ScenarioStatus {
        ScenarioStatus(
            name: scenario.name, file: scenario.file, end: scenario.endTime, finished: finished,
            results: results.map {
                ScenarioStatus.Result(
                    line: $0.step.line, check: $0.expectation.text, ok: $0.ok, seen: $0.seen, time: $0.time)
            },
            problems: commandErrors.map { ScenarioStatus.Problem(line: $0.0.line, message: $0.1.description) })
    }
}
