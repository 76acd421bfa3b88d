import ClusterModel
import HadeckBase
import HadeckTestSupport
import Testing
import VRRPCore

@testable import ClusterCore

/// The second demonstration in virtual time: every change of master's timeline, each phase's
/// measured duration against keepalived's formula.
@Suite(.inTheBackground) struct FailoverTimelineSimulationTests {
    /// demo2 run to its end, every event kept (requests too).
    func demo2() throws -> [FailoverTimeline] {
        let text = try readRepositoryFile("Examples/scenarios/demo2-balancer-failover.scenario")
        let (parsed, diags) = ScenarioParser.parse(text, file: "demo2.scenario")
        let scenario = try #require(parsed, "\(diags.items)")
        var spec = ClusterSpec.article
        spec.trafficOn = false
        let cluster = Cluster(spec: spec)
        var events: [ClusterEvent] = []
        cluster.onEvent = { events.append($0) }
        let runner = ScenarioRunner(scenario: scenario, cluster: cluster)
        runner.runToEnd(scenario.endTime)
        #expect(runner.failures.isEmpty)
        return FailoverTimeline.all(events: events)
    }

    @Test func everyChangeOfMasterIsOneTimeline() throws {
        let timelines = try demo2()
        // kill -9 haproxy, restore (lb1 preempts), keepalived stopped, started (preempts), power off.
        #expect(timelines.map(\.newMaster) == ["lb2", "lb1", "lb2", "lb1", "lb2"])
        #expect(timelines.map(\.oldMaster) == ["lb1", "lb2", "lb1", "lb2", "lb1"])
        let faults = timelines.map { $0.phase(.fault)?.start.seconds }
        #expect(faults == [12, 22, 32, 36, 48])
    }

    @Test func inVirtualTimeEveryPhaseTakesExactlyWhatItsFormulaSays() throws {
        for timeline in try demo2() {
            for phase in timeline.phases {
                guard let formula = phase.formula else { continue }
                #expect(
                    phase.duration == formula.value,
                    "\(timeline.newMaster) at \(timeline.takeover): \(phase.kind) \(phase.duration) != \(formula.text)")
            }
            // Every change of master has its timer and its gratuitous ARP, with their formulas.
            #expect(timeline.phase(.timer)?.formula != nil)
            #expect(timeline.phase(.garp)?.duration == .zero)
        }
    }

    @Test func killOfHAProxyIsDetectedByChkHAProxyThenTheMasterDownTimerRunsOut() throws {
        let kill = try #require(try demo2().first)
        let fault = try #require(kill.phase(.fault))
        #expect(fault.label.contains("lb1 haproxy killed"))
        let detection = try #require(kill.phase(.detection))
        #expect(detection.label == "chk_haproxy failed 2 x 2 s")
        // Two failed runs two seconds apart: more than one interval, at most two.
        #expect(detection.duration > .seconds(2) && detection.duration <= .seconds(4))
        let crossing = try #require(kill.phase(.priorityCrossing))
        #expect(crossing.start == detection.end && crossing.label.contains("150 -> 90"))
        let timer = try #require(kill.phase(.timer))
        #expect(timer.formula?.text == "Master_Down_Interval = 3 x 1 s + (256 - 100)/256 s = 3.609375 s")
        // lb2 stopped accepting lb1's adverts at the crossing: its timer was armed by the last one before.
        #expect(timer.start <= crossing.start && timer.end > crossing.start)
        // The browsers saw the outage from the kill to the first answer through lb2.
        let outage = try #require(kill.phase(.outage))
        let answer = try #require(kill.phase(.firstAnswer))
        #expect(outage.start >= fault.start && outage.end == answer.end)
        #expect(kill.faultToService == answer.end - fault.start)
        // One after the other, the phases add up to the time from the fault to service again.
        let steps = kill.consecutivePhases
        #expect(steps.map(\.kind) == [.detection, .timer, .garp, .firstAnswer])
        #expect(steps.map(\.duration.micros).reduce(0, +) == kill.faultToService?.micros)
        #expect(steps[1].start == crossing.start)
    }

    @Test func gracefulStopTakesSkewTimeFromThePriorityZeroAdvert() throws {
        let stop = try demo2()[2]
        let fault = try #require(stop.phase(.fault))
        #expect(fault.label.contains("lb1 keepalived stopped"))
        #expect(stop.phase(.detection) == nil)
        let timer = try #require(stop.phase(.timer))
        #expect(timer.formula?.text == "Skew_Time = (256 - 100)/256 s = 0.609375 s")
        #expect(timer.start == fault.start)
    }

    @Test func powerOffWaitsForMasterDownFromTheLastAdvertHeard() throws {
        let off = try demo2()[4]
        let fault = try #require(off.phase(.fault))
        #expect(fault.label == "lb1 off")
        let timer = try #require(off.phase(.timer))
        // The last advert came before the power went off: the takeover is less than the timer after it.
        #expect(timer.start <= fault.start && timer.end - fault.start <= timer.duration)
        #expect(off.phase(.outage) != nil)
        #expect(off.consecutivePhases.first?.start == fault.start)
        #expect(off.textLines.first == "change of master lb1 -> lb2 at 51.023437 s")
    }
}
