import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The dashboard's `--log-file`: hadeck's own diagnostics as the lines `hadeck proxy` prints on
/// standard error (HAProxy's `[NOTICE]   (PID) : ...`), appended to a file so that the screen
/// stays clean. Opened before anything starts: a path that cannot be written is an error at once.
final class DiagnosticsFile: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()

    struct OpenError: Error, CustomStringConvertible {
        var description: String
    }

    init(path: String) throws(OpenError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw OpenError(description: String(cString: strerror(errno))) }
        self.fd = fd
    }

    deinit { close(fd) }

    /// Appends one line whole (O_APPEND: lines from several threads never interleave).
    func append(_ line: String) {
        let bytes = Array(line.utf8)
        lock.lock()
        defer { lock.unlock() }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }

    /// A logger whose lines go to `path`, from `level` up.
    static func logger(path: String, level: Logger.Level) throws(OpenError) -> Logger {
        let file = try DiagnosticsFile(path: path)
        let pid = Int(getpid())
        return Logger(label: "hadeck") { _ in
            HAProxyStyleLogHandler(pid: pid, logLevel: level, write: { file.append($0) })
        }
    }
}
