import AttachConfig
import BalancerCore
import ClusterCore
import ClusterModel
import HadeckBase
import RealCluster
import Testing

@testable import AttachedCluster

/// An attach file like the lab's (paths that need not exist: nothing here reads them).
let labAttachYAML = """
    version: 1
    name: lab
    vip: 10.77.0.10:80
    client:
      neighbours: [ip, -j, -n, hdk-client, neigh, show, "{vip}"]
      neighbour_events: [ip, -n, hdk-client, monitor, neigh]
    balancers:
      lb1:
        address: 10.77.0.11
        mac: "02:77:00:00:00:11"
        haproxy:
          stats: /run/hadeck-lab/hdk/lb1/haproxy.sock
          log: /run/hadeck-lab/hdk/lb1/haproxy-log.sock
          pid: {file: /run/hadeck-lab/hdk/lb1/haproxy.pid}
          kill: [kill, -9, "{pid}"]
          start: [hadeck, lab, start, lb1/haproxy]
        keepalived:
          instance: VI_1
          fifo: {file: /run/hadeck-lab/hdk/lb1/keepalived.fifo}
          data: {file: /run/hadeck-lab/hdk/lb1/tmp/keepalived.data}
          dump: [kill, -USR1, "{pid}"]
          pid: {file: /run/hadeck-lab/hdk/lb1/keepalived.pid}
          vrrp_pid: {file: /run/hadeck-lab/hdk/lb1/keepalived-vrrp.pid}
          kill: [hadeck, lab, kill, lb1/keepalived]
          stop: [kill, -TERM, "{pid}"]
          start: [hadeck, lab, start, lb1/keepalived]
        power:
          off: [hadeck, lab, poweroff, "{host}"]
          on: [hadeck, lab, poweron, "{host}"]
      lb2:
        address: 10.77.0.12
        mac: "02:77:00:00:00:12"
        haproxy:
          stats: /run/hadeck-lab/hdk/lb2/haproxy.sock
          log: /run/hadeck-lab/hdk/lb2/haproxy-log.sock
          kill: [kill, -9, "{pid}"]
        keepalived:
          fifo: {file: /run/hadeck-lab/hdk/lb2/keepalived.fifo}
          data: {file: /run/hadeck-lab/hdk/lb2/tmp/keepalived.data}
          pid: {file: /run/hadeck-lab/hdk/lb2/keepalived.pid}
    servers:
      webA:
        pid: {file: /run/hadeck-lab/hdk/webA/app.pid}
        kill: [kill, -9, "{pid}"]
        start: [hadeck, lab, start, webA]
    partition:
      cut: [hadeck, lab, partition, "{a}", "{b}"]
      heal: [hadeck, lab, heal]
    """

let labFile: AttachFile = {
    let (file, diags) = AttachFile.parse(labAttachYAML, file: "lab.yaml")
    precondition(file != nil, "\(diags.items)")
    return file!
}()

/// The wall clock at the cluster's zero: the fixtures' dumps were taken a few seconds after it.
let wallAtZero = 1_796_185_650.0

extension Instant {
    static func s(_ seconds: Double) -> Instant { Instant(micros: Int64(seconds * 1_000_000)) }
}

/// A state observed through a list of (time, observation), collecting every event.
struct Run {
    var state = AttachedState(file: labFile, wallAtZero: wallAtZero)
    var events: [ClusterEvent] = []
    var needs: [Need] = []

    @discardableResult
    mutating func see(_ t: Double, _ o: Observation) -> [ClusterEvent] {
        let (e, n) = state.observe(o, at: .s(t))
        events += e
        needs = n
        return e
    }

    func snapshot(_ t: Double) -> ClusterSnapshot {
        state.snapshot(
            at: .s(t), requestLimit: 50, eventLimit: 50, source: SourceCapabilities(name: "attached", canPause: false))
    }

    func host(_ name: String, _ t: Double = 10) -> HostSnapshot { snapshot(t).hosts.first { $0.name == name }! }
}

