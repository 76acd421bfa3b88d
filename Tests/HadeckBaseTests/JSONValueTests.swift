import Testing

@testable import HadeckBase

/// The byte encoder writes numbers itself: the same text as `String(_:)` and as seconds were
/// formatted with Strings.
@Suite struct JSONValueTests {
    static let edges: [Int64] = [
        0, 1, -1, 9, 10, 99, 100, 999_999, 1_000_000, 1_000_001, -1_000_001, 1_500_000, -500_000, 120_000_010,
        3_600_000_000, Int64.max, Int64.min, Int64.max - 1, Int64.min + 1,
    ]

    static func sample() -> [Int64] {
        // Edges, then a spread of magnitudes with every count of trailing zeros (a fixed walk).
        var values = edges
        var v: UInt64 = 0x9E37_79B9_7F4A_7C15
        for shift in 0..<63 {
            v = v &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let x = Int64(bitPattern: v >> UInt64(shift))
            values += [x, -x, x / 10 * 10, x / 1000 * 1000]
        }
        return values
    }

    @Test func integersAreStringsDigits() {
        for i in Self.sample() {
            var bytes: [UInt8] = []
            JSONValue.int(i).encode(into: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == String(i), "\(i)")
        }
    }

    /// The String-built formatter `formatSeconds` had before it wrote bytes: the reference.
    static func secondsByStrings(_ micros: Int64) -> String {
        let sign = micros < 0 ? "-" : ""
        let m = micros.magnitude
        let whole = m / 1_000_000
        var frac = m % 1_000_000
        if frac == 0 { return "\(sign)\(whole)" }
        var digits = 6
        while frac % 10 == 0 {
            frac /= 10
            digits -= 1
        }
        let fracText = String(frac)
        return "\(sign)\(whole)." + String(repeating: "0", count: digits - fracText.count) + fracText
    }

    @Test func secondsAreTheStringFormattersText() {
        for micros in Self.sample() {
            #expect(formatSeconds(micros) == Self.secondsByStrings(micros), "\(micros)")
        }
    }

    @Test func theStringEncoderGivesTheBytesEncodersText() {
        let v = JSONValue.object([
            ("t", .double(-0.25)), ("a", .array([.null, .bool(false), .int(-7), .double(.infinity)])),
            ("s", "é \u{1f}🐘"),
        ])
        var bytes: [UInt8] = []
        v.encode(into: &bytes)
        #expect(v.encoded == String(decoding: bytes, as: UTF8.self))
        #expect(v.encoded == #"{"t":-0.25,"a":[null,false,-7,null],"s":"é \u001f🐘"}"#)
    }
}
