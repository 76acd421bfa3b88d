import CLinuxShims
import Dispatch

/// What `hadeck attach` (and `hadeck lab`'s dashboard) do about their own resident memory, which
/// is measured against hatop's (BENCHMARKS.md). The proxy and the embedded cluster keep glibc's
/// and the kernel's defaults: their event loops allocate per request, and their figures are others.
enum ResidentMemory {
    /// glibc's malloc gives a thread that finds an arena locked an arena of its own (up to eight
    /// per core) and keeps each one's pages. The attached dashboard's threads (a reader per socket,
    /// FIFO and child program, the poller, the event loop, the screen) allocate little and seldom
    /// meet, so the extra arenas cost resident memory (measured: seven, 0.3 MB in all) and buy
    /// nothing. It holds for arenas made from then on: call it before the dashboard's threads start.
    static func shareOneMallocArena() { _ = hadeck_malloc_arena_max(1) }

    /// Starting up (the argument parser, the attach file's YAML, binding and the first round of
    /// readings, the screen's set-up) runs code that never runs again, and the kernel maps 64 KB
    /// around each page it faults in: `after` the start, the executable's code and read-only data
    /// leave the resident set (`MADV_PAGEOUT`), and what the dashboard still runs faults back in
    /// within a refresh or two (measured on the lab: 20.2 MB before, 16.6 MB steady after). Pages
    /// another process maps too (the lab's app servers run the same binary) are left alone by the
    /// kernel. A kernel without MADV_PAGEOUT (before Linux 5.4) refuses it and nothing changes.
    static func releaseStartUpCode(after delay: DispatchTimeInterval) {
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + delay) { _ = pageOutCode() }
    }

    /// The executable's code and read-only data out of the resident set now; false if the kernel refused.
    static func pageOutCode() -> Bool { hadeck_page_out_executable_code() == 0 }
}
