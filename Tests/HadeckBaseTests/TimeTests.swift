import HadeckBase
import Testing

@Suite struct TimeTests {
    @Test(arguments: [
        (Int64(3_609_375), "3.609375"), (2_000_000, "2"), (1_804_687, "1.804687"), (500_000, "0.5"),
        (0, "0"), (-1_500_000, "-1.5"), (10, "0.00001"),
    ])
    func formatsSecondsWithoutTrailingZeros(micros: Int64, text: String) {
        #expect(formatSeconds(micros) == text)
    }

    @Test func jsonObjectsKeepFieldOrderAndEscape() {
        let v = JSONValue.object([
            ("t", .double(12.5)), ("server", "webA"), ("n", 3), ("ok", true), ("why", "say \"hi\"\n\u{1}"),
        ])
        #expect(v.encoded == #"{"t":12.5,"server":"webA","n":3,"ok":true,"why":"say \"hi\"\n\u0001"}"#)
    }

    @Test func haproxyTextUsesLargestWholeUnit() {
        #expect(TimeSpan.milliseconds(2000).haproxyText == "2s")
        #expect(TimeSpan.milliseconds(1500).haproxyText == "1500ms")
    }
}
