import Foundation
import HadeckTestSupport
import RealCluster
import Testing

@testable import Lab

/// `hadeck lab` as a person runs it, where it must refuse.
@Suite(.onItsOwnThread) struct LabCommandTests {
    static let setpriv = ProgramRunner.which("setpriv")

    @Test(
        .enabled(
            if: geteuid() == 0 && setpriv != nil && FileManager.default.isExecutableFile(atPath: LabEnvironment.hadeck),
            "needs root (to drop it), setpriv and a built hadeck"))
    func notRootIsOneLineAndExit1() throws {
        let out = try ProgramRunner.run([
            Self.setpriv!, "--reuid=65534", "--regid=65534", "--clear-groups", LabEnvironment.hadeck, "lab", "up",
        ])
        #expect(out.status == 1)
        #expect(
            out.stderr
                == "hadeck lab: not root: the lab creates network namespaces and links (run it as root, e.g. sudo)\n")
        #expect(out.stdout.isEmpty)
    }

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: LabEnvironment.hadeck), "needs a built hadeck"))
    func unknownHostsAndTargetsAreNamed() throws {
        let exec = try ProgramRunner.run([LabEnvironment.hadeck, "lab", "exec", "--id", "hdkt-0-none", "lb9", "true"])
        #expect(exec.status == 1)
        if geteuid() == 0 {
            #expect(
                exec.stderr.contains("no lab host 'lb9' (hosts: bridge, lb1, lb2, webA, webB, client)"),
                "\(exec.stderr)")
        }
        let kill = try ProgramRunner.run([LabEnvironment.hadeck, "lab", "kill", "lb1/nginx"])
        #expect(kill.status != 0 && kill.stderr.contains("'lb1/nginx' is not lb1/haproxy, lb1/keepalived"))
        let badID = try ProgramRunner.run([LabEnvironment.hadeck, "lab", "status", "--id", "prod"])
        #expect(badID.status == 1 && badID.stderr.contains("lab id 'prod' must start with 'hdk'"), "\(badID.stderr)")
    }
}
