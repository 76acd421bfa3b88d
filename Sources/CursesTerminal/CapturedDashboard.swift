import ClusterModel
import Dashboard

/// Runs the dashboard on this process's terminal like `runDashboard`, keeping what `capture` asks
/// for (an asciicast recording, a last-screen SVG); `stopWhen` ends it as `q` would (a scripted run
/// at its scenario's end). Returns the exit status and what could not be written (to print once
/// the terminal is back).
public func runCapturedDashboard(
    source: ClusterSource, options: DashboardOptions, capture: CaptureOptions, stopWhen: (() -> Bool)? = nil
) throws -> (status: Int32, problems: [String]) {
    let terminal = try CursesTerminal()
    defer { terminal.restore() }
    let capturing = try CapturingTerminal(wrapping: terminal, options: capture, stopWhen: stopWhen)
    let app = DashboardApp(source: source, options: options)
    let status = try app.run(terminal: capturing)
    capturing.restore()
    return (status, capturing.problems)
}
