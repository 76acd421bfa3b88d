import Dashboard
import Foundation
import HadeckBase
import Testing

@Suite struct ThemeTests {
    static let themesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Themes").path

    @Test(arguments: Theme.builtinNames) func builtinThemesParseAndMatchFiles(_ name: String) throws {
        let path = Self.themesDir + "/\(name).theme"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let fromFile = try Theme.parse(text, name: name, file: path)
        let builtin = try #require(Theme.builtin(name))
        #expect(fromFile.styles == builtin.styles, "Sources/Dashboard/BuiltinThemes.swift is out of date for \(name)")
        // Every role is set explicitly in the shipped themes.
        #expect(Set(fromFile.styles.keys) == Set(ThemeRole.allCases))
    }

    @Test func parsesColoursAndAttributes() throws {
        let t = try Theme.parse(
            """
            # comment
            header = bright-white on 24, bold   # trailing comment
            up = green
            alarm = on red, reverse underline
            title = bold
            """, name: "x", file: "x.theme")
        #expect(t[.header] == Style(fg: .index(15), bg: .index(24), bold: true))
        #expect(t[.up] == Style(fg: .index(2)))
        #expect(t[.alarm] == Style(bg: .index(1), underline: true, reverse: true))
        #expect(t[.title] == Style(bold: true))
        #expect(t[.down] == t[.normal])
    }

    @Test func brokenFileNamesFileAndLine() {
        let cases: [(String, String)] = [
            ("up = green\nheadr = red\n", "t.theme:2: error: unknown role `headr`"),
            ("up = green\n\n# c\ndown = purple\n", "t.theme:4: error: unknown colour `purple`"),
            ("up = 300\n", "t.theme:1: error: colour number 300 is out of range 0...255"),
            ("up green\n", "t.theme:1: error: expected `role = colour"),
            ("up = red, blink\n", "t.theme:1: error: unknown attribute `blink`"),
            ("up = red\nup = green\n", "t.theme:2: error: role `up` is set twice"),
        ]
        for (text, prefix) in cases {
            #expect(throws: ThemeError.self) { try Theme.parse(text, name: "t", file: "t.theme") }
            do {
                _ = try Theme.parse(text, name: "t", file: "t.theme")
            } catch {
                #expect(error.description.hasPrefix(prefix), "\(error.description)")
            }
        }
    }

    @Test func loadingBrokenFileFallsBackWithMessage() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hadeck-theme-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.theme").path
        try "normal = default\nup = green on\n".write(toFile: path, atomically: true, encoding: .utf8)
        let c = Theme.load(path)
        #expect(c.theme.name == "dark")
        #expect(c.message?.hasPrefix("\(path):2: error: ") == true)
        // By name in a directory.
        try "up = red\n".write(toFile: dir.appendingPathComponent("mine.theme").path, atomically: true, encoding: .utf8)
        let mine = Theme.load("mine", directories: [dir.path])
        #expect(mine.theme.name == "mine" && mine.message == nil)
        #expect(mine.theme[.up].fg == .index(1))
        // Built-in copies work from any directory.
        #expect(Theme.load("presenter", directories: ["/nonexistent"]).theme.name == "presenter")
        #expect(Theme.load("nope").message?.contains("unknown theme `nope`") == true)
        #expect(Theme.load("/nonexistent/x.theme").message?.contains("no such theme file") == true)
    }

    /// A binary file used to give a raw Foundation error; it names the first line that is not text.
    @Test func aBinaryThemeFileNamesItsFirstBadLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hadeck-theme-bin-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("x.theme").path
        #expect(
            FileManager.default.createFile(
                atPath: path, contents: Data(Array("up = red\n".utf8) + [0xFF, 0xFE, 0, 1, 0x0A])))
        let c = Theme.load(path)
        #expect(c.theme.name == "dark")
        #expect(c.message == "\(path):2: error: not UTF-8 text (a theme is a text file); using the dark theme")
    }

    @Test func noColorForcesMono() {
        let c = Theme.load("presenter", environment: ["NO_COLOR": "1"])
        #expect(c.theme.name == "mono" && c.noColor)
        #expect(!c.theme.usesColor)
        #expect(Theme.load("presenter", environment: ["NO_COLOR": ""]).theme.name == "presenter")
        #expect(Theme.dark.usesColor)
    }
}
