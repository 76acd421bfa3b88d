import BalancerCore
import HadeckBase

/// Writes Prometheus text exposition (format 0.0.4): one `# HELP`/`# TYPE` per family, then its samples.
struct PrometheusWriter {
    private(set) var text = ""
    private var family = ""

    /// Starts a family; samples that follow belong to it.
    mutating func family(_ name: String, _ type: String, _ help: String) {
        family = name
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    /// One sample of the current family.
    mutating func sample(_ labels: [(String, String)], _ value: Double) {
        text += family
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.format(value) + "\n"
    }

    mutating func sample(_ labels: [(String, String)], _ value: Int) { sample(labels, Double(value)) }

    mutating func append(_ raw: String) {
        text += raw
        if !raw.isEmpty && !raw.hasSuffix("\n") { text += "\n" }
    }

    static func escapeLabel(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func escapeHelp(_ s: String) -> String {
        s.replacingBackslashesAndNewlines()
    }

    /// Integers without a fraction, others as Swift prints doubles (valid Go float syntax).
    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}

extension String {
    fileprivate func replacingBackslashesAndNewlines() -> String {
        var out = ""
        for c in self {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}

extension BalancerState {
    /// The balancer's metrics with the names and labels of HAProxy 2.6's Prometheus exporter
    /// (`haproxy_process_*`, `haproxy_frontend_*`, `haproxy_backend_*`, `haproxy_server_*`), then
    /// whatever `extraMetrics` adds.
    func prometheusText(now: Instant) -> String {
        var w = PrometheusWriter()
        let views = proxyViews(now: now)
        let up = uptimeSeconds(now: now)
        w.family("haproxy_process_build_info", "gauge", "Build info")
        w.sample([("version", hadeckStatsVersion)], 1)
        w.family("haproxy_process_start_time_seconds", "gauge", "Start time in seconds")
        w.sample([], startedWall)
        w.family("haproxy_process_uptime_seconds", "gauge", "How long ago this worker process was started (seconds)")
        w.sample([], Int(up))
        w.family("haproxy_process_nbthread", "gauge", "Number of started threads (global.nbthread)")
        w.sample([], 1)
        w.family(
            "haproxy_process_current_connections", "gauge", "Current number of connections on this worker process")
        w.sample([], clients.count)
        w.family(
            "haproxy_process_connections_total", "counter",
            "Total number of connections on this worker process since started")
        w.sample([], frontendCounters.values.reduce(0) { $0 + $1.totalSessions })
        w.family(
            "haproxy_process_requests_total", "counter",
            "Total number of requests on this worker process since started")
        w.sample([], frontendCounters.values.reduce(0) { $0 + $1.requests })

        // Frontends.
        let fronts = views.compactMap { v in v.frontend.map { (v.proxy.name, $0) } }
        func feFamily(_ name: String, _ type: String, _ help: String, _ value: (TrafficCounters) -> Int) {
            w.family("haproxy_frontend_" + name, type, help)
            for (px, c) in fronts { w.sample([("proxy", px)], value(c)) }
        }
        w.family("haproxy_frontend_status", "gauge", "Current status of the service, per state label value.")
        for (px, _) in fronts {
            w.sample([("proxy", px), ("state", "DOWN")], alive ? 0 : 1)
            w.sample([("proxy", px), ("state", "UP")], alive ? 1 : 0)
        }
        feFamily("current_sessions", "gauge", "Number of current sessions on the frontend") { $0.currentSessions }
        feFamily("max_sessions", "gauge", "Highest value of current sessions encountered since process started") {
            $0.maxSessions
        }
        feFamily("sessions_total", "counter", "Total number of sessions since process started") { $0.totalSessions }
        feFamily("connections_total", "counter", "Total number of new connections accepted on this frontend") {
            $0.totalSessions
        }
        feFamily("bytes_in_total", "counter", "Total number of request bytes since process started") { $0.bytesIn }
        feFamily("bytes_out_total", "counter", "Total number of response bytes since process started") { $0.bytesOut }
        feFamily("request_errors_total", "counter", "Total number of invalid requests since process started") {
            $0.requestErrors
        }
        feFamily("http_requests_total", "counter", "Total number of HTTP requests processed by this object") {
            $0.requests
        }
        feFamily(
            "intercepted_requests_total", "counter",
            "Total number of HTTP requests intercepted on the frontend (stats page, metrics)"
        ) { $0.intercepted }
        w.family(
            "haproxy_frontend_http_responses_total", "counter", "Total number of HTTP responses per status class")
        for (px, c) in fronts { responseSamples(&w, [("proxy", px)], c) }

        // Backends.
        let backs = views.filter { $0.backendName != nil }
        let rows = backs.map { backendRow($0, now: now) }
        func beFamily(_ name: String, _ type: String, _ help: String, _ column: String) {
            w.family("haproxy_backend_" + name, type, help)
            for (v, r) in zip(backs, rows) { w.sample([("proxy", v.proxy.name)], Int(r[column]) ?? 0) }
        }
        w.family("haproxy_backend_status", "gauge", "Current status of the service, per state label value.")
        for (v, r) in zip(backs, rows) {
            w.sample([("proxy", v.proxy.name), ("state", "DOWN")], r["status"] == "UP" ? 0 : 1)
            w.sample([("proxy", v.proxy.name), ("state", "UP")], r["status"] == "UP" ? 1 : 0)
        }
        beFamily("current_sessions", "gauge", "Number of current sessions on the backend", "scur")
        beFamily("max_sessions", "gauge", "Highest value of current sessions encountered since process started", "smax")
        beFamily("sessions_total", "counter", "Total number of sessions since process started", "stot")
        beFamily("bytes_in_total", "counter", "Total number of request bytes since process started", "bin")
        beFamily("bytes_out_total", "counter", "Total number of response bytes since process started", "bout")
        beFamily("connection_errors_total", "counter", "Total number of failed connections to server", "econ")
        beFamily("response_errors_total", "counter", "Total number of invalid responses", "eresp")
        beFamily("retry_warnings_total", "counter", "Total number of server connection retries", "wretr")
        beFamily(
            "redispatch_warnings_total", "counter", "Total number of server redispatches due to connection failures",
            "wredis")
        beFamily("weight", "gauge", "Sum of active servers' effective weights", "weight")
        beFamily("uweight", "gauge", "Sum of active servers' user weights", "uweight")
        beFamily("active_servers", "gauge", "Total number of active UP servers with a non-zero weight", "act")
        beFamily("backup_servers", "gauge", "Total number of backup UP servers with a non-zero weight", "bck")
        beFamily("check_up_down_total", "counter", "Total number of UP to DOWN transitions of the backend", "chkdown")
        beFamily(
            "check_last_change_seconds", "gauge", "How long ago the last state change happened, in seconds", "lastchg")
        beFamily("downtime_seconds_total", "counter", "Total time spent in DOWN state", "downtime")
        beFamily("loadbalanced_total", "counter", "Total number of requests routed by load balancing", "lbtot")
        beFamily("http_requests_total", "counter", "Total number of HTTP requests processed by this object", "req_tot")
        beFamily("client_aborts_total", "counter", "Total number of requests aborted by the client", "cli_abrt")
        beFamily("server_aborts_total", "counter", "Total number of requests aborted by the server", "srv_abrt")
        w.family("haproxy_backend_http_responses_total", "counter", "Total number of HTTP responses per status class")
        for v in backs { responseSamples(&w, [("proxy", v.proxy.name)], v.backendCounters ?? TrafficCounters()) }

        // Servers.
        let servers = backs.flatMap { v in v.servers.map { (v.proxy.name, $0.snapshot, $0.counters) } }
        func svFamily(
            _ name: String, _ type: String, _ help: String, _ value: (ServerSnapshot, TrafficCounters) -> Double?
        ) {
            w.family("haproxy_server_" + name, type, help)
            for (px, s, c) in servers {
                if let x = value(s, c) { w.sample([("proxy", px), ("server", s.name)], x) }
            }
        }
        w.family("haproxy_server_status", "gauge", "Current status of the service, per state label value.")
        for (px, s, _) in servers {
            let state = s.prometheusState
            for st in prometheusServerStates {
                w.sample([("proxy", px), ("server", s.name), ("state", st)], st == state ? 1 : 0)
            }
        }
        svFamily("current_sessions", "gauge", "Number of current sessions on the server") { s, _ in
            Double(s.currentSessions)
        }
        svFamily("max_sessions", "gauge", "Highest value of current sessions encountered since process started") {
            s, _ in Double(s.maxSessions)
        }
        svFamily("sessions_total", "counter", "Total number of sessions since process started") { s, _ in
            Double(s.totalSessions)
        }
        svFamily("bytes_in_total", "counter", "Total number of request bytes since process started") { _, c in
            Double(c.bytesIn)
        }
        svFamily("bytes_out_total", "counter", "Total number of response bytes since process started") { _, c in
            Double(c.bytesOut)
        }
        svFamily("connection_errors_total", "counter", "Total number of failed connections to server") { _, c in
            Double(c.connectionErrors)
        }
        svFamily("response_errors_total", "counter", "Total number of invalid responses") { _, c in
            Double(c.responseErrors)
        }
        svFamily("retry_warnings_total", "counter", "Total number of server connection retries") { _, c in
            Double(c.retries)
        }
        svFamily("redispatch_warnings_total", "counter", "Total number of server redispatches") { _, c in
            Double(c.redispatches)
        }
        svFamily("weight", "gauge", "Server's effective weight") { s, _ in Double(s.weight.effective) }
        svFamily("uweight", "gauge", "Server's user weight") { s, _ in Double(s.weight.current) }
        svFamily("check_failures_total", "counter", "Total number of failed individual health checks") { s, _ in
            s.checked ? Double(s.failedChecks) : nil
        }
        svFamily("check_up_down_total", "counter", "Total number of failed checks causing UP to DOWN transitions") {
            s, _ in s.checked ? Double(s.downTransitions) : nil
        }
        svFamily("check_last_change_seconds", "gauge", "How long ago the last server state changed, in seconds") {
            s, _ in Double(s.secondsSinceChange)
        }
        svFamily("downtime_seconds_total", "counter", "Total time spent in DOWN state") { s, _ in
            s.checked ? Double(s.downtime.micros / 1_000_000) : nil
        }
        svFamily("loadbalanced_total", "counter", "Total number of requests routed by load balancing") { s, _ in
            Double(s.lbtot)
        }
        w.family("haproxy_server_check_status", "gauge", "Status of last health check, per state label value.")
        for (px, s, _) in servers where s.checked {
            for st in CheckStatus.allCases where st != .unknown && st != .initializing {
                w.sample(
                    [("proxy", px), ("server", s.name), ("state", st.rawValue)], s.checkStatus == st ? 1 : 0)
            }
        }
        svFamily("check_code", "gauge", "layer5-7 code, if available of the last health check.") { s, _ in
            s.checked ? Double(s.checkCode ?? 0) : nil
        }
        svFamily("check_duration_seconds", "gauge", "Total duration of the latest server health check, in seconds.") {
            s, _ in s.checked ? s.checkDuration.map { Double($0.micros) / 1_000_000 } : nil
        }
        svFamily("client_aborts_total", "counter", "Total number of requests aborted by the client") { _, c in
            Double(c.clientAborts)
        }
        svFamily("server_aborts_total", "counter", "Total number of requests aborted by the server") { _, c in
            Double(c.serverAborts)
        }
        svFamily("last_session_seconds", "gauge", "How long ago some traffic was seen on this server, in seconds") {
            _, c in c.lastSession.map { Double((now - $0).micros / 1_000_000) }
        }
        w.family("haproxy_server_http_responses_total", "counter", "Total number of HTTP responses per status class")
        for (px, s, c) in servers { responseSamples(&w, [("proxy", px), ("server", s.name)], c) }

        if let extra = extraMetrics?() { w.append(extra) }
        return w.text
    }

    private func responseSamples(_ w: inout PrometheusWriter, _ labels: [(String, String)], _ c: TrafficCounters) {
        for (i, code) in ["1xx", "2xx", "3xx", "4xx", "5xx", "other"].enumerated() {
            w.sample(labels + [("code", code)], c.responses[i])
        }
    }
}
