#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Plain blocking TCP on loopback, for probes and tests that play an outside client.
public enum LoopbackTCP {
    /// A connected socket to `host:port` (an IPv4 address) with send/receive timeouts, or nil.
    /// The caller closes it.
    public static func connect(host: String, port: Int, timeoutMicros: Int = 3_000_000) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            close(fd)
            return nil
        }
        var timeout = timeval(tv_sec: timeoutMicros / 1_000_000, tv_usec: timeoutMicros % 1_000_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Whether something accepts connections on `host:port`.
    public static func isListening(host: String, port: Int) -> Bool {
        guard let fd = connect(host: host, port: port) else { return false }
        close(fd)
        return true
    }

    /// Sends `request` and reads until the peer closes, an error, or the receive timeout.
    /// Nil when the connection fails or is reset.
    public static func exchange(host: String, port: Int, _ request: [UInt8], timeoutMicros: Int = 3_000_000)
        -> [UInt8]?
    {
        exchangeReportingPort(host: host, port: port, request, timeoutMicros: timeoutMicros).response
    }

    /// `exchange`, also telling the local port the connection came from (nil: no connection), so
    /// that the caller can find its own request among others in a log.
    public static func exchangeReportingPort(
        host: String, port: Int, _ request: [UInt8], timeoutMicros: Int = 3_000_000
    ) -> (response: [UInt8]?, localPort: Int?) {
        guard let fd = connect(host: host, port: port, timeoutMicros: timeoutMicros) else { return (nil, nil) }
        defer { close(fd) }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let localPort = named == 0 ? Int(UInt16(bigEndian: local.sin_port)) : nil
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.count else { return (nil, localPort) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return (out, localPort) }
            if n < 0 { return (errno == EAGAIN || errno == EWOULDBLOCK ? out : nil, localPort) }
            out += buffer[0..<n]
        }
    }
}
