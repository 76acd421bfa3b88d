import BalancerCore
import ClusterCore
import ClusterModel
import Foundation
import HadeckBase
import HadeckTestSupport
import LiveCluster
import PlainSockets
import Testing

@Suite("Live cluster: HAProxy's stats socket, stats page and metrics on each balancer", .tags(.live), .onItsOwnThread)
struct LiveRuntimeAPITests {
    @Test func aStatsSocketChangeIsTheSameChangeAsTheDashboardKeyWithItsWhy() async throws {
        let socket = try await withArticle { live, net in
            let reply = unixSocketCommand(net.socket("lb1"), "disable server web/webA")
            #expect(reply == "\n")
            let (event, row) = try await live.withCore { c in
                let e = c.events.last { $0.type == .backendState && $0.why.contains("stats socket") }
                let r = c.snapshot().servers.first { $0.balancer == "lb1" && $0.server == "webA" }
                return (e?.jsonLine, r?.status)
            }
            let line = try #require(event)
            #expect(line.contains("\"balancer\":\"lb1\"") && line.contains("\"server\":\"webA\""))
            #expect(line.contains("\"to\":\"MAINT\""))
            #expect(row == "MAINT")
            // The socket of lb2 is another process's: webA stays in service there.
            let lb2Row = try await live.withCore { c in
                c.snapshot().servers.first { $0.balancer == "lb2" && $0.server == "webA" }?.status
            }
            #expect(lb2Row == "UP")
            #expect(
                unixSocketCommand(net.socket("lb1"), "set weight web/webB 300")?.contains("between 0 and 256")
                    == true)
            return net.socket("lb1")
        }
        #expect(!FileManager.default.fileExists(atPath: socket), "the stats socket is removed at shutdown")
    }

    @Test func metricsCarryTheHostsVRRPStateAndTheVIPsOwner() async throws {
        try await withArticle { live, net in
            let response = LoopbackTCP.exchange(
                host: "\(net.balancer(1))", port: 8080,
                Array("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
            )
            let text = String(decoding: response ?? [], as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200"))
            #expect(text.contains("hadeck_vrrp_state{node=\"lb1\",state=\"MASTER\"} 1"))
            #expect(text.contains("hadeck_vrrp_effective_priority{node=\"lb1\"} 150"))
            #expect(text.contains("hadeck_vip_owner{ip=\"\(net.vip)\",node=\"lb1\",mac=\"52:54:00:00:01:01\"} 1"))
            #expect(text.contains("haproxy_server_status{proxy=\"web\",server=\"webA\",state=\"UP\"} 1"))
        }
    }

    @Test(.enabled(if: chromiumPath != nil, "needs chromium (apt-get install chromium)"))
    func chromiumThroughTheVIPShowsLB1ThenLB2AfterTheFailover() async throws {
        try await withArticle(trafficOn: true) { live, net in
            let url = "http://\(net.vip):8080/haproxy-stats"
            let pids = try await live.withCore { c in c.hosts.map { $0.haproxy?.pid ?? 0 } }
            let before = try #require(await statsPageInChromium(url))
            #expect(before.node == "lb1")
            #expect(before.pid == pids[0])
            #expect(before.servers == ["webA": "UP", "webB": "UP"])

            try await live.apply(.kill(.process(host: "lb1", .haproxy)), by: "the test")
            let moved = try await eventually(within: .seconds(15)) {
                try await live.withCore { $0.vipOwner?.name == "lb2" }
            }
            #expect(moved)
            let after = try #require(await statsPageInChromium(url))
            #expect(after.node == "lb2")
            #expect(after.pid == pids[1])
            #expect(after.pid != before.pid)
            #expect(after.servers == ["webA": "UP", "webB": "UP"])

            if ProcessInfo.processInfo.environment["HADECK_RECORD"] == "1" {
                // The README's picture: the page through the VIP after the failover, served by lb2.
                let profile = NSTemporaryDirectory() + "hadeck-chromium-shot-\(getpid())"
                defer { try? FileManager.default.removeItem(atPath: profile) }
                _ = try runProgram(
                    [chromiumPath!] + [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                        "--user-data-dir=\(profile)", "--screenshot=\(repositoryRoot)/docs/stats-page.png",
                        "--window-size=1280,800", url + ";norefresh",
                    ])
            }
        }
    }
}

@Suite("Live cluster: the real hatop on lb1's socket", .tags(.live), .onItsOwnThread)
struct LiveHatopTests {
    static let tmuxPath = which("tmux")
    static let hatopPath = which("hatop")

    static func tmux(_ args: String...) throws -> String {
        try runProgram([tmuxPath!] + args, capture: args.first == "capture-pane").stdout
    }

    static func row(_ screen: String, _ server: String) -> [String] {
        screen.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.first == server }
            ?? []
    }

    @Test(.enabled(if: tmuxPath != nil && hatopPath != nil, "needs hatop and tmux (apt-get install hatop tmux)"))
    func hatopF2PutsWebAInMaintOnTheDashboardAndF1BringsItBack() async throws {
        try await withArticle { live, net in
            let session = "hadeck-live-hatop-\(getpid())"
            defer { _ = try? Self.tmux("kill-session", "-t", session) }
            _ = try Self.tmux(
                "new-session", "-d", "-s", session, "-x", "120", "-y", "40", "hatop -s \(net.socket("lb1")) -i 1")
            let shown = try await eventually(within: .seconds(10)) {
                let screen = try Self.tmux("capture-pane", "-p", "-t", session)
                return Self.row(screen, "webA").dropFirst(2).prefix(2) == ["UP", "L7OK"]
                    && Self.row(screen, "webB").dropFirst(2).prefix(2) == ["UP", "L7OK"] && screen.contains("Node: lb1")
            }
            #expect(shown, "hatop never showed webA and webB UP with L7OK on lb1")

            // The cursor starts on FRONTEND: Down selects webA (shown in reverse video).
            var selected = false
            for _ in 0..<5 where !selected {
                _ = try Self.tmux("send-keys", "-t", session, "Down")
                try await Task.sleep(for: .milliseconds(400))
                selected = try Self.tmux("capture-pane", "-e", "-p", "-t", session).contains("\u{1B}[7mwebA")
            }
            #expect(selected, "could not select webA in hatop")
            _ = try Self.tmux("send-keys", "-t", session, "F2")
            let maint = try await eventually(within: .seconds(5)) {
                try await live.withCore { c in
                    c.snapshot().servers.first { $0.balancer == "lb1" && $0.server == "webA" }?.status == "MAINT"
                        && c.events.contains { $0.type == .backendState && $0.why.contains("stats socket") }
                }
            }
            #expect(maint, "F2 did not put webA in MAINT on lb1 with an event")
            _ = try Self.tmux("send-keys", "-t", session, "F1")
            let back = try await eventually(within: .seconds(5)) {
                try await live.withCore { c in
                    c.snapshot().servers.first { $0.balancer == "lb1" && $0.server == "webA" }?.status == "UP"
                }
            }
            #expect(back, "F1 did not bring webA back")
            _ = try Self.tmux("send-keys", "-t", session, "q")
        }
    }
}
