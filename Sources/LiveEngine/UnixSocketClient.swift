#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A plain blocking client of a unix stream socket, with a receive timeout: what `socat -
/// UNIX-CONNECT:PATH` does for the runtime API. The balancer uses it to tell whether a process
/// serves a stats socket path; tests use it as their CLI client. Not for the event loop's hot path.
public final class UnixSocketClient {
    private let fd: Int32

    /// Connects to `path`; nil when nothing accepts there (or the path does not fit a unix socket).
    public init?(path: String, timeout: Double = 5) {
        guard let fd = Self.connectedSocket(path, blocking: true) else { return nil }
        self.fd = fd
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Sends every byte (false when the peer went away).
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// Reads until the peer closes; nil when the timeout passes first.
    public func readToEnd() -> String? {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return String(decoding: out, as: UTF8.self) }
            if n < 0 {
                if errno == EINTR { continue }
                return errno == EAGAIN || errno == EWOULDBLOCK ? nil : String(decoding: out, as: UTF8.self)
            }
            out += buffer[0..<n]
        }
    }

    /// Reads until the received text ends with `suffix`; nil on timeout or close.
    public func read(until suffix: String) -> String? {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let want = Array(suffix.utf8)
        while !(out.count >= want.count && Array(out.suffix(want.count)) == want) {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `echo LINE | socat - UNIX-CONNECT:PATH`: sends one line and returns the whole reply, until the
    /// server closes; nil when nothing accepts at `path` or the timeout passes.
    public static func command(_ path: String, _ line: String, timeout: Double = 5) -> String? {
        guard let client = UnixSocketClient(path: path, timeout: timeout) else { return nil }
        client.send(line + "\n")
        return client.readToEnd()
    }

    /// Whether a process accepts connections at `path` now (a `connect()` succeeds, or its
    /// backlog is full). Never blocks.
    public static func isServed(_ path: String) -> Bool {
        guard let fd = connectedSocket(path, blocking: false, busyIsServed: true) else { return false }
        close(fd)
        return true
    }

    /// A socket connected to `path`, or nil. Non-blocking: `EAGAIN` (a full backlog) counts as
    /// connected when `busyIsServed`.
    private static func connectedSocket(_ path: String, blocking: Bool, busyIsServed: Bool = false) -> Int32? {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let type =
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | (blocking ? 0 : Int32(SOCK_NONBLOCK.rawValue))
        let fd = socket(AF_UNIX, type, 0)
        guard fd >= 0 else { return nil }
        var rc: Int32
        repeat {
            rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
        } while rc < 0 && errno == EINTR
        if rc == 0 || (busyIsServed && (errno == EAGAIN || errno == EINPROGRESS)) { return fd }
        close(fd)
        return nil
    }
}
