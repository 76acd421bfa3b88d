import HadeckBase
import VRRPCore

/// Reads the subset of keepalived.conf that hadeck simulates into a ``KeepalivedConfig``.
///
/// Blocks: `global_defs`, `vrrp_script`, `vrrp_track_process`, `vrrp_instance`.
/// Unknown keywords are warnings (as keepalived logs them); values keepalived rejects
/// are errors. Every diagnostic names the file and line.
public enum KeepalivedConfigParser {
    /// Parses the text of a keepalived.conf. `file` is only used in diagnostics.
    /// `include` lines are followed through `includeLoader`; without one they are warned about and skipped.
    public static func parse(
        text: String, file: String, includeLoader: KeepalivedIncludeLoader? = nil,
        options: KeepalivedParseOptions = KeepalivedParseOptions()
    ) -> (config: KeepalivedConfig, diagnostics: Diagnostics) {
        let result = parseWithSources(text: text, file: file, includeLoader: includeLoader, options: options)
        return (result.config, result.diagnostics)
    }

    /// Like ``parse(text:file:includeLoader:options:)``, with where each instance setting was written.
    public static func parseWithSources(
        text: String, file: String, includeLoader: KeepalivedIncludeLoader? = nil,
        options: KeepalivedParseOptions = KeepalivedParseOptions()
    ) -> KeepalivedParseResult {
        var lexer = KeepalivedLexer(includeLoader: includeLoader, options: options)
        let nodes = lexer.parse(text: text, file: file)
        var parser = KeepalivedParser()
        parser.diagnostics = lexer.diagnostics
        parser.run(nodes)
        return KeepalivedParseResult(config: parser.config, diagnostics: parser.diagnostics, sources: parser.sources)
    }

    /// Classifies a `vrrp_script` command: `killall -0 haproxy`, `pidof haproxy`, `pgrep haproxy`
    /// (absolute paths, quotes and `pgrep -x` allowed) test that haproxy is alive; anything else is unsupported.
    public static func classify(script: String) -> TrackCheck {
        let words = script.split(whereSeparator: { $0 == " " || $0 == "\t" })
            .map { String($0).trimmingQuotes() }
            .filter { !$0.isEmpty }
        guard let command = words.first else { return .unsupported(command: script) }
        let program = command.split(separator: "/").last.map(String.init) ?? command
        let args = Array(words.dropFirst())
        let targets = args.filter { !$0.hasPrefix("-") }
        let flags = args.filter { $0.hasPrefix("-") }
        guard targets.count == 1, targets[0].split(separator: "/").last == "haproxy" else {
            return .unsupported(command: script)
        }
        let allowed: Set<String>
        switch program {
        case "killall":
            guard flags.contains("-0") else { return .unsupported(command: script) }
            allowed = ["-0", "-e", "-q", "-w", "--exact", "--quiet"]
        case "pidof":
            allowed = ["-s", "-x", "-z", "-q"]
        case "pgrep":
            allowed = ["-x", "-f", "--exact", "-c", "--count", "-q"]
        default:
            return .unsupported(command: script)
        }
        guard flags.allSatisfy(allowed.contains) else { return .unsupported(command: script) }
        return .haproxyAlive
    }
}

extension String {
    fileprivate func trimmingQuotes() -> String {
        let set = "'\""
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

/// A place in a configuration file.
public struct SourceLine: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public var description: String { "\(file):\(line)" }
}

/// Where a keepalived.conf wrote each setting of its instances: `sources[instance][keyword]`, with
/// `virtual_ipaddress` and `unicast_peer` entries under `"virtual_ipaddress ADDRESS"` and
/// `"unicast_peer ADDRESS"`.
public struct KeepalivedSources: Hashable, Sendable {
    public var instances: [String: [String: SourceLine]] = [:]

    public init() {}

    public func line(_ instance: String, _ keyword: String) -> SourceLine? { instances[instance]?[keyword] }
}

/// A parsed keepalived.conf with its diagnostics and source lines.
public struct KeepalivedParseResult: Sendable {
    public var config: KeepalivedConfig
    public var diagnostics: Diagnostics
    public var sources: KeepalivedSources
}

struct ScriptRefSite {
    var instance: String
    var ref: TrackScriptRef
    var file: String
    var line: Int
}

struct KeepalivedParser {
    var diagnostics = Diagnostics()
    var config = KeepalivedConfig()
    var scriptRefs: [ScriptRefSite] = []
    var sources = KeepalivedSources()
    var instanceFiles: [String] = []

    mutating func warn(_ node: KeepalivedNode, _ message: String) { diagnostics.warn(node.file, node.line, message) }
    mutating func error(_ node: KeepalivedNode, _ message: String) { diagnostics.error(node.file, node.line, message) }

