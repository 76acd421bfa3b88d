import BalancerCore
import HadeckBase

/// A balancer's metrics with the names, labels, help texts and types of HAProxy 2.6's Prometheus
/// exporter (`haproxy_process_*`, `haproxy_frontend_*`, `haproxy_backend_*`, `haproxy_server_*`):
/// a pure function of a snapshot.
enum HAProxyMetrics {
    static func families(_ s: StatsSnapshot) -> [MetricFamily] {
        process(s.process) + frontends(s) + backends(s) + servers(s)
    }

    private static func process(_ p: ProcessStats) -> [MetricFamily] {
        func one(_ name: String, _ kind: MetricFamily.Kind, _ help: String, _ value: Int) -> MetricFamily {
            MetricFamily(
                "haproxy_process_" + name, kind, help, samples: [MetricSample(labels: [], value: Double(value))])
        }
        var build = MetricFamily("haproxy_process_build_info", .gauge, "Build info")
        build.add(["version": hadeckStatsVersion], 1)
        return [
            build,
            one("start_time_seconds", .gauge, "Start time in seconds", p.startedWall),
            one(
                "uptime_seconds", .gauge, "How long ago this worker process was started (seconds)", Int(p.uptimeSeconds)
            ),
            one("nbthread", .gauge, "Number of started threads (global.nbthread)", 1),
            one(
                "current_connections", .gauge, "Current number of connections on this worker process",
                p.currentConnections),
            one(
                "connections_total", .counter, "Total number of connections on this worker process since started",
                p.totalConnections),
            one(
                "requests_total", .counter, "Total number of requests on this worker process since started",
                p.totalRequests),
        ]
    }

    private static func frontends(_ s: StatsSnapshot) -> [MetricFamily] {
        let fronts = s.proxies.compactMap { p in p.frontend.map { (p.name, $0) } }
        func family(_ name: String, _ kind: MetricFamily.Kind, _ help: String, _ value: (TrafficCounts) -> Int)
            -> MetricFamily
        {
            var f = MetricFamily("haproxy_frontend_" + name, kind, help)
            for (px, c) in fronts { f.add(["proxy": px], value(c)) }
            return f
        }
        var status = MetricFamily(
            "haproxy_frontend_status", .gauge, "Current status of the service, per state label value.")
        for (px, _) in fronts {
            status.add(["proxy": px, "state": "DOWN"], s.process.alive ? 0 : 1)
            status.add(["proxy": px, "state": "UP"], s.process.alive ? 1 : 0)
        }
        return [
            status,
            family("current_sessions", .gauge, "Number of current sessions on the frontend, backend or server") {
                $0.currentSessions
            },
            family("max_sessions", .gauge, "Highest value of current sessions encountered since process started") {
                $0.maxSessions
            },
            family("sessions_total", .counter, "Total number of sessions since process started") { $0.totalSessions },
            family(
                "connections_total", .counter,
                "Total number of new connections accepted on this frontend since the worker process started"
            ) { $0.totalSessions },
            family("bytes_in_total", .counter, "Total number of request bytes since process started") { $0.bytesIn },
            family("bytes_out_total", .counter, "Total number of response bytes since process started") { $0.bytesOut },
            family("request_errors_total", .counter, "Total number of invalid requests since process started") {
                $0.requestErrors
            },
            family("http_requests_total", .counter, httpRequestsHelp) { $0.requests },
            family(
                "intercepted_requests_total", .counter,
                "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started"
            ) { $0.intercepted },
            responses("haproxy_frontend_http_responses_total", fronts.map { (["proxy": $0.0], $0.1) }),
        ]
    }

