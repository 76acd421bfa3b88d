import Foundation
import HadeckTestSupport
import LiveEngine
import PlainSockets

#if canImport(Glibc)
    import Glibc
#endif

/// A program running in the background for a test (`haproxy -db`, `hadeck proxy`), its output to
/// /dev/null, killed when the value goes away (also when the test fails).
final class BackgroundProgram {
    let pid: pid_t

    /// `stdout`: a file for the program's standard output (default /dev/null).
    init(_ argv: [String], stdout: String? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let args = argv.map { strdup($0) } + [nil]
        defer { for a in args { free(a) } }
        var pid: pid_t = 0
        Descriptors.markCloseOnExec()
        let rc = posix_spawnp(&pid, argv[0], &actions, nil, args, environ)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        self.pid = pid
    }

    deinit {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    /// User plus system CPU time so far, in seconds (/proc/PID/stat).
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Waits until `host:port` accepts connections (at most `seconds`).
    func waitListening(_ host: String, _ port: Int, seconds: Double = 10) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if LoopbackTCP.isListening(host: host, port: port) { return true }
            usleep(20_000)
        }
        return false
    }
}

/// A TCP socket listening on `host:port` (0: a free port), for the tests' plain-socket servers.
func listeningSocket(host: String, port: Int, backlog: Int32) throws -> Int32 {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    inet_pton(AF_INET, host, &addr.sin_addr)
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0, listen(listener, backlog) == 0 else {
        let code = errno
        close(listener)
        throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
    }
    return listener
}

/// A backend on plain sockets that records every byte proxies send it and answers each request
/// line it sees (` HTTP/1.1\r\n`) with the response a test chooses.
final class RecordingBackend: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [UInt8] = []
    private var response: [UInt8] = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
    private let listener: Int32
    private var stopped = false

    init(host: String, port: Int) throws {
        listener = try listeningSocket(host: host, port: port, backlog: 128)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    func stop() {
        lock.withLock { stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// What the backend answers from now on.
    func answer(_ bytes: [UInt8]) { lock.withLock { response = bytes } }

    /// Everything received since the last call, and forgets it.
    func take() -> [UInt8] {
        lock.withLock {
            defer { received = [] }
            return received
        }
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if lock.withLock({ stopped }) { return }
                continue
            }
            Thread { [self] in serve(fd) }.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var seen: [UInt8] = []
        var answered = 0
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let marker = Array(" HTTP/1.1\r\n".utf8)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return }
            let chunk = buffer[0..<n]
            lock.withLock { received += chunk }
            seen += chunk
            let lines = occurrences(of: marker, in: seen)
            while answered < lines {
                answered += 1
                let bytes = lock.withLock { response }
                _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
        }
    }

    private func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> Int {
        guard haystack.count >= needle.count else { return 0 }
        var count = 0
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<(i + needle.count)]) == needle { count += 1 }
        }
        return count
    }
}

/// Sends `bytes` on a fresh connection and returns the status of the first response line (nil:
/// none within `timeout` seconds, or the connection closed without one) and the seconds it took.
func firstStatus(host: String, port: Int, _ bytes: [UInt8], timeout: Double = 1) -> (status: Int?, seconds: Double) {
    let start = Date()
    guard let fd = LoopbackTCP.connect(host: host, port: port, timeoutMicros: Int(timeout * 1_000_000)) else {
        return (nil, 0)
    }
    defer { close(fd) }
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 8192)
    while !out.contains(10) {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        out += buffer[0..<n]
    }
    let seconds = Date().timeIntervalSince(start)
    guard out.count >= 12, out.starts(with: Array("HTTP/1.".utf8)) else { return (nil, seconds) }
    return (Int(String(decoding: out[9..<12], as: UTF8.self)), seconds)
}