    /// A keyword outside what hadeck models: known to keepalived (a warning saying hadeck ignores it),
    /// or unknown (the warning keepalived itself gives).
    mutating func unknown(_ node: KeepalivedNode, in context: String, known: Set<String> = []) {
        if node.keyword.hasPrefix("\u{FEFF}") {
            let word = node.keyword.dropFirst()
            return warn(
                node,
                "the file starts with a UTF-8 byte order mark, which keepalived 2.2.7 reads as part of the first keyword: '\(word)' is then unknown to it and ignored, and so it is by hadeck; save the file without the mark"
            )
        }
        if known.contains(node.keyword) {
            warn(node, "'\(node.keyword)' in \(context) is not simulated by hadeck; ignored")
        } else {
            warn(node, "unknown keyword '\(node.keyword)' in \(context); ignored")
        }
    }

    mutating func run(_ nodes: [KeepalivedNode]) {
        for node in nodes {
            switch node.keyword {
            case "global_defs":
                guard let children = block(node) else { continue }
                for child in children { globalDef(child) }
            case "vrrp_script":
                script(node)
            case "vrrp_track_process":
                trackProcess(node)
            case "vrrp_instance":
                instance(node)
            default:
                if keepalivedRootKeywords.contains(node.keyword) {
                    warn(node, "'\(node.keyword)' is not simulated by hadeck; ignored")
                } else {
                    unknown(node, in: "the top level")
                }
            }
        }
        // Script names are resolved once the whole file is read, as keepalived does.
        let known = Set(config.scripts.map(\.name))
        for site in scriptRefs where !known.contains(site.ref.name) {
            diagnostics.error(
                site.file, site.line,
                "(\(site.instance)) track_script '\(site.ref.name)' not found: no vrrp_script or vrrp_track_process with that name"
            )
        }
        let names = config.instances.map(\.name)
        for (index, inst) in config.instances.enumerated() where names[..<index].contains(inst.name) {
            diagnostics.error(instanceFiles[index], inst.line, "vrrp_instance '\(inst.name)' is defined twice")
        }
    }

    /// The children of a block node; reports a missing block.
    mutating func block(_ node: KeepalivedNode) -> [KeepalivedNode]? {
        guard let children = node.children else {
            error(node, "'\(node.keyword)' expects a '{' block")
            return nil
        }
        return children
    }

    func arg(_ node: KeepalivedNode) -> String? { node.args.first }

    mutating func needArg(_ node: KeepalivedNode, _ context: String) -> String? {
        guard let value = node.args.first else {
            error(node, "\(context)'\(node.keyword)' expects a value")
            return nil
        }
        return value
    }

    mutating func unsigned(_ node: KeepalivedNode, _ context: String, _ range: ClosedRange<Int>) -> Int? {
        guard let text = needArg(node, context) else { return nil }
        guard let v = Int(text), range.contains(v) else {
            error(
                node,
                "\(context)'\(node.keyword)' value '\(text)' is invalid (must be between \(range.lowerBound) and \(range.upperBound))"
            )
            return nil
        }
        return v
    }

    // MARK: global_defs

    mutating func globalDef(_ node: KeepalivedNode) {
        let ctx = "global_defs: "
        switch node.keyword {
        case "router_id":
            if let v = needArg(node, ctx) { config.globals.routerID = v }
        case "vrrp_garp_master_delay":
            if let v = unsigned(node, ctx, 0...86_400) { config.globals.garpMasterDelay = .seconds(Int64(v)) }
        case "vrrp_garp_master_repeat":
            if let v = unsigned(node, ctx, 1...1_000_000) { config.globals.garpMasterRepeat = v }
        case "vrrp_garp_master_refresh":
            if let v = unsigned(node, ctx, 0...86_400) {
                config.globals.garpMasterRefresh = v == 0 ? nil : .seconds(Int64(v))
            }
        case "vrrp_garp_master_refresh_repeat":
            if let v = unsigned(node, ctx, 1...1_000_000) { config.globals.garpMasterRefreshRepeat = v }
        case "vrrp_notify_fifo", "notify_fifo":
            if let v = needArg(node, ctx) { config.globals.notifyFIFO = v }
        case "vrrp_notify_priority_changes":
            // keepalived: no value, or true/yes/on (false/no/off turn it off).
            config.globals.notifyPriorityChanges = !["false", "no", "off"].contains(node.args.first?.lowercased() ?? "")
        default:
            if keepalivedGlobalKeywords.contains(node.keyword) {
                warn(node, "global_defs keyword '\(node.keyword)' is not simulated by hadeck; ignored")
            } else {
                unknown(node, in: "global_defs")
            }
        }
    }

    // MARK: vrrp_script / vrrp_track_process

