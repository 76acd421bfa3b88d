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
    public static func parse(text: String, file: String, includeLoader: KeepalivedIncludeLoader? = nil) -> (
        config: KeepalivedConfig, diagnostics: Diagnostics
    ) {
        var lexer = KeepalivedLexer(includeLoader: includeLoader)
        let nodes = lexer.parse(text: text, file: file)
        var parser = KeepalivedParser()
        parser.diagnostics = lexer.diagnostics
        parser.run(nodes)
        return (parser.config, parser.diagnostics)
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

private struct ScriptRefSite {
    var instance: String
    var ref: TrackScriptRef
    var file: String
    var line: Int
}

private struct KeepalivedParser {
    var diagnostics = Diagnostics()
    var config = KeepalivedConfig()
    var scriptRefs: [ScriptRefSite] = []

    mutating func warn(_ node: KeepalivedNode, _ message: String) { diagnostics.warn(node.file, node.line, message) }
    mutating func error(_ node: KeepalivedNode, _ message: String) { diagnostics.error(node.file, node.line, message) }

    mutating func unknown(_ node: KeepalivedNode, in context: String) {
        warn(node, "unknown keyword '\(node.keyword)' in \(context); ignored")
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
            case "vrrp_sync_group", "virtual_server", "virtual_server_group", "static_ipaddress", "static_routes",
                "static_rules", "vrrp_track_file", "track_file", "bfd_instance", "linkbeat_interfaces", "garp_group":
                warn(node, "'\(node.keyword)' is not simulated by hadeck; ignored")
            default:
                unknown(node, in: "the top level")
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
            warn(node, "global_defs keyword '\(node.keyword)' is not simulated by hadeck; ignored")
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
            case "user", "init_fail":
                warn(child, "\(ctx)'\(child.keyword)' is not simulated by hadeck; ignored")
            default:
                unknown(child, in: "vrrp_script \(name)")
            }
        }
        guard let scriptNode else {
            error(node, "\(ctx)no 'script' given")
            return
        }
        entry.check = KeepalivedConfigParser.classify(script: entry.script)
        if case .unsupported = entry.check {
            warn(scriptNode, "script \"\(entry.script)\" is not simulated; hadeck treats it as always succeeding")
        }
        config.scripts.append(entry)
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
            case "quorum", "quorum_max", "param_match", "full_command", "fork_delay", "terminate_delay":
                warn(child, "\(ctx)'\(child.keyword)' is not simulated by hadeck; ignored")
            default:
                unknown(child, in: "vrrp_track_process \(name)")
            }
        }
        guard let processNode else {
            error(node, "\(ctx)no 'process' given")
            return
        }
        if case .unsupported = entry.check {
            warn(processNode, "script \"\(entry.script)\" is not simulated; hadeck treats it as always succeeding")
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

    // MARK: vrrp_instance

    mutating func instance(_ node: KeepalivedNode) {
        guard let name = node.args.first else {
            error(node, "'vrrp_instance' expects a name")
            return
        }
        guard let children = block(node) else { return }
        let ctx = "(\(name)) "
        var inst = VRRPInstanceConfig(name: name, virtualRouterID: 0)
        inst.line = node.line
        var vridSet = false
        var advertNode: KeepalivedNode? = nil
        var advertText = ""
        var advertSpan: TimeSpan? = nil
        var nopreemptNode: KeepalivedNode? = nil
        var preemptDelayNode: KeepalivedNode? = nil

        for child in children {
            switch child.keyword {
            case "state":
                guard let v = needArg(child, ctx) else { continue }
                if let state = VRRPInstanceConfig.InitialState(rawValue: v) {
                    inst.initialState = state
                } else {
                    warn(child, "\(ctx)unknown state '\(v)', defaulting to BACKUP")
                    inst.initialState = .backup
                }
            case "interface":
                if let v = needArg(child, ctx) { inst.interface = v }
            case "virtual_router_id":
                guard let text = needArg(child, ctx) else { continue }
                if let v = Int(text), (1...255).contains(v) {
                    inst.virtualRouterID = v
                    vridSet = true
                } else {
                    error(child, "\(ctx)VRID '\(text)' not valid - must be between 1 & 255")
                    vridSet = true
                }
            case "priority":
                guard let text = needArg(child, ctx) else { continue }
                if let v = Int(text), (1...255).contains(v) {
                    inst.priority = v
                } else {
                    error(child, "\(ctx)Priority '\(text)' not valid! must be between 1 & 255")
                }
            case "advert_int":
                guard let text = needArg(child, ctx) else { continue }
                advertNode = child
                advertText = text
                if let span = DecimalSeconds.parse(text), span > .zero {
                    advertSpan = span
                } else {
                    error(child, "\(ctx)Advert interval (\(text)) not valid! Must be > 0")
                }
            case "version":
                guard let text = needArg(child, ctx) else { continue }
                if text == "2" || text == "3" {
                    inst.version = Int(text)!
                } else {
                    error(child, "\(ctx)Version '\(text)' not valid: must be either 2 or 3")
                }
            case "nopreempt":
                inst.nopreempt = true
                nopreemptNode = child
            case "preempt":
                inst.nopreempt = false
                nopreemptNode = nil
            case "preempt_delay":
                guard let text = needArg(child, ctx) else { continue }
                if let span = DecimalSeconds.parse(text), span <= .seconds(1000) {
                    inst.preemptDelay = span
                    preemptDelayNode = child
                } else {
                    error(child, "\(ctx)Preempt_delay '\(text)' not valid! must be between 0-1000")
                }
            case "virtual_ipaddress":
                guard let entries = block(child) else { continue }
                for entry in entries {
                    inst.virtualIPAddresses.append(entry.keyword)
                    if entry.words.count > 1 {
                        warn(
                            entry,
                            "\(ctx)virtual_ipaddress options '\(entry.args.joined(separator: " "))' are not simulated by hadeck; ignored"
                        )
                    }
                }
            case "virtual_ipaddress_excluded", "virtual_routes", "virtual_rules":
                warn(child, "\(ctx)'\(child.keyword)' is not simulated by hadeck; ignored")
            case "unicast_src_ip":
                if let v = needArg(child, ctx) { inst.unicastSourceIP = v }
            case "unicast_peer":
                guard let entries = block(child) else { continue }
                for entry in entries {
                    inst.unicastPeers.append(entry.keyword)
                    if entry.words.count > 1 {
                        warn(
                            entry,
                            "\(ctx)unicast_peer options '\(entry.args.joined(separator: " "))' are not simulated by hadeck; ignored"
                        )
                    }
                }
            case "authentication":
                guard let entries = block(child) else { continue }
                authentication(child, entries, ctx, &inst)
            case "track_script":
                guard let entries = block(child) else { continue }
                for entry in entries {
                    var ref = TrackScriptRef(name: entry.keyword)
                    if entry.words.count >= 2 {
                        if entry.words[1] == "weight", entry.words.count >= 3 {
                            let weightNode = KeepalivedNode(
                                file: entry.file, line: entry.line, words: Array(entry.words.dropFirst()))
                            guard let w = scriptWeight(weightNode, "\(ctx)track_script \(entry.keyword): ") else {
                                continue
                            }
                            ref.weight = w
                        } else {
                            error(entry, "\(ctx)track_script \(entry.keyword): expected 'weight W' after the name")
                            continue
                        }
                    }
                    inst.trackScripts.append(ref)
                    scriptRefs.append(ScriptRefSite(instance: name, ref: ref, file: entry.file, line: entry.line))
                }
            case "track_interface":
                guard let entries = block(child) else { continue }
                for entry in entries {
                    inst.trackInterfaces.append(entry.keyword)
                    if entry.words.count > 1 {
                        warn(
                            entry,
                            "\(ctx)track_interface weights are not simulated by hadeck; a tracked interface going down always means FAULT"
                        )
                    }
                }
            case "down_timer_adverts":
                if let v = unsigned(child, ctx, 1...100) { inst.downTimerAdverts = v }
            case "garp_master_delay":
                if let v = unsigned(child, ctx, 0...86_400) { inst.garpMasterDelay = .seconds(Int64(v)) }
            case "garp_master_repeat":
                if let v = unsigned(child, ctx, 1...1_000_000) { inst.garpMasterRepeat = v }
            case "garp_master_refresh":
                if let v = unsigned(child, ctx, 0...86_400) { inst.garpMasterRefresh = .seconds(Int64(v)) }
            case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
                guard !child.args.isEmpty else {
                    error(child, "\(ctx)'\(child.keyword)' expects a script")
                    continue
                }
                if inst.notify[child.keyword] != nil {
                    warn(
                        child,
                        "\(ctx)\(child.keyword) script already specified - ignoring \(child.args.joined(separator: " "))"
                    )
                } else {
                    inst.notify[child.keyword] = child.args.joined(separator: " ")
                }
            default:
                unknown(child, in: "vrrp_instance \(name)")
            }
        }

        if !vridSet {
            error(node, "\(ctx)the virtual router id must be set")
        }
        if let span = advertSpan, let advertNode {
            if inst.version == 2 {
                if span.micros % 1_000_000 != 0 || span < .seconds(1) || span > .seconds(255) {
                    error(
                        advertNode,
                        "\(ctx)advert_int '\(advertText)' not valid for VRRP version 2: must be a whole number of seconds between 1 and 255"
                    )
                } else {
                    inst.advertInterval = span
                }
            } else {
                if span.micros % 10_000 != 0 || span < .milliseconds(10) || span > .milliseconds(40_950) {
                    error(
                        advertNode,
                        "\(ctx)advert_int '\(advertText)' not valid for VRRP version 3: must be between 0.01 and 40.95 seconds in steps of 0.01"
                    )
                } else {
                    inst.advertInterval = span
                }
            }
        }
        if inst.priority == 255, inst.nopreempt, let nopreemptNode {
            warn(nopreemptNode, "\(ctx)nopreempt is incompatible with priority 255 - resetting nopreempt")
            inst.nopreempt = false
        }
        if inst.initialState == .master {
            if inst.nopreempt, let nopreemptNode {
                warn(nopreemptNode, "\(ctx)Warning - nopreempt will not work with initial state MASTER - clearing")
                inst.nopreempt = false
            }
            if inst.preemptDelay > .zero, let preemptDelayNode {
                warn(
                    preemptDelayNode, "\(ctx)Warning - preempt delay will not work with initial state MASTER - clearing"
                )
                inst.preemptDelay = .zero
            }
        }
        if inst.nopreempt, inst.preemptDelay > .zero, let preemptDelayNode {
            warn(preemptDelayNode, "\(ctx)preempt_delay is incompatible with nopreempt mode - resetting")
            inst.preemptDelay = .zero
        }
        if inst.unicastSourceIP != nil && inst.unicastPeers.isEmpty {
            warn(node, "\(ctx)unicast_src_ip is set but there is no unicast_peer; adverts go to multicast")
        }
        if inst.virtualIPAddresses.isEmpty {
            warn(node, "\(ctx)no virtual_ipaddress configured")
        }
        instanceFiles.append(node.file)
        config.instances.append(inst)
    }

    var instanceFiles: [String] = []

    mutating func authentication(
        _ node: KeepalivedNode, _ entries: [KeepalivedNode], _ ctx: String, _ inst: inout VRRPInstanceConfig
    ) {
        var type: VRRPAuthentication.AuthType? = nil
        var pass: String? = nil
        for entry in entries {
            switch entry.keyword {
            case "auth_type":
                guard let v = needArg(entry, ctx) else { continue }
                guard let t = VRRPAuthentication.AuthType(rawValue: v) else {
                    error(entry, "\(ctx)unknown authentication type '\(v)' (expected PASS or AH)")
                    continue
                }
                type = t
            case "auth_pass":
                guard let v = needArg(entry, ctx) else { continue }
                if v.count > 8 {
                    warn(entry, "\(ctx)Truncating auth_pass to 8 characters")
                }
                pass = v
            default:
                unknown(entry, in: "authentication")
            }
        }
        guard let type else {
            warn(node, "\(ctx)authentication block without auth_type; no authentication is used")
            return
        }
        if type == .ah {
            warn(node, "\(ctx)AH authentication is not simulated by hadeck; it is treated like PASS")
        }
        inst.authentication = VRRPAuthentication(type: type, password: pass ?? "")
    }
}
