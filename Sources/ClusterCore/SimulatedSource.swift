import ClusterModel
import HadeckBase

/// The embedded cluster as a dashboard source: the core simulator driven by the wall clock,
/// optionally playing a scenario. Time scale and pause apply to virtual time only.
public final class SimulatedClusterSource: ClusterSource {
    public let cluster: Cluster
    public let runner: ScenarioRunner?
    public private(set) var timeScale: Double = 1
    public private(set) var paused = false
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
        if let runner { runner.advance(to: target) } else { cluster.run(until: target) }
    }

    public func snapshot(requestLimit: Int, eventLimit: Int) -> ClusterSnapshot {
        var s = cluster.snapshot(requestLimit: requestLimit, eventLimit: eventLimit)
        s.scenarioName = runner?.scenario.name
        s.timeScale = timeScale
        s.paused = paused
        s.source = .simulated
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
