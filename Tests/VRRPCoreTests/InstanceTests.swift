import HadeckBase
import Testing

@testable import VRRPCore

let ipA = "127.0.1.1"
let ipB = "127.0.1.2"

/// The article's pair: A MASTER 150, B BACKUP 100, unicast to each other.
func articlePair(
    aScripts: [VRRPScriptConfig] = [], aTracks: [TrackScriptRef] = [],
    configureB: (inout VRRPInstanceConfig) -> Void = { _ in }
) -> Wire {
    let a = VRRPInstance(
        config: instanceConfig(priority: 150, state: .master, ip: ipA, peers: [ipB], tracks: aTracks),
        scripts: aScripts, primaryIP: ipA)
    var bConfig = instanceConfig(priority: 100, ip: ipB, peers: [ipA])
    configureB(&bConfig)
    let b = VRRPInstance(config: bConfig, scripts: [], primaryIP: ipB)
    return Wire([a, b])
}

@Suite struct TimerTests {
    @Test(arguments: [
        // (version, own interval, advertised interval, priority, expected Master_Down_Interval)
        (2, Int64(1_000_000), Int64(1_000_000), 100, Int64(3_609_375)),
        (2, 1_000_000, 1_000_000, 150, 3_414_062),
        (3, 500_000, 500_000, 100, 1_804_687),
        // v3: a backup adopts the master's advertised interval.
        (3, 1_000_000, 500_000, 100, 1_804_687),
    ])
    func backupTakesOverAfterMasterDownInterval(
        version: Int, own: Int64, advertised: Int64, priority: Int, expected: Int64
    ) {
        var b = VRRPInstance(
            config: instanceConfig(
                priority: priority, ip: ipB, peers: [ipA], version: version, interval: .microseconds(own)),
            scripts: [], primaryIP: ipB)
        _ = b.start(now: .zero)
        var t = Instant.zero
        for _ in 0..<5 {
            t += .microseconds(advertised)
            _ = b.receive(
                packet: advertBytes(
                    priority: 200, from: ipA, to: ipB, version: version, interval: .microseconds(advertised)),
                from: ipA, now: t)
            #expect(b.state == .backup)
        }
        #expect(b.stats.discards == [:])
        #expect(b.advertIntervalInUse == .microseconds(advertised))
        #expect(b.masterDownInterval == .microseconds(expected))
        #expect(b.masterDownDeadline == t + .microseconds(expected))
        _ = b.advance(to: t + .microseconds(expected - 1), probe: { _ in true })
        #expect(b.state == .backup)
        let actions = b.advance(to: t + .microseconds(expected), probe: { _ in true })
        #expect(b.state == .master)
        guard case .stateChanged(.backup, .master, let why) = actions.first else {
            Issue.record("expected a state change first")
            return
        }
        #expect(why == "no advert from the master for \(formatSeconds(expected)) s (Master_Down_Interval): taking over")
        #expect(b.stats.becameMaster == 1)
        #expect(b.stats.advertsReceived == 5)
    }

    @Test func priorityZeroAdvertMeansSkewTime() {
        var wire = articlePair()
        wire.startAll()
        wire.run(until: at(10_200_000))
        #expect(wire.nodes[0].state == .master)
        let actions = wire.nodes[0].stop(now: at(10_200_000))
        #expect(wire.nodes[0].state == .stopped)
        #expect(actions.contains(.vipsRemoved(["127.0.0.99"], why: "keepalived is stopping")))
        wire.now = at(10_200_000)
        wire.handle(actions, from: 0)
        #expect(wire.nodes[0].stats.priorityZeroSent == 1)
        #expect(wire.nodes[1].stats.priorityZeroReceived == 1)
        #expect(wire.nodes[1].skewTime == .microseconds(609_375))
        wire.run(until: at(20_000_000))
        #expect(wire.lastTransition(1, to: .master) == at(10_200_000 + 609_375))
        guard case .stateChanged(_, .master, let why) = wire.actions(1, at: at(10_809_375)).first else {
            Issue.record("no takeover")
            return
        }
        #expect(why.contains("priority 0 advert") && why.contains("0.609375 s (Skew_Time)"))
    }

