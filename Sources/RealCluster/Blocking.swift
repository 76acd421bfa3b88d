import Foundation

/// Runs blocking work (waiting for a program, a socket, a FIFO) on a thread of its own, so that a
/// caller in Swift concurrency never holds one of the cooperative pool's few threads meanwhile.
public enum Blocking {
    @discardableResult
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let thread = Thread {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            thread.start()
        }
    }
}
