import Foundation
import HadeckTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `--script ... --record FILE.cast --screenshot FILE.svg` in a real terminal: the second
/// demonstration recorded unattended (simulated, 10x: 7 s), played back by Debian's asciinema,
/// and its last screen opened by headless Chromium.
extension DashboardEndToEndTests {
    /// What `asciinema cat` printed, as the lines each cursor move starts (styles dropped).
    static func castText(_ bytes: String) -> [String] {
        var text = bytes.replacingOccurrences(of: #"\x{1B}\[\d+;1H"#, with: "\n", options: .regularExpression)
        text = text.replacingOccurrences(of: #"\x{1B}\[[0-9;?]*[A-Za-z]"#, with: "", options: .regularExpression)
        return text.split(separator: "\n").map(String.init)
    }

    @Test(
        .tags(.live),
        .enabled(
            if: available && DashboardEndToEndTests.which("asciinema") && DashboardEndToEndTests.which("chromium"),
            "needs tmux, asciinema, chromium and a built .build/debug/hadeck"))
    func scriptedDemo2RecordsACastAsciinemaPlaysAndAScreenshot() throws {
        let session = "presenter-rec-\(getpid())"
        defer { _ = try? Self.tmux("kill-session", "-t", session) }
        let work = try TemporaryDirectory("presenter-rec")
        let cast = work.file("demo2.cast")
        let svg = work.file("demo2.svg")
        let script = Self.root + "/Examples/scenarios/demo2-balancer-failover.scenario"
        try Self.tmux(
            "new-session", "-d", "-s", session, "-x", "132", "-y", "42",
            "'\(Self.binary)' --simulate --scale 10 --script '\(script)' --record '\(cast)' --screenshot '\(svg)'; "
                + "echo $? > '\(work.file("exit"))'; sleep 60")
        let deadline = Date().addingTimeInterval(40)
        while !FileManager.default.fileExists(atPath: work.file("exit")) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.25)
        }
        // It ended by itself at the scenario's end, and well.
        let exit = try String(contentsOfFile: work.file("exit"), encoding: .utf8)
        #expect(exit.trimmingCharacters(in: .whitespacesAndNewlines) == "0")

        // The header has the terminal's size.
        let lines = try String(contentsOfFile: cast, encoding: .utf8).split(separator: "\n")
        let header = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(header["version"] as? Int == 2 && header["width"] as? Int == 132 && header["height"] as? Int == 42)

        // asciinema (which wants a terminal) prints the screens: lb1 MASTER, then lb2 MASTER with the
        // VIP on lb2's MAC.
        try Self.tmux(
            "new-window", "-t", session,
            "asciinema cat '\(cast)' > '\(work.file("cat.out"))' 2> '\(work.file("cat.err"))'; echo $? > '\(work.file("cat.rc"))'"
        )
        let catDeadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: work.file("cat.rc")) && Date() < catDeadline {
            Thread.sleep(forTimeInterval: 0.2)
        }
        let rc = try String(contentsOfFile: work.file("cat.rc"), encoding: .utf8)
        #expect(rc.hasPrefix("0"), "\((try? String(contentsOfFile: work.file("cat.err"), encoding: .utf8)) ?? "")")
        let played = Self.castText(try String(contentsOfFile: work.file("cat.out"), encoding: .utf8))
        let lb1Master = played.firstIndex { $0.contains("MASTER lb1") && $0.contains("VIP 127.0.0.99:8080") }
        let lb2Master = played.firstIndex { $0.contains("MASTER lb2") && $0.contains("VIP 127.0.0.99:8080") }
        let vipOnLb2 = played.firstIndex { $0.contains("VIP 127.0.0.99 → 52:54:00:00:01:02 → lb2") }
        let first = try #require(lb1Master, "no header with lb1 MASTER")
        let second = try #require(lb2Master, "no header with lb2 MASTER")
        let moved = try #require(vipOnLb2, "no VIP line on lb2's MAC")
        #expect(first < second && first < moved)
        let row = played[second...].first { $0.hasPrefix(" lb2 ") || $0.hasPrefix("▸lb2 ") }
        #expect(row?.contains("MASTER") == true)

        // The last screen as SVG, which headless Chromium opens and renders.
        let picture = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(picture.hasPrefix("<svg ") && picture.contains("expectations"))
        let found: String? = HadeckTestSupport.which("chromium")
        let chromium = try #require(found)
        let png = work.file("demo2.png")
        let run = try runProgram(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--window-size=1109,714", "--screenshot=\(png)", "file://\(svg)",
            ], timeout: 60)
        #expect(run.status == 0, "\(run.stderr)")
        let bytes = try #require(FileManager.default.contents(atPath: png))
        #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) && bytes.count > 10_000)
    }
}
