import ArgumentParser
import BalancerCore
import Foundation
import HadeckBase
import HadeckConfig
import VRRPCore

/// `hadeck check -f FILE [-f FILE ...]`: validates haproxy.cfg and keepalived.conf files, like `haproxy -c`;
/// given two of each (one balancer's pair, then the other's), also warns where they drift apart.
public struct CheckCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check haproxy.cfg and keepalived.conf files, like 'haproxy -c'.",
        discussion:
            "Each file's kind is decided from its content. Every warning and error is printed as FILE:LINE: warning|error: message."
    )

    /// The files to check.
    @Option(name: .customShort("f"), help: "A haproxy.cfg or keepalived.conf to check (repeatable).")
    public var files: [String] = []

    public init() {}

    public func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one file with -f FILE") }
    }

    public func run() throws {
        let outcome = Self.check(files: files)
        if !outcome.stdout.isEmpty { print(outcome.stdout, terminator: "") }
        if !outcome.stderr.isEmpty { FileOutput.standardError(outcome.stderr) }
        if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
    }

    /// What `check` prints and returns, so tests need not spawn a process.
    public struct Outcome: Hashable, Sendable {
        /// Text for standard output (`Configuration file is valid` when there is no error).
        public var stdout: String
        /// Diagnostics, one per line, then the final verdict when there are errors.
        public var stderr: String
        /// 0 when valid, 1 when any file has an error.
        public var exitCode: Int32
    }

    /// Checks `files`, reading them with `read` (the disk by default).
    public static func check(files: [String], read: (String) throws -> String = ConfigFiles.read) -> Outcome {
        var stderr = ""
        var failed = false
        var haproxyFiles: [(file: String, config: HAProxyConfig)] = []
        var keepalivedFiles: [(file: String, result: KeepalivedParseResult)] = []
        for path in files {
            let text: String
            do {
                text = try read(path)
            } catch let error as ConfigFileError {
                stderr += "\(path): error: \(error.description)\n"
                failed = true
                continue
            } catch {
                stderr += "\(path): error: cannot read configuration file '\(path)': \(error)\n"
                failed = true
                continue
            }
            var diagnostics: Diagnostics
            switch ConfigFileKind.detect(text: text, file: path) {
            case .haproxy:
                let parsed = HAProxyConfigParser.parse(text: text, file: path, options: ConfigFiles.haproxyFileOptions)
                diagnostics = parsed.diagnostics
                haproxyFiles.append((path, parsed.config))
            case .keepalived:
                let parsed = KeepalivedConfigParser.parseWithSources(
                    text: text, file: path, includeLoader: ConfigFiles.diskIncludeLoader,
                    options: ConfigFiles.keepalivedFileOptions)
                diagnostics = parsed.diagnostics
                keepalivedFiles.append((path, parsed))
            case nil:
                diagnostics = Diagnostics()
                diagnostics.error(
                    path, 1,
                    "cannot tell whether this is a haproxy.cfg or a keepalived.conf (no 'global'/'defaults'/'frontend'/'backend'/'listen' section and no 'vrrp_instance'/'vrrp_script'/'global_defs' block)"
                )
            }
            for item in ordered(diagnostics.items, mainFile: path) { stderr += item.description + "\n" }
            if diagnostics.hasErrors { failed = true }
        }
        // Two balancers' files (haproxy.cfg then keepalived.conf of each, in the order given): the drift check.
        if haproxyFiles.count == 2, keepalivedFiles.count == 2 {
            let pair = (0..<2).map { i in
                BalancerConfigFiles(
                    name: haproxyFiles[i].config.global.node ?? keepalivedFiles[i].result.config.globals.routerID
                        ?? "balancer \(i + 1)",
                    haproxyFile: haproxyFiles[i].file, haproxy: haproxyFiles[i].config,
                    keepalivedFile: keepalivedFiles[i].file, keepalived: keepalivedFiles[i].result.config,
                    keepalivedSources: keepalivedFiles[i].result.sources)
            }
            for item in ConfigDrift.check(pair[0], pair[1]).items { stderr += item.description + "\n" }
        }
        if failed {
            stderr += "Configuration file has errors\n"
            return Outcome(stdout: "", stderr: stderr, exitCode: 1)
        }
        return Outcome(stdout: "Configuration file is valid\n", stderr: stderr, exitCode: 0)
    }

    /// Diagnostics in file order (the checked file first, then included files as met) and line order.
    static func ordered(_ items: [Diagnostic], mainFile: String) -> [Diagnostic] {
        var fileOrder: [String: Int] = [mainFile: 0]
        for item in items where fileOrder[item.file] == nil { fileOrder[item.file] = fileOrder.count }
        return items.enumerated().sorted { a, b in
            let ka = (fileOrder[a.element.file]!, a.element.line, a.offset)
            let kb = (fileOrder[b.element.file]!, b.element.line, b.offset)
            return ka < kb
        }.map(\.element)
    }
}

/// Writing to standard error.
enum FileOutput {
    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
