import HadeckBase
import HeapModule

/// A queue of timed work for the simulator. Items due at the same instant run in the
/// order they were scheduled, so runs are deterministic.
struct Scheduler<Work> {
    private struct Entry: Comparable {
        var time: Instant
        var sequence: UInt64
        var work: Work

        static func < (a: Entry, b: Entry) -> Bool {
            (a.time, a.sequence) < (b.time, b.sequence)
        }
        static func == (a: Entry, b: Entry) -> Bool { a.time == b.time && a.sequence == b.sequence }
    }

    private var heap = Heap<Entry>()
    private var nextSequence: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }
    var nextTime: Instant? { heap.min?.time }

    mutating func schedule(_ work: Work, at time: Instant) {
        heap.insert(Entry(time: time, sequence: nextSequence, work: work))
        nextSequence += 1
    }

    /// Removes and returns the earliest item if it is due at or before `time`.
    mutating func popDue(atOrBefore time: Instant) -> (Instant, Work)? {
        guard let head = heap.min, head.time <= time else { return nil }
        let entry = heap.removeMin()
        return (entry.time, entry.work)
    }
}
