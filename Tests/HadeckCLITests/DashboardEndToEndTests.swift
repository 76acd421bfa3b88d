import ClusterConfig
import Foundation
import HadeckTestSupport
import LiveCluster
import LiveEngine
import PlainSockets
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Drives the real `hadeck` binary in a real terminal (tmux), as a person would.
@Suite(.serialized, .tags(.live), .onItsOwnThreadFirstInLine) struct DashboardEndToEndTests {
    static let root: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    static let binary = root + "/.build/debug/hadeck"

    static func which(_ tool: String) -> Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)")
        }
    }

    static var available: Bool { which("tmux") && FileManager.default.isExecutableFile(atPath: binary) }

    /// The article's cluster files moved to loopback addresses of their own (`127.67.NET.x`), so the
    /// live cluster under test never meets a `hadeck` someone runs on the default addresses.
    /// Returns the cluster file's path and the VIP's address.
    /// The directory holding them is removed when the caller lets go of `files`.
    static func articleClusterFile(net: Int, prefix: String = "127.67") throws -> (
        files: TemporaryDirectory, path: String, vip: String
    ) {
        let files = try TemporaryDirectory("e2e-\(net)")
        let dir = files.path
        let source = root + "/Examples/article"
        for name in try FileManager.default.contentsOfDirectory(atPath: source) {
            var text = try String(contentsOfFile: source + "/" + name, encoding: .utf8)
            for (from, to) in [
                ("127.0.1.", "\(prefix).\(net)."), ("127.0.2.", "\(prefix).\(net + 1)."),
                ("127.0.0.99", "\(prefix).\(net).99"), ("/tmp/hadeck-lb", "\(dir)/lb"),
            ] {
                text = text.replacingOccurrences(of: from, with: to)
            }
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        }
        return (files, dir + "/cluster.yaml", "\(prefix).\(net).99")
    }

    /// Runs `tmux ARGS...` and returns what it printed. posix_spawn + waitpid rather than Foundation's
    /// Process: other suites change signal handling, and Process waits for SIGCHLD. Only capture-pane's
    /// output is read: a tmux server started by new-session would inherit the pipe and hold it open.
    @discardableResult
    static func tmux(_ args: String...) throws -> String { try tmuxOutput(args) }

    static func tmuxOutput(_ args: [String]) throws -> String {
        let wantsOutput = args.first == "capture-pane" || args.first == "display-message"
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TmuxError.spawn(errno) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addclose(&actions, fds[0])
        if wantsOutput {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addclose(&actions, fds[1])
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = (["tmux"] + args).map { strdup($0) } + [nil]
        defer { for arg in argv { free(arg) } }
        var pid: pid_t = 0
        Descriptors.markCloseOnExec()
        let rc = posix_spawnp(&pid, "tmux", &actions, nil, argv, environ)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw TmuxError.spawn(rc)
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return String(decoding: output, as: UTF8.self)
    }

    enum TmuxError: Error { case spawn(Int32) }

    /// Polls the screen until `condition` holds or `timeout` passes; returns the last screen.
    static func waitForScreen(_ session: String, timeout: Double, _ condition: (String) -> Bool) async throws -> (
        Bool, String
    ) {
        let deadline = Date().addingTimeInterval(timeout)
        var screen = ""
        while Date() < deadline {
            screen = try tmux("capture-pane", "-p", "-t", session)
            if condition(screen) { return (true, screen) }
            try await Task.sleep(for: .milliseconds(200))
        }
        return (false, screen)
    }

    /// client -> session column of its newest request through `via`.
    static func sessions(_ screen: String, via: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in screen.split(separator: "\n") {
            let cols = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            // TIME CLIENT VIA SERVER ST LATENCY SESSION ...
            guard cols.count >= 7, Double(cols[0]) != nil, cols[2] == via, cols[4] == "200" else { continue }
            if out[cols[1]] == nil { out[cols[1]] = cols[6] }
        }
        return out
    }

    @Test(.enabled(if: available, "needs tmux and a built .build/debug/hadeck"))
    func killingLb1sHaproxyByKeyMovesTheVIPAndKeepsSessions() async throws {
        let session = "hadeck-e2e-\(getpid())"
        defer { _ = try? Self.tmux("kill-session", "-t", session) }
        let (files, clusterFile, vip) = try Self.articleClusterFile(net: 10)
        defer { withExtendedLifetime(files) {} }
        try Self.tmux(
            "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
            "cd '\(Self.root)' && '\(Self.binary)' --cluster '\(clusterFile)'; echo HADECK-EXIT=$?; sleep 60")

        // Cold start: lb1 (state MASTER, priority 150) takes the VIP after 3.414062 s.
        let (up, before) = try await Self.waitForScreen(session, timeout: 20) {
            $0.contains("MASTER lb1") && $0.contains("VIP \(vip) → 52:54:00:00:01:01 → lb1")
                && Self.sessions($0, via: "lb1").count >= 4
        }
        #expect(up, "dashboard never showed lb1 MASTER with the VIP on its MAC:\n\(before)")
        let sessionsBefore = Self.sessions(before, via: "lb1")

        // Balancers panel (Shift-Tab from backends), first row is lb1, `k` kills its haproxy.
        try Self.tmux("send-keys", "-t", session, "BTab")
        try Self.tmux("send-keys", "-t", session, "k")
        let killed = Date()
        let (pidGone, afterKill) = try await Self.waitForScreen(session, timeout: 5) {
            $0.contains("kill -9") || $0.contains("killed")
        }
        #expect(pidGone, "no sign of the kill on screen:\n\(afterKill)")

        // The formula: two failed chk_haproxy runs (interval 2 s, fall 2) within 4 s, then lb2 waits
        // Master_Down_Interval 3.609375 s after lb1's last advert above 100: at most ~8.7 s after the kill.
        let (moved, after) = try await Self.waitForScreen(session, timeout: 12) {
            $0.contains("MASTER lb2") && $0.contains("VIP \(vip) → 52:54:00:00:01:02 → lb2")
                && !Self.sessions($0, via: "lb2").isEmpty
        }
        let took = Date().timeIntervalSince(killed)
        #expect(moved, "lb2 never became MASTER with the VIP on its MAC:\n\(after)")
        #expect(took < 8.61 + 1.5, "failover took \(took) s on screen")

        // Clients that went through lb1 before keep their session ids through lb2.
        let (_, later) = try await Self.waitForScreen(session, timeout: 4) { Self.sessions($0, via: "lb2").count >= 4 }
        let sessionsAfter = Self.sessions(later, via: "lb2")
        #expect(!sessionsAfter.isEmpty)
        for (client, sessionID) in sessionsAfter {
            #expect(sessionsBefore[client] == nil || sessionsBefore[client] == sessionID, "\(client) changed session")
        }

        // The failover's timeline strip under the VIP line: the fault, then lb2's timer with its formula.
        let (strip, withStrip) = try await Self.waitForScreen(session, timeout: 5) {
            $0.contains("failover lb1→lb2") && $0.contains("fault→service") && $0.contains("(formula 3.609s)")
        }
        #expect(strip, "no timeline strip after the takeover:\n\(withStrip)")
        #expect(withStrip.contains("lb1 haproxy killed"), "\(withStrip)")

        // R: the takeover again at 0.25x from 2 s before the kill, the VIP on lb1's MAC as before it
        // (a kill soon after the start replays lb1's first GARP first: up to 2 s at 0.25x); Esc: live again.
        try Self.tmux("send-keys", "-t", session, "R")
        let (replaying, replay) = try await Self.waitForScreen(session, timeout: 10) {
            $0.contains(" REPLAY lb1→lb2") && $0.contains("VIP \(vip) → 52:54:00:00:01:01 → lb1")
        }
        #expect(replaying, "R did not replay the takeover:\n\(replay)")
        #expect(replay.contains("x0.25") && replay.contains("MASTER lb2"), "\(replay)")
        try Self.tmux("send-keys", "-t", session, "Escape")
        let (live, afterReplay) = try await Self.waitForScreen(session, timeout: 3) {
            !$0.contains(" REPLAY ") && $0.contains("VIP \(vip) → 52:54:00:00:01:02 → lb2")
        }
        #expect(live, "Esc did not return to live:\n\(afterReplay)")

        try Self.tmux("send-keys", "-t", session, "q")
        let (exited, final) = try await Self.waitForScreen(session, timeout: 5) { $0.contains("HADECK-EXIT=") }
        #expect(exited && final.contains("HADECK-EXIT=0"), "\(final)")
        // The terminal is restored: the dashboard is gone from the screen.
        #expect(!final.contains("Balancers"))
        // And the live cluster closed everything: nothing answers on the VIP or the balancers.
        for address in [vip, vip.replacingOccurrences(of: ".99", with: ".1")] {
            #expect(!Self.isListening(address, 8080), "\(address):8080 still listens after q")
        }
    }

    @Test(.enabled(if: available, "needs tmux and a built .build/debug/hadeck"))
    func closingTheTerminalEndsTheDashboard() async throws {
        let session = "hadeck-hup-\(getpid())"
        defer { _ = try? Self.tmux("kill-session", "-t", session) }
        let (files, clusterFile, vip) = try Self.articleClusterFile(net: 20)
        defer { withExtendedLifetime(files) {} }
        try Self.tmux(
            "new-session", "-d", "-s", session, "-x", "100", "-y", "30",
            "exec '\(Self.binary)' --cluster '\(clusterFile)'")
        let (started, screen) = try await Self.waitForScreen(session, timeout: 10) { $0.contains("Balancers") }
        #expect(started, "\(screen)")
        let pid = try #require(Int32(Self.displayMessage(session, "#{pane_pid}")))
        try Self.tmux("kill-session", "-t", session)
        // A dashboard whose terminal is gone must leave, not spin on failing reads.
        let deadline = Date().addingTimeInterval(10)
        while Self.isRunning(pid) && Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!Self.isRunning(pid), "hadeck (pid \(pid)) still runs after its terminal closed")
        if Self.isRunning(pid) { kill(pid, SIGKILL) }
        #expect(!Self.isListening(vip, 8080), "the VIP still listens after the terminal closed")
    }

    /// Whether something accepts TCP connections on `host:port`.
    static func isListening(_ host: String, _ port: Int) -> Bool { LoopbackTCP.isListening(host: host, port: port) }

    /// Alive and not a zombie (an orphan may wait a while to be reaped by pid 1).
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }

    static func displayMessage(_ session: String, _ format: String) throws -> String {
        try tmuxOutput(["display-message", "-p", "-t", session, format]).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
