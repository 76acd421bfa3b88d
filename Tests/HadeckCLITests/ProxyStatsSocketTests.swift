import Foundation
import LiveEngine
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `hadeck proxy` opens the configuration's stats socket and removes it on SIGTERM.
@Suite(.serialized) struct ProxyStatsSocketTests {
    static let binary = DashboardEndToEndTests.binary

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: binary), "needs a built .build/debug/hadeck"))
    func proxyOpensTheStatsSocketAndRemovesItOnSIGTERM() throws {
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
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let args: [String] = [Self.binary, "proxy", "-f", dir + "/h.cfg"]
        let argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        Descriptors.markCloseOnExec()
        #expect(posix_spawn(&pid, Self.binary, &actions, nil, argv, environ) == 0)
        var opened = false
        for _ in 0..<100 where !opened {
            opened = FileManager.default.fileExists(atPath: socket)
            if !opened { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(opened, "hadeck proxy did not create \(socket)")
        let mode = try? FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        #expect(status == 0)
        #expect(!FileManager.default.fileExists(atPath: socket))
    }
}
