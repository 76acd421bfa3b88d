import BalancerCore
import HadeckBase

/// The HTML stats page: process information, then one table per proxy, with stable ids and
/// `data-*` attributes on the cells a script or a test reads. A pure function of a snapshot.
enum StatsPageHTML {
    static func render(_ s: StatsSnapshot, page: StatsPageConfig, status: String?, refresh: TimeSpan?) -> String {
        let p = s.process
        var h = "<!DOCTYPE html>\n<html>\n<head>\n"
        h += "<title>Statistics Report for pid \(p.pid) on \(e(p.node))</title>\n"
        h += "<meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\">\n"
        if let refresh { h += "<meta http-equiv=\"refresh\" content=\"\(max(1, refresh.micros / 1_000_000))\">\n" }
        h += "<style type=\"text/css\">\n\(css)\n</style>\n</head>\n<body>\n"
        h += "<h1>hadeck balancer <span id=\"balancer\">\(e(p.name))</span>, "
        // `stats hide-version`: no version on the page, as HAProxy.
        h +=
            page.hideVersion
            ? "HAProxy semantics</h1>\n" : "HAProxy <span id=\"version\">\(hadeckStatsVersion)</span> semantics</h1>\n"
        h +=
            "<h2>Statistics Report for pid <span id=\"pid\">\(p.pid)</span> on <span id=\"node\">\(e(p.node))</span></h2>\n"
        h += "<hr width=\"100%\" class=\"hr\">\n<h3>&gt; General process information</h3>\n"
        h += "<table border=0><tr><td align=\"left\" nowrap width=\"1%\" id=\"process-info\"><p>\n"
        h += "<b>pid = </b> \(p.pid) (process #1, nbproc = 1, nbthread = 1)<br>\n"
        h += "<b>uptime = </b> <span id=\"uptime\">\(ShowInfo.uptimeText(p.uptimeSeconds))</span><br>\n"
        h += "<b>maxconn = </b> \(p.maxconn.map(String.init) ?? "unlimited")<br>\n"
        h += "current conns = \(p.currentConnections); current pipes = 0/0<br>\n"
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
        if let status, let message = statusMessages[status] {
            h += "<p><div class=\(message.cls) id=\"status-message\" data-status=\"\(e(status))\">"
            h += "<a class=lfsb href=\"\(e(page.uri))\" title=\"Remove this message\">[X]</a> \(message.text)</div>\n"
        }
        for proxy in s.proxies {
            h += proxyTable(proxy, s, admin: page.admin && proxy.backend != nil, uri: page.uri)
        }
        h += "</body>\n</html>\n"
        return h
    }

    /// The messages of the stats page's `;st=` codes, as HAProxy 2.6 words them.
    static let statusMessages: [String: (cls: String, text: String)] = [
        "DONE": ("active_up", "Action processed successfully."),
        "NONE": ("active_going_down", "Nothing has changed."),
        "PART": ("active_going_down", "Action not processed for all servers."),
        "ERRP": ("active_down", "Action not processed because of invalid parameters."),
        "DENY": ("active_down", "Action denied."),
        "UNKN": ("active_down", "Unexpected result."),
    ]

    private static func e(_ s: String) -> String { TextEscaping.html.escape(s) }

    private static func td(_ s: String, _ cls: String? = nil) -> String {
        cls.map { "<td class=\"\($0)\">\(s)</td>" } ?? "<td>\(s)</td>"
    }

