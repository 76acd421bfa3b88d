/// Follows chunked framing (sizes, extensions, trailers) through the bytes as they pass, so the
/// body can be forwarded as-is and its end found without decoding it.
///
/// hadeck forwards the framing byte for byte where HAProxy re-frames it (it drops extensions and
/// rewrites line endings), so what a backend could read differently is refused: a line ending
/// other than CRLF, control bytes in an extension, an extension longer than 4 KB. Like HAProxy it
/// refuses a size of 2^52 or more (HAProxy: more than 13 significant hex digits; leading zeros are
/// fine), anything but blanks, `;` or CRLF after the size, a trailer line that is not
/// `name: value`, more than 100 trailer fields or more than 15 KB of trailers.
struct ChunkedScanner {
    private enum State: UInt8 {
        case size, sizeBlank, ext, sizeLF, data, dataCR, dataLF
        case trailerStart, trailerName, trailerValue, trailerLF, lastLF
    }
    private var state = State.size
    private var remaining = 0
    private var digits = 0
    /// Bytes of the current extension, or of the trailers so far.
    private var lineBytes = 0
    private var trailerFields = 0

    static let maxExtensionBytes = 4096
    static let maxTrailerFields = 100
    static let maxTrailerBytes = 15_360

    enum Step: Equatable {
        /// Every byte belongs to the body; more are expected.
        case more
        /// The body ends after `end` bytes.
        case done(end: Int)
        case invalid
    }

    /// Whether the scanner is inside chunk data (not inside a size line or the trailers): what
    /// follows is the body's payload, not framing that could still turn out to be invalid.
    var inData: Bool { state == .data }

    /// Scans `p`; `data` receives the ranges of chunk data (for de-chunking).
    mutating func scan(_ raw: UnsafeRawBufferPointer, data: (Int, Int) -> Void) -> Step {
        guard raw.count > 0 else { return .more }
        let p = Bytes(raw)
        var i = 0
        let n = p.count
        while i < n {
            let c = p[i]
            switch state {
            case .size:
                if let v = hexValue(c) {
                    digits += 1
                    remaining = remaining << 4 | v
                    guard remaining < 1 << 52 else { return .invalid }
                } else if digits == 0 {
                    return .invalid
                } else if c == UInt8(ascii: ";") {
                    lineBytes = 0
                    state = .ext
                } else if c == 32 || c == 9 {
                    state = .sizeBlank
                } else if c == 13 {
                    state = .sizeLF
                } else {
                    return .invalid
                }
            case .sizeBlank:
                if c == UInt8(ascii: ";") {
                    lineBytes = 0
                    state = .ext
                } else if c == 13 {
                    state = .sizeLF
                } else if c != 32 && c != 9 {
                    return .invalid
                }
            case .ext:
                if c == 13 {
                    state = .sizeLF
                } else {
                    guard c >= 32 ? c != 0x7F : c == 9 else { return .invalid }
                    lineBytes += 1
                    guard lineBytes <= Self.maxExtensionBytes else { return .invalid }
                }
            case .sizeLF:
                guard c == 10 else { return .invalid }
                if remaining == 0 {
                    lineBytes = 0
                    state = .trailerStart
                } else {
                    state = .data
                }
            case .data:
                let k = min(remaining, n - i)
                data(i, i + k)
                remaining -= k
                i += k
                if remaining == 0 { state = .dataCR }
                continue
            case .dataCR:
                guard c == 13 else { return .invalid }
                state = .dataLF
            case .dataLF:
                guard c == 10 else { return .invalid }
                state = .size
                digits = 0
                remaining = 0
            case .trailerStart:
                if c == 13 {
                    state = .lastLF
                } else {
                    guard isTchar(c) else { return .invalid }
                    trailerFields += 1
                    guard trailerFields <= Self.maxTrailerFields else { return .invalid }
                    state = .trailerName
                }
            case .trailerName:
                if c == UInt8(ascii: ":") {
                    state = .trailerValue
                } else if !isTchar(c) {
                    return .invalid
                }
            case .trailerValue:
                if c == 13 {
                    state = .trailerLF
                } else if c >= 32 ? c == 0x7F : c != 9 {
                    return .invalid
                }
            case .trailerLF:
                guard c == 10 else { return .invalid }
                state = .trailerStart
            case .lastLF:
                guard c == 10 else { return .invalid }
                self = ChunkedScanner()
                return .done(end: i + 1)
            }
            if state.rawValue >= State.trailerStart.rawValue {
                lineBytes += 1
                guard lineBytes <= Self.maxTrailerBytes else { return .invalid }
            }
            i += 1
        }
        return .more
    }

    @inline(__always) private func hexValue(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(c &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(c &- UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(c &- UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
