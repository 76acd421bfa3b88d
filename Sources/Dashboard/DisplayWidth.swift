/// How many terminal cells a character takes: 2 for East Asian wide and fullwidth characters and for
/// emoji shown as pictures, 1 for the rest. The same answer as glibc's `wcwidth` (which ncurses and
/// tmux use) for single characters, and 2 for an emoji sequence (`❤️`, `👨‍👩‍👧`).
///
/// Characters a terminal would draw with no width of their own (a combining mark with nothing to
/// combine with, a format character) are never put in a cell: `CellBuffer` shows them as `�`, so
/// that every cell the buffer counts is a cell the terminal draws.
public func displayWidth(_ ch: Character) -> Int { cellWidth(ch) == 2 ? 2 : 1 }

/// 2 for a wide character, 1 for a normal one, 0 for one drawn without a cell of its own.
func cellWidth(_ ch: Character) -> Int {
    let scalars = ch.unicodeScalars
    let first = scalars.first!.value
    let single = scalars.index(after: scalars.startIndex) == scalars.endIndex
    // Nearly every character on a screen: a table lookup.
    if single && first < 0x1_0000 { return Int(bmpWidths[Int(first)]) }
    if zeroWidth(first) { return 0 }
    // A regional indicator alone is one cell; a pair (a flag) is one character of two.
    if (0x1F1E6...0x1F1FF).contains(first) { return single ? 1 : 2 }
    if isWide(first) { return 2 }
    if !single {
        // An emoji sequence: VS16 asks for the picture; a ZWJ sequence or skin tone is one picture.
        for s in scalars where s.value == 0xFE0F || s.value == 0x200D || (0x1F3FB...0x1F3FF).contains(s.value) {
            return 2
        }
    }
    return 1
}

/// Each BMP code point's width, worked out once (a few milliseconds, the first time a screen is drawn).
private let bmpWidths: [UInt8] = (0..<0x1_0000).map { v in
    let v = UInt32(v)
    if v < 0x300 { return 1 }
    if zeroWidth(v) { return 0 }
    return isWide(v) ? 2 : 1
}

/// Whether a scalar is drawn without a cell of its own: a combining mark, a format character.
private func zeroWidth(_ v: UInt32) -> Bool {
    guard v >= 0x300, let scalar = Unicode.Scalar(v) else { return false }
    switch scalar.properties.generalCategory {
    case .nonspacingMark, .enclosingMark, .format, .lineSeparator, .paragraphSeparator: return true
    default: return false
    }
}

/// The cells `text` takes on one line.
public func displayWidth(_ text: some StringProtocol) -> Int {
    var n = 0
    for b in text.utf8 where b >= 0x80 {
        // Any non-ASCII byte: count character by character.
        n = 0
        for ch in text { n += displayWidth(ch) }
        return n
    }
    return text.utf8.count
}

/// East Asian Wide (W) and Fullwidth (F) code points (Unicode 15's EastAsianWidth.txt, merged into
/// ranges), emoji that default to picture presentation included.
private func isWide(_ v: UInt32) -> Bool {
    if v < 0x1100 { return false }
    if v >= 0x1F000 {
        if v >= 0x20000 { return (0x20000...0x2FFFD).contains(v) || (0x30000...0x3FFFD).contains(v) }
        return Unicode.Scalar(v).map { $0.properties.isEmojiPresentation } == true
            || (0x1F200...0x1F2FF).contains(v)
    }
    for r in wideRanges {
        if v < r.lowerBound { return false }
        if v <= r.upperBound { return true }
    }
    return false
}

/// Sorted; below U+1F000 (above it, emoji presentation and the ideograph planes decide).
private let wideRanges: [ClosedRange<UInt32>] = [
    0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x23E9...0x23EC, 0x23F0...0x23F0, 0x23F3...0x23F3,
    0x25FD...0x25FE, 0x2614...0x2615, 0x2648...0x2653, 0x267F...0x267F, 0x2693...0x2693, 0x26A1...0x26A1,
    0x26AA...0x26AB, 0x26BD...0x26BE, 0x26C4...0x26C5, 0x26CE...0x26CE, 0x26D4...0x26D4, 0x26EA...0x26EA,
    0x26F2...0x26F3, 0x26F5...0x26F5, 0x26FA...0x26FA, 0x26FD...0x26FD, 0x2705...0x2705, 0x270A...0x270B,
    0x2728...0x2728, 0x274C...0x274C, 0x274E...0x274E, 0x2753...0x2755, 0x2757...0x2757, 0x2795...0x2797,
    0x27B0...0x27B0, 0x27BF...0x27BF, 0x2B1B...0x2B1C, 0x2B50...0x2B50, 0x2B55...0x2B55, 0x2E80...0x2E99,
    0x2E9B...0x2EF3, 0x2F00...0x2FD5, 0x2FF0...0x2FFB, 0x3000...0x303E, 0x3041...0x3096, 0x3099...0x30FF,
    0x3105...0x312F, 0x3131...0x318E, 0x3190...0x31E3, 0x31F0...0x321E, 0x3220...0xA48C, 0xA490...0xA4C6,
    0xA960...0xA97C, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19,
    0xFE30...0xFE52, 0xFE54...0xFE66, 0xFE68...0xFE6B, 0xFF01...0xFF60, 0xFFE0...0xFFE6, 0x16FE0...0x16FE4,
    0x16FF0...0x16FF1, 0x17000...0x187F7, 0x18800...0x18CD5, 0x18D00...0x18D08, 0x1AFF0...0x1AFFE,
    0x1B000...0x1B122, 0x1B132...0x1B132, 0x1B150...0x1B152, 0x1B155...0x1B155, 0x1B164...0x1B167,
    0x1B170...0x1B2FB,
]
