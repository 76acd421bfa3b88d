import Foundation
import LiveEngine
import RealCluster
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What every test target needs from the outside world: the repository, temporary files that are
/// always removed, outside programs run to their end.

/// The repository root, found from this file's path.
public let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// A directory of its own under the system's temporary directory, removed (with everything in it)
/// when the last reference goes away, also when the test fails or throws.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    /// `tag` goes into the name, to tell whose directory a leftover is.
    public init(_ tag: String = "test") throws {
        var template = Array((NSTemporaryDirectory() + "hadeck-\(tag)-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `name` inside the directory and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let p = file(name)
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
}

/// Runs `body` with a fresh temporary directory that is removed afterwards, however `body` ends.
public func withTemporaryDirectory<T>(_ tag: String = "test", _ body: (TemporaryDirectory) throws -> T) throws -> T {
    let dir = try TemporaryDirectory(tag)
    return try withExtendedLifetime(dir) { try body(dir) }
}

/// The path of an executable: an absolute path as it is, else searched on PATH and in the sbin
/// directories (haproxy and keepalived live in /usr/sbin).
public func which(_ tool: String) -> String? {
    if tool.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: tool) ? tool : nil }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/local/sbin"] {
        let p = "\(dir)/\(tool)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

/// What a program printed and how it ended.
public struct ProgramResult: Sendable {
    /// The exit status (0-255), or 128 + the signal that ended it.
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a program to its end: stdin from `input` (or /dev/null), stdout and stderr captured (or sent
/// to /dev/null: a daemon it starts, such as a tmux server, would otherwise hold the capture open).
/// posix_spawn + waitpid rather than Foundation's Process, which relies on SIGCHLD handling that
/// other suites change; the child inherits no descriptor beyond 0-2 (no test's listening sockets).
/// Killed after `timeout` seconds.
public func runProgram(
    _ argv: [String], input: String? = nil, capture: Bool = true, timeout: Double = 120,
    environment: [String: String]? = nil
) throws -> ProgramResult {
    precondition(!argv.isEmpty, "runProgram needs a program")
    let dir = try TemporaryDirectory("run")
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let input {
        try input.write(toFile: dir.file("in"), atomically: true, encoding: .utf8)
        posix_spawn_file_actions_addopen(&actions, 0, dir.file("in"), O_RDONLY, 0)
    } else {
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    }
    for (fd, name) in [(Int32(1), "out"), (2, "err")] {
        posix_spawn_file_actions_addopen(
            &actions, fd, capture ? dir.file(name) : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    }
    let args = argv.map { strdup($0) } + [nil]
    defer { for a in args { free(a) } }
    let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for e in env { free(e) } }
    var pid: pid_t = 0
    Descriptors.markCloseOnExec()
    let rc = posix_spawnp(&pid, argv[0], &actions, nil, args, env)
    guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
    let killer = DispatchWorkItem { kill(pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    killer.cancel()
    let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    func read(_ name: String) -> String {
        capture ? ((try? String(contentsOfFile: dir.file(name), encoding: .utf8)) ?? "") : ""
    }
    return ProgramResult(status: exit, stdout: read("out"), stderr: read("err"))
}

extension Tag {
    /// Runs on real sockets in real time (seconds each): the fast loop leaves these out with
    /// `swift test --skip "Live|Lab|EndToEnd|TerminalCheck"`.
    @Tag public static var live: Self
}

/// `runProgram` for async tests: the wait happens on a thread of its own. Swift concurrency has only
/// as many cooperative threads as cores (two here); a test that blocks one for the seconds a child
/// runs starves every other test's awaits, and their live sockets time out.
public func awaitProgram(
    _ argv: [String], input: String? = nil, capture: Bool = true, timeout: Double = 120,
    environment: [String: String]? = nil
) async throws -> ProgramResult {
    try await Blocking.run {
        try runProgram(argv, input: input, capture: capture, timeout: timeout, environment: environment)
    }
}

/// Runs blocking work (a socket read with a timeout, a wait) on a thread of its own, for async
/// tests: `Task.detached` would still hold one of the few cooperative threads for the whole wait.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    // `body` does not throw, so neither does the wait.
    try! await Blocking.run(body)
}
