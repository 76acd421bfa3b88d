import Foundation
import Testing

/// The folder of the golden files: the exact bytes a pure formatter must produce for a fixed input.
/// Files under `Golden/haproxy-2.6.12/` were captured from the real haproxy 2.6.12 (see
/// `Golden/haproxy-2.6.12/README.md`); the others are hadeck's own output, reviewed when written.
let goldenDirectory: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast()
    return parts.joined(separator: "/") + "/Golden"
}()

/// The bytes of a golden file, or nil when it does not exist.
func golden(_ name: String) -> String? {
    try? String(contentsOfFile: goldenDirectory + "/" + name, encoding: .utf8)
}

/// Expects `text` to be the golden file `name`, byte for byte. With `HADECK_UPDATE_GOLDEN=1` in
/// the environment the file is (re)written instead, and the test says so by failing: a golden file
/// is reviewed, then the test is run again without the variable.
func expectGolden(_ text: String, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let path = goldenDirectory + "/" + name
    if ProcessInfo.processInfo.environment["HADECK_UPDATE_GOLDEN"] == "1" {
        try? FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? text.write(toFile: path, atomically: true, encoding: .utf8)
        Issue.record(
            "wrote \(path): review it, then run again without HADECK_UPDATE_GOLDEN", sourceLocation: sourceLocation)
        return
    }
    guard let expected = golden(name) else {
        Issue.record("missing golden file \(path) (HADECK_UPDATE_GOLDEN=1 writes it)", sourceLocation: sourceLocation)
        return
    }
    if text == expected { return }
    let got = text.split(separator: "\n", omittingEmptySubsequences: false)
    let want = expected.split(separator: "\n", omittingEmptySubsequences: false)
    let line = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
    let gotLine = line < got.count ? String(got[line]) : "<end>"
    let wantLine = line < want.count ? String(want[line]) : "<end>"
    Issue.record(
        "\(name) differs at line \(line + 1):\n  expected: \(wantLine.debugDescription)\n  got:      \(gotLine.debugDescription)",
        sourceLocation: sourceLocation)
}