    @Test func coldStartOfStateMasterWaitsOneMasterDownInterval() {
        var a = VRRPInstance(
            config: instanceConfig(priority: 150, state: .master, ip: ipA, peers: [ipB]), scripts: [], primaryIP: ipA)
        let first = a.start(now: .zero)
        #expect(a.state == .backup)
        #expect(first.contains { if case .stateChanged(.initialize, .backup, _) = $0 { true } else { false } })
        #expect(a.nextDeadline == at(3_414_062))
        _ = a.advance(to: at(3_414_061), probe: { _ in true })
        #expect(a.state == .backup)
        _ = a.advance(to: at(3_414_062), probe: { _ in true })
        #expect(a.state == .master)
    }

    @Test func priority255GoesStraightToMaster() {
        var a = VRRPInstance(
            config: instanceConfig(priority: 255, state: .master, ip: ipA, peers: [ipB]), scripts: [], primaryIP: ipA)
        let actions = a.start(now: .zero)
        #expect(a.state == .master)
        #expect(actions.filter { if case .sendAdvert = $0 { true } else { false } }.count == 1)
        #expect(a.vipsInstalled)
    }

    @Test func garpsOnTakeoverAreFiveNowAndFiveMoreFiveSecondsLater() {
        var wire = articlePair()
        wire.startAll()
        wire.run(until: at(30_000_000))
        let takeover = at(3_414_062)
        #expect(wire.lastTransition(0, to: .master) == takeover)
        let expectedGarps: [Instant] =
            Array(repeating: takeover, count: 5) + Array(repeating: takeover + .seconds(5), count: 5)
        #expect(wire.garpTimes(0) == expectedGarps)
        // On the wire: one advert, then the five GARPs.
        let sends = wire.actions(0, at: takeover).filter {
            switch $0 {
            case .sendAdvert, .sendGratuitousARP: true
            default: false
            }
        }
        #expect(sends.count == 6)
        if case .sendAdvert = sends.first {} else { Issue.record("advert must come first") }
        // Then one advert per second.
        #expect(wire.advertTimes(0).prefix(3) == [takeover, takeover + .seconds(1), takeover + .seconds(2)])
    }

    @Test func garpRefreshRepeatsWhileMaster() {
        var config = instanceConfig(priority: 255, state: .master, ip: ipA, peers: [ipB])
        config.garpMasterRefresh = .seconds(60)
        var a = VRRPInstance(config: config, scripts: [], primaryIP: ipA)
        _ = a.start(now: .zero)
        let actions = a.advance(to: at(60_000_000), probe: { _ in true })
        #expect(actions.filter { $0 == .sendGratuitousARP(vip: "127.0.0.99") }.count == 5 + 1)
    }
}

@Suite struct ElectionTests {
    @Test func masterAndBackupElection() {
        var wire = articlePair()
        wire.startAll()
        wire.run(until: at(20_000_000))
        #expect(wire.nodes[0].state == .master)
        #expect(wire.nodes[1].state == .backup)
        #expect(wire.nodes[1].masterIP == ipA)
        #expect(wire.nodes[1].masterPriority == 150)
        #expect(wire.nodes[0].stats.becameMaster == 1)
        #expect(wire.nodes[1].stats.becameMaster == 0)
        #expect(wire.nodes[1].stats.advertsReceived == wire.nodes[0].stats.advertsSent)
        // The backup's timer is always one Master_Down_Interval after the last advert.
        #expect(wire.nodes[1].masterDownDeadline == wire.advertTimes(0).last! + .microseconds(3_609_375))
    }

