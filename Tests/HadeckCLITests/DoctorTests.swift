import BalancerCore
import ClusterCore
import Foundation
import HadeckCLI
import HadeckTestSupport
import LiveCluster
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Answers a test chooses for `hadeck doctor`'s checks.
struct FakeDoctorProbes: DoctorProbes {
    var size: (width: Int, height: Int)? = (140, 42)
    var term: String? = "xterm-256color"
    var knownTerms: Set<String> = ["xterm-256color", "tmux-256color"]
    var isRoot = true
    var programs: [String: String] = [
        "/usr/sbin/haproxy": "/usr/sbin/haproxy", "/usr/sbin/keepalived": "/usr/sbin/keepalived",
        "ip": "/usr/sbin/ip", "nft": "/usr/sbin/nft", "setsid": "/usr/bin/setsid", "asciinema": "/usr/bin/asciinema",
        "tmux": "/usr/bin/tmux", "chromium": "/usr/bin/chromium",
    ]
    var namespaces: String? = nil
    var taken: [String: String] = [:]
    /// What was asked, in order.
    var namespaceTried = false

    func terminalSize() -> (width: Int, height: Int)? { size }
    func terminfoKnown(_ term: String) -> Bool { knownTerms.contains(term) }
    func which(_ program: String) -> String? { programs[program] }
    func namespaceProblem(ip: String) -> String? {
        #expect(isRoot && ip == programs["ip"], "namespaces tried without root or without ip")
        return namespaces
    }
    func bindProblem(_ listener: LiveListener) -> String? { taken[listener.address] }
}

@Suite(.onItsOwnThread) struct DoctorTests {
    static let listeners = LiveCluster.listeners(spec: .article)

    func check(_ checks: [DoctorCheck], _ name: String) -> DoctorCheck? { checks.first { $0.check == name } }

    @Test func theArticleClusterBindsTheAddressesItsConfigsName() {
        let addresses = Self.listeners.map(\.description)
        #expect(
            addresses == [
                "127.0.0.99:8080 (TCP, the VIP)", "127.0.1.1:8080 (TCP, lb1's haproxy (web))",
                "/tmp/hadeck-lb1.sock (unix socket, lb1's stats socket)",
                "127.0.1.1:11200 (UDP, lb1's keepalived (VRRP))",
                "127.0.1.2:8080 (TCP, lb2's haproxy (web))", "/tmp/hadeck-lb2.sock (unix socket, lb2's stats socket)",
                "127.0.1.2:11200 (UDP, lb2's keepalived (VRRP))", "127.0.2.1:8081 (TCP, webA)",
                "127.0.2.2:8888 (TCP, webB)",
            ])
        var options = LiveClusterOptions()
        options.vip = HostPort(host: "127.0.0.98", port: 8080)
        #expect(LiveCluster.listeners(spec: .article, options: options).first?.address == "127.0.0.98:8080")
    }

    @Test func aMachineWithEverythingPassesEveryCheck() throws {
        let checks = Doctor.checks(FakeDoctorProbes(), listeners: Self.listeners)
        #expect(checks.allSatisfy { $0.status == .ok }, "\(checks)")
        #expect(Doctor.canRunEmbeddedDemo(checks) && Doctor.installLine(checks) == nil)
        let text = Doctor.text(checks)
        #expect(text.contains("ok    terminal size       140x42 (the dashboard needs 80x24)"), "\(text)")
        #expect(text.hasSuffix("the embedded demo can run (hadeck); everything else is here too\n"))
        #expect(
            check(checks, "ports")?.found
                == "all 9 addresses the embedded cluster binds are free, the VIP 127.0.0.99:8080")
    }

    @Test func aSmallTerminalOrAnUnknownTermIsAFailWithItsFix() {
        var probes = FakeDoctorProbes()
        probes.size = (79, 30)
        probes.term = "vt-unknown"
        let checks = Doctor.checks(probes, listeners: Self.listeners)
        #expect(check(checks, "terminal size")?.status == .fail)
        #expect(check(checks, "terminal size")?.fix == "make the window larger (or the font smaller) to at least 80x24")
        #expect(
            check(checks, "TERM")?.status == .fail && check(checks, "TERM")?.found == "vt-unknown: no terminfo entry")
        #expect(!Doctor.canRunEmbeddedDemo(checks))
        #expect(Doctor.installLine(checks) == "apt-get install ncurses-term")
        #expect(Doctor.text(checks).contains("the embedded demo cannot run: fix the 2 FAIL line(s) above"))
        probes.term = nil
        probes.size = nil
        let unset = Doctor.checks(probes, listeners: Self.listeners)
        #expect(check(unset, "TERM")?.fix == "export TERM=xterm-256color")
        // No terminal at all (a pipe, CI): a warning, not a failure.
        #expect(check(unset, "terminal size")?.status == .warn)
    }

    @Test func whatTheLabAndRecordingsMissIsAWarningWithOneInstallLine() {
        var probes = FakeDoctorProbes()
        probes.isRoot = false
        probes.programs["/usr/sbin/keepalived"] = nil
        probes.programs["asciinema"] = nil
        probes.programs["chromium"] = nil
        let checks = Doctor.checks(probes, listeners: Self.listeners)
        #expect(
            check(checks, "root")?.status == .warn
                && check(checks, "root")?.fix == "run the lab as root: sudo hadeck lab")
        // Without root no namespace is made (the fake records an issue if one is).
        #expect(check(checks, "network namespaces")?.found == "not tried (needs root)")
        #expect(check(checks, "keepalived")?.fix == "apt-get install keepalived")
        #expect(check(checks, "haproxy")?.status == .ok)
        #expect(Doctor.canRunEmbeddedDemo(checks))
        #expect(Doctor.installLine(checks) == "apt-get install keepalived asciinema chromium")
        let text = Doctor.text(checks)
        #expect(
            text.contains("warn  keepalived          /usr/sbin/keepalived is missing -> apt-get install keepalived"),
            "\(text)")
        #expect(text.hasSuffix("to install what is missing: apt-get install keepalived asciinema chromium\n"))
        // chromium-browser counts as chromium.
        probes.programs["chromium-browser"] = "/usr/bin/chromium-browser"
        #expect(
            check(Doctor.checks(probes, listeners: Self.listeners), "chromium")?.found == "/usr/bin/chromium-browser")
    }

    @Test func namespacesThatCannotBeMadeSayWhy() {
        var probes = FakeDoctorProbes()
        probes.namespaces = "ip netns add failed: mount --make-shared /run/netns failed: Operation not permitted"
        let checks = Doctor.checks(probes, listeners: Self.listeners)
        #expect(check(checks, "network namespaces")?.status == .warn)
        #expect(check(checks, "network namespaces")?.found.contains("Operation not permitted") == true)
        probes.programs["ip"] = nil
        #expect(
            check(Doctor.checks(probes, listeners: Self.listeners), "network namespaces")?.found
                == "not tried (ip is missing)")
    }

    @Test func eachTakenAddressIsAFailNamingWhatHoldsItAndTheFix() throws {
        var probes = FakeDoctorProbes()
        probes.taken = ["127.0.0.99:8080": "Address already in use", "/tmp/hadeck-lb2.sock": "another process serves"]
        let checks = Doctor.checks(probes, listeners: Self.listeners)
        let ports = checks.filter { $0.check == "ports" }
        #expect(ports.count == 2 && ports.allSatisfy { $0.status == .fail })
        #expect(ports[0].found == "127.0.0.99:8080 (TCP, the VIP) is taken: Address already in use")
        #expect(
            ports[0].fix
                == "stop what holds it (ss -ltnp 'sport = :8080' names it; another hadeck?), or move the VIP: hadeck --vip 127.0.0.98:8080"
        )
        #expect(ports[1].fix?.contains("ss -xlp") == true)
        #expect(!Doctor.canRunEmbeddedDemo(checks))
        let json = try JSONSerialization.jsonObject(with: Data(try Doctor.json(checks).utf8)) as? [String: Any]
        #expect(json?["embeddedDemo"] as? Bool == false)
        let rows = try #require(json?["checks"] as? [[String: Any]])
        #expect(rows.count == checks.count && rows.contains { $0["status"] as? String == "FAIL" })
    }
}

