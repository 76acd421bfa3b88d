import ClusterConfig
import Foundation
import HadeckTestSupport
import LiveEngine
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `hadeck --headless` on the live cluster, as a script would run it.
@Suite(.tags(.live)) struct HeadlessLiveTests {
    static var available: Bool { FileManager.default.isExecutableFile(atPath: DashboardEndToEndTests.binary) }

    /// Runs the binary with `args`, stdin from `input` (a file), stdout and stderr to files; waits for it.
    static func run(_ args: [String], input: String) throws -> (status: Int32, out: String, err: String) {
        let dir = NSTemporaryDirectory() + "hadeck-headless-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try input.write(toFile: dir + "/in", atomically: true, encoding: .utf8)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, dir + "/in", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, dir + "/out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, dir + "/err", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([DashboardEndToEndTests.binary] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        Descriptors.markCloseOnExec()
        let rc = posix_spawn(&pid, DashboardEndToEndTests.binary, &actions, nil, argv, environ)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let out = (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? ""
        return ((status >> 8) & 0xff, out, err)
    }

    @Test(.enabled(if: available, "needs a built .build/debug/hadeck"))
    func eventsComeOutAsJSONAndStdinCommandsFailLb1Over() throws {
        let (files, cluster, vip) = try DashboardEndToEndTests.articleClusterFile(net: 30)
        defer { withExtendedLifetime(files) {} }
        // stdin stays open for the whole run: the kill is read at once, then --until ends it.
        let (status, out, err) = try Self.run(
            ["--headless", "--cluster", cluster, "--until", "14s"], input: "kill lb1/haproxy\nbogus words\n")
        #expect(status == 0, "\(err)")
        #expect(err.contains("stdin:2: error:"), "\(err)")
        let events = out.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(events.count == out.split(separator: "\n").count, "every line is a JSON object")
        func has(_ type: String, _ pairs: [String: String]) -> Bool {
            events.contains { e in
                e["type"] as? String == type && pairs.allSatisfy { e[$0.key] as? String == $0.value }
            }
        }
        #expect(has("process", ["node": "lb1", "process": "haproxy", "action": "killed"]))
        #expect(has("vrrp.state", ["node": "lb2", "to": "MASTER"]))
        #expect(has("arp.update", ["ip": vip, "node": "lb2", "mac": "52:54:00:00:01:02"]))
        // Real requests were answered by lb2 after the failover.
        #expect(
            events.contains {
                $0["type"] as? String == "request" && $0["via"] as? String == "lb2" && $0["status"] as? Int == 200
            })
        #expect(!DashboardEndToEndTests.isListening(vip, 8080))
    }
}

/// The article's three demonstrations run in virtual time, where they prove the same thing in a
/// fraction of a second (ClusterCoreTests' ArticleScenarioTests: every expect line holds). Live, one
/// short scenario proves that `--headless --script` plays real sockets to its end and exits 0 when
/// every expectation holds, 1 naming the line when one does not.
@Suite(.tags(.live)) struct LiveScenarioSmokeTests {
    @Test(.enabled(if: HeadlessLiveTests.available, "needs a built .build/debug/hadeck"))
    func aShortFailoverScenarioHoldsOnRealSockets() throws {
        let (files, cluster, _) = try DashboardEndToEndTests.articleClusterFile(net: 40)
        defer { withExtendedLifetime(files) {} }
        let scenario = try files.write(
            "smoke.scenario",
            """
            name "live smoke: kill -9 of lb1's keepalived"
            end 10s
            at 0s traffic 8/s clients 4
            at 4s expect master lb1
            at 4s expect vip-mac lb1
            at 5s kill lb1/keepalived
            at 9.5s expect master lb2
            at 9.5s expect vip-mac lb2
            at 9.5s expect state lb1 KILLED
            expect sessions-kept
            at 9.6s expect master lb1
            """)
        let (status, out, err) = try HeadlessLiveTests.run(
            ["--headless", "--script", scenario, "--cluster", cluster], input: "")
        let expectations = out.split(separator: "\n").filter { $0.contains("\"type\":\"expect\"") }
        #expect(expectations.count == 7)
        // The last line is false on purpose: lb2 holds the role. Exit 1, naming that line only.
        #expect(status == 1)
        #expect(
            err.split(separator: "\n").map(String.init) == [
                "\(scenario):11: error: expectation failed at 9.6s: expect master lb1 (seen: master: lb2)"
            ], "\(err)")
        #expect(expectations.filter { $0.contains("\"ok\":true") }.count == 6)
    }
}
