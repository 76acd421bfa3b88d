import ClusterCore
import ClusterModel
import Conformance
import Foundation
import HadeckBase
import HadeckTestSupport
import Testing

@testable import HadeckCLI

/// `hadeck conform`'s embedded side: one run per outcome a scenario's races can have.
@Suite(.inTheBackground) struct ConformCommandTests {
    static func load(_ name: String) throws -> (Scenario, ClusterSpec) {
        let path = repositoryRoot + "/Examples/conformance/\(name).scenario"
        guard case .success(let loaded) = ScenarioLoader.loadSpec(path: path) else {
            throw TestFailure(description: "\(path) does not load")
        }
        return loaded
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// After the heal, the master whose advert crosses first decides: lb1 hearing lb2's lower advert
    /// answers with its own and a gratuitous ARP (the client is back within one advert); lb2 hearing
    /// lb1's first steps down without a word, and the client keeps sending to lb2's MAC.
    @Test func aHealedPartitionIsPlayedOncePerOutcomeOfItsAdvertRace() throws {
        let (scenario, spec) = try Self.load("partition")
        let branches = EmbeddedConformance.branches(scenario, spec: spec)
        #expect(branches.count == 2)
        #expect(branches.first?.shift == .zero)
        let heals = branches.map { branch in
            let i = branch.run.actions.firstIndex { if case .heal(_, _) = $0.command { true } else { false } }!
            let window = Conformance.window(branch.run, i)
            return (
                events: Conformance.outcome(branch.run)[i],
                outage: Conformance.outage(branch.run.samples, in: window).outage
            )
        }
        let answered = try #require(heals.first { $0.events.contains("VIP -> lb1's MAC") })
        let silent = try #require(heals.first { !$0.events.contains("VIP -> lb1's MAC") })
        #expect(answered.events == ["VIP -> lb1's MAC", "lb2 BACKUP"])
        #expect(silent.events == ["lb2 BACKUP"])
        #expect(answered.outage <= .milliseconds(200))
        #expect(silent.outage >= .seconds(5), "the client stays on lb2's MAC until the run ends")
        // Nothing before the heal differs.
        for branch in branches {
            #expect(Conformance.outcome(branch.run).dropLast() == Conformance.outcome(branches[0].run).dropLast())
        }
    }

    @Test func aScenarioWithoutAHealHasOneEmbeddedRun() throws {
        let (scenario, spec) = try Self.load("graceful-stop")
        #expect(EmbeddedConformance.branches(scenario, spec: spec).count == 1)
    }
}
