import ArgumentParser
import BalancerCore
import ClusterConfig
import ClusterCore
import Foundation
import HadeckBase
import HadeckConfig
import VRRPCore

/// `hadeck check -f FILE [-f FILE ...]`: validates haproxy.cfg and keepalived.conf files, like `haproxy -c`;
/// given two of each (one balancer's pair, then the other's), also warns where they drift apart.
public struct CheckCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check haproxy.cfg, keepalived.conf, cluster and scenario files, like 'haproxy -c'.",
        discussion: """
            A .yaml file is a cluster file (checked with the haproxy.cfg and keepalived.conf files it names), \
            a .scenario file a scenario (checked with the cluster it names); otherwise the kind is decided \
            from the content. Every warning and error is printed as FILE:LINE: warning|error: message.
            """
    )

    /// The files to check.
    @Option(
        name: .customShort("f"), help: "A haproxy.cfg, keepalived.conf, cluster file or scenario to check (repeatable)."
    )
    public var files: [String] = []

    public init() {}

    public func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one file with -f FILE") }
    }

    public func run() throws {
        let outcome = Self.check(files: files)
        if !outcome.stdout.isEmpty { print(outcome.stdout, terminator: "") }
        if !outcome.stderr.isEmpty { fputsStderr(outcome.stderr) }
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
            switch CheckedFileKind.detect(text: text, file: path) {
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
            case .cluster:
                diagnostics = ClusterLoader.load(path: path, read: read).1
            case .scenario:
                diagnostics = checkScenario(text: text, path: path, read: read)
            case nil:
                diagnostics = Diagnostics()
                diagnostics.error(
                    path, 1,
                    "cannot tell what this file is: not a haproxy.cfg (no 'global'/'defaults'/'frontend'/'backend'/'listen' section), a keepalived.conf (no 'vrrp_instance'/'vrrp_script'/'global_defs' block), a cluster file (.yaml with 'balancers') or a scenario (.scenario)"
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

    /// A scenario: its own lines, the cluster it names (built-in or a file, with that file's configs),
    /// and every line naming a host or backend that cluster lacks.
    static func checkScenario(text: String, path: String, read: (String) throws -> String) -> Diagnostics {
        var (scenario, diagnostics) = ScenarioParser.parse(text, file: path)
        guard let scenario else { return diagnostics }
        let spec: ClusterSpec
        if let reference = scenario.cluster, reference != ClusterLoader.builtinName {
            let clusterPath =
                reference.hasPrefix("/") || !path.contains("/")
                ? reference : String(path[..<path.lastIndex(of: "/")!]) + "/" + reference
            let (loaded, clusterDiagnostics) = ClusterLoader.load(path: clusterPath, read: read)
            diagnostics.append(contentsOf: clusterDiagnostics)
            guard let loaded else { return diagnostics }
            spec = ClusterSpec(loaded)
        } else {
            spec = .article
        }
        diagnostics.append(contentsOf: scenario.unknownNames(in: spec))
        return diagnostics
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

/// What `hadeck check` can check: the two programs' configurations and hadeck's own files.
enum CheckedFileKind {
    case haproxy, keepalived, cluster, scenario

    static func detect(text: String, file: String) -> CheckedFileKind? {
        let name = file.lowercased()
        if name.hasSuffix(".scenario") { return .scenario }
        if name.hasSuffix(".yaml") || name.hasSuffix(".yml") { return .cluster }
        switch ConfigFileKind.detect(text: text, file: file) {
        case .haproxy: return .haproxy
        case .keepalived: return .keepalived
        case nil: break
        }
        let firstWords = text.split(separator: "\n").compactMap { line -> Substring? in
            let word = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first
            return word.map { $0.hasPrefix("#") ? "#" : $0 }
        }
        if firstWords.contains("balancers:") { return .cluster }
        let scenarioWords: Set<Substring> = ["#", "name", "cluster", "end", "at", "expect", "say"]
        if !firstWords.isEmpty, firstWords.allSatisfy(scenarioWords.contains), firstWords.contains(where: { $0 != "#" })
        {
            return .scenario
        }
        return nil
    }
}
