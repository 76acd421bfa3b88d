import HadeckBase

/// The unit a bare number means when a time value carries no suffix.
public enum DefaultTimeUnit: Sendable {
    case milliseconds, seconds
}

/// Parsing of HAProxy time values: a non-negative integer followed by an optional unit
/// `us`, `ms`, `s`, `m`, `h` or `d`. Without a unit the keyword's default applies
/// (milliseconds for `timeout`, `inter`, `slowstart`, ...; seconds for `stats refresh`,
/// cookie `maxidle`/`maxlife`).
public enum HAProxyTime {
    /// Parses `text`, returning the span or a sentence saying what is wrong.
    public static func parse(_ text: String, defaultUnit: DefaultTimeUnit = .milliseconds) -> Result<
        TimeSpan, TimeValueError
    > {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else {
            return .failure(
                TimeValueError(
                    message:
                        "'\(text)' is not a time value (expected a number with an optional unit us, ms, s, m, h or d)"))
        }
        guard let value = Int64(digits) else {
            return .failure(TimeValueError(message: "time value '\(text)' is too large"))
        }
        let unit = text.dropFirst(digits.count)
        let factor: Int64
        switch unit {
        case "": factor = defaultUnit == .milliseconds ? 1_000 : 1_000_000
        case "us": factor = 1
        case "ms": factor = 1_000
        case "s": factor = 1_000_000
        case "m": factor = 60_000_000
        case "h": factor = 3_600_000_000
        case "d": factor = 86_400_000_000
        default:
            return .failure(
                TimeValueError(message: "invalid time unit '\(unit)' in '\(text)' (expected us, ms, s, m, h or d)"))
        }
        let (micros, overflow) = value.multipliedReportingOverflow(by: factor)
        if overflow || micros > Int64(Int32.max) * 1_000 {
            return .failure(TimeValueError(message: "time value '\(text)' is too large"))
        }
        return .success(TimeSpan(micros: micros))
    }
}

/// Why a time value could not be read.
public struct TimeValueError: Error, Hashable, Sendable {
    /// A sentence for a diagnostic.
    public var message: String
}

/// Parsing of keepalived decimal-second values such as `1`, `0.5`, `2.25`.
enum DecimalSeconds {
    /// Parses a non-negative decimal number of seconds with at most six decimals.
    static func parse(_ text: String) -> TimeSpan? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty || parts.count == 2 else { return nil }
        guard whole.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let wholeValue = whole.isEmpty ? 0 : Int64(whole)
        guard let w = wholeValue, w < 100_000_000 else { return nil }
        var fracMicros: Int64 = 0
        if parts.count == 2 {
            let frac = parts[1]
            guard !frac.isEmpty, frac.count <= 6, frac.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            let padded = String(frac) + String(repeating: "0", count: 6 - frac.count)
            fracMicros = Int64(padded) ?? 0
        }
        return TimeSpan(micros: w * 1_000_000 + fracMicros)
    }
}
