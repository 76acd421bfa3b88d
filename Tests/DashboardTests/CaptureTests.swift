import ClusterModel
import Foundation
import HadeckBase
import Testing

@testable import Dashboard

/// Recording a dashboard run (asciicast v2) and pictures of its screen (SVG).
@Suite struct CaptureTests {
    func temporaryPath(_ name: String) -> String {
        let dir = NSTemporaryDirectory() + "presenter-capture-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/" + name
    }

    func app(_ source: FakeSource) -> DashboardApp {
        var clock: Int64 = 0
        return DashboardApp(source: source, options: DashboardOptions(theme: "dark")) {
            clock += 100_000
            return clock
        }
    }

    /// The JSON values of a cast file's lines.
    func castLines(_ path: String) throws -> [Any] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) }
    }

    @Test func aRecordingHasTheTerminalsSizeItsFramesAndItsResizes() throws {
        let path = temporaryPath("run.cast")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let fake = FakeTerminal(keys: [nil, .resize, nil, .char("q")], width: 100, height: 30)
        let capturing = try CapturingTerminal(wrapping: fake, options: CaptureOptions(recordPath: path))
        #expect(try app(FakeSource()).run(terminal: capturing) == 0)
        #expect(fake.restored >= 1)
        let lines = try castLines(path)
        let header = try #require(lines.first as? [String: Any])
        #expect(header["version"] as? Int == 2)
        #expect(header["width"] as? Int == 100 && header["height"] as? Int == 30)
        let theme = try #require(header["theme"] as? [String: String])
        #expect(theme["bg"] == "#121212" && theme["palette"]?.split(separator: ":").count == 16)
        let events = lines.dropFirst().compactMap { $0 as? [Any] }
        #expect(events.count == lines.count - 1)
        let kinds = events.map { $0[1] as? String }
        #expect(kinds.first == "o" && kinds.contains("r"))
        #expect(events.contains { $0[1] as? String == "r" && $0[2] as? String == "120x40" })
        // Times never go back.
        let times = events.compactMap { $0[0] as? Double }
        #expect(times == times.sorted())
        // The first frame draws the whole screen: the header bar's text is in it.
        let first = try #require(events.first?[2] as? String)
        #expect(first.hasPrefix(TerminalBytes.clearScreen) && first.contains("lb1"))
    }

    @Test func theScreenshotIsTheLastFrameAsSVG() throws {
        let path = temporaryPath("screen.svg")
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let fake = FakeTerminal(keys: [nil, .char("q")])
        let capturing = try CapturingTerminal(wrapping: fake, options: CaptureOptions(screenshotPath: path))
        _ = try app(FakeSource()).run(terminal: capturing)
        #expect(capturing.screen == fake.screen)
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"672\" height=\"408\""))
        #expect(svg.contains("monospace") && svg.contains("MASTER"))
        #expect(svg.components(separatedBy: "<text ").count - 1 <= 24)
    }

    @Test func stopWhenEndsTheDashboardAsQWould() throws {
        var asked = 0
        let fake = FakeTerminal(keys: Array(repeating: nil, count: 50))
        let capturing = try CapturingTerminal(wrapping: fake, options: CaptureOptions()) {
            asked += 1
            return asked >= 3
        }
        #expect(try app(FakeSource()).run(terminal: capturing) == 0)
        #expect(fake.keys.count == 48)
    }

    @Test func svgHasOneTspanPerRunOfOneStyleWithTheThemesColours() {
        var buffer = CellBuffer(width: 12, height: 2)
        let red = Style(fg: .index(196), bold: true)
        buffer.text(0, 0, "lb1 ", .plain)
        buffer.text(4, 0, "MASTER", red)
        buffer.text(0, 1, "a<b&\"c\"", Style(fg: .index(2), reverse: true))
        let svg = SVGScreen.render(buffer, palette: ScreenPalette(foreground: "#eeeeee", background: "#000000"))
        #expect(svg.contains("<tspan x=\"0\" fill=\"#eeeeee\">lb1</tspan>"))
        #expect(svg.contains("fill=\"#ff0000\" font-weight=\"bold\""))
        #expect(svg.contains("<tspan x=\"33.6\" fill=\"#ff0000\" font-weight=\"bold\">MASTER</tspan>"))
        // Reverse: the text in the background colour on the foreground colour.
        #expect(svg.contains("<rect x=\"0\" y=\"17\" width=\"58.8\" height=\"17\" fill=\"#00cd00\"/>"))
        #expect(svg.contains("<tspan x=\"0\" fill=\"#000000\">a&lt;b&amp;&quot;c&quot;</tspan>"))
        #expect(svg.components(separatedBy: "<tspan").count - 1 == 3)
    }

    @Test func paletteFollowsXterm() {
        #expect(ScreenPalette.hex(index: 1) == "#cd0000")
        #expect(ScreenPalette.hex(index: 16) == "#000000" && ScreenPalette.hex(index: 231) == "#ffffff")
        #expect(ScreenPalette.hex(index: 75) == "#5fafff")
        #expect(ScreenPalette.hex(index: 244) == "#808080")
    }

    @Test func rowBytesPositionTheCursorAndSetEachStyleOnce() {
        var buffer = CellBuffer(width: 6, height: 2)
        buffer.text(0, 1, "ab", Style(fg: .index(2)))
        buffer.text(2, 1, "cd", Style(bg: .index(4), underline: true))
        #expect(TerminalBytes.row(buffer, 1) == "\u{1B}[2;1H\u{1B}[0;38;5;2mab\u{1B}[0;4;48;5;4mcd\u{1B}[0m  \u{1B}[0m")
    }
}
