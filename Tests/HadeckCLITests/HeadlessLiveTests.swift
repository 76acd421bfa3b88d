import ClusterConfig
import Foundation
import HadeckTestSupport
import LiveEngine
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `hadeck --headless` on the live cluster, as a script would run it.
@Suite(.tags(.live), .onItsOwnThread) struct HeadlessLiveTests {
    static var available: Bool { FileManager.default.isExecutableFile(atPath: DashboardEndToEndTests.binary) }

    /// Runs the binary with `args`, stdin from `input` (a file), stdout and stderr to files; waits for it.
    static func run(_ args: [String], input: String) async throws -> (status: Int32, out: String, err: String) {
        let result = try await awaitProgram([DashboardEndToEndTests.binary] + args, input: input)
        return (result.status, result.stdout, result.stderr)
    }

    @Test(.enabled(if: available, "needs a built .build/debug/hadeck"))
    func eventsComeOutAsJSONAndStdinCommandsFailLb1Over() async throws {
        let (files, cluster, vip) = try DashboardEndToEndTests.articleClusterFile(net: 30)
        defer { withExtendedLifetime(files) {} }
        // stdin stays open for the whole run: the kill is read at once, then --until ends it.
        let (status, out, err) = try await Self.run(
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

extension HeadlessLiveTests {
    /// `--log-file`: hadeck's own diagnostics go to the file as HAProxy-style lines, never to the
    /// screen or the JSON events; a file that cannot be written stops everything before it starts.
    @Test(.enabled(if: available, "needs a built .build/debug/hadeck"))
    func diagnosticsGoToTheLogFile() async throws {
        let (files, cluster, _) = try DashboardEndToEndTests.articleClusterFile(net: 45)
        defer { withExtendedLifetime(files) {} }
        let log = files.path + "/hadeck.log"
        let (status, out, err) = try await Self.run(
            ["--headless", "--cluster", cluster, "--until", "5s", "--log-file", log, "--log-level", "debug"],
            input: "kill webA\n")
        #expect(status == 0, "\(err)")
        let text = try String(contentsOfFile: log, encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(
            lines.first?.hasPrefix("[NOTICE]   (") == true
                && lines.first?.hasSuffix(" : hadeck headless on the live cluster 'article'") == true, "\(text)")
        // webA is dead: each balancer's checks of it fail to connect, and say so at debug level.
        #expect(
            lines.contains {
                $0.hasPrefix("[DEBUG]    (") && $0.contains("health check connect failed") && $0.contains("webA")
            }, "\(text)")
        #expect(lines.last?.hasSuffix(" : stopped.") == true, "\(text)")
        #expect(!out.contains("[DEBUG]") && !err.contains("[DEBUG]"), "diagnostics stay in the file")
        let attributes = try FileManager.default.attributesOfItem(atPath: log)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        let (badStatus, badOut, badErr) = try await Self.run(
            ["--headless", "--cluster", cluster, "--until", "5s", "--log-file", files.path + "/no/such/dir/x.log"],
            input: "")
        #expect(badStatus == 1 && badOut.isEmpty, "\(badOut)")
        #expect(badErr.contains("--log-file \(files.path)/no/such/dir/x.log: No such file or directory"), "\(badErr)")
    }
}

/// The article's three demonstrations run in virtual time, where they prove the same thing in a
/// fraction of a second (ClusterCoreTests' ArticleScenarioTests: every expect line holds). Live, one
/// short scenario proves that `--headless --script` plays real sockets to its end and exits 0 when
/// every expectation holds, 1 naming the line when one does not.
@Suite(.tags(.live), .onItsOwnThread) struct LiveScenarioSmokeTests {
    @Test(.enabled(if: HeadlessLiveTests.available, "needs a built .build/debug/hadeck"))
    func aShortFailoverScenarioHoldsOnRealSockets() async throws {
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
        let (status, out, err) = try await HeadlessLiveTests.run(
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
