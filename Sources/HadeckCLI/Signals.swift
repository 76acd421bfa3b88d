import Dispatch
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// Signals handled on a dispatch queue rather than in a C signal handler, where almost nothing is
/// safe to call: the signal's default action is ignored and the handler runs as ordinary code.
/// Keep the value alive as long as the handlers should be; `cancel()` ends them. Unchecked
/// Sendable: the list is behind a lock, and dispatch sources may be cancelled from any thread.
final class SignalHandlers: @unchecked Sendable {
    private let sources = NIOLockedValueBox<[DispatchSourceSignal]>([])

    init() {}

    /// Runs `handler` on each of `signals` from now on.
    func on(_ signals: [Int32], _ handler: @escaping @Sendable () -> Void) {
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            sources.withLockedValue { $0.append(source) }
        }
    }

    func cancel() {
        for source in sources.withLockedValue({ $0 }) { source.cancel() }
    }

    /// Blocks the calling thread until SIGINT or SIGTERM arrives: how a headless command waits
    /// for its end.
    func waitForTermination() {
        let done = DispatchSemaphore(value: 0)
        on([SIGINT, SIGTERM]) { done.signal() }
        done.wait()
    }
}
