import CLinuxShims
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a program printed and how it ended.
public struct ProgramOutput: Sendable, Hashable {
    /// The exit status, or 128 + the signal that ended it.
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// The program was still running at the timeout and was killed.
    public var timedOut: Bool

    public var succeeded: Bool { status == 0 && !timedOut }

    /// The first line of stderr (else stdout), for one-line error messages.
    public var firstErrorLine: String {
        let text = stderr.isEmpty ? stdout : stderr
        return String(text.split(separator: "\n").first ?? "").trimmingCharacters(in: .whitespaces)
    }
}

/// A program that could not be run at all.
public struct ProgramError: Error, Hashable, Sendable, CustomStringConvertible {
    public var program: String
    public var reason: String

    public var description: String { "cannot run \(program): \(reason)" }
}

/// Runs programs as argument vectors with posix_spawn: no shell, every descriptor above stderr
/// closed in the child (so a daemon it starts never holds this process's sockets), signal mask and
/// dispositions reset to the defaults.
public enum ProgramRunner {
    /// Runs `argv` (the first element a path or a name looked up in PATH) to its end, with standard
    /// input from /dev/null, and returns its output. A program still running after `timeout` is killed.
    /// Output is collected until the program exits, not until every copy of its pipes is closed, so
    /// a daemon it forks (`haproxy -D`) cannot hold the call.
    public static func run(
        _ argv: [String], environment: [String: String]? = nil, timeout: Duration = .seconds(10)
    ) throws(ProgramError) -> ProgramOutput {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard hadeck_pipe_cloexec(&outPipe) == 0 else { throw error(argv, errno) }
        guard hadeck_pipe_cloexec(&errPipe) == 0 else {
            close(outPipe[0])
            close(outPipe[1])
            throw error(argv, errno)
        }
        let pid: pid_t
        do {
            pid = try spawn(argv, environment: environment) { actions in
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
                posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
                posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
            }
        } catch {
            for fd in outPipe + errPipe { close(fd) }
            throw error
        }
        close(outPipe[1])
        close(errPipe[1])
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }
        for fd in [outPipe[0], errPipe[0]] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        var out: [UInt8] = []
        var err: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        var exited = false
        var timedOut = false
        while !exited {
            var fds = [
                pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
                pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, 20)
            drain(outPipe[0], into: &out)
            drain(errPipe[0], into: &err)
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                exited = true
            } else if r < 0 && errno != EINTR {
                exited = true
            } else if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                timedOut = true
                exited = true
            }
        }
        drain(outPipe[0], into: &out)
        drain(errPipe[0], into: &err)
        return ProgramOutput(
            status: exitStatus(status), stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self), timedOut: timedOut)
    }

    /// Runs `argv` on this process's terminal (standard input, output and error inherited) and
    /// returns its exit status. Ctrl-C reaches the program, not this process.
    public static func runInteractive(_ argv: [String]) throws(ProgramError) -> Int32 {
        let pid = try spawn(argv, environment: nil) { _ in }
        let previous = signal(SIGINT, SIG_IGN)
        defer { signal(SIGINT, previous) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return exitStatus(status)
    }

    /// Starts `argv` as a daemon: through `setsid -f`, so it runs in a session of its own and its
    /// parent is init (never a zombie of this process), with standard output and error appended to
    /// `logFile`. Returns once `setsid` has forked; the daemon reports its pid through its own pid file.
    public static func startDetached(
        _ argv: [String], environment: [String: String]? = nil, logFile: String
    ) throws(ProgramError) {
        guard let setsid = which("setsid") else {
            throw ProgramError(program: "setsid", reason: "not found (it is part of util-linux)")
        }
        let pid = try spawn([setsid, "-f"] + argv, environment: environment) { actions in
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = exitStatus(status)
        if code != 0 { throw ProgramError(program: argv.first ?? "", reason: "setsid -f exited with status \(code)") }
    }

    /// The full path of `name` in PATH (or the standard sbin directories), or nil. A name containing a
    /// slash is returned as it is when it is executable.
    public static func which(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs =
            path.split(separator: ":").map(String.init) + ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        for dir in dirs where !dir.isEmpty {
            let candidate = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    // MARK: Internals

    static func spawn(
        _ argv: [String], environment: [String: String]?,
        _ configure: (inout posix_spawn_file_actions_t) -> Void
    ) throws(ProgramError) -> pid_t {
        guard let program = argv.first, !program.isEmpty else {
            throw ProgramError(program: "(nothing)", reason: "an empty command")
        }
        guard let path = which(program) else { throw ProgramError(program: program, reason: "not found") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        configure(&actions)
        _ = withUnsafeMutablePointer(to: &actions) { hadeck_spawn_file_actions_closefrom($0, 3) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        let env: [String]
        if let environment {
            var merged = ProcessInfo.processInfo.environment
            for (k, v) in environment { merged[k] = v }
            env = merged.map { "\($0.key)=\($0.value)" }.sorted()
        } else {
            env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }.sorted()
        }
        let cEnv = env.map { strdup($0) } + [nil]
        defer { for p in cEnv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else { throw error(argv, rc) }
        return pid
    }

    static func drain(_ fd: Int32, into bytes: inout [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { return }
            bytes += buffer[0..<n]
        }
    }

    static func exitStatus(_ status: Int32) -> Int32 {
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as functions.
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    static func error(_ argv: [String], _ code: Int32) -> ProgramError {
        ProgramError(program: argv.first ?? "", reason: String(cString: strerror(code)))
    }
}
