import ArgumentParser
import ClusterCore
import ClusterModel
import Dashboard
import Foundation
import HadeckBase

/// `hadeck replay FILE`: a saved session (`--save-session`) in the dashboard, or, with `--until`,
/// the snapshot or the screen at one time, printed.
public struct ReplayCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a saved session (--save-session) in the dashboard, or print it at one time.",
        discussion: """
            Without --until the dashboard plays the session from its start: space pauses, < and > change \
            the speed. With --until T it prints the screen at T as text (--json: the snapshot as JSON); \
            --until end is the session's end.
            """
    )

    @Argument(help: "A session file written by --save-session.")
    public var file: String

    @Option(help: "Print the state at this time of the session (e.g. 12.5s, or end) instead of playing it.")
    public var until: String?

    @Flag(help: "With --until: print the snapshot as JSON instead of the screen.")
    public var json = false

    @Option(help: "With --until: the screen's width in columns.")
    public var width = 120

    @Option(help: "With --until: the screen's height in rows.")
    public var height = 40

    @Option(help: "Theme: dark, light, presenter, mono, or a path to a .theme file.")
    public var theme: String?

    @OptionGroup public var capture: CaptureArguments

    public init() {}

    public func validate() throws {
        if let until, until != "end", ScenarioParser.parseTime(until) == nil {
            throw ValidationError("--until '\(until)' is not a time such as 12.5s (or 'end')")
        }
        if json && until == nil { throw ValidationError("--json needs --until") }
        if until != nil && (capture.record != nil || capture.screenshot != nil) {
            throw ValidationError("--record and --screenshot play the dashboard: leave out --until")
        }
        guard width >= DashboardRenderer.minWidth, height >= DashboardRenderer.minHeight else {
            throw ValidationError(
                "the screen must be at least \(DashboardRenderer.minWidth)x\(DashboardRenderer.minHeight)")
        }
    }

    public func run() throws {
        let session: RecordedSession
        do {
            session = try ReplayCommand.load(file)
        } catch {
            throw failure("\(error)")
        }
        guard let until else {
            let source = ReplaySource(session: session)
            var options = DashboardOptions(theme: theme, environment: ProcessInfo.processInfo.environment)
            options.actor = "key"
            options.sessionWriter = "hadeck \(Hadeck.configuration.version)"
            let status = capture.run(source: source, options: options, untilScenarioEnds: false) {
                source.finished
            }
            if status != 0 { throw ExitCode(status) }
            return
        }
        let time = until == "end" ? session.end : (ScenarioParser.parseTime(until) ?? session.end)
        guard let snap = session.snapshot(at: time) else {
            throw failure("hadeck: \(file): nothing recorded at \(time) (the session starts at \(session.start))")
        }
        let out = StandardOutput()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            out.write(String(decoding: try encoder.encode(snap), as: UTF8.self) + "\n")
        } else {
            out.write(ReplayCommand.screen(snap, width: width, height: height, theme: theme) + "\n")
        }
        out.flush()
    }

    public static func load(_ path: String) throws -> RecordedSession {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SessionFile.ReadError(.error, file: path, line: 0, "cannot read the file")
        }
        return try SessionFile.parse(String(decoding: data, as: UTF8.self), file: path)
    }

    /// The dashboard's screen for a snapshot, as text (no key pressed, nothing selected).
    public static func screen(_ snap: ClusterSnapshot, width: Int, height: Int, theme: String? = nil) -> String {
        let chosen = Theme.load(theme).theme
        return DashboardRenderer.render(
            snapshot: snap, state: DashboardState(), width: width, height: height, theme: chosen
        ).text
    }
}
