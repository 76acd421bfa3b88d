/// A point on the core's clock, in whole microseconds since the cluster started.
///
/// The core never reads a wall clock: the simulator advances virtual time, the live
/// engine feeds real time. Whole microseconds keep keepalived's integer timer
/// arithmetic (e.g. a 3.609375 s Master_Down_Interval) exact.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible, Codable {
    public var micros: Int64

    public init(micros: Int64) { self.micros = micros }

    /// The clock's origin: the moment the cluster started.
    public static let zero = Instant(micros: 0)
    /// Later than any reachable time; used for "never".
    public static let distantFuture = Instant(micros: .max / 4)

    /// Seconds since start as a Double, for display and JSON.
    public var seconds: Double { Double(micros) / 1_000_000 }

    public static func < (a: Instant, b: Instant) -> Bool { a.micros < b.micros }
    public static func + (a: Instant, b: TimeSpan) -> Instant { Instant(micros: a.micros + b.micros) }
    public static func - (a: Instant, b: TimeSpan) -> Instant { Instant(micros: a.micros - b.micros) }
    public static func - (a: Instant, b: Instant) -> TimeSpan { TimeSpan(micros: a.micros - b.micros) }
    public static func += (a: inout Instant, b: TimeSpan) { a.micros += b.micros }

    public var description: String { formatSeconds(micros) + "s" }
}

/// A length of time in whole microseconds.
public struct TimeSpan: Comparable, Hashable, Sendable, CustomStringConvertible, Codable {
    public var micros: Int64

    public init(micros: Int64) { self.micros = micros }

    public static func microseconds(_ n: Int64) -> TimeSpan { TimeSpan(micros: n) }
    public static func milliseconds(_ n: Int64) -> TimeSpan { TimeSpan(micros: n * 1_000) }
    public static func seconds(_ n: Int64) -> TimeSpan { TimeSpan(micros: n * 1_000_000) }
    /// Rounds to the nearest microsecond.
    public static func fractionalSeconds(_ s: Double) -> TimeSpan { TimeSpan(micros: Int64((s * 1_000_000).rounded())) }

    public static let zero = TimeSpan(micros: 0)

    public var milliseconds: Int64 { micros / 1_000 }
    public var seconds: Double { Double(micros) / 1_000_000 }

    public static func < (a: TimeSpan, b: TimeSpan) -> Bool { a.micros < b.micros }
    public static func + (a: TimeSpan, b: TimeSpan) -> TimeSpan { TimeSpan(micros: a.micros + b.micros) }
    public static func - (a: TimeSpan, b: TimeSpan) -> TimeSpan { TimeSpan(micros: a.micros - b.micros) }
    public static func * (a: TimeSpan, n: Int64) -> TimeSpan { TimeSpan(micros: a.micros * n) }
    public static func * (n: Int64, a: TimeSpan) -> TimeSpan { TimeSpan(micros: a.micros * n) }

    public var description: String { formatSeconds(micros) + "s" }

    /// HAProxy-style short form: `2000ms` reads as `2s`, `1500ms` stays `1500ms`.
    public var haproxyText: String {
        if micros % 1_000_000 == 0 { return "\(micros / 1_000_000)s" }
        if micros % 1_000 == 0 { return "\(micros / 1_000)ms" }
        return "\(micros)us"
    }
}

/// Formats whole microseconds as seconds without trailing zeros: 3609375 -> "3.609375", 2000000 -> "2".
public func formatSeconds(_ micros: Int64) -> String {
    var bytes: [UInt8] = []
    appendSeconds(micros, into: &bytes)
    return String(decoding: bytes, as: UTF8.self)
}

/// `formatSeconds(micros)`'s text appended as UTF-8 (a JSON line writes one per event).
func appendSeconds(_ micros: Int64, into out: inout [UInt8]) {
    if micros < 0 { out.append(UInt8(ascii: "-")) }
    let m = micros.magnitude
    appendDigits(m / 1_000_000, minimumCount: 1, into: &out)
    var frac = m % 1_000_000
    guard frac != 0 else { return }
    var digits = 6
    while frac % 10 == 0 {
        frac /= 10
        digits -= 1
    }
    out.append(UInt8(ascii: "."))
    appendDigits(frac, minimumCount: digits, into: &out)
}

/// The decimal digits of `value`, zero-padded on the left to `minimumCount`, appended as UTF-8.
func appendDigits(_ value: UInt64, minimumCount: Int, into out: inout [UInt8]) {
    var v = value
    var count = 0
    var scratch: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: UInt64.max has 20 digits
    withUnsafeMutableBytes(of: &scratch) { buffer in
        repeat {
            count += 1
            buffer[24 - count] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
        } while v > 0
        while count < minimumCount && count < 24 {
            count += 1
            buffer[24 - count] = UInt8(ascii: "0")
        }
        out.append(contentsOf: buffer[(24 - count)...])
    }
}

extension Optional where Wrapped: Comparable {
    /// Keeps the smaller of the value held and `other`; nil counts as none (the earliest of a set
    /// of optional deadlines, found without an array).
    @inlinable
    public mutating func formMin(_ other: Wrapped?) {
        guard let other else { return }
        if let current = self, current <= other { return }
        self = other
    }
}
