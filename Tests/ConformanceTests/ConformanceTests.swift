import BalancerCore
import ClusterModel
import HadeckBase
import Testing

@testable import Conformance

private func at(_ s: Double) -> Instant { Instant(micros: Int64((s * 1_000_000).rounded())) }

private func state(_ t: Double, _ node: String, _ from: HostVRRPState, _ to: HostVRRPState) -> ClusterEvent {
    ClusterEvent(
        time: at(t), .vrrpState(node: node, from: from, to: to, priority: 100, effectivePriority: 100), why: "")
}

private func vip(_ t: Double, _ node: String) -> ClusterEvent {
    ClusterEvent(time: at(t), .arpUpdate(ip: "10.77.0.10", mac: "02", node: node), why: "")
}

private let timers = ConformanceTimers(advert: .seconds(1), script: .seconds(2), check: .seconds(2))

@Suite struct ConformanceTests {
    /// Events pair by kind, node and order after each action, with times from each side's action.
    @Test func eventsPairByKindNodeAndOrder() {
        let stop = ClusterCommand.stop(.process(host: "lb1", .keepalived))
        let real = ConformanceRun(
            actions: [PlayedAction(line: 3, command: stop, time: at(10))],
            events: [
                state(10.001, "lb1", .master, .stopped), state(10.63, "lb2", .backup, .master), vip(10.64, "lb2"),
            ],
            samples: [], end: at(15))
        let embedded = ConformanceRun(
            actions: [PlayedAction(line: 3, command: stop, time: at(20))],
            events: [
                state(19, "lb1", .backup, .master),  // before the action: not compared
                state(20, "lb1", .master, .stopped), state(20.609, "lb2", .backup, .master),
                state(21, "lb2", .master, .fault),  // one-sided
            ],
            samples: [], end: at(25))
        let rows = Conformance.compare(real: real, embedded: embedded, timers: timers)
        #expect(
            rows.map(\.what) == [
                "lb1 STOP", "lb2 MASTER", "VIP -> lb2's MAC", "lb2 FAULT", "client outage", "session kept",
            ])
        #expect(rows[1].real == .milliseconds(630) && rows[1].embedded == .milliseconds(609))
        #expect(rows[1].withinTolerance && rows[1].tolerance == .milliseconds(100))
        #expect(!rows[2].withinTolerance && rows[2].embedded == nil, "only the real side moved the VIP")
        #expect(!rows[3].withinTolerance && rows[3].real == nil)
        #expect(rows[4].withinTolerance && rows[4].real == .zero)
        let problems = ConformanceTable.problems(rows, file: "s.scenario")
        #expect(rows[5].withinTolerance, "no session on either side: both say no")
        #expect(problems.count == 2)
        #expect(problems[0].hasPrefix("s.scenario:3: error: after `stop lb1/keepalived`, VIP -> lb2's MAC"))
    }

    /// A real run is held to the embedded run with its outcome (its events after each action, times
    /// aside); when none has it, to the one that agrees after the most actions, said as not exact.
    @Test func aRealRunIsHeldToTheEmbeddedBranchItTook() {
        let partition = ClusterCommand.partition("lb1", "lb2")
        let heal = ClusterCommand.heal(nil, nil)
        func run(_ events: [ClusterEvent], healAt t: Double) -> ConformanceRun {
            ConformanceRun(
                actions: [
                    PlayedAction(line: 7, command: partition, time: at(t - 8)),
                    PlayedAction(line: 8, command: heal, time: at(t)),
                ],
                events: events, samples: [], end: at(t + 8))
        }
        func split(_ t: Double) -> [ClusterEvent] { [state(t - 5, "lb2", .backup, .master), vip(t - 5, "lb2")] }
        let answered = run(split(10) + [state(10.109, "lb2", .master, .backup), vip(10.109, "lb1")], healAt: 10)
        let silent = run(split(10.2) + [state(10.5, "lb2", .master, .backup)], healAt: 10.2)
        let candidates = [answered, silent]

        let tookSilent = Conformance.matchingBranch(
            real: run(split(20) + [state(20.4, "lb2", .master, .backup)], healAt: 20), among: candidates)
        #expect(tookSilent.index == 1 && tookSilent.exact)
        let tookAnswered = Conformance.matchingBranch(
            real: run(split(20) + [vip(20.2, "lb1"), state(20.3, "lb2", .master, .backup)], healAt: 20),
            among: candidates)
        #expect(tookAnswered.index == 0 && tookAnswered.exact)
        // A stray event in the partition's window: no run has it, and the heal still picks its branch.
        let stray = Conformance.matchingBranch(
            real: run(
                split(20) + [state(15.5, "lb1", .master, .fault), state(20.4, "lb2", .master, .backup)], healAt: 20),
            among: candidates)
        #expect(stray.index == 1 && !stray.exact)
        // Like neither: the first, not exact.
        let neither = Conformance.matchingBranch(
            real: run([state(20.4, "lb2", .master, .fault)], healAt: 20), among: candidates)
        #expect(neither.index == 0 && !neither.exact)
        #expect(
            Conformance.outcome(answered) == [["VIP -> lb2's MAC", "lb2 MASTER"], ["VIP -> lb1's MAC", "lb2 BACKUP"]])
    }

    /// A kill -9 of haproxy waits for the track script and for a Master_Down_Timer: both phases count.
    @Test func tolerancesSayWhy() {
        let kill = ClusterCommand.kill(.process(host: "lb1", .haproxy))
        let (t, why) = Conformance.tolerance(for: .state, after: kill, timers)
        #expect(t == .milliseconds(3_100))
        #expect(why.contains("track script phase (one interval) 2000 ms") && why.contains("advert phase"))
        let (p, _) = Conformance.tolerance(for: .priority, after: kill, timers)
        #expect(p == .milliseconds(2_100))
        let stop = ClusterCommand.stop(.process(host: "lb1", .keepalived))
        #expect(Conformance.outageTolerance(after: stop, timers).0 == .milliseconds(100))
        // A failback may lose one request (0.104 s measured after `link lb1 up`): one timeout plus one period.
        let (f, fwhy) = Conformance.outageTolerance(after: .link(host: "lb1", up: true), timers)
        #expect(f == .milliseconds(110) && fwhy.contains("advert-to-GARP race"))
        #expect(Conformance.outageTolerance(after: .start(.process(host: "lb1", .keepalived)), timers).0 == f)
        // A killed backend: the outage ends when the checks mark it DOWN (one inter of phase).
        let (k, kwhy) = Conformance.outageTolerance(after: .kill(.backend("webA")), timers)
        #expect(k == .milliseconds(2_200) && kwhy.contains("check phase (one inter) 2000 ms"))
    }

    @Test func outageRunsFromTheFirstFailureToTheFirstAnswerAfterIt() {
        let samples = [
            ProbeSample(start: at(9.99), end: at(9.992), ok: true),
            ProbeSample(start: at(10.002), end: at(10.102), ok: false),
            ProbeSample(start: at(10.102), end: at(10.202), ok: false),
            ProbeSample(start: at(10.202), end: at(10.205), ok: true),
        ]
        let o = Conformance.outage(samples, in: at(10)..<at(12))
        #expect(o.outage == .milliseconds(203) && o.failed == 2)
        #expect(Conformance.outage(samples, in: at(11)..<at(12)).outage == .zero)
    }
}
