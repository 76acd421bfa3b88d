import BalancerCore
import HadeckBase
import NIOCore
import NIOHTTP1

/// A response the balancer produces itself (stats page, CSV, metrics, admin redirect).
struct LocalResponse {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: String
    /// For the request record: why the balancer answered.
    var reason: String
}

/// `&`, `<`, `>`, `"` and `'` escaped for HTML text and attribute values.
func htmlEscape(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}

/// Decodes `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte).
func formDecode(_ s: Substring) -> String {
    var bytes: [UInt8] = []
    var it = Array(s.utf8)[...]
    while let b = it.popFirst() {
        if b == UInt8(ascii: "+") {
            bytes.append(32)
        } else if b == UInt8(ascii: "%"), it.count >= 2,
            let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16)
        {
            bytes.append(v)
            it = it.dropFirst(2)
        } else {
            bytes.append(b)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// HAProxy's human_time(): `2m16s`, `1h02m`, `3d4h` (two units at most).
func humanTime(_ seconds: Int64) -> String {
    let s = max(0, seconds)
    if s >= 86400 { return "\(s / 86400)d\((s % 86400) / 3600)h" }
    if s >= 3600 { return "\(s / 3600)h\((s % 3600) / 60)m" }
    if s >= 60 { return "\(s / 60)m\(s % 60)s" }
    return "\(s)s"
}

/// The messages of the stats page's `;st=` codes, as HAProxy 2.6 words them.
let statsPageStatusMessages: [String: (cls: String, text: String)] = [
    "DONE": ("active_up", "Action processed successfully."),
    "NONE": ("active_going_down", "Nothing has changed."),
    "PART": ("active_going_down", "Action not processed for all servers."),
    "ERRP": ("active_down", "Action not processed because of invalid parameters."),
    "DENY": ("active_down", "Action denied."),
    "UNKN": ("active_down", "Unexpected result."),
]

extension ServerSnapshot {
    /// HAProxy's CSS class for a server row (`active_up`, `maintain`, `backup_going_down`...).
    var statsPageClass: String {
        if adminState == .maint { return "maintain" }
        let side = backup ? "backup" : "active"
        if !checked && operationalState != .stopped {
            return adminState == .drain ? "\(side)_draining" : "\(side)_no_check"
        }
        switch operationalState {
        case .stopped: return health > 0 && checked ? "\(side)_going_up" : "\(side)_down"
        case .stopping: return "\(side)_nolb"
        case .running, .starting:
            if adminState == .drain { return "\(side)_draining" }
            return checked && health < rise + fall - 1 ? "\(side)_going_down" : "\(side)_up"
        }
    }
}

extension BalancerState {
    /// Answers a request for the stats page (`uri`, `uri;csv`, a POST of the admin form) or `/metrics`.
    func localResponse(
        uri: String, method: String, body: ByteBuffer?, page: StatsPageConfig, counters: RequestCounters
    ) -> LocalResponse {
        counters.frontend.intercepted += 1
        let now = clock.now()
        var headers = HTTPHeaders()
        headers.add(name: "Cache-Control", value: "no-cache")
        let path = uri.prefix { $0 != "?" }
        if !uri.hasPrefix(page.uri) && path == "/metrics" {
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            return LocalResponse(
                status: .ok, headers: headers, body: prometheusText(now: now), reason: "metrics served by the balancer")
        }
        let options = uri.dropFirst(page.uri.count).split(separator: ";").map(String.init)
        if method == "POST" {
            let code = page.admin ? adminPost(body: body, page: page) : "DENY"
            headers.add(name: "Content-Type", value: "text/plain")
            headers.add(name: "Location", value: page.uri + ";st=" + code)
            return LocalResponse(
                status: .seeOther, headers: headers, body: "", reason: "stats page admin action: \(code)")
        }
        let refresh = options.contains("norefresh") ? nil : page.refresh
        if let refresh { headers.add(name: "Refresh", value: String(max(1, refresh.micros / 1_000_000))) }
        if options.contains("csv") {
            headers.add(name: "Content-Type", value: "text/plain")
            return LocalResponse(
                status: .ok, headers: headers, body: statCSV(now: now), reason: "stats CSV served by the balancer")
        }
        headers.add(name: "Content-Type", value: "text/html; charset=utf-8")
        let status = options.first { $0.hasPrefix("st=") }.map { String($0.dropFirst(3)) }
        return LocalResponse(
            status: .ok, headers: headers, body: statsHTML(page: page, status: status, refresh: refresh, now: now),
            reason: "stats page served by the balancer")
    }

    /// Applies the admin form (`s=webA&s=webB&action=maint&b=#2`) and returns the `st=` code.
    func adminPost(body: ByteBuffer?, page: StatsPageConfig) -> String {
        let text = body.map { String(decoding: $0.readableBytesView, as: UTF8.self) } ?? ""
        var servers: [String] = []
        var action = ""
        var backendRef = ""
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = formDecode(parts[0])
            let value = parts.count > 1 ? formDecode(parts[1]) : ""
            switch key {
            case "s": servers.append(value)
            case "action": action = value
            case "b": backendRef = value
            default: break
            }
        }
        let proxy =
            backendRef.hasPrefix("#")
            ? proxies.first { String($0.iid) == backendRef.dropFirst() } : proxies.first { $0.name == backendRef }
        guard let proxy, let index = proxy.backendIndex else { return "ERRP" }
        let adminAction: AdminAction
        switch action {
        case "ready": adminAction = .state(.ready)
        case "drain": adminAction = .state(.drain)
        case "maint": adminAction = .state(.maint)
        default: return "ERRP"
        }
        if servers.isEmpty { return "NONE" }
        let name = backends[index].name
        var done = 0
        for server in servers {
            let command = "POST action=\(action) s=\(server) b=\(backendRef)"
            if (try? applyAdmin(
                backend: name, server: server, action: adminAction, source: .statsPage, level: .admin,
                command: command)) != nil
            {
                done += 1
            }
        }
        return done == servers.count ? "DONE" : (done == 0 ? "ERRP" : "PART")
    }

    // MARK: HTML

    private static let css = """
        body { font-family: arial, helvetica, sans-serif; font-size: 12px; font-weight: normal; color: black; background: white;}
        th,td { font-size: 10px;}
        h1 { font-size: x-large; margin-bottom: 0.5em;}
        h2 { font-family: helvetica, arial; font-size: x-large; font-weight: bold; font-style: italic; color: #6020a0; margin-top: 0em; margin-bottom: 0em;}
        h3 { font-family: helvetica, arial; font-size: 16px; font-weight: bold; color: #b00040; background: #e8e8d0; margin-top: 0em; margin-bottom: 0em;}
        .hr {margin-top: 0.25em; border-color: black; border-bottom-style: solid;}
        .titre {background: #20D0D0;color: #000000; font-weight: bold; text-align: center;}
        .frontend {background: #e8e8d0;}
        .backend {background: #e8e8d0;}
        .active_down {background: #ff9090;}
        .active_going_up {background: #ffd020;}
        .active_going_down {background: #ffffa0;}
        .active_up {background: #c0ffc0;}
        .active_nolb {background: #20a0ff;}
        .active_draining {background: #20a0FF;}
        .active_no_check {background: #e0e0e0;}
        .backup_down {background: #ff9090;}
        .backup_going_up {background: #ff80ff;}
        .backup_going_down {background: #c060ff;}
        .backup_up {background: #b0d0ff;}
        .backup_nolb {background: #90b0e0;}
        .backup_draining {background: #cc9900;}
        .backup_no_check {background: #e0e0e0;}
        .maintain {background: #c07820;}
        a.px:link {color: #ffff40; text-decoration: none;} a.px:visited {color: #ffff40; text-decoration: none;}
        a.lfsb:link {color: #000000; text-decoration: none;} a.lfsb:visited {color: #000000; text-decoration: none;}
        table.tbl { border-collapse: collapse; border-style: none;}
        table.tbl td { text-align: right; border-width: 1px 1px 1px 1px; border-style: solid solid solid solid; padding: 2px 3px; border-color: gray; white-space: nowrap;}
        table.tbl td.ac { text-align: center;}
        table.tbl th { border-width: 1px; border-style: solid solid solid solid; border-color: gray;}
        table.tbl th.pxname { background: #b00040; color: #ffff40; font-weight: bold; border-style: solid solid none solid; padding: 2px 3px; white-space: nowrap;}
        table.tbl th.empty { border-style: none; empty-cells: hide; background: white;}
        table.lgd { border-collapse: collapse; border-width: 1px; border-style: none none none solid; border-color: black;}
        table.lgd td { border-width: 1px; border-style: solid solid solid solid; border-color: gray; padding: 2px;}
        table.lgd td.noborder { border-style: none; padding: 2px; white-space: nowrap;}
        """

    /// The HTML stats page: process information, then one table per proxy, with stable ids and
    /// `data-*` attributes on the cells a script or a test reads.
    func statsHTML(page: StatsPageConfig, status: String?, refresh: TimeSpan?, now: Instant) -> String {
        let e = htmlEscape
        let up = uptimeSeconds(now: now)
        var h = "<!DOCTYPE html>\n<html>\n<head>\n"
        h += "<title>Statistics Report for pid \(pid) on \(e(node))</title>\n"
        h += "<meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\">\n"
        if let refresh { h += "<meta http-equiv=\"refresh\" content=\"\(max(1, refresh.micros / 1_000_000))\">\n" }
        h += "<style type=\"text/css\">\n\(Self.css)\n</style>\n</head>\n<body>\n"
        h += "<h1>hadeck balancer <span id=\"balancer\">\(e(name))</span>, "
        h += "HAProxy <span id=\"version\">\(hadeckStatsVersion)</span> semantics</h1>\n"
        h +=
            "<h2>Statistics Report for pid <span id=\"pid\">\(pid)</span> on <span id=\"node\">\(e(node))</span></h2>\n"
        h += "<hr width=\"100%\" class=\"hr\">\n<h3>&gt; General process information</h3>\n"
        h += "<table border=0><tr><td align=\"left\" nowrap width=\"1%\" id=\"process-info\"><p>\n"
        h += "<b>pid = </b> \(pid) (process #1, nbproc = 1, nbthread = 1)<br>\n"
        h += "<b>uptime = </b> <span id=\"uptime\">\(Self.uptimeText(up))</span><br>\n"
        h += "<b>maxconn = </b> \(config.global.maxconn.map(String.init) ?? "unlimited")<br>\n"
        h += "current conns = \(clients.count); current pipes = 0/0<br>\n"
        h += "</td><td align=\"center\" nowrap>\n<table class=\"lgd\">\n"
        let legend: [(String, String)] = [
            ("active_up", "active UP"), ("backup_up", "backup UP"),
            ("active_going_down", "active UP, going down"), ("backup_going_down", "backup UP, going down"),
            ("active_going_up", "active DOWN, going up"), ("backup_going_up", "backup DOWN, going up"),
            ("active_down", "active or backup DOWN"), ("active_no_check", "not checked"),
            ("maintain", "active or backup DOWN for maintenance (MAINT)"),
            ("active_draining", "active or backup SOFT STOPPED for maintenance"),
        ]
        for i in stride(from: 0, to: legend.count, by: 2) {
            h += "<tr><td class=\"\(legend[i].0)\">&nbsp;</td><td class=\"noborder\">\(legend[i].1)</td>"
            h += "<td class=\"\(legend[i + 1].0)\">&nbsp;</td><td class=\"noborder\">\(legend[i + 1].1)</td></tr>\n"
        }
        h += "</table>\nNote: \"NOLB\"/\"DRAIN\" = UP with load-balancing disabled.</td>\n"
        h += "<td align=\"left\" valign=\"top\" nowrap width=\"1%\"><b>Display option:</b><ul>\n"
        h += "<li><a href=\"\(e(page.uri));norefresh\">Disable refresh</a><br>\n"
        h += "<li><a href=\"\(e(page.uri))\">Refresh now</a><br>\n"
        h += "<li><a href=\"\(e(page.uri));csv;norefresh\">CSV export</a><br>\n"
        h += "<li><a href=\"/metrics\">Prometheus metrics</a><br>\n</ul></td></tr></table>\n"
        if let status, let message = statsPageStatusMessages[status] {
            h += "<p><div class=\(message.cls) id=\"status-message\" data-status=\"\(e(status))\">"
            h += "<a class=lfsb href=\"\(e(page.uri))\" title=\"Remove this message\">[X]</a> \(message.text)</div>\n"
        }
        for v in proxyViews(now: now) {
            h += proxyTable(v, admin: page.admin && v.backendName != nil, uri: page.uri, now: now)
        }
        h += "</body>\n</html>\n"
        return h
    }

    private func proxyTable(_ v: ProxyView, admin: Bool, uri: String, now: Instant) -> String {
        let e = htmlEscape
        let px = e(v.proxy.name)
        var h = ""
        if admin { h += "<form method=\"post\" action=\"\(e(uri))\">\n" }
        h += "<table class=\"tbl\" width=\"100%\"><tr class=\"titre\"><th class=\"pxname\" width=\"10%\">"
        h +=
            "<a name=\"\(px)\"></a><a class=px href=\"#\(px)\">\(px)</a></th><th class=\"empty\" width=\"90%\"></th></tr></table>\n"
        h +=
            "<table class=\"tbl proxy\" width=\"100%\" id=\"proxy-\(px)\" data-proxy=\"\(px)\" data-iid=\"\(v.proxy.iid)\">\n"
        h += "<tr class=\"titre\">"
        if admin {
            h +=
                "<th rowspan=2 width=1><input type=\"checkbox\" onclick=\"for(c in document.getElementsByClassName('\(px)-checkbox')) document.getElementsByClassName('\(px)-checkbox').item(c).checked = this.checked\"></th>"
        }
        h += "<th rowspan=2></th><th colspan=3>Queue</th><th colspan=3>Session rate</th><th colspan=6>Sessions</th>"
        h += "<th colspan=2>Bytes</th><th colspan=2>Denied</th><th colspan=3>Errors</th><th colspan=2>Warnings</th>"
        h += "<th colspan=9>Server</th></tr>\n<tr class=\"titre\">"
        for title in [
            "Cur", "Max", "Limit", "Cur", "Max", "Limit", "Cur", "Max", "Limit", "Total", "LbTot", "Last", "In", "Out",
            "Req", "Resp", "Req", "Conn", "Resp", "Retr", "Redis", "Status", "LastChk", "Wght", "Act", "Bck", "Chk",
            "Dwn", "Dwntme", "Thrtle",
        ] {
            h += "<th>\(title)</th>"
        }
        h += "</tr>\n"
        func td(_ s: String, _ cls: String? = nil) -> String {
            cls.map { "<td class=\"\($0)\">\(s)</td>" } ?? "<td>\(s)</td>"
        }
        if let fe = v.frontend {
            h += "<tr class=\"frontend\" data-row=\"frontend\" data-status=\"\(alive ? "OPEN" : "STOP")\">"
            if admin { h += "<td></td>" }
            h += "<td class=ac><a name=\"\(px)/Frontend\"></a><a class=lfsb href=\"#\(px)/Frontend\">Frontend</a></td>"
            h += td("") + td("") + td("") + td("") + td("") + td("-")
            h += td(String(fe.currentSessions), "scur") + td(String(fe.maxSessions), "smax")
            h += td(config.global.maxconn.map(String.init) ?? "-") + td(String(fe.totalSessions), "stot")
            h += td("") + td("")
            h += td(String(fe.bytesIn), "bin") + td(String(fe.bytesOut), "bout") + td("0") + td("0")
            h += td(String(fe.requestErrors), "ereq") + td("") + td("") + td("") + td("")
            h += "<td class=\"ac status\">\(alive ? "OPEN" : "STOP")</td>"
            h += td("") + td("") + td("") + td("") + td("") + td("") + td("") + td("")
            h += "</tr>\n"
        }
        if v.backendName != nil {
            for (s, c) in v.servers { h += serverHTML(v, s, c, admin: admin, now: now) }
            h += backendHTML(v, admin: admin, now: now)
        }
        h += "</table>\n"
        if admin {
            h += "<p>Choose the action to perform on the checked servers : <select name=action>"
            h += "<option value=\"\"></option><option value=\"ready\">Set state to READY</option>"
            h +=
                "<option value=\"drain\">Set state to DRAIN</option><option value=\"maint\">Set state to MAINT</option></select>"
            h +=
                "<input type=\"hidden\" name=\"b\" value=\"#\(v.proxy.iid)\"><input type=\"submit\" value=\"Apply\"></form>\n"
        }
        h += "<p>\n"
        return h
    }

    private func serverHTML(_ v: ProxyView, _ s: ServerSnapshot, _ c: TrafficCounters, admin: Bool, now: Instant)
        -> String
    {
        let e = htmlEscape
        let px = e(v.proxy.name)
        let sv = e(s.name)
        func td(_ s: String, _ cls: String? = nil) -> String {
            cls.map { "<td class=\"\($0)\">\(s)</td>" } ?? "<td>\(s)</td>"
        }
        var h =
            "<tr class=\"\(s.statsPageClass) server\" id=\"\(px)/\(sv)\" data-proxy=\"\(px)\" data-server=\"\(sv)\" "
        h +=
            "data-status=\"\(e(s.status))\" data-admin=\"\(s.adminState.rawValue)\" data-weight=\"\(s.weight.effective)\">"
        if admin { h += "<td><input class='\(px)-checkbox' type=\"checkbox\" name=\"s\" value=\"\(sv)\"></td>" }
        h += "<td class=ac><a name=\"\(px)/\(sv)\"></a><a class=lfsb href=\"#\(px)/\(sv)\">\(sv)</a></td>"
        h += td("0") + td("0") + td("-") + td("") + td("") + td("")
        h += td(String(s.currentSessions), "scur") + td(String(s.maxSessions), "smax")
        h += td(s.maxconn > 0 ? String(s.maxconn) : "-") + td(String(s.totalSessions), "stot") + td(String(s.lbtot))
        h += td(c.lastSession.map { humanTime((now - $0).micros / 1_000_000) } ?? "?")
        h += td(String(c.bytesIn), "bin") + td(String(c.bytesOut), "bout") + td("") + td("0")
        h += td("") + td(String(c.connectionErrors), "econ") + td(String(c.responseErrors), "eresp")
        h += td(String(c.retries), "wretr") + td(String(c.redispatches), "wredis")
        h += "<td class=\"ac status\">\(humanTime(s.secondsSinceChange)) \(e(s.status))</td>"
        var lastChk = ""
        if s.checked, s.adminState != .maint, let status = s.checkStatusText {
            lastChk = e(status)
            if let d = s.checkDuration { lastChk += " in \(d.micros / 1000)ms" }
        }
        h += "<td class=\"ac lastchk\" title=\"\(e(s.checkDetail))\">\(lastChk)</td>"
        h += td("\(s.weight.effective)/\(s.weight.current)", "weight ac")
        h += td(s.backup ? "-" : "Y", "ac") + td(s.backup ? "Y" : "-", "ac")
        h += td(s.checked ? String(s.failedChecks) : "", "chkfail") + td(s.checked ? String(s.downTransitions) : "")
        h += td(s.checked ? humanTime(s.downtime.micros / 1_000_000) : "", "downtime") + td("-", "ac")
        h += "</tr>\n"
        return h
    }

    private func backendHTML(_ v: ProxyView, admin: Bool, now: Instant) -> String {
        let e = htmlEscape
        let px = e(v.proxy.name)
        let row = backendRow(v, now: now)
        func td(_ s: String, _ cls: String? = nil) -> String {
            cls.map { "<td class=\"\($0)\">\(s)</td>" } ?? "<td>\(s)</td>"
        }
        let status = row["status"]
        let lastchg = Int64(row["lastchg"]) ?? 0
        var h = "<tr class=\"backend\" data-row=\"backend\" data-status=\"\(status)\">"
        if admin { h += "<td></td>" }
        h += "<td class=ac><a name=\"\(px)/Backend\"></a><a class=lfsb href=\"#\(px)/Backend\">Backend</a></td>"
        h += td("0") + td("0") + td("") + td("") + td("") + td("")
        h += td(row["scur"], "scur") + td(row["smax"], "smax") + td("") + td(row["stot"], "stot") + td(row["lbtot"])
        let last = Int64(row["lastsess"]) ?? -1
        h += td(last >= 0 ? humanTime(last) : "?")
        h += td(row["bin"], "bin") + td(row["bout"], "bout") + td("0") + td("0")
        h += td("") + td(row["econ"], "econ") + td(row["eresp"], "eresp")
        h += td(row["wretr"], "wretr") + td(row["wredis"], "wredis")
        h += "<td class=\"ac status\">\(humanTime(lastchg)) \(status)</td><td class=ac>&nbsp;</td>"
        h += td("\(row["weight"])/\(row["uweight"])", "weight ac") + td(row["act"], "ac") + td(row["bck"], "ac")
        h += td("") + td(row["chkdown"]) + td(humanTime(Int64(row["downtime"]) ?? 0), "downtime") + td("")
        h += "</tr>\n"
        return h
    }
}
