import BalancerCore
import Foundation
import HadeckBase
import HadeckTestSupport
import LiveEngine
import Testing

@Suite("Metrics: Prometheus text on the stats listener", .serialized, .onItsOwnThread)
struct MetricsTests {
    @Test func metricsAreValidExpositionWithServerStatesCountersAndTheExtraHook() async throws {
        let c = try await StatsCluster.start(net: 72) {
            var state = MetricFamily("hadeck_vrrp_state", .gauge, "VRRP state of this host.")
            state.add(["instance": "VI_1", "state": "MASTER"], 1)
            return [state]
        }
        defer { Task { await c.stop() } }
        #expect(await c.waitFor(server: "webA", status: "UP"))
        #expect(await c.waitFor(server: "webB", status: "UP"))
        for _ in 0..<4 { #expect(try await c.http(get("/login"))?.status == 200) }
        #expect(try await c.http(get("/nothing-here"))?.status == 404)
        #expect(await cli(c.socket, "set server web/webB state maint; set weight web/webA 7") == "\n\n")

        let response = try #require(try await c.http(get("/metrics")))
        #expect(response.status == 200)
        #expect(response.value("content-type") == "text/plain; version=0.0.4; charset=utf-8")
        let (samples, types) = try parsePrometheus(response.bodyText)
        func value(_ name: String, _ labels: [String: String]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
        #expect(value("haproxy_server_status", ["proxy": "web", "server": "webA", "state": "UP"]) == 1)
        #expect(value("haproxy_server_status", ["proxy": "web", "server": "webA", "state": "MAINT"]) == 0)
        #expect(value("haproxy_server_status", ["proxy": "web", "server": "webB", "state": "MAINT"]) == 1)
        #expect(samples.filter { $0.name == "haproxy_server_status" }.count == 10)
        #expect(value("haproxy_server_weight", ["proxy": "web", "server": "webA"]) == 7)
        #expect(value("haproxy_server_uweight", ["proxy": "web", "server": "webA"]) == 7)
        #expect(value("haproxy_frontend_http_requests_total", ["proxy": "web"]) == 5)
        #expect(value("haproxy_frontend_http_responses_total", ["proxy": "web", "code": "2xx"]) == 4)
        #expect(value("haproxy_backend_http_responses_total", ["proxy": "web", "code": "4xx"]) == 1)
        let served = ["webA", "webB"].compactMap {
            value("haproxy_server_http_responses_total", ["proxy": "web", "server": $0, "code": "2xx"])
        }
        #expect(served.reduce(0, +) == 4)
        #expect((value("haproxy_frontend_bytes_out_total", ["proxy": "web"]) ?? 0) > 0)
        #expect((value("haproxy_backend_bytes_in_total", ["proxy": "web"]) ?? 0) > 0)
        #expect(value("haproxy_backend_active_servers", ["proxy": "web"]) == 1)
        #expect(value("haproxy_backend_status", ["proxy": "web", "state": "UP"]) == 1)
        let duration = value("haproxy_server_check_duration_seconds", ["proxy": "web", "server": "webA"])
        #expect(duration != nil && duration! >= 0 && duration! < 1)
        #expect(value("haproxy_server_check_status", ["proxy": "web", "server": "webA", "state": "L7OK"]) == 1)
        #expect(value("haproxy_process_build_info", ["version": "2.6-hadeck"]) == 1)
        #expect(types["haproxy_server_sessions_total"] == "counter")
        #expect(types["haproxy_server_current_sessions"] == "gauge")
        #expect(value("hadeck_vrrp_state", ["instance": "VI_1", "state": "MASTER"]) == 1)
    }

    @Test func theStrictParserRejectsWhatPrometheusWould() throws {
        let good = "# HELP a_b x\\\\y\n# TYPE a_b gauge\na_b{l=\"q\\\"\\n\\\\\"} 1.5e3\n"
        #expect(try parsePrometheus(good).samples.first?.labels["l"] == "q\"\n\\")
        for bad in [
            "# TYPE a gauge\na{l=\"x\"} 1\na{l=\"x\"} 2\n",  // duplicate series
            "a 1\n",  // no TYPE
            "# TYPE a gauge\n# TYPE a gauge\na 1\n",  // two TYPEs
            "# TYPE a gauge\na{l=\"\\t\"} 1\n",  // bad escape
            "# TYPE a gauge\na{1l=\"x\"} 1\n",  // bad label name
            "# TYPE a gauge\na one\n",  // bad value
            "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n",  // family split
            "# TYPE 9a gauge\n9a 1\n",  // bad metric name
            "# TYPE a gauge\na 1",  // no final newline
        ] {
            #expect(throws: PrometheusParseError.self, "\(bad)") { try parsePrometheus(bad) }
        }
    }
}