    private static func backends(_ s: StatsSnapshot) -> [MetricFamily] {
        let backs = s.backends.map {
            ($0.proxy.name, $0.backend, ShowStat.backendRow($0.proxy, $0.backend, now: s.now))
        }
        func family(_ name: String, _ kind: MetricFamily.Kind, _ help: String, _ column: String) -> MetricFamily {
            var f = MetricFamily("haproxy_backend_" + name, kind, help)
            for (px, _, row) in backs { f.add(["proxy": px], Int(row[column]) ?? 0) }
            return f
        }
        var status = MetricFamily(
            "haproxy_backend_status", .gauge, "Current status of the service, per state label value.")
        for (px, b, _) in backs {
            status.add(["proxy": px, "state": "DOWN"], b.health.up ? 0 : 1)
            status.add(["proxy": px, "state": "UP"], b.health.up ? 1 : 0)
        }
        return [
            status,
            family("current_queue", .gauge, "Number of current queued connections", "qcur"),
            family(
                "max_queue", .gauge, "Highest value of queued connections encountered since process started", "qmax"),
            family("current_sessions", .gauge, "Number of current sessions on the frontend, backend or server", "scur"),
            family(
                "max_sessions", .gauge, "Highest value of current sessions encountered since process started", "smax"),
            family("sessions_total", .counter, "Total number of sessions since process started", "stot"),
            family("bytes_in_total", .counter, "Total number of request bytes since process started", "bin"),
            family("bytes_out_total", .counter, "Total number of response bytes since process started", "bout"),
            family("connection_errors_total", .counter, connectionErrorsHelp, "econ"),
            family("response_errors_total", .counter, responseErrorsHelp, "eresp"),
            family("retry_warnings_total", .counter, retriesHelp, "wretr"),
            family("redispatch_warnings_total", .counter, redispatchesHelp, "wredis"),
            family("weight", .gauge, weightHelp, "weight"),
            family("uweight", .gauge, userWeightHelp, "uweight"),
            family("active_servers", .gauge, "Total number of active UP servers with a non-zero weight", "act"),
            family("backup_servers", .gauge, "Total number of backup UP servers with a non-zero weight", "bck"),
            family("check_up_down_total", .counter, upDownHelp, "chkdown"),
            family("check_last_change_seconds", .gauge, lastChangeHelp, "lastchg"),
            family("downtime_seconds_total", .counter, downtimeHelp, "downtime"),
            family("loadbalanced_total", .counter, loadBalancedHelp, "lbtot"),
            family("http_requests_total", .counter, httpRequestsHelp, "req_tot"),
            family("client_aborts_total", .counter, clientAbortsHelp, "cli_abrt"),
            family("server_aborts_total", .counter, serverAbortsHelp, "srv_abrt"),
            responses("haproxy_backend_http_responses_total", backs.map { (["proxy": $0.0], $0.1.counts) }),
        ]
    }