    @Test func trackScriptWeightMakesPrioritiesCrossAndBackupPreempts() {
        var wire = articlePair(aScripts: [chkHaproxy(weight: -60)], aTracks: [TrackScriptRef(name: "chk_haproxy")])
        wire.startAll()
        wire.run(until: at(10_500_000))
        wire.haproxyAlive[0] = false  // kill -9 haproxy on A at 10.5 s
        wire.run(until: at(30_000_000))
        // Script runs every 2 s from 0: failures at 12 and 14 -> priority 150 -> 90 at 14 s.
        let drop = wire.log.first { if case .priorityChanged = $0.2 { true } else { false } }
        #expect(drop?.0 == at(14_000_000))
        #expect(
            drop?.2
                == .priorityChanged(
                    from: 150, to: 90, why: "track script chk_haproxy failed 2 times: priority 150 -> 90"))
        // B ignores adverts below its own 100, so it takes over one Master_Down_Interval after the last 150.
        let last150 = wire.advertTimes(0, priority: 150).last!
        #expect(last150 == at(13_414_062))
        #expect(wire.lastTransition(1, to: .master) == last150 + .microseconds(3_609_375))
        #expect(wire.nodes[1].state == .master)
        #expect(wire.nodes[0].state == .backup)
        #expect(wire.nodes[0].effectivePriority == 90)
        #expect(wire.nodes[0].basePriority == 150)
        // Recovery: haproxy back, rise 1 -> 150 again, A preempts B.
        wire.haproxyAlive[0] = true
        wire.run(until: at(40_000_000))
        #expect(wire.nodes[0].effectivePriority == 150)
        #expect(wire.nodes[0].state == .master)
        #expect(wire.nodes[1].state == .backup)
    }

    static func lateHigherBackup(nopreempt: Bool, preemptDelay: Int64) -> Wire {
        // A (100) is master alone; B (150, state BACKUP) starts at 20 s.
        let a = VRRPInstance(
            config: instanceConfig(priority: 100, state: .master, ip: ipA, peers: [ipB]), scripts: [], primaryIP: ipA)
        var bc = instanceConfig(priority: 150, ip: ipB, peers: [ipA])
        bc.nopreempt = nopreempt
        bc.preemptDelay = .seconds(preemptDelay)
        var wire = Wire([a, VRRPInstance(config: bc, scripts: [], primaryIP: ipB)])
        wire.start(0)
        wire.run(until: at(20_000_000))
        wire.start(1)
        return wire
    }

    @Test func higherPriorityBackupPreempts() {
        var wire = Self.lateHigherBackup(nopreempt: false, preemptDelay: 0)
        wire.run(until: at(40_000_000))
        // B never accepts A's lower adverts: master after one Master_Down_Interval from its start.
        #expect(wire.lastTransition(1, to: .master) == at(20_000_000 + 3_414_062))
        #expect(wire.nodes[0].state == .backup)
    }

    @Test func nopreemptKeepsTheLowerMaster() {
        var wire = Self.lateHigherBackup(nopreempt: true, preemptDelay: 0)
        wire.run(until: at(60_000_000))
        #expect(wire.nodes[0].state == .master)
        #expect(wire.nodes[1].state == .backup)
        #expect(wire.nodes[1].masterPriority == 100)
    }

    @Test func preemptDelayPostponesPreemption() {
        var wire = Self.lateHigherBackup(nopreempt: false, preemptDelay: 10)
        wire.run(until: at(60_000_000))
        // Lower adverts are accepted until 30 s (start + preempt_delay), then ignored.
        let lastAccepted = wire.advertTimes(0).last { $0 < at(30_000_000) }!
        #expect(wire.lastTransition(1, to: .master) == lastAccepted + .microseconds(3_414_062))
        #expect(wire.lastTransition(1, to: .master)! > at(30_000_000))
        #expect(wire.nodes[1].state == .master)
        #expect(wire.nodes[0].state == .backup)
    }

    @Test func equalPriorityTieBreakByPrimaryIP() {
        let a = VRRPInstance(config: instanceConfig(priority: 100, ip: ipA, peers: [ipB]), scripts: [], primaryIP: ipA)
        let b = VRRPInstance(config: instanceConfig(priority: 100, ip: ipB, peers: [ipA]), scripts: [], primaryIP: ipB)
        var wire = Wire([a, b])
        wire.startAll()
        wire.run(until: at(10_000_000))
        // Both time out together and become MASTER; the higher IP wins, the lower yields.
        let t = at(3_609_375)
        #expect(wire.lastTransition(0, to: .master) == t)
        #expect(wire.lastTransition(1, to: .master) == t)
        #expect(wire.lastTransition(0, to: .backup) == t)
        #expect(wire.nodes[1].state == .master)
        #expect(wire.nodes[0].state == .backup)
        let yield = wire.actions(0, at: t).first {
            if case .stateChanged(.master, .backup, _) = $0 { true } else { false }
        }
        #expect(
            yield
                == .stateChanged(
                    from: .master, to: .backup,
                    why:
                        "advert from 127.0.1.2 with equal priority 100 and a higher IP than ours (127.0.1.1): becoming BACKUP"
                ))
    }

    @Test func masterHearingLowerPriorityForcesNewElection() {
        var a = VRRPInstance(
            config: instanceConfig(priority: 150, state: .master, ip: ipA, peers: [ipB]), scripts: [], primaryIP: ipA)
        _ = a.start(now: .zero)
        _ = a.advance(to: at(3_414_062), probe: { _ in true })
        #expect(a.state == .master)
        let t = at(4_000_000)
        let actions = a.receive(packet: advertBytes(priority: 100, from: ipB, to: ipA), from: ipB, now: t)
        #expect(a.state == .master)
        #expect(
            actions.contains {
                if case .sendAdvert(let o) = $0 { o.priority == 150 && o.destination == ipB } else { false }
            })
        #expect(actions.filter { $0 == .sendGratuitousARP(vip: "127.0.0.99") }.count == 5)
        #expect(actions.contains { if case .log(let s) = $0 { s.contains("forcing new election") } else { false } })
        // And five more after garp_master_delay.
        let later = a.advance(to: t + .seconds(5), probe: { _ in true })
        #expect(later.filter { $0 == .sendGratuitousARP(vip: "127.0.0.99") }.count == 5)
    }

    @Test func masterAnswersPriorityZeroWithAnAdvert() {
        var a = VRRPInstance(
            config: instanceConfig(priority: 255, state: .master, ip: ipA, peers: [ipB]), scripts: [], primaryIP: ipA)
        _ = a.start(now: .zero)
        let actions = a.receive(packet: advertBytes(priority: 0, from: ipB, to: ipA), from: ipB, now: at(500_000))
        #expect(actions.contains { if case .sendAdvert(let o) = $0 { o.priority == 255 } else { false } })
        #expect(a.state == .master)
    }

    @Test func partitionMakesTwoMastersAndHealRestoresTheHigher() {
        var wire = articlePair()
        wire.startAll()
        wire.run(until: at(10_000_000))
        wire.connected = false
        wire.run(until: at(20_000_000))
        // Split brain: B times out after the last advert it heard (9.414062 s).
        #expect(wire.lastTransition(1, to: .master) == at(9_414_062 + 3_609_375))
        #expect(wire.nodes[0].state == .master && wire.nodes[1].state == .master)
        let garpsBeforeHeal = wire.garpTimes(0).count
        wire.connected = true
        wire.run(until: at(30_000_000))
        // First advert across after the heal is B's (13.023437 + 7 s); A forces a new election.
        let heal = at(20_023_437)
        #expect(wire.lastTransition(1, to: .backup) == heal)
        #expect(wire.nodes[0].state == .master)
        #expect(wire.nodes[1].state == .backup)
        let expectedGarps: [Instant] = Array(repeating: heal, count: 5) + Array(repeating: heal + .seconds(5), count: 5)
        let garpsAfterHeal = Array(wire.garpTimes(0).dropFirst(garpsBeforeHeal))
        #expect(garpsAfterHeal == expectedGarps)
        #expect(wire.advertTimes(0, priority: 150).filter { $0 == heal }.count == 1)
    }

    @Test func killIsSilentAndLeavesTheVIP() {
        var wire = articlePair()
        wire.startAll()
        wire.run(until: at(10_200_000))
        wire.nodes[0].kill()
        wire.run(until: at(20_000_000))
        #expect(wire.nodes[0].state == .stopped)
        #expect(wire.nodes[0].vipsInstalled)
        #expect(wire.nodes[0].nextDeadline == nil)
        #expect(wire.lastTransition(1, to: .master) == at(9_414_062 + 3_609_375))
        #expect(wire.nodes[1].stats.priorityZeroReceived == 0)
    }

    @Test func linkDownMeansFaultAndLinkUpMeansBackup() {
        var wire = articlePair()
        wire.startAll()
        wire.run(until: at(10_000_000))
        let down = wire.nodes[0].setLink(up: false, now: at(10_000_000))
        wire.handle(down, from: 0)
        #expect(wire.nodes[0].state == .fault)
        #expect(!wire.nodes[0].vipsInstalled)
        #expect(!down.contains { if case .sendAdvert = $0 { true } else { false } })
        wire.connected = false  // the link is down: nothing crosses
        wire.run(until: at(20_000_000))
        #expect(wire.lastTransition(1, to: .master) == at(9_414_062 + 3_609_375))
        wire.connected = true
        let up = wire.nodes[0].setLink(up: true, now: at(20_000_000))
        #expect(
            up.first
                == .stateChanged(
                    from: .fault, to: .backup,
                    why: "link on lo is up again: leaving FAULT as BACKUP, waiting 3.414062 s (Master_Down_Interval)"))
        wire.handle(up, from: 0)
        wire.run(until: at(30_000_000))
        // A (150) ignores B's 100 and takes back over one Master_Down_Interval after the link came up.
        #expect(wire.lastTransition(0, to: .master) == at(23_414_062))
        #expect(wire.nodes[1].state == .backup)
    }

    @Test func weightZeroScriptFaultsAfterFallAndRecoversOnRise() {
        var wire = articlePair(
            aScripts: [chkHaproxy(weight: 0, interval: 1, rise: 2, fall: 3)],
            aTracks: [TrackScriptRef(name: "chk_haproxy")])
        wire.startAll()
        wire.run(until: at(10_500_000))
        wire.haproxyAlive[0] = false
        wire.run(until: at(20_500_000))
        // Failures at 11, 12, 13 -> FAULT at 13 with a priority 0 advert (the link is up).
        #expect(wire.lastTransition(0, to: .fault) == at(13_000_000))
        #expect(wire.advertTimes(0, priority: 0) == [at(13_000_000)])
        #expect(wire.lastTransition(1, to: .master) == at(13_000_000 + 609_375))
        #expect(wire.nodes[0].effectivePriority == 150)
        wire.haproxyAlive[0] = true
        wire.run(until: at(30_000_000))
        // Successes at 21, 22 -> BACKUP at 22; then it preempts B after 3.414062 s.
        #expect(wire.lastTransition(0, to: .backup) == at(22_000_000))
        #expect(wire.lastTransition(0, to: .master) == at(22_000_000 + 3_414_062))
        #expect(wire.nodes[1].state == .backup)
    }
}

