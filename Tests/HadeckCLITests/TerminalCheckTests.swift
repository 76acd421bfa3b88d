import Foundation
import HadeckTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The dashboard checks the terminal before it starts anything.
@Suite(.tags(.live), .onItsOwnThread) struct TerminalCheckTests {
    /// `hadeck > file` with the VIP's port taken: the terminal is the problem named, and it is named
    /// at once, before the cluster would have found the port in use.
    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: DashboardEndToEndTests.binary),
            "needs a built .build/debug/hadeck"))
    func noTerminalIsSaidBeforeAnythingStarts() throws {
        let (files, cluster, vip) = try DashboardEndToEndTests.articleClusterFile(net: 90)
        defer { withExtendedLifetime(files) {} }
        let blocker = try listeningSocket(host: vip, port: 8080, backlog: 8)
        defer { close(blocker) }
        let result = try runProgram([DashboardEndToEndTests.binary, "--cluster", cluster], timeout: 20)
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "hadeck: the dashboard needs a terminal, but stdout is not a TTY; use --headless to run without one\n"
        )
        #expect(result.stdout.isEmpty)
    }

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: DashboardEndToEndTests.binary),
            "needs a built .build/debug/hadeck"))
    func aPortInUseIsOneClearSentence() throws {
        let (files, cluster, vip) = try DashboardEndToEndTests.articleClusterFile(net: 92)
        defer { withExtendedLifetime(files) {} }
        let blocker = try listeningSocket(host: vip, port: 8080, backlog: 8)
        defer { close(blocker) }
        let result = try runProgram(
            [DashboardEndToEndTests.binary, "--headless", "--cluster", cluster, "--until", "1s"], timeout: 20)
        #expect(result.status == 1)
        #expect(
            result.stderr
                == "hadeck: cannot listen on \(vip):8080 for the VIP: address already in use (is another hadeck or haproxy running? --vip picks another VIP)\n"
        )
    }
}
