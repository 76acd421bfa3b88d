import BalancerCore
import HadeckBase
import Testing
import VRRPCore

@testable import ClusterModel

/// The timeline from hand-made events: what counts as a change of master, and what a source that
/// knows less (no arm time, no scripts, no requests) still shows.
@Suite struct FailoverTimelineTests {
    func at(_ s: Double) -> Instant { Instant(micros: Int64(s * 1_000_000)) }

    func state(_ t: Double, _ node: String, _ from: HostVRRPState, _ to: HostVRRPState, timer: VRRPTimer? = nil)
        -> ClusterEvent
    {
        ClusterEvent(
            time: at(t), .vrrpState(node: node, from: from, to: to, priority: 100, effectivePriority: 100), why: "",
            timer: timer)
    }

    func request(_ t: Double, via: String?, status: Int) -> RequestRecord {
        RequestRecord(
            time: at(t), client: "c1", via: via, server: status == 200 ? "webA" : nil, status: status, session: nil,
            reason: "", latency: .zero)
    }

    @Test func theFirstElectionIsNoChangeOfMaster() {
        let events = [state(0, "lb1", .initialize, .backup), state(3.4, "lb1", .backup, .master)]
        #expect(FailoverTimeline.all(events: events).isEmpty)
    }

    @Test func aSourceWithoutArmTimesStillShowsTheTimerAndTheOutage() throws {
        let timer = VRRPTimer(
            kind: .masterDown, adverts: 3, advertInterval: .seconds(1), priority: 100, value: .microseconds(3_609_375))
        let events = [
            state(1, "lb1", .backup, .master),
            ClusterEvent(time: at(10), .hostPower(node: "lb1", on: false), why: "power button"),
            state(13, "lb2", .backup, .master, timer: timer),
            ClusterEvent(time: at(13), .arpUpdate(ip: "10.0.0.99", mac: "52:54:00:00:01:02", node: "lb2"), why: ""),
        ]
        let requests = [
            request(9.5, via: "lb1", status: 200), request(10.5, via: nil, status: 0),
            request(12, via: nil, status: 0), request(13.25, via: "lb2", status: 200),
        ]
        let timeline = try #require(FailoverTimeline.all(events: events, requests: requests.reversed()).first)
        #expect(timeline.oldMaster == "lb1" && timeline.newMaster == "lb2")
        #expect(timeline.phases.map(\.kind) == [.timer, .fault, .outage, .garp, .firstAnswer])
        #expect(timeline.phase(.timer)?.start == at(13) - .microseconds(3_609_375))
        #expect(timeline.phase(.outage)?.duration == .microseconds(2_750_000))
        #expect(timeline.phase(.outage)?.label == "2 requests failed")
        #expect(timeline.faultToService == .microseconds(3_250_000))
        #expect(timeline.consecutivePhases.map(\.duration.micros).reduce(0, +) == 3_250_000)
    }

    @Test func aTakeoverWithNothingDoneToTheClusterHasNoFault() throws {
        let events = [
            state(1, "lb1", .backup, .master), state(5, "lb1", .master, .backup), state(6, "lb2", .backup, .master),
        ]
        let timeline = try #require(FailoverTimeline.all(events: events).first)
        #expect(timeline.phase(.fault) == nil && timeline.consecutivePhases.isEmpty && timeline.faultToService == nil)
    }
}
