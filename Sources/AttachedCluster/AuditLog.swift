import AttachConfig
import Foundation
import HadeckBase

#if canImport(Glibc)
    import Glibc
#endif

/// Every action hadeck sends to an attached cluster, one JSON object per line, appended: when
/// (UTC), who asked, what, on which target, the exact argument vector or runtime API line, and
/// what came back. Refused actions (read-only, unknown target) are recorded too.
public final class AuditLog: @unchecked Sendable {
    /// `$XDG_STATE_HOME/hadeck/audit.log`, else `~/.local/state/hadeck/audit.log`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/hadeck/audit.log" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/state/hadeck/audit.log"
    }

    public let path: String
    private let fd: Int32
    private let lock = NSLock()
    private let cluster: String

    /// Opens (creates) the log for appending; `cluster` names the attached cluster on every line.
    public init(path: String, cluster: String) throws(AttachError) {
        self.path = path
        self.cluster = cluster
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw AttachError("cannot open the audit log \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// One action as it ran (or was refused: `results` empty and `refused` set).
    public func record(actor: String, action: String, results: [StepResult], refused: String? = nil) {
        var fields: [(String, JSONValue)] = [
            ("time", .string(Self.timestamp())), ("cluster", .string(cluster)), ("actor", .string(actor)),
            ("action", .string(action)),
        ]
        if let refused {
            fields.append(("result", .string("refused: \(refused)")))
        } else {
            fields.append(("ok", .bool(results.allSatisfy(\.ok))))
            fields.append(
                (
                    "steps",
                    .array(
                        results.map { r in
                            var f: [(String, JSONValue)] = []
                            switch r.step {
                            case .runtime(let b, let socket, let line):
                                f = [
                                    ("target", .string(b)), ("stats_socket", .string(socket.description)),
                                    ("runtime_api", .string(line)),
                                ]
                            case .program(let what, let argv):
                                f = [("target", .string(what)), ("argv", .array(argv.map { .string($0) }))]
                            }
                            f.append(("result", .string(r.result)))
                            return .object(f)
                        })
                ))
        }
        let line = JSONValue.object(fields).encoded + "\n"
        lock.lock()
        defer { lock.unlock() }
        _ = line.withCString { write(fd, $0, strlen($0)) }
    }

    static func timestamp() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }
}

/// Why attaching failed, in one line.
public struct AttachError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// One hadeck at a time reads a cluster's log sockets and notify FIFOs: a second would bind the
/// same path (taking it from the first) or share a FIFO's lines. A lock file beside each (`PATH.lock`,
/// or one under /tmp for a UDP port) holds an `flock` and the holder's pid and command line.
public final class FeedLock: @unchecked Sendable {
    public let path: String
    private let fd: Int32

    /// The lock file for a log socket or FIFO at `path`, or for `udp@HOST:PORT`.
    public static func lockPath(forFile path: String) -> String { path + ".lock" }
    public static func lockPath(udpHost host: String, port: Int) -> String {
        "/tmp/hadeck-log-udp-\(host)-\(port).lock"
    }

    /// Takes the lock or throws naming the process that holds it. `what` names the resource
    /// (`lb1's log socket /run/...`).
    public init(_ path: String, what: String) throws(AttachError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw AttachError("cannot create the lock file \(path) for \(what): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 1024)
            let n = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            let holder = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
            let lines = holder.split(separator: "\n")
            let pid = lines.first.map(String.init) ?? "?"
            let command = lines.dropFirst().first.map { ": \($0)" } ?? ""
            throw AttachError(
                "\(what) is held by another hadeck (pid \(pid)\(command)); only one hadeck at a time reads a cluster's logs and FIFOs (lock \(path))"
            )
        }
        self.fd = fd
        let args = CommandLine.arguments.joined(separator: " ")
        let text = "\(getpid())\n\(args)\n"
        ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    /// Removes the lock file and lets go.
    public func release() {
        unlink(path)
        flock(fd, LOCK_UN)
        close(fd)
    }
}
