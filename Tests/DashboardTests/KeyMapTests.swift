import ClusterModel
import Dashboard
import Foundation
import Testing

/// The one binding table: the handler, the help, the key bar and the README all come from it.
@Suite struct KeyMapTests {
    static let readme: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/README.md"
    }()

    static let begin = "<!-- keys: generated from Sources/Dashboard/KeyBindings.swift; a test keeps them equal -->"
    static let end = "<!-- keys end -->"

    /// `HADECK_RECORD=1` rewrites the README's list from the table.
    @Test func readmeKeyListIsTheTable() throws {
        let text = try String(contentsOfFile: Self.readme, encoding: .utf8)
        let start = try #require(text.range(of: Self.begin), "README.md has no \(Self.begin) marker")
        let stop = try #require(text.range(of: Self.end, range: start.upperBound..<text.endIndex))
        let listed = text[start.upperBound..<stop.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        let record = ProcessInfo.processInfo.environment["HADECK_RECORD"].map { !$0.isEmpty && $0 != "0" } ?? false
        if record && listed != KeyMap.markdown {
            let updated = text.replacingCharacters(
                in: start.upperBound..<stop.lowerBound, with: "\n" + KeyMap.markdown + "\n")
            try updated.write(toFile: Self.readme, atomically: true, encoding: .utf8)
            return
        }
        #expect(listed == KeyMap.markdown, "README.md's key list differs from KeyMap (HADECK_RECORD=1 rewrites it)")
    }

    /// Within a mode a key is bound once anywhere, or once per panel row (`k` kills the selected
    /// backend's app or the selected balancer's haproxy), never both.
    @Test func eachKeyHasOneMeaningPerMode() {
        for mode in KeyMode.allCases {
            var byKey: [Key: [KeyBinding]] = [:]
            for b in KeyMap.bindings where b.mode == mode { for k in b.keys { byKey[k, default: []].append(b) } }
            for (key, list) in byKey {
                let scopes = list.map(\.scope)
                #expect(Set(scopes).count == scopes.count, "\(mode): \(key.label) is bound twice in one scope")
                #expect(
                    !(scopes.contains(.anywhere) && scopes.count > 1),
                    "\(mode): \(key.label) is bound anywhere and on a row")
            }
            #expect(KeyMap.bindings.filter { $0.mode == mode && $0.catchAll != nil }.count <= 1)
        }
    }

    @Test func everyModeCanQuitOrLeave() {
        for mode in KeyMode.allCases {
            let commands = KeyMap.bindings.filter { $0.mode == mode }.map(\.command)
            #expect(
                commands.contains(.quit) || commands.contains(.cancelFilter),
                "\(mode) has no way out")
        }
    }

    /// The handler takes each key through the table: every listed key of normal mode does
    /// something on its panel (a command, an action or a message).
    @Test func everyNormalBindingActsThroughTheHandler() {
        let s = Fixtures.allUp()
        for b in KeyMap.bindings where b.mode == .normal {
            var st = DashboardState()
            st.focus = b.scope.panel ?? .backends
            for key in b.keys {
                let actions = KeyHandler.handle(key: key, state: st, snapshot: s)
                #expect(!actions.isEmpty || b.command == .clearFilter, "\(key.label) on \(st.focus) does nothing")
            }
        }
    }

    @Test func helpAndKeyBarComeFromTheTable() {
        let sections = KeyMap.helpSections
        #expect(sections.map(\.title).first == "Anywhere")
        let all = sections.flatMap(\.entries)
        // Grouped bindings are one line: F5 F6 F7 F8.
        #expect(all.contains { $0.keys == ["F5", "F6", "F7", "F8"] && $0.text == "weight -10 -1 +1 +10" })
        #expect(all.contains { $0.keys == ["Enter"] && $0.text.contains("details") })
        for b in KeyMap.bindings where b.command == .exportEvents && b.mode == .normal {
            #expect(b.keys == [.char("e")])
        }
        // The key bar of a real-time source leaves out what needs virtual time.
        var live = Fixtures.allUp()
        live.source = .live
        let bar = DashboardRenderer.render(
            snapshot: live, state: DashboardState(), width: 160, height: 50, theme: .dark)
        let simulated = DashboardRenderer.render(
            snapshot: Fixtures.allUp(), state: DashboardState(), width: 160, height: 50, theme: .dark)
        #expect(!bar.textLines[49].contains("spc pause") && simulated.textLines[49].contains("spc pause"))
    }

    @Test func filterModeTypesWhatNormalModeWouldDo() {
        var st = DashboardState()
        st.filterInput = "we"
        let s = Fixtures.allUp()
        #expect(KeyHandler.handle(key: .char("k"), state: st, snapshot: s) == [.editFilter("wek")])
        #expect(KeyHandler.handle(key: .char("q"), state: st, snapshot: s) == [.editFilter("weq")])
        #expect(KeyHandler.handle(key: .up, state: st, snapshot: s).isEmpty)
    }
}
