import Foundation
import HadeckTestSupport
import Testing

@testable import HadeckCLI

private let root: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

@Suite(.onItsOwnThread) struct SimulateCommandTests {
    func run(_ path: String, json: Bool = false, until: String? = nil) -> (Int32, String, String) {
        var out = ""
        var err = ""
        let code = SimulateCommand.simulate(file: path, json: json, until: until, out: &out, err: &err)
        return (code, out, err)
    }

    @Test func articleScenarioPassesAndPrintsATimeline() {
        let (code, out, err) = run(root + "/Examples/scenarios/demo3-session-survives.scenario")
        #expect(code == 0, "\(err)")
        #expect(out.contains("vrrp.state     lb2 BACKUP -> MASTER"))
        #expect(out.contains("# 5 of 5 expectations held;"))
        #expect(err.isEmpty)
    }

    @Test func failedExpectationExitsOneNamingItsLine() throws {
        let dir = try TemporaryDirectory("simulate")
        let path = dir.file("t.scenario")
        try "# a wrong claim\nat 5s expect master lb2\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (code, _, err) = run(path)
        #expect(code == 1)
        #expect(err == "\(path):2: error: expectation failed at 5s: expect master lb2 (seen: master: lb1)\n")
    }

    @Test func jsonOutputIsOneEventPerLine() {
        let (code, out, _) = run(root + "/Examples/scenarios/demo3-session-survives.scenario", json: true, until: "10s")
        #expect(code == 0)
        let lines = out.split(separator: "\n")
        #expect(lines.count > 10)
        #expect(lines.allSatisfy { $0.hasPrefix(#"{"t":"#) && $0.hasSuffix("}") && $0.contains(#","why":""#) })
    }

    @Test func badScenarioNamesFileAndLine() throws {
        let dir = try TemporaryDirectory("simulate")
        let path = dir.file("t.scenario")
        try "at 1s traffic on\nat 2s kill lb3/haproxy\nat 3s frobnicate\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        let (code, _, err) = run(path)
        #expect(code == 1)
        #expect(err == "\(path):3: error: unknown command 'frobnicate'\n")
    }

    @Test func unknownHostInACommandIsReportedWithItsLine() throws {
        let dir = try TemporaryDirectory("simulate")
        let path = dir.file("t.scenario")
        try "at 2s kill lb3/haproxy\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (code, _, err) = run(path)
        #expect(code == 1)
        #expect(err == "\(path):1: error: no balancer host named 'lb3' (hosts: lb1, lb2)\n")
    }
}
