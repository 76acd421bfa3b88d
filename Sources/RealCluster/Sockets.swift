import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A socket operation that failed, with the call and its errno text.
public struct SocketError: Error, Hashable, Sendable, CustomStringConvertible {
    public var operation: String
    public var reason: String

    init(_ operation: String, _ code: Int32 = errno) {
        self.operation = operation
        reason = String(cString: strerror(code))
    }

    init(_ operation: String, reason: String) {
        self.operation = operation
        self.reason = reason
    }

    public var description: String { "\(operation): \(reason)" }
}

/// Blocking socket calls with deadlines, for talking to real programs from outside (the stats
/// socket, an HTTP probe). Small and synchronous on purpose: callers run them off Swift's
/// cooperative pool (see `Blocking.run`).
enum Sockets {
    /// A new stream socket (close-on-exec), or in `namespace` when given.
    static func stream(domain: Int32, namespace: String?) throws(SocketError) -> Int32 {
        let fd: Int32
        if let namespace {
            fd = try NetworkNamespace.socket(in: namespace, domain: domain, type: Int32(SOCK_STREAM.rawValue))
        } else {
            fd = socket(domain, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw SocketError("socket") }
        }
        return fd
    }

    /// Connects a unix stream socket to `path`.
    static func connectUnix(path: String, timeout: Duration) throws(SocketError) -> Int32 {
        let fd = try stream(domain: AF_UNIX, namespace: nil)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw SocketError("connect \(path)", reason: "the path is longer than a unix socket allows")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        setTimeouts(fd, timeout)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            let e = SocketError("connect \(path)")
            close(fd)
            throw e
        }
        return fd
    }

    /// Connects a TCP socket to `host:port` (IPv4) within `timeout`, from `namespace` when given.
    static func connectTCP(host: String, port: Int, timeout: Duration, namespace: String? = nil) throws(SocketError)
        -> Int32
    {
        let fd = try stream(domain: AF_INET, namespace: namespace)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            close(fd)
            throw SocketError("connect \(host):\(port)", reason: "not an IPv4 address")
        }
        // A non-blocking connect bounded by poll: SO_SNDTIMEO does not bound every connect.
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            guard errno == EINPROGRESS else {
                let e = SocketError("connect \(host):\(port)")
                close(fd)
                throw e
            }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&p, 1, milliseconds(timeout))
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
            guard ready == 1, soError == 0 else {
                close(fd)
                throw SocketError("connect \(host):\(port)", ready == 1 ? soError : ETIMEDOUT)
            }
        }
        _ = fcntl(fd, F_SETFL, flags)
        setTimeouts(fd, timeout)
        return fd
    }

    /// Writes all of `bytes`.
    static func send(_ fd: Int32, _ bytes: [UInt8]) throws(SocketError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SocketError("send") }
            offset += n
        }
    }

    /// Reads until the peer closes, `complete` says the bytes so far are a whole answer, or the deadline
    /// passes (then throws).
    static func receive(
        _ fd: Int32, timeout: Duration, until complete: ([UInt8]) -> Bool = { _ in false }
    ) throws(SocketError) -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw SocketError("receive", ETIMEDOUT) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, milliseconds(left))
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { throw SocketError("receive", ETIMEDOUT) }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            if n < 0 { throw SocketError("receive") }
            if n == 0 { return out }
            out += buffer[0..<n]
            if complete(out) { return out }
        }
    }

    static func setTimeouts(_ fd: Int32, _ timeout: Duration) {
        let ms = milliseconds(timeout)
        var tv = timeval(tv_sec: Int(ms / 1000), tv_usec: suseconds_t(ms % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    static func milliseconds(_ d: Duration) -> Int32 {
        let c = d.components
        return Int32(clamping: max(0, c.seconds * 1000 + c.attoseconds / 1_000_000_000_000_000))
    }

    /// Whether `fd` has something to read within `left`. With no time left it still looks once (a
    /// zero timeout reads what is already there); a little time left waits at least a millisecond.
    static func isReadable(_ fd: Int32, within left: Duration) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, left > .zero ? max(1, milliseconds(left)) : 0) > 0
    }
}
