import AttachConfig
import Foundation

/// A command of an attach file that could not run or failed.
public struct CommandFailure: Error, Hashable, Sendable, CustomStringConvertible {
    /// What it was for, e.g. `lb1 haproxy kill`.
    public var what: String
    /// The argument vector as run (or as far as it could be built).
    public var arguments: [String]
    public var reason: String

    public var description: String { "\(what) failed: \(reason)" }
}

/// Runs the command templates and reads the sources of an attach file.
public enum AttachCommands {
    /// Fills `template`'s placeholders from `values` and runs it to its end. Throws when a value is
    /// missing, the program cannot start or it exits non-zero.
    @discardableResult
    public static func run(
        _ template: CommandTemplate, values: [String: String], what: String, timeout: Duration = .seconds(15)
    ) throws(CommandFailure) -> ProgramOutput {
        let argv: [String]
        do { argv = try template.render(values) } catch {
            throw CommandFailure(what: what, arguments: template.arguments, reason: error.description)
        }
        let output: ProgramOutput
        do { output = try ProgramRunner.run(argv, timeout: timeout) } catch {
            throw CommandFailure(what: what, arguments: argv, reason: error.description)
        }
        guard output.succeeded else {
            let why = output.timedOut ? "still running after \(timeout), killed" : "exit status \(output.status)"
            let detail = output.firstErrorLine
            throw CommandFailure(what: what, arguments: argv, reason: detail.isEmpty ? why : "\(why): \(detail)")
        }
        return output
    }

    /// The content of a file, or the output of a command (placeholders from `values`).
    public static func read(
        _ source: Readable, values: [String: String] = [:], what: String, timeout: Duration = .seconds(5)
    ) throws(CommandFailure) -> String {
        switch source {
        case .file(let path):
            do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw CommandFailure(
                    what: what, arguments: [path], reason: (error as NSError).localizedDescription)
            }
        case .command(let template):
            return try run(template, values: values, what: what, timeout: timeout).stdout
        }
    }

    /// A pid read from a pid file or a command's output; nil when there is none.
    public static func pid(_ source: Readable?, values: [String: String] = [:]) -> Int32? {
        guard let source, let text = try? read(source, values: values, what: "pid") else { return nil }
        return LinuxProcess.parsePid(text)
    }
}
