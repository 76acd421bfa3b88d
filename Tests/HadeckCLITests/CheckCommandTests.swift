import ArgumentParser
import Foundation
import HadeckConfig
import HadeckTestSupport
import LiveEngine
import Testing

@testable import HadeckCLI

/// The package root, found from this source file's location.
private let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func example(_ relative: String) -> String { "Examples/" + relative }

/// Runs `check` with paths relative to the package root, as a user in that directory would.
private func check(_ files: String...) -> CheckCommand.Outcome {
    CheckCommand.check(files: files) { path in
        try String(contentsOf: packageRoot.appendingPathComponent(path), encoding: .utf8)
    }
}

@Suite(.onItsOwnThread) struct CheckCommandTests {
    @Test(arguments: [
        "article/haproxy-lb1.cfg", "article/haproxy-lb2.cfg", "article/keepalived-lb1.conf",
        "article/keepalived-lb2.conf",
    ])
    func articleExamplesAreValid(file: String) {
        let outcome = check(example(file))
        #expect(outcome.stdout == "Configuration file is valid\n")
        #expect(outcome.stderr == "")
        #expect(outcome.exitCode == 0)
    }

    @Test func allArticleFilesAtOnce() {
        let outcome = check(example("article/haproxy-lb1.cfg"), example("article/keepalived-lb1.conf"))
        #expect(outcome.exitCode == 0)
        #expect(outcome.stdout == "Configuration file is valid\n")
    }

