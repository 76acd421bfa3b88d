import Foundation
import HadeckTestSupport
import LiveEngine
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `hadeck proxy` opens the configuration's stats socket and removes it on SIGTERM; it never takes
/// over a stats socket another balancer serves (issue 10, item 4).
@Suite(.serialized, .onItsOwnThread) struct ProxyStatsSocketTests {
    static let binary = DashboardEndToEndTests.binary
    static let root = DashboardEndToEndTests.root
    static let lb1Socket = "/tmp/hadeck-lb1.sock"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary), "needs a built .build/debug/hadeck"))
    func proxyOpensTheStatsSocketAndRemovesItOnSIGTERM() async throws {
        let dir = "/tmp/hadeck-proxy-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let socket = dir + "/lb.sock"
        let config = """
            global
                node lbproxy
                stats socket \(socket) mode 600 level admin
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            listen web
                bind 127.77.73.1:18080
                stats enable
                stats uri /haproxy-stats
                server webA 127.77.73.2:18081 check

            """
        try config.write(toFile: dir + "/h.cfg", atomically: true, encoding: .utf8)
        let pid = try #require(Self.spawn(["proxy", "-f", dir + "/h.cfg"], stderr: "/dev/null"))
        var opened = false
        for _ in 0..<100 where !opened {
            opened = FileManager.default.fileExists(atPath: socket)
            if !opened { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(opened, "hadeck proxy did not create \(socket)")
        let mode = try? FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        kill(pid, SIGTERM)
        #expect(Self.wait(pid) == 0)
        #expect(!FileManager.default.fileExists(atPath: socket))
    }

    /// Starts `hadeck ARGS` (standard error into `stderr`); its pid.
    static func spawn(_ args: [String], stderr: String) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        Descriptors.markCloseOnExec()
        return posix_spawn(&pid, binary, &actions, nil, argv, environ) == 0 ? pid : nil
    }

    /// Waits for `pid` to end (killed after `timeout` seconds): its exit status.
    static func wait(_ pid: pid_t, timeout: Double = 20) -> Int32 {
        let killer = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        killer.cancel()
        return status
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary), "needs a built .build/debug/hadeck"))
    func proxyRefusesTheSocketAnotherBalancerServesAndTheOtherKeepsIt() async throws {
        let dir = "/tmp/hadeck-takeover-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The other balancer: a `hadeck proxy` of our own, unless a hadeck on this machine already
        // serves lb1's socket (then that one is the other balancer, and is left alone).
        var other: pid_t?
        if !UnixSocketClient.isServed(Self.lb1Socket) {
            let cfg = """
                global
                    stats socket \(Self.lb1Socket) mode 600 level admin
                defaults
                    mode http
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                listen web
                    bind 127.80.3.1:18080
                    server webA 127.80.3.9:18081

                """
            try cfg.write(toFile: dir + "/other.cfg", atomically: true, encoding: .utf8)
            let spawned = try #require(Self.spawn(["proxy", "-f", dir + "/other.cfg"], stderr: dir + "/other.err"))
            other = spawned
            for _ in 0..<100 where !UnixSocketClient.isServed(Self.lb1Socket) {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        defer {
            if let other {
                kill(other, SIGTERM)
                _ = Self.wait(other)
            }
        }
        let before = try #require(UnixSocketClient.command(Self.lb1Socket, "show info"))

        let config = Self.root + "/Examples/article/haproxy-lb1.cfg"
        let pid = try #require(
            Self.spawn(["proxy", "-f", config, "--wildcard-host", "127.80.3.2"], stderr: dir + "/proxy.err"))
        let status = Self.wait(pid)
        let stderr = (try? String(contentsOfFile: dir + "/proxy.err", encoding: .utf8)) ?? ""
        #expect(status != 0)
        #expect(stderr.contains("[ALERT]    (\(pid)) : "), "\(stderr)")
        #expect(stderr.contains("another process serves the stats socket /tmp/hadeck-lb1.sock"), "\(stderr)")
        #expect(!stderr.contains("listening on"), "\(stderr)")
        // The other balancer's socket is still there and answers, as the same process.
        let after = try #require(UnixSocketClient.command(Self.lb1Socket, "show info"))
        func pidLine(_ info: String) -> Substring? { info.split(separator: "\n").first { $0.hasPrefix("Pid: ") } }
        #expect(pidLine(after) == pidLine(before))
        if let pid = other {
            other = nil
            kill(pid, SIGTERM)
            #expect(Self.wait(pid) == 0)
            #expect(!FileManager.default.fileExists(atPath: Self.lb1Socket))
        }
    }
}
