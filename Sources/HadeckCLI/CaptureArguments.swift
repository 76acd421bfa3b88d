import ArgumentParser
import ClusterModel
import CursesTerminal
import Dashboard
import Foundation

/// `--record FILE.cast` and `--screenshot FILE.svg`: what a dashboard run keeps besides the screen.
public struct CaptureArguments: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Record the dashboard as an asciicast v2 file (asciinema play FILE); with --script it ends at the scenario's end.",
            valueName: "file.cast"))
    public var record: String?

    @Option(
        help: ArgumentHelp(
            "When the dashboard ends (with --script: at the scenario's end), write its last screen as SVG.",
            valueName: "file.svg"))
    public var screenshot: String?

    public init() {}

    func validate(headless: Bool) throws {
        if headless && (record != nil || screenshot != nil) {
            throw ValidationError("--record and --screenshot show the dashboard: they do not apply with --headless")
        }
    }

    var options: CaptureOptions {
        CaptureOptions(recordPath: record, screenshotPath: screenshot, environment: ProcessInfo.processInfo.environment)
    }

    /// Runs the dashboard with the recording and picture asked for; `untilScenarioEnds`: a recorded
    /// or pictured run stops once the source's scenario is finished. Errors are printed (exit 1).
    /// `ended`: another end than the scenario's (a replay's end).
    func run(
        source: ClusterSource, options dashboard: DashboardOptions, untilScenarioEnds: Bool,
        ended: (() -> Bool)? = nil
    ) -> Int32 {
        var err = StandardError()
        let capture = options
        var stopWhen: (() -> Bool)? = nil
        if !capture.isEmpty {
            if untilScenarioEnds {
                stopWhen = { source.snapshot(requestLimit: 0, eventLimit: 0).scenario?.finished == true }
            } else if let ended {
                stopWhen = ended
            }
        }
        do {
            let (status, problems) = try runCapturedDashboard(
                source: source, options: dashboard, capture: capture, stopWhen: stopWhen)
            for p in problems { print(p, to: &err) }
            return problems.isEmpty ? status : max(status, 1)
        } catch {
            print("\(error)", to: &err)
            return 1
        }
    }
}
