import BalancerCore
import HadeckBase

// `log` targets (src/log.c parse_logsrv()) and `cookie` (src/cfgparse-listen.c).

private let logFacilities: Set<String> = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "auth2", "ftp", "ntp",
    "audit", "alert", "cron2", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
]
private let logLevels: Set<String> = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]
extension HAProxyParser {
    // MARK: log

    mutating func parseLog(_ w: [String], _ n: Int, negated: Bool, global: Bool) {
        var settings = ProxySettings()
        settings.logTargets = config.global.logTargets
        parseLog(w, n, negated: negated, settings: &settings, global: true)
        config.global.logTargets = settings.logTargets
    }

    mutating func parseLog(_ w: [String], _ n: Int, negated: Bool, settings: inout ProxySettings, global: Bool = false)
    {
        if negated {
            guard w.count == 1 else { return error(n, "log : 'no log' does not expect arguments") }
            settings.logTargets = []
            settings.logGlobal = false
            return
        }
        if w.count == 2, w[1] == "global" {
            if global { return error(n, "log : 'global' is not supported for a global syslog server") }
            for target in config.global.logTargets where !settings.logTargets.contains(target) {
                settings.logTargets.append(target)
            }
            settings.logGlobal = true
            return
        }
        guard w.count >= 3 else {
            return error(n, "log : expects <address> and <facility> \(global ? "" : "or global") as arguments")
        }
        var i = 2
        while i < w.count, ["len", "format", "sample"].contains(w[i]) {
            guard i + 1 < w.count else { return error(n, "log : expects <address> and <facility> as arguments") }
            if w[i] == "len", !(80...65535).contains(atol(w[i + 1])) {
                return error(n, "log : invalid log length '\(w[i + 1])', must be between 80 and 65535")
            }
            if w[i] == "format",
                !["local", "rfc3164", "rfc5424", "priority", "short", "timed", "iso", "raw"].contains(w[i + 1])
            {
                return error(n, "log : unknown log format '\(w[i + 1])'")
            }
            i += 2
        }
        guard i < w.count, logFacilities.contains(w[i]) else {
            return error(n, "log : unknown log facility '\(i < w.count ? w[i] : "")'")
        }
        var target = LogTarget(address: w[1], facility: w[i])
        target.line = n
        if i + 1 < w.count {
            guard logLevels.contains(w[i + 1]) else {
                return error(n, "log : unknown optional log level '\(w[i + 1])'")
            }
            target.level = w[i + 1]
        }
        if i + 2 < w.count {
            guard logLevels.contains(w[i + 2]) else {
                return error(n, "log : unknown optional minimum log level '\(w[i + 2])'")
            }
            target.minimumLevel = w[i + 2]
        }
        if !logAddressLooksValid(w[1]) {
            warn(
                n,
                "log : '\(w[1])' is a host name: HAProxy resolves it when it starts and refuses the file if it cannot")
        }
        settings.logTargets.append(target)
    }

    func logAddressLooksValid(_ address: String) -> Bool {
        if address.hasPrefix("/") || address.contains("@") || address == "stdout" || address == "stderr" { return true }
        var host = address
        if let colon = address.lastIndex(of: ":"), IPAddress(address) == nil { host = String(address[..<colon]) }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty || host == "*" || IPAddress(host) != nil
    }

    // MARK: cookie

    mutating func parseCookie(_ w: [String], _ n: Int) -> CookieConfig? {
        guard w.count >= 2 else {
            error(n, "'cookie' expects <cookie_name> as argument")
            return nil
        }
        var mode: CookieConfig.Mode? = nil
        var cookie = CookieConfig(name: w[1], mode: .insert)
        var i = 2
        while i < w.count {
            let key = w[i]
            switch key {
            case "insert", "prefix", "rewrite":
                let newMode = CookieConfig.Mode(rawValue: key)!
                if let existing = mode, existing != newMode {
                    error(n, "'cookie': '\(existing.rawValue)' and '\(key)' modes are mutually exclusive")
                    return nil
                }
                mode = newMode
            case "indirect": cookie.indirect = true
            case "nocache": cookie.nocache = true
            case "preserve": cookie.preserve = true
            case "httponly": cookie.httponly = true
            case "secure": cookie.secure = true
            case "postonly": cookie.postonly = true
            case "domain":
                guard i + 1 < w.count else {
                    error(n, "'cookie': 'domain' expects a domain name")
                    return nil
                }
                let domain = w[i + 1]
                if !domain.hasPrefix(".") || !domain.dropFirst().contains(".") {
                    warn(
                        n,
                        "'cookie': domain '\(domain)' contains no embedded dot nor does not start with a dot; browsers may ignore it"
                    )
                }
                cookie.domains.append(domain)
                i += 1
            case "maxidle", "maxlife":
                guard i + 1 < w.count else {
                    error(n, "'cookie': '\(key)' expects a time value")
                    return nil
                }
                switch HAProxyTime.parse(w[i + 1], defaultUnit: .seconds) {
                case .success(let span):
                    if key == "maxidle" { cookie.maxidle = span } else { cookie.maxlife = span }
                case .failure(let problem):
                    error(n, "'cookie': '\(key)': \(problem.message)")
                    return nil
                }
                i += 1
            case "dynamic":
                warn(n, "'cookie': option 'dynamic' is not simulated by hadeck; ignored")
            case "attr":
                warn(n, "'cookie': option 'attr' is not simulated by hadeck; ignored")
                i += 1
            default:
                error(
                    n,
                    "'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'maxlife', 'dynamic', 'attr', 'preserve', 'httponly' and 'secure' options (got '\(key)')"
                )
                return nil
            }
            i += 1
        }
        if let mode {
            cookie.mode = mode
        } else {
            warn(
                n,
                "'cookie \(cookie.name)' has no mode ('insert', 'prefix' or 'rewrite'); hadeck treats it as 'rewrite'")
            cookie.mode = .rewrite
        }
        if cookie.preserve && cookie.mode != .insert {
            warn(n, "'cookie': 'preserve' only makes sense with 'insert'")
        }
        return cookie
    }
}
