import ArgumentParser
import Foundation
import HadeckTestSupport
import Testing

@testable import HadeckCLI

private let root: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// Every `hadeck ...` command line the README shows, as the words after `hadeck`.
///
/// Lines of `sh` code blocks and inline code spans that start with `hadeck`, `swift run hadeck` or a
/// built binary. A synopsis (`[--json]`, `A|B`, `FILE`) is instantiated: optional groups are kept,
/// the first alternative is taken, placeholders get example values, so that the whole synopsis
/// is parsed, not only its bare command.
func readmeCommandLines() throws -> [(line: String, words: [String])] {
    let text = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
    var candidates: [String] = []
    // Shell blocks hold commands; other blocks (screen captures, file contents) do not.
    var block: String?
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let line = String(raw)
        if line.hasPrefix("```") {
            block = block == nil ? String(line.dropFirst(3)) : nil
            continue
        }
        if let block {
            if ["sh", "bash", "console"].contains(block) { candidates.append(line) }
            continue
        }
        // Inline code spans (a table cell's `a\|b` is an escaped pipe inside the span).
        var rest = Substring(line.replacingOccurrences(of: "\\|", with: "|"))
        while let open = rest.firstIndex(of: "`") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "`") else { break }
            candidates.append(String(after[..<close]))
            rest = after[after.index(after: close)...]
        }
    }
    var result: [(String, [String])] = []
    for candidate in candidates {
        var line = candidate.trimmingCharacters(in: .whitespaces)
        if let hash = line.range(of: "  #") { line = String(line[..<hash.lowerBound]) }
        line = line.trimmingCharacters(in: .whitespaces)
        for prefix in ["swift run hadeck", ".build/release/hadeck", ".build/debug/hadeck", "sudo hadeck", "hadeck"] {
            guard line == prefix || line.hasPrefix(prefix + " ") else { continue }
            let words = instantiate(String(line.dropFirst(prefix.count)))
            result.append((line, words))
            break
        }
    }
    return result
}

/// Turns a synopsis into words: `[x]` -> x, `a|b` -> a, a repetition `[-f FILE ...]` dropped,
/// placeholders filled in.
func instantiate(_ synopsis: String) -> [String] {
    var synopsis = synopsis
    while let open = synopsis.range(of: "["), let close = synopsis[open.upperBound...].range(of: "]"),
        synopsis[open.upperBound..<close.lowerBound].contains("...")
    {
        synopsis.removeSubrange(open.lowerBound..<close.upperBound)
    }
    let examples: [String: String] = [
        "FILE": "Examples/scenarios/demo1-backend-failure.scenario", "F": "Examples/article/cluster.yaml",
        "IP:PORT": "127.0.0.98:8080", "T": "30s", "N": "2", "X": "0.5", "NAME|PATH": "mono",
        "HOST": "lb1", "CMD...": "true",
    ]
    var words: [String] = []
    for raw in synopsis.split(separator: " ") {
        var word = String(raw)
        if word == "[...]" || word == "..." || word == "...]" { continue }
        word = word.replacingOccurrences(of: "[", with: "").replacingOccurrences(of: "]", with: "")
        if word.isEmpty { continue }
        if let example = examples[word] {
            words.append(example)
            continue
        }
        if word.contains("|"), !word.hasPrefix("-") { word = String(word.split(separator: "|")[0]) }
        words.append(word)
    }
    return words
}

@Suite(.inTheBackground) struct CommandLineTests {
    @Test func everyReadmeCommandLineParses() throws {
        let lines = try readmeCommandLines()
        #expect(lines.count >= 10, "found only \(lines.map(\.line))")
        for (line, words) in lines {
            do {
                _ = try Hadeck.parseAsRoot(words)
            } catch {
                Issue.record("README: `\(line)` does not parse (\(words)): \(Hadeck.message(for: error))")
            }
        }
    }

    @Test func hadeckAloneIsTheLiveDashboard() throws {
        let command = try #require(try Hadeck.parseAsRoot([]) as? DashboardCommand)
        #expect(!command.simulate && !command.headless && command.vip == nil)
        let simulated = try #require(try Hadeck.parseAsRoot(["--simulate", "--scale", "0.25"]) as? DashboardCommand)
        #expect(simulated.simulate && simulated.scale == 0.25)
    }

    /// The root's options used to be validated for every subcommand: `--until` then needed `--headless`.
    @Test(arguments: [
        ["simulate", "FILE", "--json", "--until", "30s"], ["simulate", "--until", "30s", "FILE", "--json"],
        ["simulate", "--json", "FILE", "--until", "30s"],
    ])
    func subcommandsOwnTheirOptions(_ words: [String]) throws {
        let file = root + "/Examples/scenarios/demo2-balancer-failover.scenario"
        let args = words.map { $0 == "FILE" ? file : $0 }
        let command = try #require(try Hadeck.parseAsRoot(args) as? SimulateCommand)
        #expect(command.json && command.until == "30s" && command.file == file)
    }

    @Test func simulateUntilPrintsEventsEndingAtThatTime() throws {
        let file = root + "/Examples/scenarios/demo2-balancer-failover.scenario"
        let command = try #require(
            try Hadeck.parseAsRoot(["simulate", file, "--json", "--until", "30s"]) as? SimulateCommand)
        var out = ""
        var err = ""
        _ = command.execute(out: &out, err: &err)
        let times = out.split(separator: "\n").compactMap { line -> Double? in
            guard line.hasPrefix("{\"t\":"), let comma = line.firstIndex(of: ",") else { return nil }
            return Double(line[line.index(line.startIndex, offsetBy: 5)..<comma])
        }
        #expect(times.count > 50)
        let last = try #require(times.last)
        #expect(last <= 30 && last > 29, "last event at \(last)")
    }

    @Test(arguments: [
        (["--until", "30s"], "--until only applies with --headless"),
        (["--scale", "2"], "--scale needs --simulate"),
        (["--vip", "127.0.0.98"], "is not IP:PORT"),
        (["--vip", "127..0.1:8080"], "is not IP:PORT"),
        (["--vip", "10.0.0.5:8080"], "is not a loopback address"),
        (["--headless", "--until", "soon"], "is not a time"),
    ])
    func badDashboardOptionsSayWhy(_ words: [String], _ message: String) {
        do {
            _ = try Hadeck.parseAsRoot(words)
            Issue.record("\(words) parsed")
        } catch {
            #expect(Hadeck.message(for: error).contains(message), "\(Hadeck.message(for: error))")
        }
    }

    @Test func simulateTakesAnyIPv4VIP() throws {
        let command = try #require(
            try Hadeck.parseAsRoot(["--simulate", "--vip", "10.0.0.5:80"]) as? DashboardCommand)
        #expect(command.vip == "10.0.0.5:80")
    }
}
