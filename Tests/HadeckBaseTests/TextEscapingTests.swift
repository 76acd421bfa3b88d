import Testing

@testable import HadeckBase

@Test func eachFormatEscapesItsSpecialCharactersAndNothingElse() {
    let text = "a&b<c>d\"e'f\\g\nh\ti\u{1}é"
    #expect(TextEscaping.html.escape(text) == "a&amp;b&lt;c&gt;d&quot;e&#39;f\\g\nh\ti\u{1}é")
    #expect(TextEscaping.prometheusLabel.escape(text) == "a&b<c>d\\\"e'f\\\\g\\nh\ti\u{1}é")
    #expect(TextEscaping.prometheusHelp.escape(text) == "a&b<c>d\"e'f\\\\g\\nh\ti\u{1}é")
    #expect(TextEscaping.json.escape(text) == "a&b<c>d\\\"e'f\\\\g\\nh\\ti\\u0001é")
    #expect(TextEscaping.json.escape("\u{1f}") == "\\u001f")
    let plain = "nothing special"
    #expect(TextEscaping.html.escape(plain) == plain)
    var out = "x="
    TextEscaping.json.append("\"", to: &out)
    #expect(out == "x=\\\"")
}

@Test func jsonEscapingAgreesWithTheEventEncoder() {
    for s in ["plain", "quote \" and \\ backslash", "line\nbreak\r\ttab", "\u{0}\u{7}\u{1f}", "émoji 🐘"] {
        var encoded: [UInt8] = []
        encodeJSONString(s, into: &encoded)
        #expect(String(decoding: encoded, as: UTF8.self) == "\"" + TextEscaping.json.escape(s) + "\"")
    }
}
