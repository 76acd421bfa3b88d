import CLinuxShims
import Foundation
import HadeckBase

#if canImport(Glibc)
    import Glibc
#endif

/// A program that runs alongside this process and whose standard output is read line by line as it
/// comes: `ip monitor neigh`, `ssh lb1 cat /run/keepalived.fifo`, a `hadeck attach --headless`
/// under test. Standard input is a pipe (for `send`) or /dev/null; standard error goes to a file or
/// /dev/null, so it can never fill up and stall the program.
public final class ProgramStream: @unchecked Sendable {
    /// What `nextLine` got.
    public enum Reading: Hashable, Sendable {
        case line(String)
        /// Nothing within the timeout; the program still runs.
        case timeout
        /// The program closed its output and exited with this status (128 + signal when killed).
        case ended(Int32)
    }

    public let arguments: [String]
    public let pid: Int32
    private let output: Int32
    private var input: Int32
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var endStatus: Int32?
    private var outputClosed = false

    /// Starts `argv`. `stdin: true` gives it a pipe that `send` writes to; `stderr` names a file its
    /// standard error is appended to (default: /dev/null).
    public init(
        _ argv: [String], stdin: Bool = false, stderr: String? = nil, environment: [String: String]? = nil
    ) throws(ProgramError) {
        arguments = argv
        var out: [Int32] = [-1, -1]
        var inp: [Int32] = [-1, -1]
        guard hadeck_pipe_cloexec(&out) == 0 else { throw ProgramRunner.error(argv, errno) }
        if stdin {
            guard hadeck_pipe_cloexec(&inp) == 0 else {
                close(out[0])
                close(out[1])
                throw ProgramRunner.error(argv, errno)
            }
        }
        let child: pid_t
        do {
            child = try ProgramRunner.spawn(argv, environment: environment) { actions in
                if stdin {
                    posix_spawn_file_actions_adddup2(&actions, inp[0], 0)
                } else {
                    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
                }
                posix_spawn_file_actions_adddup2(&actions, out[1], 1)
                posix_spawn_file_actions_addopen(
                    &actions, 2, stderr ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
            }
        } catch {
            for fd in out + inp where fd >= 0 { close(fd) }
            throw error
        }
        close(out[1])
        if stdin { close(inp[0]) }
        pid = child
        output = out[0]
        input = stdin ? inp[1] : -1
        _ = fcntl(output, F_SETFL, fcntl(output, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        terminate()
        close(output)
    }

    /// The next whole line of output (without its newline), waiting up to `timeout`.
    public func nextLine(timeout: Duration) -> Reading {
        lock.lock()
        defer { lock.unlock() }
        let deadline = ContinuousClock.now + timeout
        while true {
            if let line = buffer.removeFirstLine() { return .line(line) }
            if outputClosed {
                if !buffer.isEmpty {
                    let line = String(decoding: buffer, as: UTF8.self)
                    buffer.removeAll()
                    return .line(line)
                }
                return .ended(reap(wait: true) ?? 0)
            }
            let left = deadline - ContinuousClock.now
            if Sockets.isReadable(output, within: left) && fill() { continue }
            if left <= .zero { return .timeout }
        }
    }

    /// Every whole line available now, without waiting.
    public func availableLines() -> [String] {
        var lines: [String] = []
        while case .line(let line) = nextLine(timeout: .zero) { lines.append(line) }
        return lines
    }

    /// Writes `text` to the program's standard input (started with `stdin: true`).
    public func send(_ text: String) throws(SocketError) {
        lock.lock()
        let fd = input
        lock.unlock()
        guard fd >= 0 else { throw SocketError("write to \(arguments.first ?? "")", reason: "its input is closed") }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SocketError("write to \(arguments.first ?? "")") }
            offset += n
        }
    }

    /// Closes the program's standard input (it sees end of file).
    public func closeInput() {
        lock.lock()
        defer { lock.unlock() }
        if input >= 0 { close(input) }
        input = -1
    }

    /// Whether the program still runs.
    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return reap(wait: false) == nil
    }

    /// Waits up to `timeout` for the program to exit by itself; its status, or nil if it still runs.
    public func waitForExit(timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            lock.lock()
            let status = reap(wait: false)
            lock.unlock()
            if let status { return status }
            if ContinuousClock.now > deadline { return nil }
            usleep(10_000)
        }
    }

    /// Ends the program: SIGTERM, then SIGKILL if it is still there after `grace`. Returns its status.
    @discardableResult
    public func terminate(grace: Duration = .seconds(2)) -> Int32 {
        closeInput()
        lock.lock()
        defer { lock.unlock() }
        if let status = reap(wait: false) { return status }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if let status = reap(wait: false) { return status }
            usleep(5_000)
        }
        kill(pid, SIGKILL)
        return reap(wait: true) ?? 137
    }

    // MARK: Internals (called with the lock held)

    /// Reads what is there; whether anything happened (bytes, or the end of the output).
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16384)
        var any = false
        while true {
            let n = read(output, &chunk, chunk.count)
            if n > 0 {
                buffer += chunk[0..<n]
                any = true
                continue
            }
            if n == 0 {
                outputClosed = true
                any = true
            }
            return any
        }
    }

    /// The exit status once the program has exited (reaped once, remembered after).
    private func reap(wait: Bool) -> Int32? {
        if let endStatus { return endStatus }
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, wait ? 0 : WNOHANG)
            if r == pid {
                endStatus = ProgramRunner.exitStatus(status)
                return endStatus
            }
            if r < 0 && errno == EINTR { continue }
            if r < 0 {
                endStatus = -1
                return endStatus
            }
            return nil
        }
    }
}
