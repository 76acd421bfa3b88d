import HadeckBase
import NIOCore

/// Maps monotonic time to the core's `Instant` (microseconds since the engine started).
///
/// Every balancer, check and backend of one engine should share one clock so their
/// `Instant`s are comparable.
public struct LiveClock: Sendable {
    /// The monotonic moment that is `Instant.zero`.
    public let origin: NIODeadline

    /// A clock whose origin is now.
    public init() { self.origin = .now() }

    /// A clock with an explicit origin.
    public init(origin: NIODeadline) { self.origin = origin }

    /// The current time on the core's clock.
    public func now() -> Instant { instant(at: .now()) }

    /// The `Instant` of a monotonic deadline.
    public func instant(at deadline: NIODeadline) -> Instant {
        Instant(micros: Int64(deadline.uptimeNanoseconds / 1000) - Int64(origin.uptimeNanoseconds / 1000))
    }

    /// The monotonic deadline of an `Instant`.
    public func deadline(of instant: Instant) -> NIODeadline {
        origin + .microseconds(instant.micros)
    }
}

extension TimeSpan {
    /// The span as a NIO `TimeAmount`.
    var timeAmount: TimeAmount { .microseconds(micros) }
}
