import AttachConfig
import AttachedCluster
import ClusterModel
import Foundation
import HadeckBase
import HadeckTestSupport
import RealCluster
import Testing

@testable import HadeckCLI
@testable import Lab

/// `hadeck attach --headless --save-session FILE` on the shared lab, through a failover, then
/// `hadeck replay FILE --until end`: the replay ends on the screen the attached run ended on.
extension LabTests.Attach {
    @Test(.enabled(if: LabEnvironment.ready, "needs root, ip netns, haproxy, keepalived, nft: see capabilityProbe"))
    func aSavedAttachSessionReplaysToTheScreenTheRunEndedOn() async throws {
        let lab = try await SharedLab.baseline()
        let dir = try TemporaryDirectory("attach-session")
        let path = dir.file("lab.session")
        let (file, diags) = AttachFile.load(path: lab.layout.attachFile)
        let attach = try #require(file, "\(diags.items)")
        let options = AttachOptions(auditLog: dir.file("audit.log"))
        // lb1's haproxy killed 2 s after attaching; lb2 is MASTER within detection + Master_Down_Interval
        // + slack (8.1 s) of it, by 10.1 s. The run ends at 12 s.
        let fault = Task {
            try await Task.sleep(for: .seconds(2))
            return try await Blocking.run { try lab.killHAProxy("lb1") }
        }
        let (status, ended) = try await Blocking.run { () -> (Int32, ClusterSnapshot?) in
            var last: ClusterSnapshot?
            let status = try AttachCommand.attach(
                attach, options: options, headless: true, until: Instant(micros: 12_000_000), theme: nil,
                saveSession: path, sessionSource: "lab", ended: { last = $0 })
            return (status, last)
        }
        _ = try await fault.value
        #expect(status == 0)
        let final = try #require(ended, "no final snapshot")
        #expect(final.masters.map(\.name) == ["lb2"], "the failover did not happen in 12 s: \(final.events)")

        let session = try ReplayCommand.load(path)
        #expect(session.header.source == "lab" && session.header.cluster == attach.name)
        #expect(session.keyframes.count >= 10 && session.end == final.time)
        let replayed = try await awaitProgram(
            [LabEnvironment.hadeck, "replay", path, "--until", "end", "--width", "140", "--height", "45"], timeout: 30)
        #expect(replayed.status == 0, "\(replayed.stderr)")
        let expected = ReplayCommand.screen(final, width: 140, height: 45)
        #expect(replayed.stdout == expected + "\n", "replayed:\n\(replayed.stdout)\nthe run's:\n\(expected)")
        let lb2MAC = try #require(lab.interface("lb2")?.mac)
        #expect(expected.contains("MASTER lb2") && expected.contains("VIP 10.77.0.10 → \(lb2MAC) → lb2"), "\(expected)")
        // Before the fault the replay shows lb1 holding the VIP.
        let early = try await awaitProgram(
            [LabEnvironment.hadeck, "replay", path, "--until", "1.5s", "--width", "140", "--height", "45"], timeout: 30)
        #expect(early.stdout.contains("MASTER lb1"), "\(early.stdout)")
    }
}
