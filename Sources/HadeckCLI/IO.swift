#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes straight to a file descriptor (the C `stdout`/`stderr` globals are not concurrency-safe in Swift 6).
func writeAll(_ fd: Int32, _ s: String) { writeAll(fd, Array(s.utf8)) }

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var bytes = bytes
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n < 0 && errno == EINTR { continue }  // a signal arrived mid-write: the bytes are still ours to send
        if n <= 0 { return }
        offset += n
    }
}

func fputsStdout(_ s: String) { writeAll(1, s) }
func fputsStderr(_ s: String) { writeAll(2, s) }