    private static func proxyTable(_ v: ProxyStats, _ s: StatsSnapshot, admin: Bool, uri: String) -> String {
        let px = e(v.name)
        var h = ""
        if admin { h += "<form method=\"post\" action=\"\(e(uri))\">\n" }
        h += "<table class=\"tbl\" width=\"100%\"><tr class=\"titre\"><th class=\"pxname\" width=\"10%\">"
        h +=
            "<a name=\"\(px)\"></a><a class=px href=\"#\(px)\">\(px)</a></th><th class=\"empty\" width=\"90%\"></th></tr></table>\n"
        h +=
            "<table class=\"tbl proxy\" width=\"100%\" id=\"proxy-\(px)\" data-proxy=\"\(px)\" data-iid=\"\(v.iid)\">\n"
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
        let open = s.process.alive ? "OPEN" : "STOP"
        if let fe = v.frontend {
            h += "<tr class=\"frontend\" data-row=\"frontend\" data-status=\"\(open)\">"
            if admin { h += "<td></td>" }
            h += "<td class=ac><a name=\"\(px)/Frontend\"></a><a class=lfsb href=\"#\(px)/Frontend\">Frontend</a></td>"
            h += td("") + td("") + td("") + td("") + td("") + td("-")
            h += td(String(fe.currentSessions), "scur") + td(String(fe.maxSessions), "smax")
            h += td(s.process.maxconn.map(String.init) ?? "-") + td(String(fe.totalSessions), "stot")
            h += td("") + td("")
            h += td(String(fe.bytesIn), "bin") + td(String(fe.bytesOut), "bout") + td("0") + td("0")
            h += td(String(fe.requestErrors), "ereq") + td("") + td("") + td("") + td("")
            h += "<td class=\"ac status\">\(open)</td>"
            h += td("") + td("") + td("") + td("") + td("") + td("") + td("") + td("")
            h += "</tr>\n"
        }
        if let backend = v.backend {
            for server in backend.servers { h += serverHTML(v, server, admin: admin, now: s.now) }
            h += backendHTML(v, backend, admin: admin, now: s.now)
        }
        h += "</table>\n"
        if admin {
            h += "<p>Choose the action to perform on the checked servers : <select name=action>"
            h += "<option value=\"\"></option><option value=\"ready\">Set state to READY</option>"
            h +=
                "<option value=\"drain\">Set state to DRAIN</option><option value=\"maint\">Set state to MAINT</option></select>"
            h +=
                "<input type=\"hidden\" name=\"b\" value=\"#\(v.iid)\"><input type=\"submit\" value=\"Apply\"></form>\n"
        }
        h += "<p>\n"
        return h
    }

    private static func serverHTML(_ v: ProxyStats, _ server: ServerStats, admin: Bool, now: Instant) -> String {
        let s = server.snapshot
        let c = server.counts
        let px = e(v.name)
        let sv = e(s.name)
        var h =
            "<tr class=\"\(s.statsPageClass) server\" id=\"\(px)/\(sv)\" data-proxy=\"\(px)\" data-server=\"\(sv)\" "
        h +=
            "data-status=\"\(e(s.status))\" data-admin=\"\(s.adminState.rawValue)\" data-weight=\"\(s.weight.effective)\">"
        if admin { h += "<td><input class='\(px)-checkbox' type=\"checkbox\" name=\"s\" value=\"\(sv)\"></td>" }
        h += "<td class=ac><a name=\"\(px)/\(sv)\"></a><a class=lfsb href=\"#\(px)/\(sv)\">\(sv)</a></td>"
        h += td(String(s.queued), "qcur") + td(String(s.maxQueued), "qmax")
        h += td(s.maxqueue > 0 ? String(s.maxqueue) : "-") + td("") + td("") + td("")
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

    private static func backendHTML(_ v: ProxyStats, _ b: BackendStats, admin: Bool, now: Instant) -> String {
        let px = e(v.name)
        let row = ShowStat.backendRow(v, b, now: now)
        let status = row["status"]
        let lastchg = Int64(row["lastchg"]) ?? 0
        var h = "<tr class=\"backend\" data-row=\"backend\" data-status=\"\(status)\">"
        if admin { h += "<td></td>" }
        h += "<td class=ac><a name=\"\(px)/Backend\"></a><a class=lfsb href=\"#\(px)/Backend\">Backend</a></td>"
        h += td(row["qcur"], "qcur") + td(row["qmax"], "qmax") + td("") + td("") + td("") + td("")
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

    static let css = """
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
}

/// HAProxy's human_time(): `2m16s`, `1h02m`, `3d4h` (two units at most).
func humanTime(_ seconds: Int64) -> String {
    let s = max(0, seconds)
    if s >= 86400 { return "\(s / 86400)d\((s % 86400) / 3600)h" }
    if s >= 3600 { return "\(s / 3600)h\((s % 3600) / 60)m" }
    if s >= 60 { return "\(s / 60)m\(s % 60)s" }
    return "\(s)s"
}

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