func status() throws -> HAProxyStatus { HAProxyStatus.parse(try fixture("status-lb1.txt")) }
func dump(_ name: String) throws -> KeepalivedDataDump { KeepalivedDataDump.parse(try fixture(name)) }
func log(_ text: String) -> HAProxyLogMessage { HAProxyLogMessage.parse(SyslogDatagram.parse(text).message) }
func notify(_ line: String) -> NotifyLine { NotifyLine.parse(Substring(line))! }

/// The lab in its first state: both haproxies answered, lb1 MASTER, lb2 BACKUP, pids known.
func baseline() throws -> Run {
    var run = Run()
    run.see(0.1, .stats(balancer: "lb1", try status()))
    run.see(0.1, .stats(balancer: "lb2", try status()))
    run.see(
        0.1,
        .processes(
            balancer: "lb1", ProcessReadings(haproxy: .running(4242), keepalived: .running(50), vrrp: .running(51))))
    run.see(0.1, .processes(balancer: "lb2", ProcessReadings(keepalived: .running(60))))
    run.see(0.2, .dump(balancer: "lb1", try dump("keepalived-lb1-master.txt"), requested: .s(0.1)))
    run.see(0.2, .dump(balancer: "lb2", try dump("keepalived-lb2-backup.txt"), requested: .s(0.1)))
    run.see(
        0.2,
        .neighbour(NeighbourEntry.parseLine("10.77.0.10 dev eth0 lladdr 02:77:00:00:00:11 REACHABLE"), source: "ip"))
    return run
}

