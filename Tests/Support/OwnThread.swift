// For `timespec`'s fields below (MemberImportVisibility finds them there once Date is used here).
import CoreFoundation
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A task executor with one thread of its own, which runs the jobs given to it in order.
///
/// Swift concurrency runs every test on its cooperative pool, which has as many threads as cores
/// (two on CI) and never preempts a job. One test that parses for seconds, or blocks in `waitpid`,
/// holds a thread; two of them stall every other test, and a live test's socket or deadline times
/// out behind them. A test on a thread of its own is scheduled by the kernel instead, which shares
/// the cores fairly and wakes a sleeper at once.
public final class DedicatedThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var jobs: [UnownedJob] = []
    private var head = 0
    private var finishing = false
    private var threadRunning = true

    private static let marker = "hadeck.DedicatedThreadExecutor"

    /// Whether the calling (synchronous) code runs on one of these executors' threads.
    public static var isCurrentThread: Bool { Thread.current.threadDictionary[marker] != nil }

    /// `niceness` is the thread's nice value (0 to 19): on Linux it is per thread.
    public init(niceness: Int32 = 0) {
        Thread { [self] in
            Thread.current.threadDictionary[Self.marker] = true
            if niceness != 0 { setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) }
            runJobs()
        }.start()
    }

    /// Jobs run in the order they came, on the one thread, until `finish()`; a job that comes after
    /// the thread ended (see below) gets a thread of its own.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        if threadRunning {
            jobs.append(job)
            condition.signal()
            condition.unlock()
            return
        }
        condition.unlock()
        // A job for a task that outlived its scope (a continuation resumed late): it still runs,
        // on a thread of its own, so that nothing waits forever.
        Thread { job.runSynchronously(on: self.asUnownedTaskExecutor()) }.start()
    }

    /// Lets the thread end once the jobs already given have run.
    public func finish() {
        condition.lock()
        finishing = true
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        while true {
            condition.lock()
            while head == jobs.count && !finishing { condition.wait() }
            if head == jobs.count {
                threadRunning = false
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Runs each test case of the suite or test it is on with a thread of its own as its preferred
/// executor: the test body, its awaits' resumptions and its child tasks run there, off the
/// cooperative pool.
public struct OwnThreadTrait: SuiteTrait, TestTrait, TestScoping {
    public enum Kind: Sendable {
        /// A test that waits on real time (sockets, programs, timers): it first takes one of the
        /// run's `LiveTestSlots`, so that only a few run at once.
        case live
        /// A live test of the run's longest chain of slot-taking tests (a serialized suite of
        /// real-time tests): it takes the next free slot before the tests that asked earlier.
        /// Otherwise each test of the chain, asking again after the one before gave its slot back,
        /// waits behind everything that asked meanwhile, and the chain ends last.
        case liveFirstInLine
        /// A live test that takes no slot: the lab's suite, which is serialized already and is the
        /// run's longest chain, so it never waits behind the others.
        case liveWithoutASlot
        /// A test that burns seconds of CPU: nice 19, so the kernel gives the cores to the live
        /// tests (and the programs they run) first. Such a test budgets CPU time (`threadCPUTime`),
        /// never wall time. Programs it starts inherit nice 19 (Linux keeps nice per thread), and
        /// these tests take no slot: put no timing-sensitive test in the background.
        case background
    }

    public var kind: Kind
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // A test already on a thread of its own (the trait inherited twice, from a suite and a
        // suite inside it) keeps it, and takes no second slot: two would deadlock a full run.
        guard testCase != nil, !DedicatedThreadExecutor.isCurrentThread else { return try await function() }
        let asked = Date()
        if kind == .live || kind == .liveFirstInLine {
            await LiveTestSlots.shared.take(firstInLine: kind == .liveFirstInLine)
        }
        let started = Date()
        let executor = DedicatedThreadExecutor(niceness: kind == .background ? 19 : 0)
        defer {
            executor.finish()
            if kind == .live || kind == .liveFirstInLine { LiveTestSlots.shared.give() }
            TestTimeline.shared.record(test.name, kind: kind, asked: asked, started: started)
        }
        try await withTaskExecutorPreference(executor) { try await function() }
    }
}

extension Trait where Self == OwnThreadTrait {
    /// Each test case runs on a thread of its own, at most `LiveTestSlots.shared.count` of them at
    /// once (see `OwnThreadTrait`).
    public static var onItsOwnThread: Self { Self(kind: .live) }
    /// As `onItsOwnThread`, ahead of the other waiters for a slot: for the run's longest chain.
    public static var onItsOwnThreadFirstInLine: Self { Self(kind: .liveFirstInLine) }
    /// Each test case runs on a thread of its own, without waiting for a live-test slot.
    public static var onItsOwnThreadWithoutASlot: Self { Self(kind: .liveWithoutASlot) }
    /// Each test case runs on a thread of its own at the lowest priority (see `OwnThreadTrait`).
    public static var inTheBackground: Self { Self(kind: .background) }
}

/// How many live tests run at once, across every test target of the run (they share one process).
///
/// Every suite starts at the same moment. Unbounded, the first half minute has a dozen embedded
/// clusters, tmux dashboards, proxies and real haproxies on two cores at once: a health check
/// with `inter 100` or a 3.6 s VRRP takeover measured against keepalived's then misses its mark for
/// want of CPU, not for a fault. `HADECK_LIVE_TEST_SLOTS` sets the count (default: cores + 1).
public final class LiveTestSlots: @unchecked Sendable {
    public static let shared = LiveTestSlots(
        count: ProcessInfo.processInfo.environment["HADECK_LIVE_TEST_SLOTS"].flatMap { Int($0) }
            ?? ProcessInfo.processInfo.activeProcessorCount + 1)

    public let count: Int
    private let lock = NSLock()
    // Guarded by `lock`.
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []
    /// How many of `waiting`, at its front, asked first in line.
    private var firstInLineCount = 0

    public init(count: Int) {
        self.count = max(1, count)
        free = self.count
    }

    /// Waits (suspended, holding no thread) until a slot is free, and takes it. `firstInLine` waits
    /// ahead of the others (behind earlier ones that asked first in line).
    public func take(firstInLine: Bool = false) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if free > 0 {
                free -= 1
                lock.unlock()
                continuation.resume()
            } else {
                if firstInLine {
                    waiting.insert(continuation, at: firstInLineCount)
                    firstInLineCount += 1
                } else {
                    waiting.append(continuation)
                }
                lock.unlock()
            }
        }
    }

    /// How many wait for a slot now.
    public var waitingCount: Int { lock.withLock { waiting.count } }

    /// Gives a slot back: to the first waiter (first in line, else the longest waiting), if any.
    public func give() {
        lock.lock()
        if waiting.isEmpty {
            free += 1
            lock.unlock()
        } else {
            let next = waiting.removeFirst()
            firstInLineCount = max(0, firstInLineCount - 1)
            lock.unlock()
            next.resume()
        }
    }
}

