import AttachConfig
import Foundation
import HadeckTestSupport
import Testing

@testable import RealCluster

@Suite(.onItsOwnThread) struct ProgramRunnerTests {
    @Test func capturesOutputAndStatusWithoutAShell() throws {
        let out = try ProgramRunner.run(["printf", "%s|%s", "a b", "$(echo no)"])
        #expect(out.succeeded && out.stdout == "a b|$(echo no)", "arguments reach the program as they are")
        let failed = try ProgramRunner.run(["ls", "/nonexistent-hadeck-path"])
        #expect(failed.status == 2 && failed.stderr.contains("nonexistent-hadeck-path"))
        #expect(failed.firstErrorLine.contains("No such file"))
    }

    @Test func aSignalIsReportedAs128PlusIt() throws {
        let out = try ProgramRunner.run(["sh", "-c", "kill -TERM $$"])
        #expect(out.status == 128 + SIGTERM)
    }

    @Test func killsAProgramAtItsTimeout() throws {
        let start = ContinuousClock.now
        let out = try ProgramRunner.run(["sleep", "30"], timeout: .milliseconds(200))
        #expect(out.timedOut && !out.succeeded)
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    @Test func aChildThatKeepsThePipeOpenDoesNotHoldTheCall() throws {
        // The shell exits at once; its background sleep keeps stdout open (like a forking daemon).
        let start = ContinuousClock.now
        let out = try ProgramRunner.run(["sh", "-c", "sleep 3 & echo started"], timeout: .seconds(10))
        #expect(out.succeeded && out.stdout == "started\n")
        #expect(ContinuousClock.now - start < .seconds(2))
    }

    @Test func childrenInheritNoDescriptorsAboveStderr() throws {
        let fd = open("/dev/null", O_RDONLY)  // without O_CLOEXEC
        defer { close(fd) }
        #expect(fd > 2)
        let control = try ProgramRunner.run(["readlink", "/proc/self/fd/1"])
        #expect(control.succeeded, "readlink sees the descriptors it has")
        let out = try ProgramRunner.run(["readlink", "/proc/self/fd/\(fd)"])
        #expect(!out.succeeded, "fd \(fd) leaked into the child: \(out.stdout)")
    }

    @Test func environmentIsPassedAndMissingProgramsAreNamed() throws {
        let out = try ProgramRunner.run(
            ["sh", "-c", "echo $HADECK_TEST_VALUE"], environment: ["HADECK_TEST_VALUE": "x y"])
        #expect(out.stdout == "x y\n")
        #expect(throws: ProgramError.self) { try ProgramRunner.run(["hadeck-no-such-program"]) }
    }

    @Test func attachCommandsFillPlaceholdersAndNameFailures() throws {
        let echo = CommandTemplate(["printf", "%s|%s", "{host}", "{pid}"])
        #expect(try AttachCommands.run(echo, values: ["host": "lb1", "pid": "a b"], what: "echo").stdout == "lb1|a b")
        #expect(try AttachCommands.read(.command(CommandTemplate(["echo", "4242"])), what: "pid") == "4242\n")
        #expect(AttachCommands.pid(.command(CommandTemplate(["echo", "4242"]))) == 4242)
        #expect(AttachCommands.pid(.file("/nonexistent-hadeck.pid")) == nil)
        #expect(echo.description == "printf '%s|%s' {host} {pid}", "as a person would type it")
        do {
            try AttachCommands.run(echo, values: ["host": "lb1"], what: "lb1 haproxy kill")
            Issue.record("a missing value must fail")
        } catch {
            #expect(error.description == "lb1 haproxy kill failed: no value for {pid}")
        }
        do {
            try AttachCommands.run(CommandTemplate(["ls", "/nonexistent-hadeck"]), values: [:], what: "lb2 power off")
            Issue.record("a failing command must fail")
        } catch {
            #expect(error.description.hasPrefix("lb2 power off failed: exit status 2: ls: cannot access"))
        }
    }
}
