import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A file descriptor (a pipe's read end) that becomes readable when something changed: a thread that
/// sleeps in `poll(2)` beside other descriptors (a terminal's input) wakes on it instead of looking
/// ten times a second. Changes raised before the waiter looks make one wake-up, and one `write`.
public final class ChangeSignal: Sendable {
    /// Readable from `raise()` until `lower()`.
    public let descriptor: Int32
    private let writeEnd: Int32
    private let raised = Atomic<Bool>(false)

    /// Nil when the kernel gives no pipe (descriptors exhausted): the waiter then polls.
    public init?() {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { return nil }
        for fd in ends {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        descriptor = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(descriptor)
        close(writeEnd)
    }

    /// Something changed: wakes the waiter (any thread may call it).
    public func raise() {
        if raised.exchange(true, ordering: .sequentiallyConsistent) { return }
        var one: UInt8 = 1
        _ = write(writeEnd, &one, 1)
    }

    /// The waiter looked: the descriptor stays unreadable until the next `raise()`. Call it before
    /// reading what changed, so that a change made meanwhile raises it again instead of being lost.
    public func lower() {
        var bytes = (UInt64(0), UInt64(0))
        _ = withUnsafeMutableBytes(of: &bytes) { read(descriptor, $0.baseAddress, $0.count) }
        // An exchange, not a store: it orders this with a raise() that saw `true` just before,
        // so the reader's next look sees what that raise announced.
        _ = raised.exchange(false, ordering: .sequentiallyConsistent)
    }

    /// Whether the descriptor is readable now (for tests and waiters that do not poll).
    public var isRaised: Bool {
        var fds = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&fds, 1, 0) == 1
    }
}
