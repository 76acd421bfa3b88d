import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A process as /proc shows it.
public struct ProcessStat: Hashable, Sendable {
    public var pid: Int32
    /// The command name (`haproxy`, `keepalived`), from `/proc/PID/stat`.
    public var command: String
    /// `R`, `S`, `D`, ... ; `Z` for a zombie, `X` for dead.
    public var state: Character
    public var parent: Int32
    /// Start time in clock ticks since boot: with the pid, it names one process (pids are reused).
    public var startTime: UInt64

    /// Alive: neither a zombie nor dead. `kill -0` succeeds on a zombie, so it cannot tell.
    public var isRunning: Bool { state != "Z" && state != "X" }

    /// Parses a `/proc/PID/stat` line. The command is in parentheses and may itself contain spaces
    /// and parentheses, so the fields after it are found from the last `)`.
    public static func parse(_ line: String) -> ProcessStat? {
        guard let open = line.firstIndex(of: "("), let close = line.lastIndex(of: ")"), open < close,
            let pid = Int32(line[..<open].trimmingCharacters(in: .whitespaces))
        else { return nil }
        let command = String(line[line.index(after: open)..<close])
        let fields = line[line.index(after: close)...].split(separator: " ")
        // After the command: state(3) ppid(4) ... starttime(22), i.e. indices 0, 1 and 19 here.
        guard fields.count > 19, let state = fields[0].first, let parent = Int32(fields[1]),
            let start = UInt64(fields[19])
        else { return nil }
        return ProcessStat(pid: pid, command: command, state: state, parent: parent, startTime: start)
    }
}

/// Processes of this machine, read from /proc.
public enum LinuxProcess {
    /// The process `pid` now, or nil when there is none.
    public static func stat(_ pid: Int32) -> ProcessStat? {
        guard pid > 0, let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return ProcessStat.parse(text)
    }

    /// Whether `pid` runs (a zombie does not).
    public static func isRunning(_ pid: Int32) -> Bool { stat(pid)?.isRunning ?? false }

    /// The pid in a pid file (its first line), or nil when the file is missing or holds no pid.
    public static func readPidFile(_ path: String) -> Int32? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return parsePid(text)
    }

    /// A pid as printed by a pid file or `cat` of one.
    public static func parsePid(_ text: String) -> Int32? {
        let first = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard let pid = Int32(first.trimmingCharacters(in: .whitespaces)), pid > 0 else { return nil }
        return pid
    }

    /// The running process of a pid file, if it runs and its command is `command` (when given): a
    /// stale pid file whose pid now belongs to another program does not count.
    public static func running(pidFile path: String, command: String? = nil) -> ProcessStat? {
        guard let pid = readPidFile(path), let s = stat(pid), s.isRunning else { return nil }
        if let command, s.command != command { return nil }
        return s
    }

    /// The arguments of `pid` (empty for kernel threads), or nil when it is gone.
    public static func arguments(_ pid: Int32) -> [String]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        return data.split(separator: 0, omittingEmptySubsequences: true).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Every pid on the machine.
    public static func allPids() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).sorted()
    }

    /// Sends `signal` to `pid`; false when there is no such process.
    @discardableResult
    public static func send(_ signal: Int32, to pid: Int32) -> Bool { kill(pid, signal) == 0 }

    /// `kill -9` of several processes as one event: all are stopped (SIGSTOP) first, and only once
    /// each is stopped do they get SIGKILL. Killing them one after another lets a child see its
    /// parent die first: keepalived's VRRP child asks for SIGTERM on its parent's death
    /// (PR_SET_PDEATHSIG) and then sends a priority-0 advert, turning a silent death into a
    /// graceful stop (lb2 takes over after Skew_Time, 0.6 s, instead of Master_Down_Interval).
    public static func killTogether(_ pids: [Int32]) {
        for pid in pids { send(SIGSTOP, to: pid) }
        let deadline = ContinuousClock.now + .milliseconds(500)
        func stoppedOrGone(_ pid: Int32) -> Bool {
            guard let s = stat(pid), s.isRunning else { return true }
            return s.state == "T" || s.state == "t"
        }
        while ContinuousClock.now < deadline, !pids.allSatisfy(stoppedOrGone) { usleep(1000) }
        for pid in pids { send(SIGKILL, to: pid) }
    }

    /// Waits until none of `pids` runs (zombies count as gone); returns whether that happened in time.
    public static func waitUntilGone(_ pids: [Int32], timeout: Duration = .seconds(3)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while pids.contains(where: isRunning) {
            if ContinuousClock.now > deadline { return false }
            usleep(10_000)
        }
        return true
    }
}
