import BalancerCore
import HadeckBase
import VRRPCore

// `vrrp_instance` blocks (keepalived/vrrp/vrrp_parser.c).

extension KeepalivedParser {
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

        var family: Int? = nil
        record(name, "vrrp_instance", node)
        for child in children {
            record(name, child.keyword, child)
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
                inst.virtualIPAddresses += addresses(entries, of: "virtual_ipaddress", name, ctx, &family)
            case "virtual_ipaddress_excluded", "virtual_routes", "virtual_rules":
                warn(child, "\(ctx)'\(child.keyword)' is not simulated by hadeck; ignored")
            case "unicast_src_ip":
                guard let v = needArg(child, ctx) else { continue }
                let probe = KeepalivedNode(file: child.file, line: child.line, words: [v])
                if checkAddress(probe, what: "unicast_src_ip", ctx, &family, prefix: false) { inst.unicastSourceIP = v }
            case "unicast_peer":
                guard let entries = block(child) else { continue }
                inst.unicastPeers += addresses(entries, of: "unicast_peer", name, ctx, &family)
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
                unknown(child, in: "vrrp_instance \(name)", known: keepalivedInstanceKeywords)
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

    /// Notes where `keyword` of instance `name` was written (the first time).
    mutating func record(_ name: String, _ keyword: String, _ node: KeepalivedNode) {
        if sources.instances[name]?[keyword] == nil {
            sources.instances[name, default: [:]][keyword] = SourceLine(file: node.file, line: node.line)
        }
    }

    /// The valid addresses of a `virtual_ipaddress` or `unicast_peer` block, recorded for the drift
    /// check; their options (`dev eth0`, `min_ttl 1`) are named in one warning, their values not.
    mutating func addresses(
        _ entries: [KeepalivedNode], of block: String, _ instance: String, _ ctx: String, _ family: inout Int?
    ) -> [String] {
        let flags: Set<String> = ["no_track", "home", "-home", "nodad", "noprefixroute", "autojoin"]
        var out: [String] = []
        for entry in entries {
            guard checkAddress(entry, what: block, ctx, &family, prefix: block == "virtual_ipaddress") else { continue }
            record(instance, "\(block) \(entry.keyword)", entry)
            out.append(entry.keyword)
            var options: [String] = []
            var rest = entry.args[...]
            while let option = rest.popFirst() {
                options.append("'\(option)'")
                if !flags.contains(option) { _ = rest.popFirst() }
            }
            if !options.isEmpty {
                warn(
                    entry,
                    "\(ctx)\(block): \(options.joined(separator: ", ")) \(options.count == 1 ? "is" : "are") not simulated by hadeck; ignored"
                )
            }
        }
        return out
    }

    /// Checks an address as keepalived does for VIPs (`ADDRESS[/PREFIX]`), unicast peers and the
    /// unicast source: an invalid address or one of the other family is an error, in keepalived's words.
    mutating func checkAddress(
        _ entry: KeepalivedNode, what: String, _ ctx: String, _ family: inout Int?, prefix: Bool
    ) -> Bool {
        let text = entry.keyword
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let keepalivedSays: String
        switch what {
        case "virtual_ipaddress": keepalivedSays = "VRRP parsed invalid IP \(text). skipping IP..."
        case "unicast_peer":
            keepalivedSays =
                "Configuration error: VRRP instance[\(ctx.dropFirst().dropLast(2))] malformed unicast peer address[\(text)]. Skipping..."
        default:
            keepalivedSays =
                "Configuration error: VRRP instance[\(ctx.dropFirst().dropLast(2))] malformed src address[\(text)]. Skipping..."
        }
        guard let address = parts.first.flatMap({ IPAddress($0) }), prefix || parts.count == 1 else {
            error(entry, "\(ctx)\(what) '\(text)' is not an IP address (keepalived: \"\(keepalivedSays)\")")
            return false
        }
        let bits = address.bytes.count * 8
        if parts.count == 2, !(Int(parts[1]).map { (0...bits).contains($0) } ?? false) {
            warn(entry, "\(ctx)Invalid address prefix len \(parts[1]) for address \(text) - using \(bits)")
        }
        if let f = family, f != bits {
            error(entry, "\(ctx)address family must match VRRP instance [\(text)] - ignoring")
            return false
        }
        family = bits
        return true
    }

    mutating func authentication(
        _ node: KeepalivedNode, _ entries: [KeepalivedNode], _ ctx: String, _ inst: inout VRRPInstanceConfig
    ) {
        var type: VRRPAuthentication.AuthType? = nil
        var pass: String? = nil
        for entry in entries {
            record(inst.name, entry.keyword, entry)
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