@Suite struct PriorityTests {
    @Test(arguments: [
        // (base, weight, script up, expected effective)
        (150, -60, false, 90),
        (150, -60, true, 150),
        (100, 50, true, 150),
        (100, 50, false, 100),
        (250, 20, true, 254),
        (10, -60, false, 1),
        (255, -60, false, 255),
        (254, 10, true, 254),
    ])
    func effectivePriorityIsClampedAndNever255(base: Int, weight: Int, up: Bool, expected: Int) {
        var a = VRRPInstance(
            config: instanceConfig(
                priority: base, ip: ipA, peers: [ipB], tracks: [TrackScriptRef(name: "chk_haproxy")]),
            scripts: [chkHaproxy(weight: weight, interval: 1, rise: 1, fall: 1)], primaryIP: ipA)
        _ = a.start(now: .zero)
        _ = a.advance(to: .zero, probe: { _ in up })
        #expect(a.effectivePriority == expected)
        #expect(a.trackedScripts.first?.isUp == up)
    }

    @Test func trackScriptWeightOverrideAndSkewUsesEffectivePriority() {
        var a = VRRPInstance(
            config: instanceConfig(
                priority: 100, ip: ipA, peers: [ipB], tracks: [TrackScriptRef(name: "chk_haproxy", weight: 50)]),
            scripts: [chkHaproxy(weight: -60)], primaryIP: ipA)
        // No result yet: the weight counts neither way.
        #expect(a.effectivePriority == 100)
        _ = a.start(now: .zero)
        #expect(a.nextDeadline == .zero)  // first script run
        let actions = a.advance(to: .zero, probe: { _ in true })
        #expect(
            actions == [
                .priorityChanged(
                    from: 100, to: 150, why: "track script chk_haproxy succeeded on its first run: priority 100 -> 150")
            ])
        #expect(a.effectivePriority == 150)
        #expect(a.masterDownInterval == .microseconds(3_414_062))
    }

    @Test func firstFailureCountsAtOnceLikeKeepalivedsInitState() {
        // fall 2, but a script that has never succeeded is down after its first failure.
        var a = VRRPInstance(
            config: instanceConfig(priority: 150, ip: ipA, peers: [ipB], tracks: [TrackScriptRef(name: "chk_haproxy")]),
            scripts: [chkHaproxy(weight: -60)], primaryIP: ipA)
        _ = a.start(now: .zero)
        let actions = a.advance(to: .zero, probe: { _ in false })
        #expect(
            actions == [
                .priorityChanged(
                    from: 150, to: 90, why: "track script chk_haproxy failed on its first run: priority 150 -> 90")
            ])
    }

    @Test func discardsAreCountedByReason() {
        var b = VRRPInstance(config: instanceConfig(priority: 100, ip: ipB, peers: [ipA]), scripts: [], primaryIP: ipB)
        _ = b.start(now: .zero)
        var bad = advertBytes(priority: 150, from: ipA, to: ipB)
        bad[2] = 151
        let actions = b.receive(packet: bad, from: ipA, now: at(1_000_000))
        #expect(actions == [.advertDiscarded(from: ipA, reason: .badChecksum)])
        _ = b.receive(packet: [0x21], from: ipA, now: at(1_000_000))
        _ = b.receive(packet: advertBytes(priority: 150, from: ipA, to: ipB, version: 3), from: ipA, now: at(1_000_000))
        #expect(b.stats.discards == [.badChecksum: 1, .truncated: 1, .wrongVersion: 1])
        #expect(b.stats.advertsReceived == 0)
        #expect(b.masterDownDeadline == at(3_609_375))
    }
}

@Suite struct TimerFormulaTests {
    @Test(arguments: [
        (
            VRRPTimer.Kind.masterDown, 3, Int64(1_000_000), 100, Int64(3_609_375),
            "Master_Down_Interval = 3 x 1 s + (256 - 100)/256 s = 3.609375 s"
        ),
        (
            .masterDown, 3, 2_000_000, 150, 6_828_125,
            "Master_Down_Interval = 3 x 2 s + (256 - 150) x 2 s/256 = 6.828125 s"
        ),
        (.skew, 3, 1_000_000, 100, 609_375, "Skew_Time = (256 - 100)/256 s = 0.609375 s"),
    ])
    func formulasShowTheirNumbers(
        _ kind: VRRPTimer.Kind, _ adverts: Int, _ interval: Int64, _ priority: Int, _ value: Int64, _ text: String
    ) {
        let timer = VRRPTimer(
            kind: kind, adverts: adverts, advertInterval: TimeSpan(micros: interval), priority: priority,
            value: TimeSpan(micros: value))
        #expect(timer.description == text)
    }
}