    mutating func scriptName(_ node: KeepalivedNode) -> String? {
        guard let name = node.args.first else {
            error(node, "'\(node.keyword)' expects a name")
            return nil
        }
        if config.script(named: name) != nil {
            error(node, "\(node.keyword) '\(name)' is defined twice")
            return nil
        }
        return name
    }

    mutating func scriptWeight(_ node: KeepalivedNode, _ ctx: String) -> Int? {
        guard let text = needArg(node, ctx) else { return nil }
        guard let v = Int(text), (-253...253).contains(v) else {
            error(node, "\(ctx)weight '\(text)' must be between -253 and 253")
            return nil
        }
        if node.args.count > 1 && node.args.dropFirst().first != "reverse" {
            warn(node, "\(ctx)extra arguments after the weight are ignored")
        } else if node.args.count > 1 {
            warn(node, "\(ctx)'reverse' weights are not simulated by hadeck; ignored")
        }
        return v
    }

    mutating func script(_ node: KeepalivedNode) {
        guard let name = scriptName(node), let children = block(node) else { return }
        let ctx = "vrrp_script \(name): "
        var entry = VRRPScriptConfig(name: name, check: .unsupported(command: ""), script: "")
        entry.line = node.line
        var scriptNode: KeepalivedNode? = nil
        for child in children {
            switch child.keyword {
            case "script":
                guard !child.args.isEmpty else {
                    error(child, "\(ctx)'script' expects a command")
                    continue
                }
                entry.script = child.args.joined(separator: " ")
                scriptNode = child
            case "interval":
                if let span = seconds(child, ctx, min: .milliseconds(1)) { entry.interval = span }
            case "timeout":
                if let span = seconds(child, ctx, min: .milliseconds(1)) { entry.timeout = span }
            case "weight":
                if let v = scriptWeight(child, ctx) { entry.weight = v }
            case "rise":
                if let v = unsigned(child, ctx, 1...1_000_000) { entry.rise = v }
            case "fall":
                if let v = unsigned(child, ctx, 1...1_000_000) { entry.fall = v }
            default:
                unknown(child, in: "vrrp_script \(name)", known: keepalivedScriptKeywords)
            }
        }
        entry.check = KeepalivedConfigParser.classify(script: entry.script)
        addChecker(entry, block: node, ctx, checkLine: scriptNode, keyword: "script")
    }

    mutating func trackProcess(_ node: KeepalivedNode) {
        guard let name = scriptName(node), let children = block(node) else { return }
        let ctx = "vrrp_track_process \(name): "
        var entry = VRRPScriptConfig(name: name, check: .unsupported(command: ""), script: "")
        entry.line = node.line
        var processNode: KeepalivedNode? = nil
        for child in children {
            switch child.keyword {
            case "process":
                guard !child.args.isEmpty else {
                    error(child, "\(ctx)'process' expects a process name")
                    continue
                }
                entry.script = "process " + child.args.joined(separator: " ")
                processNode = child
                let program = child.args.first!.split(separator: "/").last.map(String.init)
                entry.check = program == "haproxy" ? .haproxyAlive : .unsupported(command: entry.script)
            case "weight":
                if let v = scriptWeight(child, ctx) { entry.weight = v }
            case "delay":
                if let span = seconds(child, ctx, min: .zero) { entry.interval = span }
            default:
                unknown(child, in: "vrrp_track_process \(name)", known: keepalivedTrackProcessKeywords)
            }
        }
        addChecker(entry, block: node, ctx, checkLine: processNode, keyword: "process")
    }

    /// Ends a `vrrp_script` or `vrrp_track_process` block: without the `keyword` line saying what
    /// to check (`checkLine` nil) the block is an error and adds nothing; a check hadeck does not
    /// simulate is a warning on that line, and the checker is added all the same.
    mutating func addChecker(
        _ entry: VRRPScriptConfig, block node: KeepalivedNode, _ ctx: String, checkLine: KeepalivedNode?,
        keyword: String
    ) {
        guard let checkLine else {
            error(node, "\(ctx)no '\(keyword)' given")
            return
        }
        if case .unsupported = entry.check {
            warn(checkLine, "script \"\(entry.script)\" is not simulated; hadeck treats it as always succeeding")
        }
        config.scripts.append(entry)
    }

    /// A decimal number of seconds (`2`, `0.5`).
    mutating func seconds(_ node: KeepalivedNode, _ ctx: String, min: TimeSpan) -> TimeSpan? {
        guard let text = needArg(node, ctx) else { return nil }
        guard let span = DecimalSeconds.parse(text), span >= min else {
            error(node, "\(ctx)'\(node.keyword)' value '\(text)' is not a valid number of seconds")
            return nil
        }
        return span
    }
}
