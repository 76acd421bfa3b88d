import Foundation
import RealCluster
import Testing

@testable import Lab

/// `hadeck lab` alone in a real terminal (tmux), as a person would use it, with the real hatop
/// attached to lb1's stats socket beside it. A lab of its own: quitting removes it.
extension LabsOfTheirOwnTests {
    static var tmuxAndHatop: Bool { ProgramRunner.which("tmux") != nil && ProgramRunner.which("hatop") != nil }

    @Test(
        .enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"),
        .enabled(if: LabsOfTheirOwnTests.tmuxAndHatop, "needs tmux and hatop (apt-get install tmux hatop)"))
    func hadeckLabAloneInTmuxBesideHatop() async throws {
        let id = LabEnvironment.prefix + "t"
        let lab = try Lab(id: id, hadeck: LabEnvironment.hadeck)
        let server = "hadeck-lab-e2e-\(getpid())"
        let audit = NSTemporaryDirectory() + "hadeck-lab-e2e-audit-\(getpid()).log"
        @Sendable func tmux(_ args: String...) -> String {
            (try? ProgramRunner.run(["tmux", "-L", server] + args, timeout: .seconds(10)))?.stdout ?? ""
        }
        defer {
            _ = tmux("kill-server")
            _ = try? lab.down()
            try? FileManager.default.removeItem(atPath: audit)
        }
        @Sendable func screen(_ window: String = "0") -> String { tmux("capture-pane", "-p", "-t", "e2e:\(window)") }
        func waitScreen(_ window: String = "0", within: Duration, _ ok: @escaping @Sendable (String) -> Bool)
            async throws -> String
        {
            try await Blocking.run {
                let deadline = ContinuousClock.now + within
                var last = ""
                while ContinuousClock.now < deadline {
                    last = screen(window)
                    if ok(last) { return last }
                    usleep(200_000)
                }
                return last
            }
        }

        let start = ContinuousClock.now
        func phase(_ what: String) { print("hadeck lab in tmux: \(what) at \(ContinuousClock.now - start)") }
        _ = tmux(
            "new-session", "-d", "-s", "e2e", "-x", "140", "-y", "45",
            "\(LabEnvironment.hadeck) lab --id \(id) --theme mono --audit-log \(audit)")
        _ = tmux("set-option", "-t", "e2e", "remain-on-exit", "on")

        // lb1 MASTER, and the VIP on lb1's real MAC (as `ip` reads its interface).
        let configured = (LabLayout.host("lb1")!.mac!, LabLayout.host("lb2")!.mac!)
        let up = try await waitScreen(within: .seconds(30)) {
            $0.contains("MASTER lb1") && $0.contains("VIP 10.77.0.10 → \(configured.0) → lb1")
        }
        phase("lb1 MASTER on screen")
        let lb1MAC = try #require(lab.interface("lb1")?.mac, "lb1 has no interface: \(up)")
        let lb2MAC = try #require(lab.interface("lb2")?.mac)
        #expect(up.contains("hadeck lab \(id)") && up.contains("attached"), "the header names the cluster: \(up)")
        #expect(up.contains("VIP 10.77.0.10 → \(lb1MAC) → lb1"), "\(up)")

        // The real hatop on lb1's stats socket at the same time sees the same servers.
        _ = tmux("new-window", "-t", "e2e", "-n", "hatop", "hatop -s \(lab.layout.statsSocket("lb1"))")
        let hatop = try await waitScreen("hatop", within: .seconds(10)) { $0.contains("webA") && $0.contains("webB") }
        let dashboard = screen()
        func servers(_ text: String) -> Set<String> {
            Set(
                text.split(separator: "\n").compactMap { line -> String? in
                    let words = line.split(separator: " ").map { $0.trimmingCharacters(in: ["▸"]) }
                    guard let name = words.first, name.hasPrefix("web"), words.contains("UP") else { return nil }
                    return name
                })
        }
        #expect(servers(hatop) == ["webA", "webB"], "hatop: \(hatop)")
        #expect(servers(dashboard) == servers(hatop), "dashboard: \(dashboard)")
        _ = tmux("kill-window", "-t", "e2e:hatop")
        phase("hatop checked")

        // `k` on lb1 (twice: destructive keys are confirmed): its haproxy dies, lb2 takes the VIP.
        let pid = lab.runningHAProxy("lb1")?.pid
        _ = tmux("send-keys", "-t", "e2e:0", "BTab")
        try await Task.sleep(for: .milliseconds(300))
        _ = tmux("send-keys", "-t", "e2e:0", "k")
        try await Task.sleep(for: .milliseconds(300))
        _ = tmux("send-keys", "-t", "e2e:0", "k")
        let moved = try await waitScreen(within: .seconds(12)) {
            $0.contains("MASTER lb2") && $0.contains("VIP 10.77.0.10 → \(configured.1) → lb2")
        }
        phase("lb2 MASTER on screen")
        #expect(moved.contains("VIP 10.77.0.10 → \(lb2MAC) → lb2"), "\(moved)")
        #expect(
            pid.map { !LinuxProcess.isRunning($0) } == true, "lb1's real haproxy \(String(describing: pid)) is gone")

        // `q`: the dashboard ends and the lab is gone.
        let before = snapshotProcesses(lab)
        _ = tmux("send-keys", "-t", "e2e:0", "q")
        let end = try await waitScreen(within: .seconds(20)) { $0.contains("hadeck lab: lab \(id) removed") }
        phase("lab removed")
        #expect(end.contains("hadeck lab: lab \(id) removed"), "\(end)")
        #expect(tmux("display-message", "-p", "-t", "e2e:0", "#{pane_dead}").hasPrefix("1"))
        let left = leftovers(of: id, before: before)
        #expect(left.isEmpty, "left after q: \(left)")
        let audited = (try? String(contentsOfFile: audit, encoding: .utf8)) ?? ""
        #expect(audited.contains(#""action":"kill lb1/haproxy","ok":true"#), "\(audited)")
    }
}