    private static func servers(_ s: StatsSnapshot) -> [MetricFamily] {
        let servers = s.backends.flatMap { p, b in b.servers.map { (p.name, $0.snapshot, $0.counts) } }
        func family(
            _ name: String, _ kind: MetricFamily.Kind, _ help: String,
            _ value: (ServerSnapshot, TrafficCounts) -> Double?
        ) -> MetricFamily {
            var f = MetricFamily("haproxy_server_" + name, kind, help)
            for (px, sv, c) in servers {
                if let x = value(sv, c) { f.add(["proxy": px, "server": sv.name], x) }
            }
            return f
        }
        var status = MetricFamily(
            "haproxy_server_status", .gauge, "Current status of the service, per state label value.")
        for (px, sv, _) in servers {
            for state in ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"] {
                status.add(["proxy": px, "server": sv.name, "state": state], state == sv.prometheusState ? 1 : 0)
            }
        }
        var checkStatus = MetricFamily(
            "haproxy_server_check_status", .gauge, "Status of last health check, per state label value.")
        for (px, sv, _) in servers where sv.checked {
            for st in CheckStatus.allCases where st != .unknown && st != .initializing {
                checkStatus.add(["proxy": px, "server": sv.name, "state": st.rawValue], sv.checkStatus == st ? 1 : 0)
            }
        }
        return [
            status,
            family("current_queue", .gauge, "Number of current queued connections") { s, _ in Double(s.queued) },
            family("max_queue", .gauge, "Highest value of queued connections encountered since process started") {
                s, _ in Double(s.maxQueued)
            },
            family(
                "queue_limit", .gauge,
                "Limit on the number of connections in queue, for servers only (maxqueue argument)"
            ) { s, _ in s.maxqueue > 0 ? Double(s.maxqueue) : nil },
            family("current_sessions", .gauge, "Number of current sessions on the frontend, backend or server") {
                s, _ in Double(s.currentSessions)
            },
            family("max_sessions", .gauge, "Highest value of current sessions encountered since process started") {
                s, _ in Double(s.maxSessions)
            },
            family("sessions_total", .counter, "Total number of sessions since process started") { s, _ in
                Double(s.totalSessions)
            },
            family("bytes_in_total", .counter, "Total number of request bytes since process started") { _, c in
                Double(c.bytesIn)
            },
            family("bytes_out_total", .counter, "Total number of response bytes since process started") { _, c in
                Double(c.bytesOut)
            },
            family("connection_errors_total", .counter, connectionErrorsHelp) { _, c in Double(c.connectionErrors) },
            family("response_errors_total", .counter, responseErrorsHelp) { _, c in Double(c.responseErrors) },
            family("retry_warnings_total", .counter, retriesHelp) { _, c in Double(c.retries) },
            family("redispatch_warnings_total", .counter, redispatchesHelp) { _, c in Double(c.redispatches) },
            family("weight", .gauge, weightHelp) { s, _ in Double(s.weight.effective) },
            family("uweight", .gauge, userWeightHelp) { s, _ in Double(s.weight.current) },
            family(
                "check_failures_total", .counter,
                "Total number of failed individual health checks per server/backend, since the worker process started"
            ) { s, _ in s.checked ? Double(s.failedChecks) : nil },
            family("check_up_down_total", .counter, upDownHelp) { s, _ in
                s.checked ? Double(s.downTransitions) : nil
            },
            family("check_last_change_seconds", .gauge, lastChangeHelp) { s, _ in Double(s.secondsSinceChange) },
            family("downtime_seconds_total", .counter, downtimeHelp) { s, _ in
                s.checked ? Double(s.downtime.micros / 1_000_000) : nil
            },
            family("loadbalanced_total", .counter, loadBalancedHelp) { s, _ in Double(s.lbtot) },
            checkStatus,
            family("check_code", .gauge, "layer5-7 code, if available of the last health check.") { s, _ in
                s.checked ? Double(s.checkCode ?? 0) : nil
            },
            family(
                "check_duration_seconds", .gauge, "Total duration of the latest server health check, in seconds."
            ) { s, _ in s.checked ? s.checkDuration.map { Double($0.micros) / 1_000_000 } : nil },
            family("client_aborts_total", .counter, clientAbortsHelp) { _, c in Double(c.clientAborts) },
            family("server_aborts_total", .counter, serverAbortsHelp) { _, c in Double(c.serverAborts) },
            family("last_session_seconds", .gauge, lastSessionHelp) { _, c in
                c.lastSession.map { Double((s.now - $0).micros / 1_000_000) }
            },
            responses(
                "haproxy_server_http_responses_total", servers.map { (["proxy": $0.0, "server": $0.1.name], $0.2) }),
        ]
    }

    /// `NAME{labels...,code="1xx"}` ... `code="other"` for each labelled counter set.
    private static func responses(_ name: String, _ rows: [([String: String], TrafficCounts)]) -> MetricFamily {
        var f = MetricFamily(name, .counter, httpResponsesHelp)
        for (labels, c) in rows {
            // Dictionary order is not stable: proxy, then server, then code.
            let ordered = ["proxy", "server"].compactMap { key in labels[key].map { MetricLabel(name: key, value: $0) }
            }
            for (code, count) in c.responses.all {
                f.samples.append(
                    MetricSample(labels: ordered + [MetricLabel(name: "code", value: code)], value: Double(count)))
            }
        }
        return f
    }

    // HAProxy 2.6's help texts, shared by several families.
    private static let httpRequestsHelp =
        "Total number of HTTP requests processed by this object since the worker process started"
    private static let httpResponsesHelp =
        "Total number of HTTP responses with status 100-199 returned by this object since the worker process started"
    private static let connectionErrorsHelp =
        "Total number of failed connections to server since the worker process started"
    private static let responseErrorsHelp = "Total number of invalid responses since the worker process started"
    private static let retriesHelp = "Total number of server connection retries since the worker process started"
    private static let redispatchesHelp =
        "Total number of server redispatches due to connection failures since the worker process started"
    private static let weightHelp =
        "Server's effective weight, or sum of active servers' effective weights for a backend"
    private static let userWeightHelp = "Server's user weight, or sum of active servers' user weights for a backend"
    private static let upDownHelp =
        "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started"
    private static let lastChangeHelp = "How long ago the last server state changed, in seconds"
    private static let downtimeHelp = "Total time spent in DOWN state, for server or backend"
    private static let loadBalancedHelp =
        "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)"
    private static let clientAbortsHelp =
        "Total number of requests or connections aborted by the client since the worker process started"
    private static let serverAbortsHelp =
        "Total number of requests or connections aborted by the server since the worker process started"
    private static let lastSessionHelp =
        "How long ago some traffic was seen on this object on this worker process, in seconds"
}
