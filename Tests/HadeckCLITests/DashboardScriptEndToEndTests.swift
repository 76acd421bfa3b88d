import Foundation
import HadeckTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The scripted dashboard in a real terminal: the selection follows its rows while requests flow,
/// Enter on an event shows its whole why, and the scenario's end shows every expectation. One run
/// of the first demonstration (40 s) on the live cluster, on addresses of its own (127.68.40-41.x);
/// at its end `K` kills lb1's keepalived.
extension DashboardEndToEndTests {
    /// The `▸` line of the panel whose rule contains `title` (the rows below the rule, up to the next).
    static func selectedLine(_ screen: String, panel title: String) -> (line: String, row: Int)? {
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("─ ") && $0.contains(title) }) else { return nil }
        var i = start + 1
        while i < lines.count, !lines[i].hasPrefix("─ ") {
            if lines[i].hasPrefix("▸") { return (lines[i], i - start) }
            i += 1
        }
        return nil
    }

    /// The TIME of the first row under the requests panel's header.
    static func newestRequestTime(_ screen: String) -> Double? {
        let lines = screen.split(separator: "\n", omittingEmptySubsequences: false)
        guard let rule = lines.firstIndex(where: { $0.hasPrefix("─ Requests") }), rule + 2 < lines.count else {
            return nil
        }
        return Double(lines[rule + 2].dropFirst().split(separator: " ").first ?? "")
    }

    /// The header's clock.
    static func clock(_ screen: String) -> Double? {
        guard let r = screen.range(of: "t=") else { return nil }
        return Double(screen[r.upperBound...].prefix { $0.isNumber || $0 == "." })
    }

    /// The text inside the detail view's box, one string with runs of spaces made one.
    static func boxText(_ screen: String) -> String {
        screen.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("│") else { return nil }
            return String(line.dropFirst().dropLast())
        }.joined(separator: " ").split(separator: " ").joined(separator: " ")
    }

    @Test(.enabled(if: available, "needs tmux and a built .build/debug/hadeck"))
    func scriptedDemoFollowsTheSelectionShowsAWholeWhyAndEndsWithItsResults() async throws {
        let session = "hadeck-e2e-script-\(getpid())"
        defer { _ = try? Self.tmux("kill-session", "-t", session) }
        let (files, clusterFile, _) = try Self.articleClusterFile(net: 40, prefix: "127.68")
        defer { withExtendedLifetime(files) {} }
        let work = try TemporaryDirectory("e2e-export")
        defer { withExtendedLifetime(work) {} }
        let script = Self.root + "/Examples/scenarios/demo1-backend-failure.scenario"
        try Self.tmux(
            "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
            "cd '\(work.path)' && '\(Self.binary)' --cluster '\(clusterFile)' --script '\(script)'; echo HADECK-EXIT=$?; sleep 60"
        )

        // Requests flow from t=4 s.
        let (flowing, first) = try await Self.waitForScreen(session, timeout: 20) {
            Self.sessions($0, via: "lb1").count >= 3
        }
        #expect(flowing, "no requests through lb1:\n\(first)")

        // A server, then a request, selected; requests keep arriving.
        try Self.tmux("send-keys", "-t", session, "Down")
        try Self.tmux("send-keys", "-t", session, "Tab")
        for _ in 0..<3 { try Self.tmux("send-keys", "-t", session, "Down") }
        // Three rows down, at least: a request that arrives meanwhile pushes the selection down one
        // more row. Taken once the selection stays on one request across two screens, so that no
        // key press is still on its way (it would move the selection after this screen).
        var chosen = ""
        var previous: String?
        let settleBy = Date().addingTimeInterval(5)
        while Date() < settleBy {
            chosen = try Self.tmux("capture-pane", "-p", "-t", session)
            let selected = Self.selectedLine(chosen, panel: "Requests")
            if let selected, selected.row >= 4, selected.line == previous { break }
            previous = selected?.line
            try await Task.sleep(for: .milliseconds(400))
        }
        let request = try #require(Self.selectedLine(chosen, panel: "Requests"), "no request selected:\n\(chosen)")
        // A second of newer requests (4/s) above it, however far the panel had to scroll.
        let selectedAt = try #require(Double(request.line.dropFirst().split(separator: " ").first ?? ""))
        let (moved, later) = try await Self.waitForScreen(session, timeout: 8) {
            (Self.newestRequestTime($0) ?? 0) >= selectedAt + 1
        }
        #expect(moved, "new requests did not come in above the selection:\n\(later)")
        #expect(Self.selectedLine(later, panel: "Requests")?.line == request.line, "the selection left its request")
        #expect(Self.selectedLine(later, panel: "Backends")?.line.hasPrefix("▸webB") == true, "\(later)")

        // Enter on lb1's takeover: the whole why and the timer's formula with its numbers.
        try Self.tmux("send-keys", "-t", session, "Tab")
        var onTakeover = false
        for _ in 0..<60 {
            let screen = try Self.tmux("capture-pane", "-p", "-t", session)
            if Self.selectedLine(screen, panel: "Events")?.line.contains("lb1 BACKUP→MASTER") == true {
                onTakeover = true
                break
            }
            try Self.tmux("send-keys", "-t", session, "Down")
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(onTakeover, "never reached lb1's BACKUP→MASTER event")
        try Self.tmux("send-keys", "-t", session, "Enter")
        let (opened, detail) = try await Self.waitForScreen(session, timeout: 3) { $0.contains("· vrrp.state") }
        #expect(opened, "\(detail)")
        #expect(detail.contains("Master_Down_Interval = 3 x 1 s + (256 - 150)/256 s = 3.414062 s"), "\(detail)")
        // The same event as `e` saves it: its why is on screen whole.
        try Self.tmux("send-keys", "-t", session, "e")
        let (saved, afterSave) = try await Self.waitForScreen(session, timeout: 3) { $0.contains("saved ") }
        #expect(saved, "\(afterSave)")
        // Two files: the events, and the kept history as a session for hadeck replay.
        let exported = try FileManager.default.contentsOfDirectory(atPath: work.path)
        #expect(exported.contains { $0.hasPrefix("hadeck-session-") && $0.hasSuffix(".session") }, "\(exported)")
        let name = try #require(exported.first { $0.hasSuffix(".jsonl") })
        let events = try String(contentsOfFile: work.file(name), encoding: .utf8).split(separator: "\n")
        let takeover = try #require(
            events.first { $0.contains("\"type\":\"vrrp.state\",\"node\":\"lb1\"") && $0.contains("\"to\":\"MASTER\"") }
        )
        let json = try #require(try JSONSerialization.jsonObject(with: Data(takeover.utf8)) as? [String: Any])
        let why = try #require(json["why"] as? String)
        #expect(Self.boxText(detail).contains(why), "the why is not whole on screen: \(why)\n\(detail)")
        try Self.tmux("send-keys", "-t", session, "Escape")
        let (closed, _) = try await Self.waitForScreen(session, timeout: 3) { !$0.contains("· vrrp.state") }
        #expect(closed)

        // The end (t=40 s): every expectation with its line, and the cluster runs on.
        let expectations = try String(contentsOfFile: script, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .compactMap { i, line -> String? in
                guard let r = line.range(of: "expect ") else { return nil }
                return "✓ \(i + 1) \(line[r.upperBound...])"
            }
        #expect(expectations.count == 10)
        let (ended, results) = try await Self.waitForScreen(session, timeout: 45) {
            $0.contains("Scenario ended at t=40.0s")
        }
        #expect(ended, "no result bar:\n\(results)")
        #expect(results.contains("all \(expectations.count) expectations hold"), "\(results)")
        for e in expectations { #expect(results.contains(e), "\(e) missing:\n\(results)") }
        let t0 = try #require(Self.clock(results))
        let (running, _) = try await Self.waitForScreen(session, timeout: 3) { (Self.clock($0) ?? 0) >= t0 + 1 }
        #expect(running, "the cluster stopped at the scenario's end")

        // `K` on lb1 (kill -9 keepalived): KILLED, no priority-0 advert, and the screen goes on
        // moving while the command runs; lb2 takes over after its Master_Down_Interval.
        try Self.tmux("send-keys", "-t", session, "Tab")
        try Self.tmux("send-keys", "-t", session, "Up")
        let (onLb1, balancers) = try await Self.waitForScreen(session, timeout: 3) {
            Self.selectedLine($0, panel: "Balancers")?.line.hasPrefix("▸lb1") == true
        }
        #expect(onLb1, "lb1 is not selected:\n\(balancers)")
        let tKill = try #require(Self.clock(balancers))
        try Self.tmux("send-keys", "-t", session, "K")
        let (killed, afterKill) = try await Self.waitForScreen(session, timeout: 3) {
            Self.selectedLine($0, panel: "Balancers")?.line.contains("KILLED") == true
        }
        let lb1Row = Self.selectedLine(afterKill, panel: "Balancers")?.line ?? ""
        #expect(killed, "lb1 not shown KILLED:\n\(afterKill)")
        #expect(lb1Row.contains("sent no advert") && !lb1Row.contains("STOP"), "\(lb1Row)")
        #expect(!afterKill.contains("150 -> 0") && !afterKill.contains("150→0"), "\(afterKill)")
        let (ticking, _) = try await Self.waitForScreen(session, timeout: 3) { (Self.clock($0) ?? 0) >= tKill + 1 }
        #expect(ticking, "the screen stood still after K")
        let (tookOver, afterTakeover) = try await Self.waitForScreen(session, timeout: 8) {
            $0.contains("MASTER lb2") && $0.contains("→ 52:54:00:00:01:02 → lb2")
        }
        #expect(tookOver, "lb2 never took over from the killed lb1:\n\(afterTakeover)")

        try Self.tmux("send-keys", "-t", session, "q")
        let (exited, final) = try await Self.waitForScreen(session, timeout: 5) { $0.contains("HADECK-EXIT=") }
        #expect(exited && final.contains("HADECK-EXIT=0"), "\(final)")
    }
}
