import Dashboard
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct DisplayWidthTests {
    @Test func wideCharactersTakeTwoCells() {
        #expect(displayWidth("a" as Character) == 1)
        #expect(displayWidth("é" as Character) == 1)
        #expect(displayWidth("─" as Character) == 1)
        #expect(displayWidth("日" as Character) == 2)
        #expect(displayWidth("한" as Character) == 2)
        #expect(displayWidth("😀" as Character) == 2)
        #expect(displayWidth("🍕" as Character) == 2)
        #expect(displayWidth("❤️" as Character) == 2)  // VS16 asks for the picture
        #expect(displayWidth("👨‍👩‍👧" as Character) == 2)
        #expect(displayWidth("ｱ" as Character) == 1)  // halfwidth katakana
        #expect(displayWidth("Ｗ" as Character) == 2)  // fullwidth Latin
        #expect(displayWidth("lb1-東京") == 8)
        #expect(displayWidth("GET /🍕") == 7)
    }

    /// Our table against glibc's `wcwidth` (what ncurses and tmux use) for every single code point
    /// of the planes people write in, under a UTF-8 locale set for this thread alone.
    @Test func agreesWithGlibcWcwidth() throws {
        // Glibc's Swift module leaves wcwidth out (it is an X/Open extension): look it up.
        typealias WcWidth = @convention(c) (Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "wcwidth") else {
            Issue.record("no wcwidth in this libc")
            return
        }
        let wcwidth = unsafeBitCast(symbol, to: WcWidth.self)
        guard let utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", nil) else {
            Issue.record("no C.UTF-8 locale on this machine")
            return
        }
        let old = uselocale(utf8)
        defer {
            uselocale(old)
            freelocale(utf8)
        }
        var checked = 0
        var differ: [String] = []
        for v in Array(0x20...0xD7FF) + Array(0xF900...0xFFFD) + Array(0x1F000...0x1FAFF) + Array(0x20000...0x2A6DF) {
            guard let scalar = Unicode.Scalar(UInt32(v)) else { continue }
            let theirs = Int(wcwidth(Int32(v)))
            // Zero-width and unassigned code points are not drawn in a cell of their own.
            guard theirs >= 1 else { continue }
            let ours = displayWidth(Character(scalar))
            checked += 1
            if ours != theirs {
                differ.append("U+\(String(v, radix: 16, uppercase: true)) glibc \(theirs) ours \(ours)")
            }
        }
        #expect(checked > 90_000)
        #expect(differ.isEmpty, "\(differ.count) differ, e.g. \(differ.prefix(20))")
    }
}

@Suite struct WideCellTests {
    @Test func aWideCharacterTakesTwoCellsAndShowsOnce() {
        var b = CellBuffer(width: 8, height: 1)
        #expect(b.text(0, 0, "a日b", .plain) == 4)
        #expect(b[1, 0].char == "日" && b[1, 0].width == 2)
        #expect(b[2, 0].isContinuation)
        #expect(b[3, 0].char == "b")
        #expect(b.textLines == ["a日b"])
    }

    @Test func aWideCharacterIsNeverCutByAClipOrTheEdge() {
        var b = CellBuffer(width: 6, height: 2)
        // Three cells left for "日本": the second does not fit whole and leaves a blank.
        #expect(b.text(3, 0, "日本", .plain) == 3)
        #expect(b.textLines[0] == "   日")
        #expect(!b[5, 0].isContinuation && b[5, 0].char == " ")
        // maxWidth inside the buffer, same rule.
        #expect(b.text(0, 1, "ab日", .plain, maxWidth: 3) == 3)
        #expect(b.text(x: 0, y: 1, count: 3) == "ab ")
        // The last column cannot hold a wide character.
        var c = CellBuffer(width: 3, height: 1)
        c.set(2, 0, "😀", .plain)
        #expect(c[2, 0].char == " " && c[2, 0].width == 1)
    }

    @Test func overwritingHalfAWideCharacterBlanksTheOtherHalf() {
        var b = CellBuffer(width: 6, height: 1)
        b.text(0, 0, "日本語", .plain)
        b.set(1, 0, "x", .plain)  // the right half of 日
        #expect(b.textLines == [" x本語"])
        b.set(2, 0, "y", .plain)  // the left half of 本
        #expect(b.textLines == [" xy 語"])
        b.fill(x: 5, y: 0, width: 1, height: 1, "z", .plain)  // the right half of 語
        #expect(b.textLines == [" xy  z"])
        for x in 0..<6 { #expect(!b[x, 0].isContinuation) }
    }

    @Test func diffRunsTakeBothHalves() {
        var a = CellBuffer(width: 6, height: 1)
        a.text(0, 0, "ab日d", .plain)
        var b = a
        b.text(2, 0, "月", .plain)
        let runs = b.diff(from: a)
        #expect(runs.count == 1)
        #expect(runs[0].x == 2 && runs[0].cells.count == 2)
        // A change of the right half alone (a style) still repaints from the left half.
        var c = b
        c.restyle(x: 3, y: 0, width: 1, height: 1) { _ in Style(bold: true) }
        let again = c.diff(from: b)
        #expect(again.first?.x == 2)
    }

    @Test func charactersWithoutWidthNeverTakeACell() {
        var b = CellBuffer(width: 4, height: 1)
        b.set(0, 0, "\u{301}", .plain)  // a combining accent alone
        b.set(1, 0, "\u{200B}", .plain)  // zero-width space
        #expect(b[0, 0].char == "\u{FFFD}" && b[1, 0].char == "\u{FFFD}")
    }
}

@Suite struct LayoutTests {
    let area = Rect(x: 2, y: 1, width: 80, height: 20)

    @Test func lengthsThenFillTakesTheRest() {
        let parts = Layout.vertical([.length(1), .fill(1), .length(2)]).split(area)
        #expect(parts.map(\.height) == [1, 17, 2])
        #expect(parts.map(\.y) == [1, 2, 19])
        #expect(parts.allSatisfy { $0.x == 2 && $0.width == 80 })
    }

    @Test func fillsShareByWeightAndSpacingLeavesGaps() {
        let parts = Layout.horizontal([.fill(1), .fill(3)], spacing: 1).split(area)
        #expect(parts.map(\.width) == [19, 60])
        #expect(parts[1].x == parts[0].right + 1)
    }

    @Test func percentagesRatiosAndMinimums() {
        let parts = Layout.horizontal([.percentage(25), .ratio(1, 4), .min(10)]).split(area)
        #expect(parts.map(\.width) == [20, 20, 40])
    }

    @Test func shortOfSpaceTheLastPartsAreCutFirst() {
        let parts = Layout.vertical([.length(8), .length(8), .length(8)]).split(area)
        #expect(parts.map(\.height) == [8, 8, 4])
        let none = Layout.vertical([.length(30), .length(5)]).split(area)
        #expect(none.map(\.height) == [20, 0])
    }

    @Test func rectHelpers() {
        let r = Rect(x: 0, y: 0, width: 10, height: 5)
        #expect(r.inset(horizontal: 2, vertical: 1) == Rect(x: 2, y: 1, width: 6, height: 3))
        #expect(r.dropFirst(2) == Rect(x: 0, y: 2, width: 10, height: 3))
        #expect(r.centered(width: 4, height: 1) == Rect(x: 3, y: 2, width: 4, height: 1))
        #expect(r.intersection(Rect(x: 8, y: 4, width: 5, height: 5)) == Rect(x: 8, y: 4, width: 2, height: 1))
        #expect(Rect(x: 0, y: 0, width: -3, height: 2).isEmpty)
    }
}