    @Test func haproxyErrors() {
        let f = example("broken/haproxy-errors.cfg")
        let outcome = check(f)
        #expect(outcome.exitCode == 1)
        #expect(outcome.stdout == "")
        #expect(
            outcome.stderr == """
                \(f):7: error: 'timeout connect': invalid time unit 'x' in '5x' (expected us, ms, s, m, h or d)
                \(f):11: error: frontend 'www': unable to find required default_backend: 'nowhere'
                \(f):15: error: server 'webA': 'weight' must be between 0 and 256 (got '300')
                \(f):16: error: server 'webB': 'rise' has to be > 0 (got '0')
                \(f):17: error: backend 'app' has two servers named 'webB' (first one at line 16)
                \(f):18: error: server 'webC': missing address ('server' expects <name> and <addr>:<port>)
                \(f):19: error: server 'webD': invalid port '99999' in address '127.0.2.4:99999' (must be between 1 and 65535)
                Configuration file has errors

                """)
    }

    @Test func haproxyStructureErrors() {
        let f = example("broken/haproxy-structure.cfg")
        let outcome = check(f)
        #expect(outcome.exitCode == 1)
        #expect(
            outcome.stderr == """
                \(f):1: error: unknown keyword 'maxconn' out of section (expected 'global', 'defaults', 'frontend', 'backend' or 'listen')
                \(f):2: warning: frontend 'www' has no 'bind' directive. Please declare it as a backend if this was intended. (hadeck sends it no traffic)
                \(f):9: error: unknown keyword 'frobnicate' in 'backend' section
                \(f):11: error: backend 'app' has the same name as backend 'app' declared at \(f):6
                \(f):13: error: 'cookie': 'insert' and 'rewrite' modes are mutually exclusive
                Configuration file has errors

                """)
    }

    /// `haproxy -c` accepts this file with one warning of its own (the log format without a log
    /// address); hadeck gives that one and one per directive it does not simulate.
    @Test func haproxyWarningsStillValid() {
        let f = example("broken/haproxy-warnings.cfg")
        let outcome = check(f)
        #expect(outcome.exitCode == 0)
        #expect(outcome.stdout == "Configuration file is valid\n")
        #expect(
            outcome.stderr == """
                \(f):5: warning: 'tune.bufsize' is not simulated by hadeck; ignored
                \(f):14: warning: log format ignored for frontend 'www' since it has no log address.
                \(f):18: warning: 'http-request set-var(txn.path)' is not simulated by hadeck; the rule is skipped
                \(f):19: warning: 'compression' is not simulated by hadeck; directive ignored
                \(f):24: warning: 'balance uri' is not simulated by hadeck; using 'roundrobin'
                \(f):25: warning: server 'webA': keywords 'ssl', 'verify' are not simulated by hadeck; ignored
                \(f):26: warning: backend 'app': server 'webB' has a cookie value but the backend has no 'cookie' directive; the value is ignored

                """)
    }

    /// Two balancers' files: each is valid alone; together they drift, and every warning names both files' lines.
    @Test func driftedPairGivesEveryWarningWithBothLines() {
        let h1 = example("broken/haproxy-drift-lb1.cfg")
        let k1 = example("broken/keepalived-drift-lb1.conf")
        let h2 = example("broken/haproxy-drift-lb2.cfg")
        let k2 = example("broken/keepalived-drift-lb2.conf")
        let outcome = check(h1, k1, h2, k2)
        #expect(outcome.exitCode == 0)
        let drift = outcome.stderr.split(separator: "\n").map(String.init).filter { !$0.contains("not simulated") }
        #expect(
            drift == [
                "\(h1):15: warning: backend 'web': cookie 'SRV' insert on lb1 differs from cookie 'SERVERID' insert on lb2 (\(h2):13): a session made on lb1 would be rebalanced on lb2",
                "\(h1):16: warning: backend 'web': server 'webA' has cookie value 'A' on lb1 but 'A1' on lb2 (\(h2):14): a session made on lb1 would be rebalanced on lb2",
                "\(h1):13: warning: backend 'web': server 'webC' is on lb2 (\(h2):16) but not on lb1: the two balancers share the load differently and lb1 cannot honour a cookie for it",
                "\(h1):20: warning: backend 'api': 'stick-table' without 'peers' on lb1: its entries are not shared with lb2 (\(h2):19), so the stickiness is lost on failover",
                "\(h2):19: warning: backend 'api': 'stick-table' without 'peers' on lb2: its entries are not shared with lb1 (\(h1):20), so the stickiness is lost on failover",
                "\(k1):9: warning: (VI_1) virtual_router_id 51 on lb1 differs from 52 on lb2: they are two VRRP routers, and both become MASTER (lb2: \(k2):9)",
                "\(k1):11: warning: (VI_1) advert_int 1s on lb1 differs from 2s on lb2: keepalived discards adverts with another interval (VRRPv2), so both become MASTER (lb2: \(k2):11)",
                "\(k1):18: warning: (VI_1) auth_pass differs between lb1 and lb2: each discards the other's adverts, so both become MASTER (lb2: \(k2):18)",
                "\(k1):20: warning: (VI_1) virtual_ipaddress 127.0.0.99 on lb1 differs from 127.0.0.98 on lb2: a failover moves other addresses than the clients use (lb2: \(k2):20)",
                "\(k1):7: warning: (VI_1) both balancers say 'state MASTER' with priority 150: neither yields by priority, the higher primary IP wins, and a restart of either one moves the VIP (lb2: \(k2):7)",
                "\(k1):13: warning: (VI_1) lb1's unicast_peer list (127.0.1.3) does not name lb2 (127.0.1.2, its unicast_src_ip, \(k2):12): lb2 never hears lb1's adverts and becomes MASTER too",
            ])
    }

    @Test func articlePairHasNoDrift() {
        let outcome = check(
            example("article/haproxy-lb1.cfg"), example("article/keepalived-lb1.conf"),
            example("article/haproxy-lb2.cfg"), example("article/keepalived-lb2.conf"))
        #expect(outcome == CheckCommand.Outcome(stdout: "Configuration file is valid\n", stderr: "", exitCode: 0))
    }

    /// A CRLF haproxy.cfg was one long line ("cannot tell whether this is a haproxy.cfg"); a CRLF
    /// keepalived.conf was "valid" with every directive ignored.
    @Test func crlfFilesReadAsTheirLFTwins() throws {
        for name in ["article/haproxy-lb1.cfg", "article/keepalived-lb1.conf"] {
            let lf = try String(contentsOf: packageRoot.appendingPathComponent(example(name)), encoding: .utf8)
            let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
            let outcome = CheckCommand.check(files: [name]) { _ in crlf }
            #expect(outcome == CheckCommand.Outcome(stdout: "Configuration file is valid\n", stderr: "", exitCode: 0))
        }
        let broken = try String(
            contentsOf: packageRoot.appendingPathComponent(example("broken/keepalived-errors.conf")), encoding: .utf8)
        let outcome = CheckCommand.check(files: ["k.conf"]) { _ in broken.replacingOccurrences(of: "\n", with: "\r\n") }
        #expect(outcome.exitCode == 1)
        #expect(outcome.stderr.contains("k.conf:9: error: (VI_1) VRID '256' not valid - must be between 1 & 255\n"))
        #expect(!outcome.stderr.contains("\r"))
    }

    @Test func keepalivedErrors() {
        let f = example("broken/keepalived-errors.conf")
        let outcome = check(f)
        #expect(outcome.exitCode == 1)
        #expect(
            outcome.stderr == """
                \(f):4: error: vrrp_script chk_haproxy: weight '300' must be between -253 and 253
                \(f):9: error: (VI_1) VRID '256' not valid - must be between 1 & 255
                \(f):10: error: (VI_1) Priority '0' not valid! must be between 1 & 255
                \(f):11: error: (VI_1) advert_int '0.5' not valid for VRRP version 2: must be a whole number of seconds between 1 and 255
                \(f):12: error: (VI_1) Version '4' not valid: must be either 2 or 3
                \(f):13: error: (VI_1) Preempt_delay '2000' not valid! must be between 0-1000
                \(f):18: error: (VI_1) track_script 'chk_missing' not found: no vrrp_script or vrrp_track_process with that name
                \(f):22: error: (VI_2) the virtual router id must be set
                Configuration file has errors

                """)
    }

    @Test func keepalivedUnbalanced() {
        let f = example("broken/keepalived-unbalanced.conf")
        let outcome = check(f)
        #expect(outcome.exitCode == 1)
        #expect(
            outcome.stderr
                == "\(f):1: error: unbalanced braces: block 'vrrp_instance VI_1' is never closed\nConfiguration file has errors\n"
        )
    }

    @Test func keepalivedWarningsStillValid() {
        let f = example("broken/keepalived-warnings.conf")
        let outcome = check(f)
        #expect(outcome.exitCode == 0)
        #expect(
            outcome.stderr == """
                \(f):3: warning: global_defs keyword 'notification_email' is not simulated by hadeck; ignored
                \(f):9: warning: script "/usr/bin/curl -sf http://127.0.0.1:8080/" is not simulated; hadeck treats it as always succeeding
                \(f):15: warning: (VI_1) Warning - nopreempt will not work with initial state MASTER - clearing
                \(f):18: warning: 'smtp_alert' in vrrp_instance VI_1 is not simulated by hadeck; ignored

                """)
    }

    @Test func missingFile() {
        let outcome = CheckCommand.check(files: ["/nonexistent/haproxy.cfg"])
        #expect(outcome.exitCode == 1)
        #expect(
            outcome.stderr
                == "/nonexistent/haproxy.cfg: error: cannot read configuration file '/nonexistent/haproxy.cfg': No such file or directory\nConfiguration file has errors\n"
        )
    }

    @Test func unknownKind() {
        let outcome = CheckCommand.check(files: ["x"]) { _ in "hello world\n" }
        #expect(outcome.exitCode == 1)
        #expect(outcome.stderr.hasPrefix("x:1: error: cannot tell what this file is: not a haproxy.cfg"))
    }

    @Test func clusterAndScenarioFilesAreChecked() {
        let outcome = check(
            example("article/cluster.yaml"), example("scenarios/demo2-balancer-failover.scenario"),
            example("scenarios/demo1-backend-failure.scenario"))
        #expect(outcome.stderr == "")
        #expect(outcome.stdout == "Configuration file is valid\n")
        #expect(outcome.exitCode == 0)
    }

    @Test func aScenarioNamingWhatTheClusterLacksNamesItsLines() {
        let outcome = CheckCommand.check(files: ["t.scenario"]) { path in
            guard path == "t.scenario" else { throw ConfigFileError(path: path, reason: "No such file or directory") }
            return "at 1s kill lb3/haproxy\nat 2s drain webZ on lb1\nat 3s frobnicate\nexpect master lb9\n"
        }
        #expect(outcome.exitCode == 1)
        #expect(outcome.stderr == "t.scenario:3: error: unknown command 'frobnicate'\nConfiguration file has errors\n")
        let names = CheckCommand.check(files: ["t.scenario"]) { _ in
            "at 1s kill lb3/haproxy\nat 2s drain webZ on lb1\nexpect master lb9\n"
        }
        #expect(
            names.stderr == """
                t.scenario:1: error: the cluster 'article' has no balancer 'lb3' (it has lb1, lb2)
                t.scenario:2: error: the cluster 'article' has no backend 'webZ' (it has webA, webB)
                t.scenario:3: error: the cluster 'article' has no balancer 'lb9' (it has lb1, lb2)
                Configuration file has errors

                """)
    }

    @Test func aScenarioNamingAMissingClusterFileSaysNoSuchFile() {
        let outcome = CheckCommand.check(files: ["dir/t.scenario"]) { path in
            guard path == "dir/t.scenario" else {
                throw ConfigFileError(path: path, reason: "No such file or directory")
            }
            return "cluster missing.yaml\nat 1s kill webA\n"
        }
        #expect(outcome.stderr == "dir/missing.yaml: error: no such file\nConfiguration file has errors\n")
    }

    @Test func aClusterFileIsCheckedWithTheConfigurationsItNames() {
        let outcome = CheckCommand.check(files: ["c/cluster.yaml"]) { path in
            switch path {
            case "c/cluster.yaml":
                return """
                    vip: 10.0.0.99:8080
                    balancers:
                      lb1: {address: 10.0.0.1, mac: "52:54:00:00:01:0x", haproxy: h.cfg, keepalived: k.conf}
                    backends:
                      webA: {address: 10.0.1.1:8081, jvmRoute: jvm3}
                    """
            default: throw ConfigFileError(path: path, reason: "No such file or directory")
            }
        }
        // A bad MAC is one error, not also "has no mac"; production addresses are fine to check.
        #expect(
            outcome.stderr
                == "c/cluster.yaml:3: error: '52:54:00:00:01:0x' is not a MAC address like 52:54:00:00:01:01\nConfiguration file has errors\n",
            "\(outcome.stderr)")
    }

    @Test func argumentParsing() throws {
        let command = try CheckCommand.parse(["-f", "a.cfg", "-f", "b.conf"])
        #expect(command.files == ["a.cfg", "b.conf"])
        #expect(throws: (any Error).self) { try CheckCommand.parse([]) }
    }

    /// Runs the built binary exactly as a user would.
    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(
                atPath: packageRoot.appendingPathComponent(".build/debug/hadeck").path),
            "needs a built .build/debug/hadeck"))
    func builtBinary() throws {
        let binary = packageRoot.appendingPathComponent(".build/debug/hadeck")
        func run(_ args: [String]) throws -> (Int32, String, String) {
            let process = Process()
            process.executableURL = binary
            process.arguments = args
            process.currentDirectoryURL = packageRoot
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            Descriptors.markCloseOnExec()
            try process.run()
            let outData = out.fileHandleForReading.readDataToEndOfFile()
            let errData = err.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (
                process.terminationStatus, String(decoding: outData, as: UTF8.self),
                String(decoding: errData, as: UTF8.self)
            )
        }
        let (ok, okOut, _) = try run([
            "check", "-f", "Examples/article/haproxy-lb1.cfg", "-f", "Examples/article/keepalived-lb1.conf",
        ])
        #expect(ok == 0)
        #expect(okOut == "Configuration file is valid\n")
        let (bad, _, badErr) = try run(["check", "-f", "Examples/broken/keepalived-unbalanced.conf"])
        #expect(bad == 1)
        #expect(badErr.contains("Examples/broken/keepalived-unbalanced.conf:1: error: unbalanced braces"))
    }
}
