import Foundation
import HadeckTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The trait the live suites run under (`HadeckTestSupport.OwnThreadTrait`): a test's body, the
/// resumptions after its awaits and its child tasks all run on the test's own thread, never on one
/// of the cooperative pool's.
@Suite(.onItsOwnThread) struct OwnThreadTraitTests {
    @Test func theBodyItsResumptionsAndItsChildTasksRunOnTheTestsOwnThread() async throws {
        let thread = currentThread()
        #expect(thread.isATestsOwn)
        try await Task.sleep(for: .milliseconds(20))
        #expect(currentThread() == thread)
        async let child = currentThread()
        #expect(await child == thread)
        let fromGroup = await withTaskGroup(of: ThreadIdentity.self) { group in
            group.addTask { currentThread() }
            return await group.next()!
        }
        #expect(fromGroup == thread)
    }

    @Test func aSynchronousBodyRunsThereToo() {
        #expect(currentThread().isATestsOwn)
    }
}

@Suite struct WithoutTheOwnThreadTraitTests {
    @Test func aTestWithoutTheTraitRunsOnTheCooperativePool() async {
        #expect(!currentThread().isATestsOwn)
    }
}

struct ThreadIdentity: Equatable, Sendable {
    var id: UInt
    var isATestsOwn: Bool
}

/// The thread running this (synchronous) function.
private func currentThread() -> ThreadIdentity {
    ThreadIdentity(id: UInt(pthread_self()), isATestsOwn: DedicatedThreadExecutor.isCurrentThread)
}

@Suite(.inTheBackground) struct BackgroundTraitTests {
    @Test func aCPUHeavyTestRunsOnItsOwnThreadAtNiceNineteen() {
        #expect(currentThread().isATestsOwn)
        #expect(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) == 19)
    }

    @Test func itsBudgetIsTheThreadsCPUTimeNotTheWallClock() async throws {
        let thread = currentThread()
        let cpu = threadCPUTime()
        try await Task.sleep(for: .milliseconds(200))
        // The same thread, whose clock barely moved while it slept 200 ms.
        #expect(currentThread() == thread)
        let slept = threadCPUTime() - cpu
        #expect(slept >= .zero && slept < .milliseconds(100))
    }
}

@Suite struct LiveTestSlotsTests {
    final class Occupancy: @unchecked Sendable {
        private let lock = NSLock()
        private var now = 0
        private(set) var most = 0
        func enter() {
            lock.withLock {
                now += 1
                most = max(most, now)
            }
        }
        func leave() { lock.withLock { now -= 1 } }
    }

    @Test func noMoreThanTheCountRunAtOnceAndEveryoneGetsATurn() async {
        let slots = LiveTestSlots(count: 2)
        let occupancy = Occupancy()
        let finished = await withTaskGroup(of: Int.self) { group in
            for index in 0..<7 {
                group.addTask {
                    await slots.take()
                    occupancy.enter()
                    try? await Task.sleep(for: .milliseconds(15))
                    occupancy.leave()
                    slots.give()
                    return index
                }
            }
            return await group.reduce(into: Set<Int>()) { $0.insert($1) }
        }
        #expect(finished == Set(0..<7))
        #expect(occupancy.most == 2)
    }

    /// Waiters take a freed slot in the order they asked, except that those asking first in line
    /// go ahead of every ordinary waiter (and among themselves keep their order).
    @Test func firstInLineWaitersGoAheadOfTheOthersInTheirOwnOrder() async {
        let slots = LiveTestSlots(count: 1)
        await slots.take()
        final class Order: @unchecked Sendable {
            private let lock = NSLock()
            private(set) var names: [String] = []
            func add(_ name: String) { lock.withLock { names.append(name) } }
        }
        let order = Order()
        var tasks: [Task<Void, Never>] = []
        // Asked in this order, each once the one before is waiting.
        for (name, first) in [("a", false), ("b", false), ("X", true), ("c", false), ("Y", true)] {
            tasks.append(
                Task {
                    await slots.take(firstInLine: first)
                    order.add(name)
                    slots.give()
                })
            while slots.waitingCount < tasks.count { await Task.yield() }
        }
        slots.give()
        for task in tasks { await task.value }
        #expect(order.names == ["X", "Y", "a", "b", "c"])
    }
}
