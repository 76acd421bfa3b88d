import Foundation
import HadeckTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The dashboard checks the terminal before it starts anything.
@Suite(.tags(.live)) struct TerminalCheckTests {
    /// A listening TCP socket on `host:port` (closed by the caller).
    static func listen(_ host: String, _ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &addr.sin_addr)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, Glibc.listen(fd, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        return fd
    }

    /// `hadeck > file` with the VIP's port taken: the terminal is the problem named, and it is named
    /// at once, before the cluster would have found the port in use.
    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: DashboardEndToEndTests.binary),
            "needs a built .build/debug/hadeck"))
    func noTerminalIsSaidBeforeAnythingStarts() throws {
        let (files, cluster, vip) = try DashboardEndToEndTests.articleClusterFile(net: 90)
        defer { withExtendedLifetime(files) {} }
        let blocker = try Self.listen(vip, 8080)
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
        let blocker = try Self.listen(vip, 8080)
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