/// The CPU time the calling thread has used: what a CPU-heavy test budgets, since its wall time
/// depends on everything else the machine runs.
public func threadCPUTime() -> Duration {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
}

/// With `HADECK_TEST_TIMELINE=FILE`, one line per test case on a thread of its own: when it asked
/// for a slot, when it got one and when it ended (seconds since the epoch), its kind and name. It
/// shows what a run's wall time waits on: `sort -n -k2 FILE`.
public final class TestTimeline: @unchecked Sendable {
    public static let shared = TestTimeline(path: ProcessInfo.processInfo.environment["HADECK_TEST_TIMELINE"])

    private let path: String?
    private let lock = NSLock()

    init(path: String?) { self.path = path.flatMap { $0.isEmpty ? nil : $0 } }

    func record(_ name: String, kind: OwnThreadTrait.Kind, asked: Date, started: Date) {
        guard let path else { return }
        func seconds(_ t: Date) -> String { String(format: "%.2f", t.timeIntervalSince1970) }
        let line = "\(seconds(asked)) \(seconds(started)) \(seconds(Date())) \(kind) \(name)\n"
        lock.lock()
        defer { lock.unlock() }
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        guard let file = FileHandle(forWritingAtPath: path) else { return }
        defer { try? file.close() }
        _ = try? file.seekToEnd()
        try? file.write(contentsOf: Data(line.utf8))
    }
}
