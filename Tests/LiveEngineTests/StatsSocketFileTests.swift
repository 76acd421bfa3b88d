import BalancerCore
import Foundation
import HadeckBase
import HadeckTestSupport
import LiveEngine
import NIOPosix
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A fresh directory for a test's socket files, removed by `remove()`.
struct SocketDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/hadeck-proxy-sock-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        path = String(cString: made)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Names in the directory (a temporary name left behind would show here).
    var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}

/// A balancer with one frontend on `127.80.2.host:18080`, no server checks, and one admin stats socket at `socket`.
func socketBalancer(host: Int, socket: String, mode: Int = 0o600) -> Balancer {
    let text = """
        defaults
            mode http
            timeout connect 1s
            timeout client 5s
            timeout server 5s
        listen web
            bind 127.80.2.\(host):18080
            server webA 127.80.2.200:18081
        """
    var options = BalancerOptions()
    var config = StatsSocketConfig(path: socket)
    config.level = .admin
    config.mode = mode
    options.statsSockets = .custom([config])
    return Balancer(name: "sock\(host)", config: parseConfig(text), eventLoop: testGroup.next(), options: options)
}

/// A unix socket file nobody accepts on (a process that died without removing it).
func makeStaleSocket(_ path: String) {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_un()
    addr.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &addr.sun_path) { raw in
        for (i, b) in path.utf8.enumerated() { raw[i] = b }
    }
    _ = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    close(fd)
}

/// Whether something accepts TCP connections on `host:18080`.
func frontendListens(host: Int) async -> Bool {
    (try? await RawClient.connect(host: "127.80.2.\(host)", port: 18080).close()) != nil
}

@Suite("Stats socket files: never taken over, never someone else's removed", .serialized, .onItsOwnThread)
struct StatsSocketFileTests {
    @Test func aPathAnotherBalancerServesIsRefusedAndItsSocketKeepsWorking() async throws {
        let dir = try SocketDirectory()
        defer { dir.remove() }
        let path = dir.path + "/lb.sock"
        let first = socketBalancer(host: 1, socket: path)
        try await first.start()
        let second = socketBalancer(host: 2, socket: path)
        await #expect(throws: LiveEngineError.statsSocketInUse(path: path)) { try await second.start() }
        #expect(
            "\(LiveEngineError.statsSocketInUse(path: path))"
                == "another process serves the stats socket \(path): hadeck does not take it over (stop that process, or give this balancer another 'stats socket' path)"
        )
        // Nothing of the second one started, nothing of the first one was touched.
        #expect(await !second.isAlive)
        #expect(await !frontendListens(host: 2))
        #expect(await cli(path, "show info")?.contains("Pid: ") == true)
        #expect(dir.entries == ["lb.sock"])
        await second.stop()
        #expect(await cli(path, "show cli level") == "admin\n\n")
        await first.stop()
        #expect(dir.entries == [])
    }

    @Test func aRegularFileADirectoryOrADanglingLinkAtThePathIsRefusedWithASentence() async throws {
        let dir = try SocketDirectory()
        defer { dir.remove() }
        let file = dir.path + "/file.sock"
        try "keep me\n".write(toFile: file, atomically: false, encoding: .utf8)
        let link = dir.path + "/link.sock"
        symlink(dir.path + "/nowhere", link)
        let folder = dir.path + "/dir.sock"
        mkdir(folder, 0o700)
        for (path, what) in [
            (file, "is a regular file"), (link, "is a symbolic link to \(dir.path)/nowhere, which does not exist"),
            (folder, "is a directory"),
        ] {
            let b = socketBalancer(host: 3, socket: path)
            await #expect(throws: LiveEngineError.statsSocketPathTaken(path: path, what: what)) { try await b.start() }
            #expect(await !frontendListens(host: 3))
        }
        #expect(
            "\(LiveEngineError.statsSocketPathTaken(path: file, what: "is a regular file"))"
                == "cannot open the stats socket \(file): it is a regular file, not a socket; hadeck does not replace it (remove it, or choose another path)"
        )
        // Nothing was replaced or removed.
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "keep me\n")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == dir.path + "/nowhere")
        #expect(dir.entries == ["dir.sock", "file.sock", "link.sock"])
    }

    @Test func aStaleSocketIsReplacedAndTheNewOneHasItsModeFromTheStart() async throws {
        let dir = try SocketDirectory()
        defer { dir.remove() }
        let path = dir.path + "/stale.sock"
        makeStaleSocket(path)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(!UnixSocketClient.isServed(path))
        // A loose umask does not leak into the socket's mode (it is set before the socket is reachable).
        let old = umask(0)
        let b = socketBalancer(host: 4, socket: path, mode: 0o660)
        let started: Result<Void, Error>
        do {
            try await b.start()
            started = .success(())
        } catch {
            started = .failure(error)
        }
        umask(old)
        try started.get()
        #expect(await cli(path, "show cli level") == "admin\n\n")
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o660)
        // No temporary name or directory is left next to it.
        #expect(dir.entries == ["stale.sock"])
        await b.stop()
        #expect(dir.entries == [])
    }

    @Test func stoppingRemovesOnlyTheSocketThisBalancerCreated() async throws {
        let dir = try SocketDirectory()
        defer { dir.remove() }
        let path = dir.path + "/mine.sock"
        let b = socketBalancer(host: 5, socket: path)
        try await b.start()
        // Someone else puts their own file at the path meanwhile.
        let other = dir.path + "/other"
        try "theirs\n".write(toFile: other, atomically: false, encoding: .utf8)
        #expect(rename(other, path) == 0)
        await b.stop()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "theirs\n")
    }

    @Test func aPathTooLongForTheTemporaryNameIsAClearError() async throws {
        let dir = try SocketDirectory()
        defer { dir.remove() }
        let path = dir.path + "/" + String(repeating: "s", count: 100 - dir.path.utf8.count) + ".sock"
        let b = socketBalancer(host: 6, socket: path)
        await #expect(throws: LiveEngineError.self) { try await b.start() }
        #expect(await !frontendListens(host: 6))
        #expect(dir.entries == [])
    }
}