/// `hadeck doctor` itself, in a real terminal and on a cluster of its own addresses.
extension DashboardEndToEndTests {
    @Test(.enabled(if: available, "needs tmux and a built .build/debug/hadeck"))
    func doctorInATerminalSaysWhatItFoundAndATakenPortFailsIt() async throws {
        let session = "hadeck-doctor-\(getpid())"
        defer { _ = try? Self.tmux("kill-session", "-t", session) }
        let (files, clusterFile, vip) = try Self.articleClusterFile(net: 50)
        defer { withExtendedLifetime(files) {} }
        try Self.tmux(
            "new-session", "-d", "-s", session, "-x", "140", "-y", "42",
            "'\(Self.binary)' doctor --cluster '\(clusterFile)'; echo DOCTOR-EXIT=$?; sleep 60")
        let (done, screen) = try await Self.waitForScreen(session, timeout: 20) { $0.contains("DOCTOR-EXIT=") }
        #expect(done, "\(screen)")
        #expect(screen.contains("ok    terminal size       140x42 (the dashboard needs 80x24)"), "\(screen)")
        #expect(screen.contains("ok    TERM"), "\(screen)")
        // Its own addresses are free, so the embedded demo can run: exit 0.
        #expect(
            screen.contains("all 9 addresses the embedded cluster binds are free, the VIP \(vip):8080"), "\(screen)")
        #expect(screen.contains("the embedded demo can run (hadeck)") && screen.contains("DOCTOR-EXIT=0"), "\(screen)")

        // Something listening on the VIP: FAIL, and exit 1.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(8080).bigEndian)
        inet_pton(AF_INET, vip, &addr.sin_addr)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(bound == 0 && listen(fd, 1) == 0)
        let environment = ProcessInfo.processInfo.environment.merging(["TERM": "xterm-256color"]) { $1 }
        let run = try await awaitProgram(
            [Self.binary, "doctor", "--cluster", clusterFile, "--json"], timeout: 30, environment: environment)
        #expect(run.status == 1, "\(run.stdout) \(run.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(json["embeddedDemo"] as? Bool == false)
        let rows = try #require(json["checks"] as? [[String: Any]])
        let failed = rows.filter { $0["status"] as? String == "FAIL" }.compactMap { $0["found"] as? String }
        #expect(failed == ["\(vip):8080 (TCP, the VIP) is taken: Address already in use"], "\(rows)")
    }
}
