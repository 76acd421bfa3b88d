import BalancerCore
import Foundation
import HadeckBase
import HadeckConfig
import NIOCore
import NIOEmbedded
import Testing

@testable import LiveEngine

/// A balancer's state on an embedded loop at virtual time 0: nothing bound, no clock but the loop's.
/// `config` is the configuration captured from haproxy 2.6.12 (`Golden/haproxy-2.6.12/haproxy.cfg`),
/// without what only haproxy understands.
func goldenBalancer(_ loop: EmbeddedEventLoop) throws -> BalancerState {
    let text = try #require(golden("haproxy-2.6.12/haproxy.cfg"))
        .replacingOccurrences(of: "SOCKET", with: "/nonexistent/golden.sock")
        .split(separator: "\n").filter { !$0.contains("prometheus-exporter") }.joined(separator: "\n")
    let state = BalancerState(
        name: "lbgolden", pid: 4242, config: parseConfig(text), clock: LiveClock(origin: loop.now), loop: loop,
        options: BalancerOptions(), callbacks: BalancerCallbacks())
    state.alive = true
    state.statistics.startedAt = state.now
    state.statistics.startedWall = 1_796_000_000
    state.openFilesLimit = 1024
    // webC's first check fails at once, as in the capture (nothing listens on its address).
    let checked = try #require(state.backend(named: "checked"))
    for job in checked.startDueChecks(now: state.now) {
        _ = checked.completeCheck(server: job.server, outcome: .refused, duration: .zero, now: state.now)
    }
    state.statistics.refreshHealth("checked", backend: checked, now: state.now)
    return state
}

@Suite("Stats formats: pure functions of a snapshot, byte for byte with haproxy 2.6.12 where it has them")
struct StatsGoldenTests {
    @Test func showServersStateIsHAProxys() throws {
        let loop = EmbeddedEventLoop()
        let state = try goldenBalancer(loop)
        let ours = try #require(ServersState.text(state.statsSnapshot(), backend: nil))
        #expect(ours + "\n" == golden("haproxy-2.6.12/show-servers-state.txt"))
    }

    @Test func showStatHeaderIsHAProxys() throws {
        let loop = EmbeddedEventLoop()
        let state = try goldenBalancer(loop)
        let header = ShowStat.csv(state.statsSnapshot()).split(separator: "\n").first.map { String($0) + "\n" }
        #expect(header == golden("haproxy-2.6.12/show-stat-header.txt"))
    }

    /// Every command haproxy was asked (`cli-commands.txt`), each on a fresh admin connection, in
    /// order, gives haproxy's reply byte for byte.
    @Test func runtimeAPIRepliesAreHAProxys() throws {
        let loop = EmbeddedEventLoop()
        let state = try goldenBalancer(loop)
        let commands = try #require(golden("haproxy-2.6.12/cli-commands.txt")).split(separator: "\n")
        var transcript = ""
        for command in commands {
            var session = CLISession(level: .admin, timeout: .seconds(10))
            transcript += "> \(command)\n" + RuntimeAPI.run(Array(command.utf8), session: &session, on: state).text
        }
        let expected = try #require(golden("haproxy-2.6.12/cli-replies.txt"))
        let ours = transcript.split(separator: "\n", omittingEmptySubsequences: false)
        let theirs = expected.split(separator: "\n", omittingEmptySubsequences: false)
        for (i, (a, b)) in zip(ours, theirs).enumerated() where a != b {
            Issue.record("line \(i + 1): haproxy \(String(b).debugDescription), hadeck \(String(a).debugDescription)")
            break
        }
        #expect(transcript == expected)
    }

    /// Each metric family hadeck writes is one of haproxy's exporter, with its help text and type.
    @Test func metricFamiliesAreDeclaredAsHAProxyDeclaresThem() throws {
        let loop = EmbeddedEventLoop()
        let state = try goldenBalancer(loop)
        let declarations = try #require(golden("haproxy-2.6.12/metrics-declarations.txt"))
        let theirs = Set(declarations.split(separator: "\n").map(String.init))
        let families = HAProxyMetrics.families(state.statsSnapshot())
        #expect(families.count > 50)
        for f in families {
            let help = "# HELP \(f.name) \(f.help)"
            let type = "# TYPE \(f.name) \(f.kind.rawValue)"
            #expect(theirs.contains(help), "\(help)")
            #expect(theirs.contains(type), "\(type)")
        }
    }

    /// hadeck's own outputs for a state with traffic, checks and an admin change, at 35.5 s (before
    /// webC's next check, due at 60 s).
    @Test func formatsOfABusyBalancerMatchTheirGoldenFiles() throws {
        let loop = EmbeddedEventLoop()
        let state = try goldenBalancer(loop)
        let web = try #require(state.frontends["web"]?.defaultRoute)
        loop.advanceTime(by: .milliseconds(20_000))
        for (server, status, termination) in [
            ("webA", 200, "--"), ("webB", 200, "--"), ("webB", 404, "--"), ("webA", 503, "SC"), ("webB", 0, "CD"),
        ] {
            web.counters.requestFinished(
                server: server, status: status, bytesIn: 120, bytesOut: status == 200 ? 610 : 180,
                retries: termination == "SC" ? 3 : 0, redispatched: termination == "SC", termination: termination,
                now: state.now)
        }
        state.frontends["web"]?.counters.frontend.counts.totalSessions = 4
        state.frontends["web"]?.counters.frontend.counts.maxSessions = 2
        try state.apply(
            AdminRequest(
                backend: "web", server: "webB", action: .state(.drain), source: .statsSocket, level: .admin,
                command: "set server web/webB state drain"))
        loop.advanceTime(by: .milliseconds(15_500))
        let snapshot = state.statsSnapshot()
        expectGolden(ShowStat.csv(snapshot), "show-stat.csv")
        expectGolden(ShowInfo.text(snapshot.process), "show-info.txt")
        expectGolden(ServersState.text(snapshot, backend: "web") ?? "", "show-servers-state-web.txt")
        var page = StatsPageConfig()
        page.enabled = true
        page.uri = "/haproxy-stats"
        page.admin = true
        expectGolden(
            StatsPageHTML.render(snapshot, page: page, status: "DONE", refresh: .seconds(5)), "stats-page.html")
        var extra = MetricFamily("hadeck_vrrp_state", .gauge, "VRRP state, \"quoted\" \\ and\nwrapped.")
        extra.add(["node": "lb\"1\"\n", "state": "MASTER"], 1)
        let metrics = PrometheusText.render(HAProxyMetrics.families(snapshot) + [extra])
        expectGolden(metrics, "metrics.txt")
        #expect(try parsePrometheus(metrics).samples.count > 100)
    }
}