@Suite struct StateTests {
    @Test func firstStateFromDumpsAndTables() throws {
        let run = try baseline()
        #expect(
            run.events.map { $0.summary() } == [
                "lb1 ? -> MASTER (priority 150, effective 150)", "lb2 ? -> BACKUP (priority 100, effective 100)",
                "10.77.0.10 -> 02:77:00:00:00:11 (lb1)",
            ])
        #expect(run.events[1].why.contains("master 10.77.0.11 at 150"))
        let snap = run.snapshot(1)
        #expect(snap.clusterName == "lab" && snap.masters.map(\.name) == ["lb1"] && snap.arp.owner == "lb1")
        let lb2 = run.host("lb2")
        #expect(lb2.heardMaster == "lb1" && lb2.heardMasterPriority == 150 && lb2.basePriority == 100)
        #expect(lb2.masterDownDeadline == nil, "a master that advertises holds the backup: no countdown")
        #expect(lb2.haproxyPID == 1508, "without a pid source, the pid show info gives")
        #expect(lb2.advertsSent == nil && lb2.advertsReceived == nil, "keepalived counts no adverts for a watcher")
        let lb1 = run.host("lb1")
        #expect(lb1.haproxyPID == 4242 && lb1.keepalivedPID == 50 && lb1.mac == "02:77:00:00:00:11")
        let rows = snap.servers.filter { $0.balancer == "lb1" }
        #expect(
            rows.map(\.server) == ["webA", "webB"]
                && rows.allSatisfy { $0.status == "UP" && $0.checkStatus == "L7OK/200" })
        #expect(rows[0].address == "10.77.0.21:8081" && rows[0].rise == 2 && rows[0].fall == 3 && rows[0].health == 4)
        #expect(rows[0].appRunning == nil, "no pid of webA was read yet")
    }

    @Test func unknownUntilSaid() {
        let run = Run()
        let snap = run.snapshot(1)
        #expect(snap.hosts.allSatisfy { $0.vrrpState == .unknown && $0.haproxyPID == nil })
        #expect(snap.servers.isEmpty && snap.arp.mac == nil && snap.masters.isEmpty)
        #expect(snap.feeds.first { $0.name == "lb1 haproxy stats" }?.health == .stale("no answer yet"))
    }

    @Test func aServerGoesDownAsHAProxyLogsIt() throws {
        var run = try baseline()
        let lines = try fixtureLines("haproxy-log-lb1.txt")
        let e = run.see(5, .log(balancer: "lb1", log(lines[4])))
        #expect(e.map { $0.summary() } == ["lb1 web/webB UP -> DOWN [L4CON]"])
        #expect(
            e[0].why.hasPrefix(#"haproxy on lb1 logged: Server web/webB is DOWN, reason: Layer4 connection problem"#))
        #expect(run.needs == [.poll("lb1")])
        // The next poll saying DOWN too is no second event.
        var down = try status()
        down.stat = down.stat.map { row in
            var r = row
            if r.server == "webB" { r.fields["status"] = "DOWN" }
            return r
        }
        #expect(run.see(5.5, .stats(balancer: "lb1", down)).isEmpty)
    }

    @Test func requestsCarryRouteSessionAndReason() throws {
        var run = try baseline()
        let lines = try fixtureLines("haproxy-log-lb1.txt")
        run.see(3, .log(balancer: "lb1", log(lines[0])))
        run.see(3.1, .log(balancer: "lb1", log(lines[1])))
        let requests = run.snapshot(4).requests
        #expect(requests.count == 2 && requests.allSatisfy { $0.via == "lb1" && $0.server == "webB" })
        #expect(requests[1].session == "6BDEC4DCC2C90AF1BACA689A968A6DA0.jvm2" && requests[1].status == 200)
        #expect(requests[1].reason == "no persistence cookie: roundrobin -> webB; new cookie SRV=B inserted (--NI)")
        #expect(
            requests[0].reason == "cookie SRV=B -> webB; cookie kept (--VN)" && requests[0].client == "10.77.0.50:41312"
        )
        #expect(run.snapshot(4).servers.first { $0.server == "webB" }?.jvmRoute == "jvm2", "learnt from its session")
        #expect(run.state.check(.sessionsKept, run.snapshot(4)).ok)
        #expect(run.snapshot(4).events.allSatisfy { $0.type != .request }, "requests are not listed among the events")
    }

    @Test func priorityChangeWaitsForTheDumpThatSaysWhy() throws {
        var run = try baseline()
        #expect(run.see(3, .notify(balancer: "lb1", notify(#"INSTANCE "VI_1" MASTER_PRIORITY 90"#))).isEmpty)
        #expect(run.needs.contains(.dump("lb1")) && run.needs.contains(.dump("lb2")))
        let e = run.see(3.05, .dump(balancer: "lb1", try dump("keepalived-lb1-script-bad.txt"), requested: .s(3.01)))
        #expect(e.map { $0.summary() } == ["lb1 effective priority 150 -> 90"])
        #expect(e[0].why.hasSuffix("data dump: track script chk_haproxy BAD (weight -60): 150 - 60 = 90"))
        #expect(run.host("lb1").effectivePriority == 90)
    }

    @Test func aPriorityChangeWhoseDumpNeverComesIsNotLost() throws {
        var run = try baseline()
        run.see(3, .notify(balancer: "lb1", notify(#"INSTANCE "VI_1" MASTER_PRIORITY 90"#)))
        let e = run.state.tick(at: .s(5))
        #expect(e.map { $0.summary() } == ["lb1 effective priority 150 -> 90"])
        #expect(e[0].why == #"keepalived on lb1 (notify FIFO): INSTANCE "VI_1" MASTER_PRIORITY 90"#)
    }

    @Test func theBackupCountsDownOnceTheMasterGoesBelowIt() throws {
        var run = try baseline()
        run.see(3, .notify(balancer: "lb1", notify(#"INSTANCE "VI_1" MASTER_PRIORITY 90"#)))
        // Estimated from lb2's Master_Down_Interval until its own dump says.
        var lb2 = run.host("lb2", 3.5)
        #expect(lb2.masterDownDeadline == .s(3) + .microseconds(3_609_375))
        #expect(lb2.masterDownInterval == .microseconds(3_609_375))
        run.see(5.5, .dump(balancer: "lb2", try dump("keepalived-lb2-counting-down.txt"), requested: .s(5.45)))
        lb2 = run.host("lb2", 5.6)
        // keepalived's own deadline: `Read timeout = 1796185657.286314`.
        #expect(lb2.masterDownDeadline == Instant(micros: 7_286_314))
        #expect(lb2.masterDownInterval == .microseconds(3_609_375), "the formula, not the dump's 2.609 s")
        let e = run.see(7.29, .notify(balancer: "lb2", notify(#"INSTANCE "VI_1" MASTER 100"#)))
        #expect(e.map { $0.summary() } == ["lb2 BACKUP -> MASTER (priority 100, effective 100)"])
        #expect(e[0].why.contains("lb1 advertises only priority 90, below lb2's 100"))
        #expect(run.host("lb2", 7.3).masterDownDeadline == nil)
        run.see(7.3, .notify(balancer: "lb1", notify(#"INSTANCE "VI_1" BACKUP 90"#)))
        #expect(run.host("lb1", 7.4).masterDownDeadline == nil, "lb1 at 90 accepts lb2's adverts at 100")
        // lb1's haproxy is back: at 150 it ignores lb2's adverts and will preempt.
        run.see(12, .notify(balancer: "lb1", notify(#"INSTANCE "VI_1" BACKUP_PRIORITY 150"#)))
        #expect(run.needs.contains(.dump("lb1")))
        #expect(run.host("lb1", 12.1).masterDownDeadline == .s(12) + .microseconds(3_414_062))
        let back = run.see(14.5, .notify(balancer: "lb1", notify(#"INSTANCE "VI_1" MASTER 150"#)))
        #expect(back.map(\.type) == [.vrrpPriority, .vrrpState])
        #expect(back[1].why.hasSuffix("lb2 advertises only priority 100, below lb1's 150 (lower adverts are ignored)"))
    }

    /// `kill -9` of lb1's haproxy at t=0 and its restart, as the two real FIFOs told it (times in
    /// the fixture, from a reader on each FIFO).
    @Test func aFailoverAndFailbackAsTheFIFOsToldIt() throws {
        var run = try baseline()
        run.see(0.5, .processes(balancer: "lb1", ProcessReadings(haproxy: .notRunning)))
        for line in try fixtureLines("notify-fifo-failover.txt") {
            let words = line.split(separator: " ", maxSplits: 2).map(String.init)
            run.see(Double(words[0])!, .notify(balancer: words[1], notify(words[2])))
        }
        let vrrp = run.events.filter { [.vrrpState, .vrrpPriority].contains($0.type) }.dropFirst(2)
        #expect(
            vrrp.map { $0.summary() } == [
                "lb1 effective priority 150 -> 90",
                "lb1 MASTER -> BACKUP (priority 150, effective 90)",
                "lb2 BACKUP -> MASTER (priority 100, effective 100)",
                "lb1 effective priority 90 -> 150",
                "lb2 MASTER -> BACKUP (priority 100, effective 100)",
                "lb1 BACKUP -> MASTER (priority 150, effective 150)",
            ])
        let whys = vrrp.map(\.why)
        #expect(whys[1].hasSuffix("lb2 advertises priority 100, above its 90"))
        #expect(whys[2].hasSuffix("lb1 advertises only priority 90, below lb2's 100 (lower adverts are ignored)"))
        #expect(whys[4].hasSuffix("lb1 advertises priority 150, above its 100"))
        #expect(whys[5].hasSuffix("lb2 advertises only priority 100, below lb1's 150 (lower adverts are ignored)"))
        #expect(run.snapshot(14).masters.map(\.name) == ["lb1"])
    }

    @Test func keepalivedKilledOrStopped() throws {
        var killed = try baseline()
        let e = killed.see(
            4,
            .processes(
                balancer: "lb1", ProcessReadings(haproxy: .running(4242), keepalived: .notRunning, vrrp: .notRunning)))
        #expect(
            e.map { $0.summary() } == [
                "lb1 keepalived killed pid 50", "lb1 MASTER -> KILLED (priority 150, effective 150)",
            ])
        #expect(killed.host("lb2", 4.1).masterDownDeadline == .s(4) + .microseconds(3_609_375))
        #expect(killed.needs.contains(.dump("lb2")))

        var stopped = try baseline()
        let s1 = stopped.see(4, .notify(balancer: "lb1", notify(#"INSTANCE "VI_1" STOP 150"#)))
        #expect(s1.map { $0.summary() } == ["lb1 MASTER -> STOP (priority 150, effective 150)"])
        #expect(stopped.host("lb2", 4.1).masterDownDeadline == .s(4) + .microseconds(609_375), "Skew_Time")
        let s2 = stopped.see(4.5, .processes(balancer: "lb1", ProcessReadings(keepalived: .notRunning)))
        #expect(s2.map { $0.summary() } == ["lb1 keepalived stopped pid 50"])
        let s3 = stopped.see(9, .processes(balancer: "lb1", ProcessReadings(keepalived: .running(77))))
        #expect(s3.map { $0.summary() } == ["lb1 keepalived start pid 77"] && stopped.needs == [.dump("lb1")])
    }

    @Test func haproxyGoneWithOrWithoutAWord() throws {
        var run = try baseline()
        let e = run.see(2, .processes(balancer: "lb1", ProcessReadings(haproxy: .notRunning)))
        #expect(e.map { $0.summary() } == ["lb1 haproxy killed pid 4242"])
        #expect(e[0].why.contains("without a word in its log"))
        run.see(3, .processes(balancer: "lb1", ProcessReadings(haproxy: .running(5000))))
        run.see(4, .log(balancer: "lb1", .proxyStopped("web")))
        let s = run.see(5, .processes(balancer: "lb1", ProcessReadings(haproxy: .notRunning)))
        #expect(s.map { $0.summary() } == ["lb1 haproxy stopped pid 5000"])
        // A pid command that fails says nothing about the process.
        #expect(run.see(6, .processes(balancer: "lb1", ProcessReadings(haproxy: .unknown("ssh: timeout")))).isEmpty)
        #expect(run.snapshot(6).feeds.first { $0.name == "lb1 processes" }?.health == .lost("ssh: timeout"))
    }

    @Test func anActionIsOneEventAndItsEffectsAreNotCrashes() throws {
        var run = try baseline()
        let kill = ActionPart(
            .process(host: "lb1", .haproxy, .killed, pids: [4242]),
            [.program(what: "lb1 haproxy kill", arguments: ["kill", "-9", "4242"])])
        run.see(2, .actionStarting(kill, actor: "key"))
        // The pid poll may see the death before the action's outcome arrives.
        #expect(run.see(2.01, .processes(balancer: "lb1", ProcessReadings(haproxy: .notRunning))).isEmpty)
        let outcome = ActionOutcome(
            actor: "key", intent: kill.intent, results: [StepResult(step: kill.steps[0], ok: true, result: "exit 0")])
        let e = run.see(2.02, .action(outcome))
        #expect(
            e.map { $0.summary() } == ["lb1 haproxy killed pid 4242"] && e[0].why == "key ran `kill -9 4242`: exit 0")

        let failed = ActionOutcome(
            actor: "stdin (line 2)", intent: .process(host: "lb1", .keepalived, .killed, pids: [50]),
            results: [StepResult(step: .program(what: "x", arguments: ["false"]), ok: false, result: "exit 1")])
        run.see(3, .actionStarting(ActionPart(failed.intent, []), actor: "stdin (line 2)"))
        let f = run.see(3.1, .action(failed))
        #expect(f.map(\.type) == [.error] && f[0].why == "stdin (line 2): kill lb1/keepalived failed: `false`: exit 1")
        let later = run.see(4, .processes(balancer: "lb1", ProcessReadings(keepalived: .notRunning)))
        #expect(later.first?.why.contains("killed (kill -9) or crashed") == true, "a failed kill expects no death")
    }

    @Test func aDrainNamesWhoSentIt() throws {
        var run = try baseline()
        let line = "set server web/webA state drain"
        let step = ActionStep.runtime(
            balancer: "lb1", socket: .unix("/run/hadeck-lab/hdk/lb1/haproxy.sock"), line: line)
        run.see(2, .actionStarting(ActionPart(.admin(server: "webA", .drain), [step]), actor: "key"))
        // haproxy logs the change a millisecond after the line, before the action's outcome is back.
        let drain = try fixtureLines("haproxy-log-lb1.txt")[8]
        let e = run.see(2.001, .log(balancer: "lb1", log(drain)))
        #expect(e.map { $0.summary() } == ["lb1 web/webA UP -> DRAIN"])
        #expect(e[0].why == "haproxy on lb1 logged: Server web/webA enters drain state; after key sent `\(line)`")
        let outcome = ActionOutcome(
            actor: "key", intent: .admin(server: "webA", .drain),
            results: [StepResult(step: step, ok: true, result: "done")])
        #expect(run.see(2.002, .action(outcome)).isEmpty && run.needs == [.poll("lb1")])
    }

    @Test func theVIPMovesAsTheClientsTableSays() throws {
        var run = Run()
        for line in try fixtureLines("ip-monitor-neigh.txt") where line.hasPrefix("10.77.0.10 ") {
            run.see(1, .neighbour(NeighbourEntry.parseLine(Substring(line)), source: "ip monitor neigh"))
        }
        let arp = run.events.filter { $0.type == .arpUpdate }.map { $0.summary() }
        #expect(
            arp == [
                "10.77.0.10 -> 02:77:00:00:00:11 (lb1)", "10.77.0.10 -> 02:77:00:00:00:12 (lb2)",
                "10.77.0.10 -> 02:77:00:00:00:11 (lb1)",
            ])
        let snap = run.snapshot(2)
        #expect(
            snap.arp.mac == "02:77:00:00:00:11" && snap.arp.history.count == 3
                && snap.arp.history[1].toMAC == "02:77:00:00:00:12")
        run.see(3, .neighbour(nil, source: "ip -j neigh"))
        #expect(run.snapshot(3).arp.mac == nil, "no entry now is not the last entry")
    }

    @Test func lostAndStaleFeedsAreSaidAndNotShownAsCurrent() throws {
        var run = try baseline()
        run.see(1, .statsFailed(balancer: "lb1", "connect /run/...: Connection refused"))
        var snap = run.snapshot(1.5)
        #expect(
            snap.feeds.first { $0.name == "lb1 haproxy stats" }?.health == .lost("connect /run/...: Connection refused")
        )
        #expect(snap.servers.allSatisfy { $0.balancer == "lb2" }, "lb1's last rows are not shown as its state")
        snap = run.snapshot(4)
        #expect(snap.feeds.first { $0.name == "lb2 haproxy stats" }?.health == .stale("no answer for 3.9s"))
        #expect(snap.feeds.first { $0.name == "client neighbours" }?.lastUpdate == .s(0.2))
        run.see(2, .notifyFeed(balancer: "lb2", open: false, "the FIFO was removed"))
        #expect(
            run.snapshot(2).feeds.first { $0.name == "lb2 keepalived fifo" }?.health == .lost("the FIFO was removed"))
        // haproxy counts requests that never show in the log: the log line must be wrong.
        var busy = try status()
        busy.stat = busy.stat.map { row in
            var r = row
            if r.server == "FRONTEND" { r.fields["req_tot"] = "40" }
            return r
        }
        run.see(5, .stats(balancer: "lb2", busy))
        #expect(
            run.snapshot(5).feeds.first { $0.name == "lb2 haproxy log" }?.health
                == .stale("haproxy counted 39 requests that sent no log line here: check its 'log' line"))
    }

    @Test func expectationsAgainstWhatWasSaid() throws {
        let run = try baseline()
        let snap = run.snapshot(1)
        #expect(run.state.check(.master("lb1"), snap).ok && !run.state.check(.master("lb2"), snap).ok)
        #expect(run.state.check(.vipMAC(host: "lb1"), snap).ok)
        #expect(run.state.check(.serverStatus(server: "webA", status: "UP", balancer: "lb2"), snap).ok)
        #expect(run.state.check(.priority(host: "lb1", value: 150), snap).ok)
        #expect(run.state.check(.process(host: "lb1", .haproxy, running: true), snap).ok)
        let none = run.state.check(.sessionsKept, snap)
        #expect(!none.ok && none.seen == "no request with a session logged since hadeck attached")
    }
}
