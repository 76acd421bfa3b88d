import ClusterModel
import HadeckBase

/// One expectation's verdict.
public struct ExpectationResult: Sendable {
    public var step: ScenarioStep
    public var expectation: ScenarioExpectation
    public var time: Instant
    public var ok: Bool
    public var seen: String
}

/// Plays a scenario against a cluster: commands at their times, expectations checked when due.
///
/// The same runner serves `hadeck simulate` (virtual time, as fast as possible) and the
/// presenter (`advance(to:)` called against a real clock).
public final class ScenarioRunner {
    public let scenario: Scenario
    public let cluster: Cluster
    public private(set) var results: [ExpectationResult] = []
    /// Called when a command of the scenario fails (e.g. names an unknown host).
    public var onCommandError: ((ScenarioStep, CommandError) -> Void)?
    public private(set) var commandErrors: [(ScenarioStep, CommandError)] = []
    private var timed: [ScenarioStep]
    private var nextIndex = 0

    public init(scenario: Scenario, cluster: Cluster) {
        self.scenario = scenario
        self.cluster = cluster
        // Stable sort keeps file order among steps at the same time.
        timed = scenario.steps.enumerated()
            .filter { $0.element.time != nil }
            .sorted { ($0.element.time!, $0.offset) < ($1.element.time!, $1.offset) }
            .map(\.element)
    }

    /// True once every timed step has run.
    public var finishedSteps: Bool { nextIndex >= timed.count }

    /// The time of the next step, if any.
    public var nextStepTime: Instant? { nextIndex < timed.count ? timed[nextIndex].time : nil }

    /// Runs the cluster and the scenario's steps up to `time`.
    public func advance(to time: Instant) {
        while nextIndex < timed.count, let t = timed[nextIndex].time, t <= time {
            cluster.run(until: t)
            perform(timed[nextIndex])
            nextIndex += 1
        }
        cluster.run(until: time)
    }

    /// Runs to `end` and then checks the expectations that have no time.
    public func runToEnd(_ end: Instant) {
        advance(to: end)
        for step in scenario.steps where step.time == nil {
            if case .expect(let e) = step.kind { record(step, e) }
        }
    }

    public var failures: [ExpectationResult] { results.filter { !$0.ok } }

    /// Every command that could not run and every failed expectation, as `FILE:LINE: error: ...`.
    public var problems: [Diagnostic] {
        let file = scenario.file
        return commandErrors.map { Diagnostic(.error, file: file, line: $0.0.line, $0.1.description) }
            + failures.map { f in
                Diagnostic(
                    .error, file: file, line: f.step.line,
                    "expectation failed at \(f.time): \(f.expectation.text) (seen: \(f.seen))")
            }
    }

    /// `problems`, one line each.
    public var problemLines: [String] { problems.map(\.description) }

    private func perform(_ step: ScenarioStep) {
        switch step.kind {
        case .command(let command):
            do {
                try cluster.apply(command, by: "the scenario (line \(step.line))")
            } catch {
                commandErrors.append((step, error))
                onCommandError?(step, error)
            }
        case .expect(let e):
            record(step, e)
        }
    }

    private func record(_ step: ScenarioStep, _ e: ScenarioExpectation) {
        let (ok, seen) = cluster.check(e)
        results.append(ExpectationResult(step: step, expectation: e, time: cluster.now, ok: ok, seen: seen))
        cluster.emit(
            .expect(line: step.line, check: e.text, ok: ok, seen: seen),
            why: ok ? "the scenario's expectation holds" : "the scenario's expectation failed")
    }
}

/// Renders events as readable timeline lines.
public enum Timeline {
    /// `  12.000000  vrrp.state      lb2 BACKUP -> MASTER (priority 100/100)  -- why`
    public static func line(_ e: ClusterEvent) -> String {
        let t = formatSeconds(e.time.micros)
        let parts = t.split(separator: ".")
        let whole = String(parts[0])
        let frac = parts.count > 1 ? String(parts[1]) : ""
        let time =
            String(repeating: " ", count: max(0, 6 - whole.count)) + whole + "." + frac
            + String(repeating: "0", count: 6 - frac.count)
        let name = e.type.rawValue
        let type = name + String(repeating: " ", count: max(1, 15 - name.count))
        return "\(time)  \(type)\(e.summary())  -- \(e.why)"
    }
}
