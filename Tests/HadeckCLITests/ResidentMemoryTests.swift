import Foundation
import Testing

@testable import HadeckCLI

@Suite struct ResidentMemoryTests {
    /// This process's file-backed resident set (`RssFile` in /proc/self/status), in kB.
    static func residentFileKB() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("RssFile:") }
        return line.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
    }

    /// The test binary stands in for hadeck: its code, all of it read at start, leaves the resident set.
    @Test func pagingOutTheCodeShrinksTheResidentSet() throws {
        let before = try #require(Self.residentFileKB())
        #expect(ResidentMemory.pageOutCode(), "madvise(MADV_PAGEOUT) refused (Linux 5.4 or later has it)")
        let after = try #require(Self.residentFileKB())
        #expect(after < before - 512, "RssFile \(before) kB before, \(after) kB after")
    }
}
